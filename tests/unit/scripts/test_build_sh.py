"""scripts/build.sh's cache hygiene, on a fake kernel tree (no kernel is built)."""

from __future__ import annotations

import fcntl
import io
import os
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

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


# A kernel tree with the make targets build.sh runs, faked: configuring writes
# a .config, bindeb-pkg notes each build in $FAKE_BUILD_LOG and waits for the
# file $FAKE_BUILD_GATE before it writes its packages next to the object tree,
# as Kbuild does. The test opens the gate once it has seen what it wants.
FAKE_MAKEFILE = """\
tinyconfig:
\techo '# tinyconfig' >$(O)/.config
olddefconfig:
\ttrue
kernelrelease:
\techo 7.3.0-agentns
bindeb-pkg:
\techo "build $(O)" >>$(FAKE_BUILD_LOG)
\twhile [ ! -e $(FAKE_BUILD_GATE) ]; do sleep 0.1; done
\techo image >$(O)/../linux-image-7.3.0-agentns_1_amd64.deb
\techo headers >$(O)/../linux-headers-7.3.0-agentns_1_amd64.deb
"""
FAKE_MERGE_CONFIG = """\
#!/bin/sh
# merge_config.sh -m -O OBJ BASE FRAGMENT...: the fragments appended to BASE.
shift 3
base=$1
shift
cat "$@" >>"$base"
"""


def fake_kernel_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "linux"
    (tree / "scripts/kconfig").mkdir(parents=True)
    (tree / "Makefile").write_text(FAKE_MAKEFILE)
    merge = tree / "scripts/kconfig/merge_config.sh"
    merge.write_text(FAKE_MERGE_CONFIG)
    merge.chmod(0o755)
    return tree


def fake_tools(tmp_path: Path, **tools: str) -> Path:
    """A directory of small programs NAME with the given text, to put first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in tools.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return bin_dir


def wait_for(what: str, done, deadline: float = 60) -> None:
    """Poll done() until it is true; fail naming what never happened. Generous: the machine is loaded."""
    end = time.monotonic() + deadline
    while not done():
        assert time.monotonic() < end, f"after {deadline} s: {what}"
        time.sleep(0.1)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def finish(run: subprocess.Popen[str]) -> str:
    try:
        return run.communicate(timeout=120)[0]
    except subprocess.TimeoutExpired:
        run.kill()
        return run.communicate()[0]


def two_runs_at_once(tmp_path: Path, env: dict[str, str], steps: Path, gate: Path, waiting: str) -> list[tuple[int, str, str]]:
    """Run build.sh twice with env, the second once the first is held in the gated step (its line
    in steps), and open the gate once the second says `waiting` (or, with no lock, is in the step
    too). Each run's returncode, stdout and stderr."""
    runs: list[subprocess.Popen[str]] = []
    errs = [tmp_path / "first.err", tmp_path / "second.err"]
    try:
        for err in errs:
            with err.open("w") as stderr:
                runs.append(subprocess.Popen(["bash", str(BUILD_SH)], stdout=subprocess.PIPE, stderr=stderr, text=True, env=env))
            if len(runs) == 1:
                wait_for("the first run never reached the gated step", lambda: len(lines(steps)) == 1 or runs[0].poll() is not None)
        wait_for(
            "the second run neither waited for the first nor reached the gated step",
            lambda: waiting in errs[1].read_text() or len(lines(steps)) > 1 or runs[1].poll() is not None,
        )
    finally:
        # Whatever happened: a gated make runs in a session of its own and would outlive a kill.
        gate.touch()
        outs = [finish(run) for run in runs]
    return [(run.returncode, out, err.read_text()) for run, out, err in zip(runs, outs, errs)]


def test_two_runs_of_the_same_build_at_once_build_it_once(tmp_path: Path) -> None:
    """The second run waits on the cache entry's lock while the first builds, then reuses its packages."""
    cache = tmp_path / "cache"
    fragment = tmp_path / "test.config"
    fragment.write_text("CONFIG_EXAMPLE=y\n")
    builds = tmp_path / "builds.log"
    gate = tmp_path / "gate"
    # build.sh checks on make once a minute; a heartbeat at test speed.
    real_sleep = shutil.which("sleep")
    bin_dir = fake_tools(tmp_path, sleep=f"#!/bin/sh\nexec {real_sleep} 0.5\n")
    env = dict(
        os.environ,
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        AGENTNS_CACHE_DIR=str(cache),
        KSRC=str(fake_kernel_tree(tmp_path)),
        PATCHES="0",
        TARGET="bindeb-pkg",
        FRAGMENTS=str(fragment),
        JOBS="1",
        FAKE_BUILD_LOG=str(builds),
        FAKE_BUILD_GATE=str(gate),
    )
    # The first build is held at the gate: the second run must queue on the entry's lock.
    waiting = f"waiting for another build holding {cache}/kernels/"
    (rc1, out1, err1), (rc2, out2, err2) = two_runs_at_once(tmp_path, env, builds, gate, waiting)
    assert (rc1, rc2) == (0, 0), err1 + err2
    assert len(lines(builds)) == 1, "the kernel was built more than once:\n" + err1 + err2
    assert waiting in err2
    assert "reusing cached build" not in err1
    assert "reusing cached build" in err2
    first_out, second_out = (out.strip().splitlines()[-1] for out in (out1, out2))
    assert first_out == second_out
    entry = Path(first_out.removeprefix("BUILD_OUT="))
    assert entry.parent == cache / "kernels"
    assert (entry / ".done").exists()
    assert (entry / "linux-image-7.3.0-agentns_1_amd64.deb").read_text() == "image\n"
    assert (entry / "linux-headers-7.3.0-agentns_1_amd64.deb").read_text() == "headers\n"
    assert (entry / "kernelrelease").read_text() == "7.3.0-agentns\n"
    assert (entry / "config").read_text().startswith("# tinyconfig\nCONFIG_EXAMPLE=y\n")
    # Each run's work directory went when it ended.
    assert not list((cache / "work").glob("build.*"))


def test_a_build_ends_when_make_does_not_at_the_next_progress_line(tmp_path: Path) -> None:
    """build.sh prints a progress line a minute; make's end must not wait for the minute to run out."""
    gate = tmp_path / "gate"
    gate.touch()
    real_sleep = shutil.which("sleep")
    # The progress timer (sleep 60) never ends by itself here (a length no other
    # process uses, to look for it afterwards); other sleeps are real.
    forever = f"600.{os.getpid()}"
    bin_dir = fake_tools(tmp_path, sleep=f'#!/bin/sh\n[ "$1" = 60 ] && exec {real_sleep} {forever}\nexec {real_sleep} "$@"\n')
    env = dict(
        os.environ,
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        AGENTNS_CACHE_DIR=str(tmp_path / "cache"),
        KSRC=str(fake_kernel_tree(tmp_path)),
        PATCHES="0",
        TARGET="bindeb-pkg",
        JOBS="1",
        FAKE_BUILD_LOG=str(tmp_path / "builds.log"),
        FAKE_BUILD_GATE=str(gate),
    )
    run = subprocess.Popen(["bash", str(BUILD_SH)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        out, err = run.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)  # the timer too: it holds the pipes
        run.communicate()
        pytest.fail("build.sh was still running 60 s after a make that ends at once")
    assert run.returncode == 0, err
    assert "built in" in err
    assert out.strip().splitlines()[-1].startswith("BUILD_OUT=")
    # No progress timer left behind.
    assert subprocess.run(["pgrep", "-f", f"sleep {forever}"], check=False, capture_output=True, text=True).stdout == ""


def test_two_first_unpacks_of_the_source_at_once_unpack_it_once(tmp_path: Path) -> None:
    """The second run waits on the source tree's lock while the first unpacks, and neither loses its tree."""
    cache = tmp_path / "cache"
    tarball = tmp_path / "linux-source-7.3.tar.xz"
    with tarfile.open(tarball, "w:xz") as archive:
        for name, text in (("Makefile", "# not a kernel\n"), ("kernel/agent.c", "int agent;\n")):
            data = text.encode()
            member = tarfile.TarInfo(f"linux-source-7.3/{name}")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    unpacks = tmp_path / "unpacks.log"
    gate = tmp_path / "gate"
    # tar notes each unpack and holds it until the gate opens.
    bin_dir = fake_tools(
        tmp_path,
        tar=f"""#!/bin/sh
case $1 in -x*)
    echo "unpack $*" >>{unpacks}
    while [ ! -e {gate} ]; do sleep 0.1; done ;;
esac
exec {shutil.which("tar")} "$@"
""",
    )
    env = dict(
        os.environ,
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        AGENTNS_CACHE_DIR=str(cache),
        KSRC_TARBALL=str(tarball),
        PATCHES="0",
        BUILD_KERNEL="0",
    )
    waiting = f"waiting for another build holding {cache}/src/linux-source-7.3.lock"
    (rc1, out1, err1), (rc2, out2, err2) = two_runs_at_once(tmp_path, env, unpacks, gate, waiting)
    assert (rc1, rc2) == (0, 0), err1 + err2
    assert len(lines(unpacks)) == 1, "the source was unpacked more than once:\n" + err1 + err2
    assert waiting in err2
    source = cache / "src/linux-source-7.3"
    assert (source / ".unpacked").exists()
    # Each run's tree (hard links into the source) is whole.
    for out in (out1, out2):
        tree = Path(out.strip().splitlines()[-1].removeprefix("BUILD_OUT="))
        assert (tree / "Makefile").read_text() == "# not a kernel\n"
        assert (tree / "kernel/agent.c").read_text() == "int agent;\n"
