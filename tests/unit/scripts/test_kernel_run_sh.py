"""tests/kernel/run.sh's per-test timeout, on a suite directory of fake tests (no kernel needed)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
RUN_SH = REPO / "tests/kernel/run.sh"


def suite(tmp_path: Path, settings: str | None) -> Path:
    """A copy of run.sh beside one test that sleeps far longer than any timeout here."""
    directory = tmp_path / "agent_ns"
    directory.mkdir()
    shutil.copy(RUN_SH, directory / "run.sh")
    (directory / "test_sleeps.sh").write_text("#!/bin/sh\nexec sleep 60\n")
    if settings is not None:
        (directory / "settings").write_text(settings)
    return directory


def run(directory: Path, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "AGENTNS_TIMEOUT"}
    done = subprocess.run(["sh", str(directory / "run.sh")], capture_output=True, text=True, env={**environ, **env}, timeout=50, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    return done.stdout


def test_the_kselftest_settings_timeout_applies(tmp_path: Path) -> None:
    out = run(suite(tmp_path, "timeout=2\n"))
    assert "not ok 1 - test_sleeps.sh # TIMEOUT after 2s" in out


def test_the_environment_overrides_the_settings_file(tmp_path: Path) -> None:
    out = run(suite(tmp_path, "timeout=40\n"), AGENTNS_TIMEOUT="1")
    assert "# TIMEOUT after 1s" in out


def test_a_test_that_traps_the_kill_is_still_a_timeout(tmp_path: Path) -> None:
    # busybox's timeout (the VM loop's) returns the killed test's own status,
    # and the shell tests trap TERM into exit 1: that is a timeout too.
    directory = suite(tmp_path, "timeout=2\n")
    (directory / "test_sleeps.sh").write_text("#!/bin/sh\nsleep 60 &\ns=$!\ntrap 'kill $s; exit 1' TERM\nwait $s\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "timeout"
    fake.write_text(
        "#!/bin/sh\n# busybox-like: the command's own status when it is killed\n"
        'secs=$1; shift\n"$@" &\npid=$!\n(sleep "$secs"; kill -TERM $pid) &\nw=$!\n'
        "wait $pid\nrc=$?\nkill $w 2>/dev/null\nexit $rc\n"
    )
    fake.chmod(0o755)
    out = run(directory, PATH=f"{bin_dir}:{os.environ['PATH']}")
    assert "not ok 1 - test_sleeps.sh # TIMEOUT after 2s" in out


def test_every_harness_timeout_ends_before_the_runner_s() -> None:
    # A case past run.sh's timeout is killed without the harness's own report.
    settings = (REPO / "tests/kernel/settings").read_text()
    runner = int(re.search(r"^timeout=(\d+)$", settings, re.MULTILINE).group(1))
    harness = [
        int(seconds)
        for source in (REPO / "tests/kernel").glob("test_*.c")
        for seconds in re.findall(r"TEST(?:_F)?_TIMEOUT\([^)]*,\s*(\d+)\)", source.read_text())
    ]
    assert harness, "no TEST_F_TIMEOUT found"
    assert max(harness) < runner
