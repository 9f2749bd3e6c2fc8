#!/usr/bin/env bash
# Create .venv with liqheat (editable) and its dev tools at the versions uv.lock pins; install the page's
# npm packages (package-lock.json) and copy the chart library into the package. Idempotent: the Python
# part re-runs only when pyproject.toml, uv.lock, setup.py or the version change, npm ci only when its lockfile does.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "liqheat needs Python >= 3.11, found " + sys.version.split()[0])'
PY=$("$PY" -c 'import sys; print(sys.executable)')
export UV_PYTHON_DOWNLOADS=never  # this machine's Python, never one uv would download
stamp=.venv/.liqheat-installed
want=$(cat pyproject.toml uv.lock setup.py src/liqheat/__init__.py | sha256sum | cut -d' ' -f1)  # __init__: the version
if [ ! -x .venv/bin/python ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  uv=$(bash scripts/uv.sh)
  echo "setup: installing liqheat and the locked versions of its dependencies into .venv (first run takes a minute)" >&2
  # --locked: stop if uv.lock no longer matches pyproject.toml (run `uv lock` and commit it)
  "$uv" sync --quiet --locked --extra dev --python "$PY"
  echo "$want" > "$stamp"
fi
# The engine kernel compiled ahead of time (numba.pycc) from its source, so no command pays numba's start-up.
if ! .venv/bin/python -c 'import sys; from liqheat.engine.compiled import load; sys.exit(load()[0] != "aot")' 2>/dev/null; then
  echo "setup: compiling the engine kernel ahead of time (about 15 s)" >&2
  .venv/bin/python -W ignore -m liqheat.engine.aot >/dev/null
fi
# Front-end assets for the page (Lightweight Charts from the npm registry; node_modules is never committed).
if command -v npm >/dev/null 2>&1; then
  lock=node_modules/.liqheat-lock
  want_js=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ ! -f "$lock" ] || [ "$(cat "$lock")" != "$want_js" ]; then
    echo "setup: installing the page's npm packages" >&2
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    echo "$want_js" > "$lock"
  fi
  # the editable install serves the page from src/: put the chart library where a wheel carries it
  "$PY" scripts/vendor_js.py
else
  echo "setup: npm not found: the web page needs Node.js/npm (the CLI and the API work without it)" >&2
fi
