# Sourced by the other scripts: makes .venv (Python >= 3.11) with the project,
# every extra and the dev group installed. Reinstalls only when pyproject.toml
# or the example's requirements change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "safe-polling needs Python 3.11 or newer as '$PY' (set PYTHON=/path/to/python3.11)" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.safe-polling-installed
want=$(cat pyproject.toml $(ls examples/kie_bot/requirements.txt 2>/dev/null) | sha256sum | cut -d" " -f1)
# Some machines' pip configuration names local mirrors that may be absent; pip
# then warns once per package. Keep the output to what matters.
quiet_pip() {
    .venv/bin/python -m pip "$@" -q --disable-pip-version-check 2>&1 \
        | { grep -v '^WARNING: Location .* is ignored' || true; }
}
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    quiet_pip install -U "pip>=25.1"
    quiet_pip install -e ".[all]" --group dev
    if [ -f examples/kie_bot/requirements.txt ]; then
        quiet_pip install -r examples/kie_bot/requirements.txt
    fi
    echo "$want" > "$stamp"
fi
