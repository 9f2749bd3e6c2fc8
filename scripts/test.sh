#!/usr/bin/env bash
# Set up (first run) and run every check: ruff, mypy (strict on the core), the whole pytest suite, the wheel check.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Browser tests drive Debian's Chromium (never a downloaded browser).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian's chromium for the browser tests" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: /usr/bin/chromium is missing and this is not root: browser tests will be skipped (apt-get install chromium)" >&2
  fi
fi
echo "== ruff" && .venv/bin/ruff check src tests bench scripts setup.py
echo "== mypy" && .venv/bin/mypy
echo "== pytest" && .venv/bin/python -m pytest "$@"
# The wheel a user installs, checked from outside the checkout (CI runs it; a run narrowed by pytest arguments does not).
if [ $# -eq 0 ]; then
  bash scripts/wheel_check.sh
else
  echo "== wheel check skipped (pytest arguments given): bash scripts/wheel_check.sh runs it alone"
fi
