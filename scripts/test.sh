#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest (real PostgreSQL and Redis on
# 127.0.0.1; set SAFE_POLLING_REQUIRE_SERVICES=1 to turn a missing service
# into a failure instead of a skip, as CI does).
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
.venv/bin/ruff check src tests examples benchmarks
.venv/bin/ruff format --check src tests examples benchmarks
.venv/bin/mypy src
exec .venv/bin/python -m pytest "$@"
