#!/usr/bin/env bash
# Sets up a virtual environment (once), migrates the embedded SQLite database and runs the bot.
# Reads its settings from .env (copy .env.example) or the environment. Extra arguments go to
# `shelfmate run`, e.g. `bash scripts/run.sh --http --port 3000`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import bot" 2>/dev/null || [ pyproject.toml -nt .venv/.installed ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e .
  touch .venv/.installed
fi
if [ ! -f .env ] && [ -z "${SLACK_BOT_TOKEN:-}" ]; then
  cp .env.example .env
  echo "Created .env from .env.example: fill in SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_APP_TOKEN (Socket Mode; leave it empty with --http), then run this again." >&2
  exit 2
fi
exec .venv/bin/shelfmate run "$@"
