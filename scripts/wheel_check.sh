#!/usr/bin/env bash
# liqheat installed as a user gets it: build the sdist and, from it, the wheel; install the wheel into a new
# venv outside the checkout (its dependencies at the versions uv.lock pins); then, from outside the checkout,
# `liqheat --version` and `liqheat serve` on a small bundle must answer the page at / and the chart script
# the page names. Every check runs and each failure is listed; exit 1 if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PY=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)')
export UV_PYTHON_DOWNLOADS=never
uv=$(bash scripts/uv.sh)
work=$(mktemp -d "${TMPDIR:-/tmp}/liqheat-wheel.XXXXXX")
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
failures=()
fail() { failures+=("$1"); echo "wheel check: FAIL: $1" >&2; }

echo "== wheel check ($work)"
"$uv" build --quiet --python "$PY" --out-dir "$work/dist" "$root"  # the sdist, then the wheel built from it
wheel=$(ls "$work"/dist/liqheat-*.whl)
sdist=$(ls "$work"/dist/liqheat-*.tar.gz)
version=$(basename "$wheel" | cut -d- -f2)
echo "built $(basename "$sdist") and $(basename "$wheel")"

# runtime dependencies only (no dev extra), pinned to the lock; pip/uv caches make this quick after the first time
"$uv" export --quiet --frozen --no-emit-project --no-hashes --format requirements-txt --output-file "$work/constraints.txt"
"$uv" venv --quiet --python "$PY" "$work/venv"
"$uv" pip install --quiet --python "$work/venv/bin/python" --constraints "$work/constraints.txt" "$wheel"
vpy=$work/venv/bin/python

cd "$work"  # from here on, nothing may come from the checkout
"$vpy" - "$wheel" "$sdist" "$root" <<'EOF' || fail "package contents (above)"
import sys, tarfile, zipfile
from pathlib import Path

import liqheat

wheel, sdist, root = sys.argv[1:4]
bad = []
where = Path(liqheat.__file__).resolve()
if where.is_relative_to(Path(root).resolve()):
    bad.append(f"liqheat imports from the checkout: {where}")
names = set(zipfile.ZipFile(wheel).namelist())
# every file of the checkout's page (whatever it is made of), and the chart library copied beside it
static = Path(root) / "src" / "liqheat" / "web" / "static"
page = [f"liqheat/web/static/{p.relative_to(static).as_posix()}" for p in sorted(static.rglob("*")) if p.is_file()]
for need in (*page, "liqheat/web/static/index.html",
             "liqheat/web/static/vendor/lightweight-charts.standalone.production.js", "liqheat/web/static/vendor/LICENSE"):
    if need not in names:
        bad.append(f"the wheel lacks {need}")
if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
    bad.append("the wheel lacks liqheat's LICENSE")
members = {m.split("/", 1)[1] for m in tarfile.open(sdist).getnames() if "/" in m}
for need in ("LICENSE", "setup.py", "scripts/vendor_js.py", "package-lock.json",
             "src/liqheat/web/static/vendor/lightweight-charts.standalone.production.js"):
    if need not in members:
        bad.append(f"the sdist lacks {need}")
for line in bad:
    print("  " + line, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF

kernel=$("$vpy" -c 'from liqheat.engine.compiled import MODE; print(MODE)' 2>&1) || true
if [ "$kernel" = "aot" ]; then echo "engine kernel: compiled ahead of time, in the wheel"; else fail "the installed engine kernel is '$kernel', not the compiled one"; fi

got=$("$work/venv/bin/liqheat" --version 2>&1) || true
if [ "$got" = "liqheat $version" ]; then echo "liqheat --version: $got"; else fail "liqheat --version printed '$got', not 'liqheat $version'"; fi

# a small bundle (two days of hourly candles), so serve has a market without simulating the demo's
"$vpy" - "$work/bundle" <<'EOF'
import json, sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

out = Path(sys.argv[1])
out.mkdir()
meta = {"symbol": "BTC/USDT:USDT", "contract": "linear", "quote": "USDT", "timeframe": "1h", "venues": ["binance"],
        "source": "scripts/wheel_check.sh"}
(out / "meta.json").write_text(json.dumps(meta))
t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
candles, oi = ["ts,open,high,low,close"], ["ts,oi_usd"]
for i in range(48):
    ts = (t0 + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    p = 100_000 + 100 * (i % 7)
    candles.append(f"{ts},{p},{p + 150},{p - 150},{p + 50}")
    oi.append(f"{ts},{1e9 + 1e6 * i}")
(out / "candles.csv").write_text("\n".join(candles) + "\n")
(out / "open_interest.csv").write_text("\n".join(oi) + "\n")
EOF
port=$("$vpy" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$work/venv/bin/liqheat" serve --no-demo --bundle "$work/bundle" --port "$port" >"$work/serve.log" 2>&1 &
server=$!
"$vpy" - "http://127.0.0.1:$port" "$server" <<'EOF' || fail "the served page (above)"
import os, re, sys, time, urllib.error, urllib.request

base, pid = sys.argv[1], int(sys.argv[2])


def get(path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(base + path, timeout=10) as r:
            return r.status, r.headers.get("content-type", ""), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type", ""), ""


deadline = time.time() + 60
while True:
    try:
        status, ctype, page = get("/")
        break
    except OSError:
        alive = os.path.exists(f"/proc/{pid}")
        if time.time() > deadline or not alive:
            print("  the server did not answer" + ("" if alive else " (it exited)"), file=sys.stderr)
            sys.exit(1)
        time.sleep(0.2)
bad = []
if status != 200 or not ctype.startswith("text/html") or "<html" not in page.lower():
    bad.append(f"/ answered {status} {ctype!r}, not the page")
scripts = re.findall(r"""<script[^>]*\bsrc=["'](/[^"'#?]+)""", page)
local = re.findall(r"""(?:src|href)=["'](/[^"'#?]+)""", page)  # scripts and stylesheets on this server
chart = [s for s in scripts if "lightweight-charts" in s]
if not chart:
    bad.append(f"the page names no lightweight-charts script (scripts: {scripts})")
for url in chart:
    status, ctype, body = get(url)
    if status != 200 or "TradingView Lightweight Charts" not in body or "createChart" not in body:
        bad.append(f"{url} answered {status} {ctype!r} ({len(body):,} chars), not the chart library")
    else:
        print(f"{url}: 200, {len(body):,} chars of Lightweight Charts")
for url in local:
    if url not in chart and get(url)[0] != 200:
        bad.append(f"{url} (named by the page) did not answer 200")
if not bad:
    print(f"/: 200, the page ({len(page):,} chars)")
for line in bad:
    print("  " + line, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
server=
if [ ${#failures[@]} -gt 0 ]; then
  echo "wheel check: ${#failures[@]} failed (the server said:)" >&2
  sed 's/^/  | /' "$work/serve.log" >&2
  exit 1
fi
echo "wheel check: passed in ${SECONDS}s"
