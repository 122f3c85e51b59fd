# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
"""Fixtures for the unit tests of scripts/fleet/fleet.py.

QEMU, qemu-img and ssh are faked at the process boundary: small programs of
those names first on PATH (fake_qemu.py serves QMP and an SSH banner), so
fleet.py runs unchanged and spawns, signals and reads /proc of real processes.
"""

from __future__ import annotations

import os
import signal

import pytest
from fleet_testlib import fake_bin, fake_qemu_pids, load_fleet, repo_server_pids


@pytest.fixture
def fleet(monkeypatch):
    module = load_fleet()
    # The same waits, at test speed.
    monkeypatch.setattr(module, "POLL_INTERVAL", 0.05, raising=False)
    monkeypatch.setattr(module, "QMP_POLL_INTERVAL", 0.1, raising=False)
    monkeypatch.setattr(module, "KICK_SECONDS", 0.5, raising=False)
    return module


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A private cache (registry), image, state dir and fake tools on PATH."""
    cache = tmp_path / "cache"
    image = tmp_path / "image"
    image.mkdir()
    (image / "base.qcow2").write_text("")
    (image / "id_ed25519").write_text("")
    monkeypatch.setenv("PATH", f"{fake_bin(tmp_path / 'bin')}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("AGENTNS_CACHE_DIR", str(cache))
    for name in (
        "AGENTNS_RUN_ID",
        "AGENTNS_FLEET_MAX_LIFETIME",
        "AGENTNS_FLEET_BOOT_TIMEOUT",
        "AGENTNS_FLEET_STALL_TIMEOUT",
        "FAKE_QEMU_MODE",
        "FAKE_QEMU_MIGRATE",
        "FAKE_QEMU_RESTORE",
        "FAKE_SSH_LOG",
    ):
        monkeypatch.delenv(name, raising=False)
    # Cold boots, as before snapshots: the waits, reaping and interrupts of a
    # boot. test_fleet_snapshots.py sets "snapshot" for its own.
    monkeypatch.setenv("AGENTNS_FLEET_BOOT", "cold")
    info = {"tmp": tmp_path, "cache": cache, "image": image, "state": tmp_path / "state"}
    yield info
    # Whatever a failing test left running: the fakes and servers of this tmp_path only.
    for pid in fake_qemu_pids(str(tmp_path)) + repo_server_pids(str(tmp_path)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
