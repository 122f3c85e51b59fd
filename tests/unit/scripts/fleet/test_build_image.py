# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
"""scripts/fleet/build-image.sh: a build that waits for the image lock says who holds it and gives up in time."""

from __future__ import annotations

import os
import subprocess
import time

from fleet_testlib import BUILD_IMAGE_SH


def test_lock_wait_names_the_holder_and_honours_the_timeout(tmp_path):
    images = tmp_path / "cache" / "images"
    images.mkdir(parents=True)
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
    assert not list(images.glob(".build-*"))
