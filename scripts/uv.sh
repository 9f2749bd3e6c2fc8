#!/usr/bin/env bash
# Print the path of uv, which installs the Python lock (uv.lock). A `uv` on PATH is used when it is the
# pinned version; otherwise pip installs that version once into .tools/uv-VERSION/ (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
if command -v uv >/dev/null 2>&1 && [ "$(uv --version 2>/dev/null | cut -d' ' -f2)" = "$UV_VERSION" ]; then
  command -v uv
  exit 0
fi
dir=.tools/uv-$UV_VERSION
if [ ! -x "$dir/bin/uv" ]; then
  echo "setup: installing uv $UV_VERSION into $dir (pip)" >&2
  mkdir -p .tools
  tmp=$(mktemp -d .tools/partial.XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  "${PYTHON:-python3}" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --target "$tmp" "uv==$UV_VERSION" >&2
  mv "$tmp" "$dir"
fi
echo "$PWD/$dir/bin/uv"
