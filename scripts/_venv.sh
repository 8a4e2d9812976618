# Sourced by the other scripts: makes .venv (Python >= 3.11) with the project,
# every extra and the dev group installed. Reinstalls only when pyproject.toml
# or the example's requirements change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.safe-polling-installed
want=$(cat pyproject.toml $(ls examples/kie_bot/requirements.txt 2>/dev/null) | sha256sum | cut -d" " -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -U "pip>=25.1"
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[all]" --group dev
    if [ -f examples/kie_bot/requirements.txt ]; then
        # The example's own needs, minus the line that installs this library.
        grep -v -i '^safe-polling\|^-e\|^\.\|git+' examples/kie_bot/requirements.txt \
            | .venv/bin/python -m pip install -q --disable-pip-version-check -r /dev/stdin
    fi
    echo "$want" > "$stamp"
fi
