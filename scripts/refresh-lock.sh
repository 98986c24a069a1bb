#!/usr/bin/env bash
# Move the lock to the newest releases pyproject.toml allows: install
# '.[test,cluster]' into a fresh temporary venv without constraints, write
# constraints.txt from it (exact pins of everything installed), then run the
# test command (scripts/test.sh installs .venv from the new lock). Commit
# constraints.txt only when the suite passes.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -m venv "$tmp/venv"
pip=("$tmp/venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
status=0
"${pip[@]}" install -q -e '.[test,cluster]' >"$tmp/pip.log" 2>&1 || status=$?
grep -v '^WARNING: Location' "$tmp/pip.log" || true
if [ "$status" -ne 0 ]; then
  echo "Error: pip install -e '.[test,cluster]' failed (exit $status); see above." >&2
  exit 1
fi
{
  echo "# The versions CI tested: pip freeze of pip install -e '.[test,cluster]' ($("$tmp/venv/bin/python" -c 'import platform; print("Python", platform.python_version())'))."
  echo "# scripts/setup.sh installs with -c constraints.txt; scripts/refresh-lock.sh rewrites it."
  "${pip[@]}" freeze --exclude-editable
} >constraints.txt
echo "constraints.txt: $(grep -c '==' constraints.txt) pins; running the suite on them."
bash scripts/test.sh "$@"
