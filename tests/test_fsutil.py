"""The atomic write fails as one DomainError naming the file, and leaves the old file as it was."""

from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from liqheat.fsutil import atomic_write, check_writable
from liqheat.model import DomainError


def _full_disk(tmp: Path) -> None:
    tmp.write_text("half a new fi", encoding="utf-8")
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_disk_names_the_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "pred.csv"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(DomainError, match=r"^out .*pred\.csv: cannot write \(No space left on device\)$") as caught:
        atomic_write(target, _full_disk, param="out")
    assert caught.value.param == "out"
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred.csv"]  # no temporary left behind


def test_file_size_limit_is_an_error_not_a_signal(tmp_path: Path) -> None:
    """``ulimit -f``: Python ignores SIGXFSZ, so the write fails with EFBIG, which must name the file."""
    target = tmp_path / "big.txt"
    target.write_text("old\n", encoding="utf-8")
    code = (
        "import sys; from pathlib import Path; from liqheat.fsutil import atomic_write\n"
        "from liqheat.model import DomainError\n"
        "try:\n"
        f"    atomic_write(Path({str(target)!r}), lambda tmp: tmp.write_bytes(b'x' * 100_000))\n"
        "except DomainError as exc:\n"
        "    print(exc)\n"
    )

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, 10_000))

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=limit, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{target}: cannot write (File too large)"
    assert target.read_text(encoding="utf-8") == "old\n"


def test_a_folder_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(DomainError, match=r"out\.csv: is a folder, not a file$"):
        atomic_write(tmp_path / "out.csv", lambda tmp: tmp.write_text("x", encoding="utf-8"))
    with pytest.raises(DomainError, match=r"out\.csv: is a folder, not a file$"):
        check_writable(tmp_path / "out.csv")


@pytest.mark.parametrize(
    ("relative", "folder", "why"),
    [
        ("a-file/x.csv", False, r"cannot write \(.*a-file is not a folder\)"),
        ("a-file", True, "is a file, not a folder"),
    ],
)
def test_check_writable_refuses_before_any_work(tmp_path: Path, relative: str, folder: bool, why: str) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    with pytest.raises(DomainError, match=why):
        check_writable(tmp_path / relative, folder=folder)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_check_writable_probes_the_folder() -> None:
    """/proc passes any permission check for root, yet takes no new file: only a real probe says so."""
    with pytest.raises(DomainError, match=r"^out /proc/x\.csv: cannot write"):
        check_writable(Path("/proc/x.csv"), param="out")


def test_check_writable_accepts_a_new_nested_path(tmp_path: Path) -> None:
    check_writable(tmp_path / "new" / "deeper" / "x.csv")
    assert not (tmp_path / "new").exists()  # checking creates nothing
