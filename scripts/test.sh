#!/usr/bin/env bash
# Sets up a virtual environment (once) and runs the whole test suite.
# SHELFMATE_TEST_DATABASE_URL=postgresql+psycopg://... runs the same suite on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import bot, pytest, hypothesis" 2>/dev/null || [ pyproject.toml -nt .venv/.installed ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  touch .venv/.installed
fi
exec .venv/bin/python -m pytest "$@"
