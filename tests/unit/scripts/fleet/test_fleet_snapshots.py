# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
"""scripts/fleet/fleet.py's booted-state snapshots, against the fake QEMU.

The fake saves a state that holds its device argv on QMP `migrate` and, given
`-incoming`, fails as QEMU does when the restoring command line differs, so
every restore here also checks the argv.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fleet_testlib import FLEET_PY, alive, cmdline, device_argv, fake_qemu_pids, registered_pids, state_json, wait_for


@pytest.fixture(autouse=True)
def snapshot_boots(env, monkeypatch):
    monkeypatch.setenv("AGENTNS_FLEET_BOOT", "snapshot")


def up(fleet, env, *extra, state=None):
    args = ["up", "--image", str(env["image"]), "--state-dir", str(state or env["state"]), *extra]
    if not any(a in extra for a in ("--host", "--spec", "--count")):
        args += ["--host", "vm-1"]
    return fleet.main(args)


def down(fleet, env, state=None):
    return fleet.main(["down", "--state-dir", str(state or env["state"])])


def vm_record(env, name="vm-1", state=None) -> dict:
    return state_json(state or env["state"])["vms"][name]


def snapshot_links(image: Path) -> list[Path]:
    return sorted(p for p in image.glob("booted-*") if p.is_symlink())


def leftovers(image: Path) -> list[str]:
    """What the image directory holds beyond the image and the snapshot locks."""
    return sorted(p.name for p in image.iterdir() if p.name not in ("base.qcow2", "id_ed25519") and not p.name.endswith(".lock"))


def the_snapshot(env) -> Path:
    (link,) = snapshot_links(env["image"])
    return link.resolve()


def shape(fleet, image, memory=1536, smp=1, extra_disk_gb=0):
    return fleet.Shape(image=Path(image), memory=memory, smp=smp, extra_disk_gb=extra_disk_gb)


# --- the key ------------------------------------------------------------------


def test_the_snapshot_key_changes_with_each_input(fleet, env, monkeypatch):
    other = env["tmp"] / "other-image"
    other.mkdir()
    (other / "base.qcow2").write_text("")
    base = fleet.snapshot_key(shape(fleet, env["image"]))
    assert fleet.snapshot_key(shape(fleet, env["image"])) == base
    variants = [
        shape(fleet, env["image"], memory=2048),
        shape(fleet, env["image"], smp=2),
        shape(fleet, env["image"], extra_disk_gb=1),
        shape(fleet, env["image"], extra_disk_gb=8),
        shape(fleet, other),
    ]
    keys = [fleet.snapshot_key(variant) for variant in variants]
    assert len(set(keys + [base])) == len(keys) + 1
    # A rebuilt base image, a new snapshot recipe, another QEMU command line.
    os.utime(env["image"] / "base.qcow2", ns=(1, 1))
    rebuilt = fleet.snapshot_key(shape(fleet, env["image"]))
    assert rebuilt != base
    monkeypatch.setattr(fleet, "SNAPSHOT_VERSION", fleet.SNAPSHOT_VERSION + 1)
    assert fleet.snapshot_key(shape(fleet, env["image"])) != rebuilt
    real_argv = fleet.qemu_argv
    monkeypatch.setattr(fleet, "qemu_argv", lambda vm, incoming=None: [*real_argv(vm, incoming), "-device", "new"])
    monkeypatch.setattr(fleet, "SNAPSHOT_VERSION", fleet.SNAPSHOT_VERSION - 1)
    assert fleet.snapshot_key(shape(fleet, env["image"])) != rebuilt


# --- making one, restoring from it ---------------------------------------------


def test_the_first_up_makes_the_snapshot_and_the_next_restores(fleet, env, capsys):
    assert up(fleet, env) == 0
    err = capsys.readouterr().err
    assert "creating the booted-state snapshot" in err and "saved the snapshot" in err
    snapshot = the_snapshot(env)
    assert {p.name for p in snapshot.iterdir()} >= {"disk.qcow2", "state", "manifest.json"}
    # The snapshot's disk is an overlay on the image; the VM's, one on the snapshot's.
    assert (snapshot / "disk.qcow2").read_text() == f"backing={env['image'] / 'base.qcow2'}\n"
    vm = vm_record(env)
    assert vm["restored"] is True and vm["snapshot"] == str(snapshot)
    assert Path(vm["overlay"]).read_text() == f"backing={snapshot / 'disk.qcow2'}\n"
    # The VM that booted for the snapshot is gone, with its work directory and registry record.
    assert fake_qemu_pids(str(env["tmp"])) == [vm["pid"]]
    assert registered_pids(env["cache"]) == [vm["pid"]]
    assert leftovers(env["image"]) == sorted([snapshot.name, snapshot.name.rsplit(".", 1)[0]])
    assert down(fleet, env) == 0

    assert up(fleet, env, "--host", "vm-2") == 0
    err = capsys.readouterr().err
    assert "creating" not in err and "restoring" in err
    assert vm_record(env, "vm-2")["snapshot"] == str(snapshot)
    assert fleet.main(["status", "--json", "--state-dir", str(env["state"])]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["restored"] is True and row["ssh"] is True
    assert down(fleet, env) == 0


def test_a_restore_has_the_snapshot_vms_device_argv(fleet, env):
    spec = json.dumps([{"name": "a"}, {"name": "b", "extra_disk_gb": 1, "memory": 1024}])
    assert up(fleet, env, "--spec", spec) == 0
    assert len(snapshot_links(env["image"])) == 2
    for name in ("a", "b"):
        vm = vm_record(env, name)
        saved = json.loads((Path(vm["snapshot"]) / "manifest.json").read_text())["argv"]
        argv = cmdline(vm["pid"])
        assert argv[argv.index("-incoming") + 1] == f"exec:cat {Path(vm['snapshot']) / 'state'}"
        # The fake's command line: qemu-system-x86_64 fake_qemu.py ARGS.
        assert device_argv(argv[2:]) == device_argv(saved[1:])
        assert argv != saved  # names, paths and port are the VM's own
    assert "-drive" in cmdline(vm_record(env, "b")["pid"])[-6:]  # b's blank extra disk, last as when saved
    assert Path(vm_record(env, "b")["extra_disk"]).read_text() == "backing=\n"
    assert down(fleet, env) == 0


def test_the_snapshot_vm_is_a_vm_of_the_run(fleet, env, monkeypatch):
    monkeypatch.setenv("AGENTNS_RUN_ID", "run-s")
    seen = []
    real_save = fleet.save_snapshot

    def save(state, build):
        argv = cmdline(build.vm.pid)
        seen.append((fleet.qemu_identity(argv), build.vm.deadline, registered_pids(env["cache"]), build.vm.pid))
        return real_save(state, build)

    monkeypatch.setattr(fleet, "save_snapshot", save)
    assert up(fleet, env) == 0
    (identity, deadline, registered, pid) = seen[0]
    assert identity == ("run-s", deadline) and registered == [pid]
    assert list(state_json(env["state"])["vms"]) == ["vm-1"]  # not one of the state dir's VMs
    assert not alive(pid)
    assert down(fleet, env) == 0


def test_the_clock_and_machine_id_are_set_after_a_restore_only(fleet, env, monkeypatch):
    log = env["tmp"] / "ssh.log"
    monkeypatch.setenv("FAKE_SSH_LOG", str(log))
    before = time.time()
    assert up(fleet, env) == 0
    port = vm_record(env)["port"]
    calls = [line for line in log.read_text().splitlines() if f"-p {port} " in line]
    (fixup,) = [line for line in calls if "date -u -s @" in line]
    epoch = float(fixup.split("date -u -s @")[1].split()[0])
    assert before - 1 <= epoch <= time.time() + 1
    assert "/etc/machine-id" in fixup and "/dev/urandom" in fixup
    # Then the hostname, as after a boot, in the same login (each costs the guest CPU).
    assert fixup.index("date -u -s") < fixup.index("hostnamectl set-hostname vm-1")
    assert down(fleet, env) == 0

    log.unlink()
    monkeypatch.setenv("AGENTNS_FLEET_BOOT", "cold")
    assert up(fleet, env, "--host", "cold") == 0
    assert "date -u -s" not in log.read_text()
    assert down(fleet, env) == 0


def test_each_restored_vm_gets_its_own_machine_id(fleet, env, monkeypatch):
    log = env["tmp"] / "ssh.log"
    monkeypatch.setenv("FAKE_SSH_LOG", str(log))
    assert up(fleet, env, "--count", "2") == 0
    ids = [line.split("echo ")[1].split()[0] for line in log.read_text().splitlines() if "/etc/machine-id" in line]
    assert len(ids) == 2 and ids[0] != ids[1] and all(len(i) == 32 for i in ids)
    assert down(fleet, env) == 0


# --- when a restore fails ---------------------------------------------------------


def test_a_failed_restore_boots_cold_once_and_drops_the_snapshot(fleet, env, monkeypatch, capsys):
    assert up(fleet, env) == 0
    snapshot = the_snapshot(env)
    assert down(fleet, env) == 0
    capsys.readouterr()
    monkeypatch.setenv("FAKE_QEMU_RESTORE", "fail")
    assert up(fleet, env) == 0
    err = capsys.readouterr().err
    assert "the restore failed; dropping the snapshot" in err and "load of migration failed" in err
    vm = vm_record(env)
    assert vm["restored"] is False and "-incoming" not in cmdline(vm["pid"])
    assert "login:" in Path(vm["console"]).read_text()
    assert not snapshot.exists() and not snapshot_links(env["image"])
    assert down(fleet, env) == 0
    # The next up makes a new one.
    monkeypatch.delenv("FAKE_QEMU_RESTORE")
    assert up(fleet, env) == 0
    assert "creating the booted-state snapshot" in capsys.readouterr().err
    assert the_snapshot(env) != snapshot
    assert vm_record(env)["restored"] is True
    assert down(fleet, env) == 0


def test_a_restored_vm_that_never_answers_ssh_boots_cold_instead(fleet, env, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_QEMU_RESTORE", "nossh")
    assert up(fleet, env, "--count", "2", "--stall-timeout", "1") == 0
    err = capsys.readouterr().err
    assert "SSH did not answer" in err and "booting vm-1 cold" in err
    vms = state_json(env["state"])["vms"]
    # The first failure dropped the snapshot; vm-2 then failed on its own and booted cold too.
    assert not any(vm["restored"] for vm in vms.values())
    assert sorted(fake_qemu_pids(str(env["tmp"]))) == sorted(vm["pid"] for vm in vms.values())
    assert down(fleet, env) == 0


def test_a_failed_cold_boot_after_a_failed_restore_fails_the_up(fleet, env, monkeypatch):
    assert up(fleet, env) == 0
    assert down(fleet, env) == 0
    monkeypatch.setenv("FAKE_QEMU_RESTORE", "fail")
    monkeypatch.setenv("FAKE_QEMU_MODE", "crash")
    assert up(fleet, env) == 1
    assert not fake_qemu_pids(str(env["tmp"]))
    assert registered_pids(env["cache"]) == []


# --- cold boots -------------------------------------------------------------------


@pytest.mark.parametrize("how", ["env", "flag"])
def test_cold_boots_never_use_a_snapshot(fleet, env, monkeypatch, how):
    extra = ["--cold-boot"] if how == "flag" else []
    if how == "env":
        monkeypatch.setenv("AGENTNS_FLEET_BOOT", "cold")
    assert up(fleet, env, *extra) == 0
    assert leftovers(env["image"]) == []
    assert "-incoming" not in cmdline(vm_record(env)["pid"])
    assert down(fleet, env) == 0
    # Nor one made by an earlier up.
    monkeypatch.setenv("AGENTNS_FLEET_BOOT", "snapshot")
    assert up(fleet, env, "--host", "made") == 0
    assert down(fleet, env) == 0
    if how == "env":
        monkeypatch.setenv("AGENTNS_FLEET_BOOT", "cold")
    assert up(fleet, env, *extra) == 0
    assert vm_record(env)["restored"] is False and "-incoming" not in cmdline(vm_record(env)["pid"])
    assert down(fleet, env) == 0


def test_an_unknown_boot_mode_is_refused(fleet, env, monkeypatch, capsys):
    monkeypatch.setenv("AGENTNS_FLEET_BOOT", "warm")
    assert up(fleet, env) == 1
    assert "AGENTNS_FLEET_BOOT='warm'" in capsys.readouterr().err
    assert not fake_qemu_pids(str(env["tmp"]))


# --- a creation that fails or is interrupted leaves nothing -------------------------


def test_a_failed_save_leaves_nothing_and_the_vms_boot_cold(fleet, env, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_QEMU_MIGRATE", "fail")
    assert up(fleet, env) == 0
    err = capsys.readouterr().err
    assert "creating a snapshot failed; its VMs boot cold" in err and "fake migration failure" in err
    assert leftovers(env["image"]) == []
    vm = vm_record(env)
    assert vm["restored"] is False
    assert fake_qemu_pids(str(env["tmp"])) == [vm["pid"]] and registered_pids(env["cache"]) == [vm["pid"]]
    # Its console, for whoever wonders why.
    (kept,) = env["state"].glob("snapshot-*-console.log")
    assert "login:" in kept.read_text()
    assert down(fleet, env) == 0


def test_a_stalled_creation_leaves_nothing(fleet, env, monkeypatch):
    monkeypatch.setenv("FAKE_QEMU_MODE", "stall")
    assert up(fleet, env, "--stall-timeout", "0.5") == 1  # and the cold boot after it stalls too
    assert leftovers(env["image"]) == []
    assert not fake_qemu_pids(str(env["tmp"]))
    assert registered_pids(env["cache"]) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_an_interrupted_creation_leaves_nothing(env, signum):
    env_vars = {**os.environ, "FAKE_QEMU_MODE": "slow"}
    argv = [sys.executable, str(FLEET_PY), "up", "--host", "vm-1", "--image", str(env["image"]), "--state-dir", str(env["state"])]
    proc = subprocess.Popen(argv, env=env_vars, start_new_session=True, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: len(fake_qemu_pids(str(env["tmp"]))) == 1 and list(env["image"].glob(".booted-*.work-*/console.log")), 20)
    os.killpg(proc.pid, signum)
    err = proc.communicate(timeout=30)[1]
    assert proc.returncode == 128 + signum, err
    assert not fake_qemu_pids(str(env["tmp"]))
    assert registered_pids(env["cache"]) == []
    assert leftovers(env["image"]) == []
    for lock_path in env["image"].glob("*.lock"):
        with lock_path.open() as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free


def test_what_a_killed_creation_left_is_removed_by_the_next(fleet, env, capsys):
    key = fleet.snapshot_key(shape(fleet, env["image"]))
    (env["image"] / f".booted-{key}.work-dead").mkdir()
    (env["image"] / f"booted-{key}.unpublished").mkdir()
    assert up(fleet, env) == 0
    assert "left by an interrupted snapshot creation" in capsys.readouterr().err
    snapshot = the_snapshot(env)
    assert leftovers(env["image"]) == sorted([snapshot.name, f"booted-{key}"])
    assert down(fleet, env) == 0


def test_two_ups_wanting_one_snapshot_make_it_once(env):
    env_vars = {**os.environ, "FAKE_QEMU_LINE_SECONDS": "0.2"}
    procs = []
    for name in ("one", "two"):
        argv = [sys.executable, str(FLEET_PY), "up", "--host", name, "--image", str(env["image"]), "--state-dir", str(env["tmp"] / name)]
        procs.append(subprocess.Popen(argv, env=env_vars, stderr=subprocess.PIPE, text=True))
    errs = [proc.communicate(timeout=60)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], errs
    assert sum("creating the booted-state snapshot" in err for err in errs) == 1
    assert any("made meanwhile by another fleet.py" in err for err in errs)
    snapshots = {state_json(env["tmp"] / name)["vms"][name]["snapshot"] for name in ("one", "two")}
    assert len(snapshots) == 1 and len(snapshot_links(env["image"])) == 1
    for name in ("one", "two"):
        subprocess.run([sys.executable, str(FLEET_PY), "down", "--state-dir", str(env["tmp"] / name)], env=env_vars, check=True, capture_output=True)


# --- a restored VM is a VM like any other ---------------------------------------------


def test_a_reset_boots_a_restored_vms_disk(fleet, env, monkeypatch):
    # The guest's state before a reset is kept by record_guest_state (tested with the cold boots).
    monkeypatch.setattr(fleet, "record_guest_state", lambda vm, why: Path(vm.dir) / "guest-state.txt")
    assert up(fleet, env) == 0
    pid = vm_record(env)["pid"]
    console = Path(vm_record(env)["console"])
    assert "login:" not in console.read_text()  # a restored guest prints nothing
    assert fleet.main(["reset", "vm-1", "--wait", "--timeout", "30", "--state-dir", str(env["state"])]) == 0
    assert "Booting from Hard Disk" in console.read_text() and "login:" in console.read_text()
    assert vm_record(env)["pid"] == pid
    assert down(fleet, env) == 0


def test_a_restored_vm_pauses_resumes_and_goes_down(fleet, env):
    state = ["--state-dir", str(env["state"])]
    assert up(fleet, env) == 0
    pid = vm_record(env)["pid"]
    assert fleet.main(["pause", "vm-1", *state]) == 0
    assert fleet.main(["resume", "vm-1", "--wait", "--timeout", "30", *state]) == 0
    assert down(fleet, env) == 0
    assert not alive(pid) and registered_pids(env["cache"]) == []
    assert not list(env["state"].glob("*/disk.qcow2"))
    assert the_snapshot(env).is_dir()  # down leaves the snapshot


def test_a_restored_vm_powered_off_and_on_boots_its_disk(fleet, env):
    # A new QEMU on a restored VM's disks (reset --wait on a frozen guest)
    # must boot them: the snapshot's RAM is no longer what that disk holds.
    assert up(fleet, env) == 0
    state = fleet.load_state(env["state"])
    vm = fleet.get_vm(state, "vm-1")
    old_pid = vm.pid
    fleet.power_off_on(env["state"], state, vm)
    assert vm.pid != old_pid and not alive(old_pid)
    argv = cmdline(vm.pid)
    assert "-incoming" not in argv and any(vm.overlay in arg for arg in argv)
    fleet.wait_ssh(state, [fleet.watch_vm(vm, offset=0)], 30, 5)
    assert "login:" in Path(vm.console).read_text()
    assert down(fleet, env) == 0


def test_reap_stops_restored_vms_of_a_run(fleet, env, monkeypatch):
    monkeypatch.setenv("AGENTNS_RUN_ID", "doomed")
    assert up(fleet, env, "--count", "2") == 0
    pids = [vm_record(env, name)["pid"] for name in ("vm-1", "vm-2")]
    assert fleet.main(["reap", "--run-id", "doomed"]) == 0
    assert not any(alive(pid) for pid in pids)
    assert registered_pids(env["cache"]) == []
    assert the_snapshot(env).is_dir()
