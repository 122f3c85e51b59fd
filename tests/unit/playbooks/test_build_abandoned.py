"""agentns_build's background build lives only as long as someone waits for it.

The role runs on this machine with a stand-in for scripts/build.sh (in a
collection tree of its own, agentns_build_tree) that "compiles" in a child
process, as make does, for FAKE_SECONDS. Interrupted the way Ctrl-C
interrupts deploy.yml, the play stops polling; the build must then stop too
instead of compiling on for hours and holding the cache lock a re-run waits
on. A build the play keeps polling must run to its end, longer than the
abandon limit, and a second run must reuse it without a change.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playbook_run import PLAYBOOK_BIN, REPO, run_playbook

pytestmark = pytest.mark.skipif(not PLAYBOOK_BIN.exists(), reason="ansible-playbook not in the venv")

FAKE_BUILD = r"""#!/usr/bin/env bash
# Stand-in for scripts/build.sh: reuses a finished build, or "compiles" for
# $FAKE_SECONDS s in a child process (make's stand-in) and leaves one.
set -euo pipefail
log() { printf '[build %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
out=$AGENTNS_CACHE_DIR/kernels/fake
if [[ -f $out/.done ]]; then
    log "reusing cached build $out"
    echo "BUILD_OUT=$out"
    exit 0
fi
echo $$ >"$AGENTNS_CACHE_DIR/build.pid"
log "building"
sleep "$FAKE_SECONDS" &
echo $! >"$AGENTNS_CACHE_DIR/make.pid"
wait $!
mkdir -p "$out"
echo 9.9.9-agentns >"$out/kernelrelease"
: >"$out/linux-image-9.9.9-agentns_1_amd64.deb"
touch "$out/.done"
log "built"
echo "BUILD_OUT=$out"
"""


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    """A collection tree whose scripts/build.sh is the stand-in; kills what is left of its builds at the end."""
    tree = tmp_path / "tree"
    (tree / "scripts").mkdir(parents=True)
    (tree / "scripts/build.sh").write_text(FAKE_BUILD)
    for script in ("build-watch.sh", "release-suffix.sh"):
        shutil.copy(REPO / "scripts" / script, tree / "scripts" / script)
    (tree / "fragment.config").write_text("CONFIG_EXAMPLE=y\n")
    (tmp_path / "hosts").write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    (tmp_path / "build.yml").write_text("- hosts: localhost\n  gather_facts: false\n  roles:\n    - agentns.fleet.agentns_build\n")
    yield tree
    for name in ("build.pid", "make.pid"):
        pid = read_pid(tmp_path / "cache" / name)
        if pid and running(pid):
            os.kill(pid, signal.SIGKILL)


def role_args(tmp_path: Path, tree: Path, abandon_after: int, fake_seconds: int) -> list[str]:
    settings = {
        "agentns_build_tree": tree,
        "agentns_build_cache_dir": tmp_path / "cache",
        "agentns_build_config": "minimal",
        "agentns_build_minimal_fragment": tree / "fragment.config",
        "agentns_build_install_dependencies": "false",
        # A round of polling a second, and a timeout short enough for that.
        "agentns_build_poll_interval": 1,
        "agentns_build_timeout": 200,
        "agentns_build_abandon_after": abandon_after,
    }
    args = [arg for key, value in settings.items() for arg in ("-e", f"{key}={value}")]
    return [*args, "-e", f'{{"agentns_build_environment": {{"FAKE_SECONDS": "{fake_seconds}"}}}}']


def async_env(tmp_path: Path) -> dict[str, str]:
    """The async jobs' status files in the test's directory, not ~/.ansible_async."""
    return {"ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_ASYNC_DIR": str(tmp_path / "async")}


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def running(pid: int) -> bool:
    """Alive and not a zombie (orphans here may go unreaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


def progress_log(tmp_path: Path) -> str:
    logs = sorted((tmp_path / "cache/logs").glob("build-agentns-*.log"))
    return logs[-1].read_text() if logs else ""


def test_an_interrupted_play_leaves_no_build_running(tmp_path: Path, tree: Path) -> None:
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".ansible/collections"),
        **async_env(tmp_path),
    }
    play = subprocess.Popen(
        [str(PLAYBOOK_BIN), "-i", str(tmp_path / "hosts"), str(tmp_path / "build.yml"), *role_args(tmp_path, tree, 4, 600)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    try:
        started = wait_until(lambda: read_pid(tmp_path / "cache/make.pid") is not None or play.poll() is not None, 180)
        assert started and play.poll() is None, play.communicate()[0] if play.poll() is not None else "no build"
        # Ctrl-C at the terminal: SIGINT to the play's process group.
        os.killpg(play.pid, signal.SIGINT)
        play.communicate(timeout=60)
    finally:
        if play.poll() is None:
            os.killpg(play.pid, signal.SIGKILL)
            play.communicate()
    build, make = read_pid(tmp_path / "cache/build.pid"), read_pid(tmp_path / "cache/make.pid")
    assert build and make
    assert wait_until(lambda: not running(build) and not running(make), 90), "the build goes on with no one waiting for it"
    assert "abandoned: no one polled this build for" in progress_log(tmp_path)


def test_a_polled_build_runs_to_its_end_and_is_reused(tmp_path: Path, tree: Path) -> None:
    # The build takes longer than the abandon limit; the play's polling keeps it going.
    args = role_args(tmp_path, tree, 15, 25)
    env = async_env(tmp_path)
    first = run_playbook(tmp_path / "build.yml", tmp_path / "hosts", *args, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Kernel 9.9.9-agentns built: linux-image-9.9.9-agentns_1_amd64.deb" in first.stdout
    log = progress_log(tmp_path)
    assert "built" in log and "abandoned" not in log, log
    leftovers = [p.name for p in (tmp_path / "cache/logs").iterdir() if p.suffix in (".done", ".alive")]
    assert leftovers == []

    again = run_playbook(tmp_path / "build.yml", tmp_path / "hosts", *args, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Kernel 9.9.9-agentns reused from the cache" in again.stdout
    assert re.search(r"localhost\s+: ok=\d+\s+changed=0\s", again.stdout), again.stdout
