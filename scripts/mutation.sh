#!/usr/bin/env bash
# Mutation testing of the safety modules (see scripts/mutation.py; not part of .ci/run).
# Runs every mutant in a temporary copy of the tree; the checkout is never modified.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_venv.sh
exec .venv/bin/python scripts/mutation.py "$@"
