#!/usr/bin/env bash
# The offline demo: no token, no network; fake Telegram on 127.0.0.1, SQLite.
# --workers 2: two bot workers share generations through the machine's Redis (--redis URL).
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
exec .venv/bin/python -B examples/demo.py "$@"
