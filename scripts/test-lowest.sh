#!/usr/bin/env bash
# Run the tests against the lowest versions pyproject.toml allows: every runtime
# dependency pinned to its floor (">=X" becomes "==X"), in a venv of its own
# (.venv-lowest), so a floor that no longer works is found here, not by a
# clinic. The test tools come at their newest allowed versions. Needs the
# system libraries scripts/setup.sh installs (run it once first).
#   bash scripts/test-lowest.sh                  # the whole suite
#   bash scripts/test-lowest.sh tests/test_api.py -x   # pytest arguments
#   LOWEST_INSTALL_ONLY=1 bash scripts/test-lowest.sh  # install, run nothing
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
floors=$(mktemp --suffix=.txt)
trap 'rm -f "$floors" "$floors.log"' EXIT
"$PYTHON" - >"$floors" <<'PY'
import re
import sys
import tomllib

with open("pyproject.toml", "rb") as f:
    requirements = tomllib.load(f)["project"]["dependencies"]
for requirement in requirements:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*(\[[^\]]*\])?\s*([^;]*)", requirement)
    if not match:
        sys.exit(f"test-lowest: cannot read the requirement {requirement!r} in pyproject.toml")
    name, spec = match.group(1), match.group(3)
    pins = [p.strip() for p in spec.split(",") if p.strip().startswith((">=", "=="))]
    if not pins:
        sys.exit(f"test-lowest: {name} has no floor (>=X) in pyproject.toml; give it one")
    print(name + "==" + pins[0][2:].strip())
PY
echo "Floors:"; sed 's/^/  /' "$floors"
if ! .venv-lowest/bin/python -m pip --version >/dev/null 2>&1; then
  rm -rf .venv-lowest
  "$PYTHON" -m venv .venv-lowest
fi
# pip's messages (a conflict says which package needs what), without its
# progress lines and the notices about local index folders.
status=0
.venv-lowest/bin/python -m pip install --disable-pip-version-check -c "$floors" \
  -e '.[test,cluster]' >"$floors.log" 2>&1 || status=$?
grep -vE '^WARNING: Location|^INFO: |^(Processing|Collecting|Requirement already|Obtaining|Downloading|Using cached|Preparing|Checking|Getting|Installing build|Building|Created wheel|Stored in|Successfully built)|^ +(Collecting|Obtaining|Downloading|Using cached|Preparing|Checking|Getting|Installing build|Building|Created wheel|Stored in|Found existing|Uninstalling|Successfully uninstalled)|━' \
  "$floors.log" || true
rm -f "$floors.log"
if [ "$status" -ne 0 ]; then
  echo "Error: a floor in pyproject.toml does not install (pip exit $status); see above." >&2
  exit 1
fi
.venv-lowest/bin/python -m pip check
if [ -n "${LOWEST_INSTALL_ONLY:-}" ]; then
  exit 0
fi
# As scripts/test.sh: one worker per core, each test file on one worker.
.venv-lowest/bin/python -m pytest -n auto --dist loadfile "$@"
