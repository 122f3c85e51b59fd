"""scripts/export-series.sh refuses a kernel tree that would export other hunk headers.

Without the kernel's .gitattributes, git labels a C hunk with the nearest
goto label instead of its function; release-suffix.sh hashes the hunks, so
the same code would become a new kernel release and every host would get a
rebuild and a reboot. The script runs from a copy of the repository's layout,
so a failure cannot touch this checkout's patches/.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
EXPORT_SH = REPO / "scripts/export-series.sh"

C_BEFORE = "int f(void)\n{\n\tint a = 1;\n\nout:\n\ta++;\n\ta++;\n\ta++;\n\treturn a;\n}\n"


def git(tree: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(tree), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True, capture_output=True)


def kernel_tree(path: Path, attributes: bool) -> Path:
    (path / "kernel").mkdir(parents=True)
    (path / "kernel/f.c").write_text(C_BEFORE)
    git(path, "init", "-q")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "base")
    git(path, "tag", "BASE")
    (path / "kernel/f.c").write_text(C_BEFORE.replace("\treturn a;", "\ta--;\n\treturn a;"))
    git(path, "commit", "-qam", "f: one less")
    if attributes:
        (path / ".gitattributes").write_text("*.[ch] diff=cpp\n")
    return path


def checkout(path: Path) -> Path:
    (path / "scripts").mkdir(parents=True)
    shutil.copy(EXPORT_SH, path / "scripts")
    (path / "patches").mkdir()
    (path / "patches/0001-kept.patch").write_text("the series as it was\n")
    return path


def test_a_tree_without_the_kernels_gitattributes_is_refused(tmp_path: Path) -> None:
    top = checkout(tmp_path / "top")
    tree = kernel_tree(tmp_path / "tree", attributes=False)
    done = subprocess.run(["bash", str(top / "scripts/export-series.sh"), str(tree), "BASE"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "diff=cpp" in done.stderr
    assert [p.name for p in (top / "patches").iterdir()] == ["0001-kept.patch"]
    assert (top / "patches/0001-kept.patch").read_text() == "the series as it was\n"


def test_with_them_the_hunk_names_its_function(tmp_path: Path) -> None:
    # What the check protects: the header export-series.sh then writes.
    tree = kernel_tree(tmp_path / "tree", attributes=True)
    patch = subprocess.run(["git", "-C", str(tree), "format-patch", "--stdout", "BASE..HEAD"], capture_output=True, text=True, check=True).stdout
    assert "@@ int f(void)" in patch
