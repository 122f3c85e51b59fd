"""scripts/build.sh's cache hygiene, on a fake kernel tree (no kernel is built)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
BUILD_SH = REPO / "scripts/build.sh"


def run_build(cache: Path, tree: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AGENTNS_CACHE_DIR=str(cache), KSRC=str(tree), PATCHES="0", BUILD_KERNEL="0")
    return subprocess.run(["bash", str(BUILD_SH)], capture_output=True, text=True, env=env, timeout=120, check=False)


def fake_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "linux"
    tree.mkdir()
    (tree / "Makefile").write_text("# not a kernel\n")
    return tree


def test_work_left_by_a_killed_build_is_removed(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    stale = cache / "work/build.dead01"
    (stale / "tree").mkdir(parents=True)
    (stale / ".lock").touch()
    result = run_build(cache, fake_tree(tmp_path))
    assert result.returncode == 0, result.stderr
    assert not stale.exists()
    assert f"removing {stale}, left by an interrupted build" in result.stderr


def test_work_of_a_running_build_is_kept(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    live = cache / "work/build.live01"
    live.mkdir(parents=True)
    with (live / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = run_build(cache, fake_tree(tmp_path))
    assert result.returncode == 0, result.stderr
    assert live.exists()


def test_a_fresh_directory_without_its_lock_yet_is_kept(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    fresh = cache / "work/build.new001"
    fresh.mkdir(parents=True)
    old = cache / "work/build.old001"
    old.mkdir(parents=True)
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    result = run_build(cache, fake_tree(tmp_path))
    assert result.returncode == 0, result.stderr
    assert fresh.exists()
    assert not old.exists()


def test_a_tree_handed_to_the_caller_is_kept(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    tree = fake_tree(tmp_path)
    first = run_build(cache, tree)
    handed = Path(first.stdout.strip().removeprefix("BUILD_OUT=")).parent
    assert (handed / ".keep").exists()
    run_build(cache, tree)
    assert handed.exists()


def test_localmodconfig_keeps_only_the_listed_modules(tmp_path: Path) -> None:
    """LSMOD trims a distro-style config to the fleet's modules, on the real kernel tree (configured, not built)."""
    base = tmp_path / "base.config"
    base.write_text("CONFIG_MODULES=y\nCONFIG_BLOCK=y\nCONFIG_EXT4_FS=m\nCONFIG_BTRFS_FS=m\nCONFIG_XFS_FS=m\n")
    lsmod = tmp_path / "modules"
    # /proc/modules of one host and lsmod's header of another, as the role may pass them.
    lsmod.write_text("Module                  Size  Used by\next4 1003520 1 - Live 0x0\n")
    fragment = tmp_path / "none.config"
    fragment.write_text("# no fragment\n")
    cache = Path(os.environ.get("AGENTNS_CACHE_DIR", Path.home() / ".cache/agentns"))
    env = dict(
        os.environ,
        AGENTNS_CACHE_DIR=str(cache),
        PATCHES="0",
        TARGET="config",
        BASE_CONFIG=str(base),
        LSMOD=str(lsmod),
        FRAGMENTS=str(fragment),
        OUT=str(tmp_path / "out"),
    )
    result = subprocess.run(["bash", str(BUILD_SH)], capture_output=True, text=True, env=env, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    config = (tmp_path / "out/config").read_text()
    assert "CONFIG_EXT4_FS=m" in config
    assert "CONFIG_BTRFS_FS=m" not in config and "CONFIG_XFS_FS=m" not in config
