"""Build hooks only (the metadata is in pyproject.toml): the page's chart library and the engine kernel,
compiled ahead of time, ship inside the package.

Before build_py (wheels, editable installs) and sdist run, scripts/vendor_js.py copies Lightweight
Charts from node_modules into src/liqheat/web/static/vendor/, which package-data then picks up.
- From a checkout, node_modules is required: without it the build stops and says to run `npm ci`.
- From an unpacked sdist (PKG-INFO beside this file, no node_modules), the copy the sdist carries is used.
- An editable install without node_modules only warns: scripts/setup.sh copies after `npm ci`.

A wheel also carries liqheat/engine/_kernel_aot (numba.pycc, from the one kernel source; see
liqheat/engine/aot.py), so an installed liqheat never pays numba's start-up; the wheel is then
platform-specific. The editable install gets it from scripts/setup.sh.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.errors import SetupError

ROOT = Path(__file__).resolve().parent
VENDOR_PACKAGE = "liqheat.web.static.vendor"
sys.path.insert(0, str(ROOT / "scripts"))
import vendor_js  # noqa: E402  (scripts/ is not a package; the sdist carries the file)


def vendor(editable: bool = False) -> None:
    from_sdist = (ROOT / "PKG-INFO").is_file() and not (ROOT / "node_modules").exists()
    if from_sdist and vendor_js.shipped(ROOT):
        return
    try:
        vendor_js.copy_chart_library(ROOT)
    except vendor_js.ChartLibraryMissing as exc:
        if editable:
            print(f"warning: {exc} (the page has no chart until then)", file=sys.stderr)
            return
        raise SetupError(str(exc)) from None


class BuildPy(build_py):
    def run(self) -> None:
        vendor(editable=bool(getattr(self, "editable_mode", False)))
        # package discovery ran before the copy: name the new folder as the (namespace) package it now is,
        # and glob package-data again, with the copied files
        if (ROOT / vendor_js.VENDOR).is_dir() and VENDOR_PACKAGE not in self.packages:
            self.packages.append(VENDOR_PACKAGE)
        self.__dict__.pop("data_files", None)
        super().run()
        if not getattr(self, "editable_mode", False):
            compile_kernel(Path(self.build_lib) / "liqheat" / "engine")


def compile_kernel(folder: Path) -> None:
    """Build the AOT kernel into ``folder`` with the build environment's numba (pyproject's build requires)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-W", "ignore", "-m", "liqheat.engine.aot", str(folder)], env=env, check=False)
    if done.returncode != 0:
        raise SetupError("compiling the engine kernel (liqheat.engine.aot) failed: see the numba output above")


class BinaryDistribution(Distribution):
    """The wheel holds a compiled module: tag it for this platform and Python."""

    def has_ext_modules(self) -> bool:
        return True


class Sdist(sdist):
    def run(self) -> None:
        vendor()
        super().run()


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist}, distclass=BinaryDistribution)
