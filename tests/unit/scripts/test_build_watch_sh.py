"""scripts/build-watch.sh: a build runs while its heartbeat is fresh, and stops when it is not.

The build is a stand-in: bash with a child process (make's stand-in), both
recording their pids.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
WATCH_SH = REPO / "scripts/build-watch.sh"

# Runs a child for $1 s, then prints a line and exits with $2.
FAKE_BUILD = r"""
echo $$ >build.pid
sleep "$1" &
echo $! >make.pid
wait $!
echo BUILD_OUT=/somewhere
echo "[build] built" >&2
exit "$2"
"""


def start(tmp_path: Path, abandon: int, timeout: int, *build: str, grace: int = 60) -> subprocess.Popen[str]:
    (tmp_path / "fake-build.sh").write_text(FAKE_BUILD)
    argv = ["bash", str(WATCH_SH), str(tmp_path / "alive"), str(abandon), str(timeout), "bash", *build]
    env = dict(os.environ, GRACE=str(grace))
    return subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def pids(tmp_path: Path) -> list[int]:
    """The stand-in build's and its child's, once both are there."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            return [int((tmp_path / name).read_text()) for name in ("build.pid", "make.pid")]
        except (FileNotFoundError, ValueError):
            time.sleep(0.1)
    raise AssertionError("the build did not start")


def running(pid: int) -> bool:
    """Alive and not a zombie (orphans here may go unreaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def touch_if_there(path: Path) -> None:
    """What the role's polling does to the heartbeat (touch -c)."""
    try:
        os.utime(path)
    except FileNotFoundError:
        pass


@pytest.fixture
def heartbeat(tmp_path: Path) -> Iterator[None]:
    """Touches tmp_path/alive every 0.2 s while the test runs, as the role's polling does."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(0.2):
            touch_if_there(tmp_path / "alive")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    yield
    done.set()
    thread.join()


@pytest.fixture(autouse=True)
def no_leftovers(tmp_path: Path) -> Iterator[None]:
    yield
    for name in ("build.pid", "make.pid"):
        try:
            pid = int((tmp_path / name).read_text())
        except (FileNotFoundError, ValueError):
            continue
        if running(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_build_no_one_polls_is_stopped(tmp_path: Path) -> None:
    watch = start(tmp_path, 2, 1000, "fake-build.sh", "600", "0")
    build, make = pids(tmp_path)
    # Generous: the machine may be loaded.
    err = watch.communicate(timeout=60)[1]
    assert watch.returncode != 0
    assert "abandoned: no one polled this build for" in err and "; stopped" in err, err
    deadline = time.monotonic() + 30
    while (running(build) or running(make)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not running(build) and not running(make)
    assert not (tmp_path / "alive").exists()


@pytest.mark.usefixtures("heartbeat")
def test_a_polled_build_runs_to_its_end(tmp_path: Path) -> None:
    # Three times the abandon limit, polled all along.
    watch = start(tmp_path, 2, 1000, "fake-build.sh", "6", "3")
    out, err = watch.communicate(timeout=60)
    assert watch.returncode == 3
    assert out == "BUILD_OUT=/somewhere\n"
    assert err == "[build] built\n"
    assert not (tmp_path / "alive").exists()


@pytest.mark.usefixtures("heartbeat")
def test_a_build_past_its_timeout_is_stopped(tmp_path: Path) -> None:
    watch = start(tmp_path, 1000, 2, "fake-build.sh", "600", "0")
    build, make = pids(tmp_path)
    err = watch.communicate(timeout=60)[1]
    assert watch.returncode != 0
    assert "timed out: ran for" in err, err
    assert not running(build) and not running(make)


def test_stopping_the_watcher_stops_the_build(tmp_path: Path) -> None:
    watch = start(tmp_path, 1000, 1000, "fake-build.sh", "600", "0")
    build, make = pids(tmp_path)
    watch.send_signal(signal.SIGTERM)
    err = watch.communicate(timeout=60)[1]
    assert watch.returncode == 143
    assert "interrupted; stopped" in err
    assert not running(build) and not running(make)


def test_a_build_that_ignores_term_is_killed(tmp_path: Path) -> None:
    (tmp_path / "stubborn.sh").write_text("trap '' TERM\necho $$ >build.pid\necho $$ >make.pid\nwhile :; do sleep 1; done\n")
    watch = start(tmp_path, 2, 1000, "stubborn.sh", grace=2)
    build = pids(tmp_path)[0]
    err = watch.communicate(timeout=60)[1]
    assert watch.returncode != 0
    assert "still running 2 s after TERM: killed" in err, err
    assert not running(build)


def test_scripts_build_sh_stops_with_its_make_and_frees_the_cache_lock(tmp_path: Path) -> None:
    """The real scripts/build.sh on a stand-in kernel tree whose make "compiles" for 10 minutes."""
    tree = tmp_path / "linux"
    (tree / "scripts/kconfig").mkdir(parents=True)
    (tree / "Makefile").write_text(f"tinyconfig:\n\t@: >$(O)/.config\nolddefconfig:\n\t@:\nbzImage:\n\techo $$$$ >{tmp_path}/make.pid; exec sleep 600\n")
    (tree / "scripts/kconfig/merge_config.sh").write_text("#!/bin/sh\n")
    (tree / "scripts/kconfig/merge_config.sh").chmod(0o755)
    (tmp_path / "fragment.config").write_text("# none\n")
    cache = tmp_path / "cache"
    env = dict(os.environ, AGENTNS_CACHE_DIR=str(cache), KSRC=str(tree), PATCHES="0", FRAGMENTS=str(tmp_path / "fragment.config"))
    argv = ["bash", str(WATCH_SH), str(tmp_path / "alive"), "2", "1000", "bash", str(REPO / "scripts/build.sh")]
    watch = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Polled until make runs, then no more.
    deadline = time.monotonic() + 60
    while not (tmp_path / "make.pid").exists() and watch.poll() is None and time.monotonic() < deadline:
        touch_if_there(tmp_path / "alive")
        time.sleep(0.2)
    err = watch.communicate(timeout=120)[1]
    assert watch.returncode != 0
    assert "abandoned: no one polled this build for" in err and "interrupted" in err, err
    make = int((tmp_path / "make.pid").read_text())
    deadline = time.monotonic() + 30
    while running(make) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not running(make)
    assert list((cache / "work").iterdir()) == []
    for lock in (cache / "kernels").glob("*.lock"):
        assert subprocess.run(["flock", "-n", str(lock), "true"], check=False).returncode == 0
