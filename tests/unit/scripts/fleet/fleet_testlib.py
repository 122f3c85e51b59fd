# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
"""Helpers of the fleet.py unit tests: the fake tools, and what they left behind."""

from __future__ import annotations

import importlib.util
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[3]
FLEET_PY = REPO / "scripts" / "fleet" / "fleet.py"
BUILD_IMAGE_SH = REPO / "scripts" / "fleet" / "build-image.sh"

QEMU_WRAPPER = """#!/bin/bash
exec -a qemu-system-x86_64 {python} {fake} "$@"
"""
QEMU_IMG = """#!/bin/bash
# qemu-img create [-q] -f FMT [-b BASE -F FMT] FILE [SIZE]; FILE notes its backing file.
if [[ -n ${FAKE_QEMU_IMG_FAIL:-} ]]; then
    echo "qemu-img: $FAKE_QEMU_IMG_FAIL" >&2
    exit 1
fi
shift
backing=
while (($#)); do
    case $1 in
    -q) ;;
    -b) backing=$2; shift ;;
    -f | -F) shift ;;
    *) echo "backing=$backing" >"$1"; exit 0 ;;
    esac
    shift
done
"""
SSH = """#!/bin/bash
# Each call's arguments on one line of $FAKE_SSH_LOG, if set.
[[ -n ${FAKE_SSH_LOG:-} ]] && printf '%s\\n' "$*" >>"$FAKE_SSH_LOG"
exit ${FAKE_SSH_RC:-0}
"""

# What may differ between the QEMU that saved a state and the one that
# restores it: names, paths, ports, ids. The rest (machine, memory, devices
# and their order) must match (fleet.qemu_argv).
PER_VM_OPTIONS = ("-name", "-serial", "-qmp", "-smbios", "-incoming", "-pidfile")


def device_argv(argv: list[str]) -> list[str]:
    """A QEMU command line without what may differ between the saving and the restoring QEMU."""
    kept: list[str] = []
    pairs = iter(argv)
    for arg in pairs:
        if arg in PER_VM_OPTIONS:
            next(pairs, None)
            continue
        arg = re.sub(r"file=[^,]*", "file=PATH", arg)
        arg = re.sub(r"hostfwd=tcp:127\.0\.0\.1:\d+-", "hostfwd=tcp:127.0.0.1:PORT-", arg)
        kept.append(arg)
    return kept


def load_fleet():
    spec = importlib.util.spec_from_file_location("agentns_fleet_under_test", FLEET_PY)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def fake_bin(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("qemu-system-x86_64", QEMU_WRAPPER.format(python=sys.executable, fake=HERE / "fake_qemu.py")),
        ("qemu-img", QEMU_IMG),
        ("ssh", SSH),
    ):
        path = directory / name
        path.write_text(text)
        path.chmod(0o755)
    return directory


def registered_pids(cache: Path) -> list[int]:
    registry = cache / "fleet" / "registry"
    return sorted(int(p.stem) for p in registry.glob("*.json")) if registry.is_dir() else []


def pids_matching(marker: str, is_it) -> list[int]:
    """Pids of live processes whose argv passes is_it and contains marker."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and is_it(argv) and any(marker.encode() in arg for arg in argv):
            pids.append(int(proc.name))
    return pids


def fake_qemu_pids(marker: str) -> list[int]:
    """Pids of live fake QEMUs whose command line contains marker."""
    return pids_matching(marker, lambda argv: argv[0] == b"qemu-system-x86_64")


def repo_server_pids(marker: str) -> list[int]:
    """Pids of live repository servers (fleet.py serve's children) whose command line contains marker."""
    return pids_matching(marker, lambda argv: b"_serve-repo" in argv)


def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode() for a in f.read().rstrip(b"\0").split(b"\0")]


def alive(pid: int) -> bool:
    """A live process (a zombie has no command line)."""
    try:
        return bool(cmdline(pid)[0])
    except (OSError, IndexError):
        return False


def wait_for(predicate, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def state_json(state_dir: Path) -> dict:
    return json.loads((state_dir / "state.json").read_text())


def signal_inside_popen(fleet, monkeypatch, is_it, signum: int = signal.SIGTERM) -> list[int]:
    """Make fleet's first spawn whose argv passes is_it take signum inside Popen, after the fork.

    Returns the list the spawned pid goes into.
    """
    real_popen = subprocess.Popen
    spawned: list[int] = []

    def popen(argv, *args, **kwargs):
        proc = real_popen(argv, *args, **kwargs)
        if not spawned and is_it([str(a) for a in argv]):
            spawned.append(proc.pid)
            signal.raise_signal(signum)  # as if it landed before Popen returned
        return proc

    monkeypatch.setattr(fleet.subprocess, "Popen", popen)
    return spawned
