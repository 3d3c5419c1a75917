#!/usr/bin/env bash
# Runs the Python package's tests with build/venv's interpreter when scripts/python-venv.sh made
# it (JAX and MindSpore available), else with Debian's python3 (their tests skip, saying why).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
[[ -x $root/build/venv/bin/python ]] && py=$root/build/venv/bin/python
exec "$py" -m pytest -q -rs -p no:cacheprovider "$root/python/tests" "$@"
