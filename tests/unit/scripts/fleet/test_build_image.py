# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
"""scripts/fleet/build-image.sh: a build that waits for the image lock says who holds it and gives up in time;
a build that has the lock removes the work directories of builds killed before they cleaned up."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from fleet_testlib import BUILD_IMAGE_SH


def test_lock_wait_names_the_holder_and_honours_the_timeout(tmp_path):
    images = tmp_path / "cache" / "images"
    images.mkdir(parents=True)
    # The work directory of the build holding the lock: not stale, a waiting build leaves it alone.
    live = images / ".build-0123456789abcdef.Live01"
    (live / "root").mkdir(parents=True)
    holder = subprocess.Popen(["flock", str(images / ".lock"), "sleep", "60"])
    try:
        # Under load the holder may take a while to get the lock; a fixed
        # sleep let build-image.sh take it first and start a real build.
        lock_taken = time.monotonic() + 20
        while subprocess.run(["flock", "-n", str(images / ".lock"), "true"], check=False).returncode == 0:
            assert time.monotonic() < lock_taken, "the holder never took the lock"
            time.sleep(0.05)
        start = time.monotonic()
        done = subprocess.run(
            ["bash", str(BUILD_IMAGE_SH)],
            env={**os.environ, "AGENTNS_CACHE_DIR": str(tmp_path / "cache"), "AGENTNS_IMAGE_LOCK_TIMEOUT": "2"},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        took = time.monotonic() - start
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1
    assert took < 25
    assert f"pid {holder.pid}: flock {images / '.lock'} sleep 60" in done.stderr
    assert "AGENTNS_IMAGE_LOCK_TIMEOUT" in done.stderr
    assert [work.name for work in images.glob(".build-*")] == [live.name]


def fake_build_tools(directory, debootstrap_log):
    """The tools build-image.sh requires, faked: debootstrap notes that it ran and fails at once,
    so a run stops right after the steps before it (lock, cleanup); `id -u` says root."""
    directory.mkdir()
    tools = {
        "debootstrap": f'#!/bin/sh\necho "debootstrap $*" >>{debootstrap_log}\nexit 1\n',
        "id": f'#!/bin/sh\n[ "$1" = -u ] && {{ echo 0; exit 0; }}\nexec {shutil.which("id")} "$@"\n',
    }
    for name in ("sfdisk", "mkfs.ext4", "qemu-system-x86_64", "qemu-img", "ssh-keygen"):
        tools[name] = "#!/bin/sh\nexit 1\n"
    for name, text in tools.items():
        (directory / name).write_text(text)
        (directory / name).chmod(0o755)
    return directory


def test_work_left_by_a_killed_build_is_removed(tmp_path):
    """A .build-* directory found under the image lock is a killed build's: the next build removes it."""
    images = tmp_path / "cache" / "images"
    stale = images / ".build-0123456789abcdef.Xy12Zq"
    (stale / "root" / "etc").mkdir(parents=True)
    (stale / "root" / "etc" / "hostname").write_text("agentns-base\n")
    (stale / "debootstrap.log").write_text("I: Retrieving InRelease\n")
    debootstrap_log = tmp_path / "debootstrap.log"
    bin_dir = fake_build_tools(tmp_path / "bin", debootstrap_log)
    done = subprocess.run(
        ["bash", str(BUILD_IMAGE_SH)],
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "AGENTNS_CACHE_DIR": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # The run got past the cleanup to a build of its own, which the fake debootstrap ended.
    assert done.returncode == 1, done.stderr
    assert "debootstrap failed" in done.stderr
    assert debootstrap_log.read_text().count("debootstrap ") == 1
    assert f"removing {stale}, left by an interrupted build" in done.stderr
    assert not stale.exists()
    # Its own work directory went too, on the way out.
    assert not list(images.glob(".build-*"))
