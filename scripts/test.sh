#!/usr/bin/env bash
# Install the test needs (as scripts/setup.sh does, without the demo), lint,
# and run the whole test suite. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-demo
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
# One worker per core; each test file stays on one worker (module fixtures).
.venv/bin/python -m pytest -n auto --dist loadfile "$@"
