#!/usr/bin/env bash
# Install the LOWEST versions pyproject.toml allows for our runtime dependencies
# (python-telegram-bot==22.0, anyio==4, asyncpg==0.29, ...) into a separate
# virtualenv, .venv-lowest, and run the test suite there. The bounds in
# pyproject.toml are promises; this is the run that keeps them.
#
#   bash scripts/lowest-versions.sh                  # the whole suite
#   bash scripts/lowest-versions.sh -m "not slow"    # extra pytest arguments
#
# It runs the suite twice: with every extra's lowest versions (PTB 22.8, the testing
# extra's floor), then with the library's own floor, python-telegram-bot 22.0.
#
# Each ">=X" lower bound of [project].dependencies and of every extra is pinned
# to "==X"; the test tools (the dev group) and transitive dependencies are the
# newest that fit. PostgreSQL and Redis tests use SAFE_POLLING_TEST_PG and
# SAFE_POLLING_TEST_REDIS as the main suite does.
#
# The reference bot (examples/kie_bot; tests/kie_bot and tests/demo, which runs
# it) is not part of this run:
# its dependencies are its own requirements.txt, not the library's promises, and
# its fake KIE server needs a newer aiohttp (web.RequestKey, 3.14) than the
# library's testing extra does.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
VENV=${LOWEST_VENV:-.venv-lowest}

if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
pins=$("$VENV/bin/python" - <<'PY'
import re, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
requirements = list(project["dependencies"])
for extra in project["optional-dependencies"].values():
    requirements += [r for r in extra if not r.startswith(project["name"])]
lowest = {}
for requirement in requirements:
    match = re.fullmatch(r"([A-Za-z0-9_.\[\]-]+)\s*>=\s*([0-9][0-9.]*)(,.*)?", requirement)
    if match is None:
        raise SystemExit(f"no '>=' lower bound to test in {requirement!r}")
    # A package named twice (python-telegram-bot: >=22 for the library, >=22.8 for the
    # testing extra) is installed at the highest of its lower bounds: what ".[all]" allows.
    low = tuple(int(part) for part in match[2].split("."))
    if low > lowest.get(match[1], ((),))[0]:
        lowest[match[1]] = (low, match[2])
for name, (_, text) in lowest.items():
    print(f"{name}=={text}")
PY
)
echo "Lowest allowed versions:" $pins
pip_q() {
    "$VENV/bin/python" -m pip "$@" -q --disable-pip-version-check 2>&1 \
        | { grep -v '^WARNING: Location .* is ignored' || true; }
}
pip_q install -U "pip>=25.1"
# shellcheck disable=SC2086  # one argument per pin
pip_q install -e ".[all]" --group dev $pins
# A pin that a later step upgraded would make this run test the wrong thing.
"$VENV/bin/python" - $pins <<'PY'
import sys
from importlib.metadata import version
from packaging.version import Version
wrong = []
for pin in sys.argv[1:]:
    name, low = pin.split("==")
    name = name.split("[")[0]
    if Version(version(name)) != Version(low):
        wrong.append(f"{name} {version(name)} (wanted {low})")
if wrong:
    raise SystemExit("not the lowest versions: " + ", ".join(wrong))
print("Installed:", ", ".join(f"{p.split('==')[0]} {version(p.split('==')[0])}" for p in sys.argv[1:]))
PY
"$VENV/bin/python" -m pytest -p no:cacheprovider --ignore=tests/kie_bot --ignore=tests/demo "$@"

# The library alone promises an older PTB than the testing extra (22.0 against 22.8): run
# the suite again on it. Only the fake Bot API's own tests (tests/testing: parity with the
# newest PTB, test bots written with its API) need the newer one.
ptb_floor=$("$VENV/bin/python" - <<'PY'
import re, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
for requirement in project["dependencies"]:
    match = re.fullmatch(r"python-telegram-bot\s*>=\s*([0-9.]+)(,.*)?", requirement)
    if match:
        print(match[1])
PY
)
echo "The library's own floor: python-telegram-bot==$ptb_floor"
pip_q install "python-telegram-bot==$ptb_floor"
"$VENV/bin/python" -c "import telegram; print('Installed: python-telegram-bot', telegram.__version__)"
exec "$VENV/bin/python" -m pytest -p no:cacheprovider --ignore=tests/kie_bot --ignore=tests/demo \
    --ignore=tests/testing "$@"
