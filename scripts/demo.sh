#!/usr/bin/env bash
# The offline demo: no token, no network; fake Telegram on 127.0.0.1, SQLite.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
exec .venv/bin/python -B examples/demo.py "$@"
