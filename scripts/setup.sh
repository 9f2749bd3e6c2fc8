#!/usr/bin/env bash
# Create .venv and install liqheat with its dev tools. Idempotent: re-runs only when pyproject changes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "liqheat needs Python >= 3.11, found " + sys.version.split()[0])'
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.liqheat-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing liqheat and its dependencies into .venv (first run takes a minute)" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
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
else
  echo "setup: npm not found: the web page needs Node.js/npm (the CLI and the API work without it)" >&2
fi
