#!/usr/bin/env bash
# Set up (first run) and run the main job: `liqheat demo`. Extra arguments go to the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/liqheat demo "$@"
