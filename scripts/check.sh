#!/usr/bin/env bash
# The project's whole test command: virtualenv, install, services, lint, types, tests.
# Usage: bash scripts/check.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating virtualenv $VENV"
    "$PYTHON" -m venv "$VENV"
fi
echo "==> installing outreach with its test extra"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e '.[test]'

echo "==> checking Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432)"
bash scripts/services.sh

echo "==> checking chromium and chromedriver (the console's browser tests)"
bash scripts/browser.sh

echo "==> ruff (lint and format)"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .

echo "==> mypy (strict)"
"$VENV/bin/mypy" engine phones sequences spintax cli console

# Two processes, one per core; each file stays in one of them (its fixtures and its real
# services together). Every test has its own database and Redis namespace.
echo "==> pytest (2 processes)"
"$VENV/bin/pytest" -W error -n 2 --dist loadfile "$@"
