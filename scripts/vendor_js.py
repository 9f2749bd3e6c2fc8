"""Put the page's chart library inside the package: node_modules → src/liqheat/web/static/vendor/.

The one copy routine. setup.py's build hooks call it when a wheel or an sdist is built, and
scripts/setup.sh runs it after ``npm ci`` for the editable install (which reads the source tree).
The copies are gitignored: npm's package, pinned by package-lock.json, is the only source.

    python scripts/vendor_js.py      # copy what changed (and say so); exit 1 with the reason if it cannot
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "lightweight-charts"
VENDOR = Path("src/liqheat/web/static/vendor")
# what ships (name in vendor/ ← path in the npm package); the npm package has no NOTICE file
FILES = {
    "lightweight-charts.standalone.production.js": "dist/lightweight-charts.standalone.production.js",
    "LICENSE": "LICENSE",
}
PROVENANCE = "README.txt"
SHIPPED = (*FILES, PROVENANCE)


class ChartLibraryMissing(Exception):
    """node_modules does not hold the pinned chart library (and no packaged copy can stand in for it)."""


def _json(path: Path) -> dict[str, object]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def locked_version(root: Path = ROOT) -> str:
    """The chart library's version that package-lock.json pins."""
    packages = _json(root / "package-lock.json")["packages"]
    assert isinstance(packages, dict)
    return str(packages[f"node_modules/{PACKAGE}"]["version"])


def _dependencies(source: Path) -> tuple[list[str], dict[str, bytes]]:
    """What the standalone bundle inlines (the library's npm dependencies): a line each, and their license files."""
    deps = _json(source / "package.json").get("dependencies") or {}
    assert isinstance(deps, dict)
    lines, licences = [], {}
    for dep in sorted(deps):
        folder = source.parent / dep
        meta = _json(folder / "package.json")
        found = sorted(p for p in folder.iterdir() if p.name.upper().startswith(("LICENSE", "LICENCE")))
        if found:
            licences[f"{dep}.LICENSE"] = found[0].read_bytes()
        lines.append(
            f"The standalone bundle includes {dep} {meta.get('version')} by {meta.get('author')}, license {meta.get('license')} "
            + (f"({dep}.LICENSE beside this file)." if found else "(its npm package ships no license file).")
        )
    return lines, licences


def _provenance(source: Path, version: str, dependencies: list[str]) -> str:
    meta = _json(source / "package.json")
    lines = [
        f"{PACKAGE} {version} by {meta.get('author')}, license {meta.get('license')} (LICENSE beside this file).",
        *dependencies,
        f"Copied from the npm package by scripts/vendor_js.py at build time; package-lock.json pins it. Do not edit: {VENDOR}/",
        "is gitignored and rewritten by every build and by scripts/setup.sh.",
    ]
    return "\n".join(lines) + "\n"


def copy_chart_library(root: Path = ROOT) -> list[str]:
    """Copy the standalone script, its LICENSE and a provenance note into the package; return what it wrote.

    Only files that differ are written, so a second run touches nothing. Raises ChartLibraryMissing,
    naming ``npm ci``, when node_modules lacks the library or holds another version than the lock's.
    """
    source = root / "node_modules" / PACKAGE
    want = locked_version(root)
    if not (source / "package.json").is_file():
        raise ChartLibraryMissing(
            f"{source} is missing: run `npm ci` in {root} first (bash scripts/setup.sh does). "
            f"The page's chart library ({PACKAGE} {want}) is copied from it into the liqheat package."
        )
    have = str(_json(source / "package.json").get("version"))
    if have != want:
        raise ChartLibraryMissing(f"node_modules holds {PACKAGE} {have}, package-lock.json pins {want}: run `npm ci` in {root}")
    dest = root / VENDOR
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {name: (source / rel).read_bytes() for name, rel in FILES.items()}
    dependencies, licences = _dependencies(source)
    wanted.update(licences)
    wanted[PROVENANCE] = _provenance(source, have, dependencies).encode()
    written = []
    for name, content in wanted.items():
        target = dest / name
        if not target.is_file() or target.read_bytes() != content:
            target.write_bytes(content)
            written.append(name)
    for stale in dest.iterdir():
        if stale.name not in wanted:
            stale.unlink()
    return written


def shipped(root: Path = ROOT) -> bool:
    """True when the package folder already holds every vendored file (as in an unpacked sdist)."""
    return all((root / VENDOR / name).is_file() for name in SHIPPED)


def main() -> int:
    try:
        written = copy_chart_library()
    except ChartLibraryMissing as exc:
        print(f"vendor_js: error: {exc}", file=sys.stderr)
        return 1
    if written:
        print(f"vendor_js: {PACKAGE} {locked_version()} → {VENDOR}/ ({', '.join(written)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
