# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
"""scripts/fleet/fleet.py against a fake QEMU: lifetimes, reaping, waits, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from fleet_testlib import FLEET_PY, alive, cmdline, fake_qemu_pids, registered_pids, signal_inside_popen, state_json, wait_for

IGNORE_SIGINT_THEN_EXEC = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])"


def up(fleet, env, *extra, count=1):
    args = ["up", "--image", str(env["image"]), "--state-dir", str(env["state"]), *extra]
    if not any(a in extra for a in ("--host", "--spec")):
        args += ["--count", str(count)]
    return fleet.main(args)


def vm_pid(env, name="vm-1", state=None):
    return state_json(state or env["state"])["vms"][name]["pid"]


# --- starting: no -daemonize, run id and deadline on record -------------------


def test_qemu_is_our_child_in_its_own_session_without_daemonize(fleet, env):
    assert up(fleet, env) == 0
    pid = vm_pid(env)
    argv = cmdline(pid)
    assert "-daemonize" not in argv
    assert os.getsid(pid) == pid != os.getsid(0)
    assert fleet.main(["down", "--state-dir", str(env["state"])]) == 0


def test_run_id_and_deadline_on_the_command_line_and_in_the_registry(fleet, env, monkeypatch):
    monkeypatch.setenv("AGENTNS_RUN_ID", "run-a")
    monkeypatch.setenv("AGENTNS_FLEET_MAX_LIFETIME", "600")
    before = time.time()
    assert up(fleet, env) == 0
    pid = vm_pid(env)
    record = json.loads((env["cache"] / "fleet" / "registry" / f"{pid}.json").read_text())
    assert record["run_id"] == "run-a"
    assert before + 600 - 1 <= record["deadline"] <= time.time() + 600
    argv = cmdline(pid)
    smbios = argv[argv.index("-smbios") + 1]
    assert smbios == f"type=11,value=agentns-run=run-a,value=agentns-deadline={record['deadline']}"
    vm = state_json(env["state"])["vms"]["vm-1"]
    assert (vm["run_id"], vm["deadline"]) == ("run-a", record["deadline"])
    fleet.main(["down", "--state-dir", str(env["state"])])


def test_every_up_gets_a_fresh_run_id(fleet, env):
    assert up(fleet, env, "--host", "a") == 0
    assert up(fleet, env, "--host", "b") == 0
    vms = state_json(env["state"])["vms"]
    assert vms["a"]["run_id"] and vms["b"]["run_id"] and vms["a"]["run_id"] != vms["b"]["run_id"]
    fleet.main(["down", "--state-dir", str(env["state"])])


def test_a_run_id_qemu_cannot_carry_is_refused(fleet, env, monkeypatch, capsys):
    monkeypatch.setenv("AGENTNS_RUN_ID", "a,b")
    assert up(fleet, env) == 1
    assert "invalid run id" in capsys.readouterr().err
    assert not fake_qemu_pids(str(env["tmp"]))


def test_state_and_registry_are_written_right_after_the_spawn(fleet, env):
    seen = []
    real_status = fleet.qmp_status

    def first_look(vm):
        # Runs before QEMU is known to be up: the pid must be on record already.
        seen.append((vm.pid, state_json(env["state"])["vms"].get(vm.name, {}).get("pid"), registered_pids(env["cache"])))
        return real_status(vm)

    fleet.qmp_status = first_look
    assert up(fleet, env) == 0
    pid, in_state, in_registry = seen[0]
    assert in_state == pid and in_registry == [pid]
    fleet.qmp_status = real_status
    fleet.main(["down", "--state-dir", str(env["state"])])


def test_a_taken_ssh_port_is_retried_and_leaves_no_record(fleet, env, monkeypatch):
    monkeypatch.setenv("FAKE_QEMU_MODE", "hostfwd")
    monkeypatch.setenv("FAKE_QEMU_MARKER", str(env["tmp"] / "failed-once"))
    assert up(fleet, env) == 0
    assert (env["tmp"] / "failed-once").exists()
    assert registered_pids(env["cache"]) == [vm_pid(env)]
    fleet.main(["down", "--state-dir", str(env["state"])])


# --- reaping --------------------------------------------------------------------


def test_reap_stops_expired_vms_and_spares_the_others(fleet, env, monkeypatch):
    monkeypatch.setenv("AGENTNS_FLEET_MAX_LIFETIME", "1")
    assert up(fleet, env, "--host", "old") == 0
    monkeypatch.delenv("AGENTNS_FLEET_MAX_LIFETIME")
    old = vm_pid(env, "old")
    time.sleep(1.2)
    assert up(fleet, env, "--host", "young") == 0  # `up` reaps first
    young = vm_pid(env, "young")
    assert wait_for(lambda: not alive(old), 5)
    assert not (env["state"] / "old" / "disk.qcow2").exists()
    assert (env["state"] / "old" / "console.log").exists()
    assert fleet.main(["reap"]) == 0
    assert alive(young)
    assert registered_pids(env["cache"]) == [young]
    fleet.main(["down", "--state-dir", str(env["state"])])


def test_up_reaps_expired_vms_of_another_checkout(fleet, env, monkeypatch):
    other = env["tmp"] / "other-checkout-state"
    monkeypatch.setenv("AGENTNS_FLEET_MAX_LIFETIME", "1")
    assert fleet.main(["up", "--count", "1", "--image", str(env["image"]), "--state-dir", str(other)]) == 0
    monkeypatch.delenv("AGENTNS_FLEET_MAX_LIFETIME")
    stale = vm_pid(env, state=other)
    time.sleep(1.2)
    assert alive(stale)
    assert up(fleet, env) == 0
    assert not alive(stale)
    assert registered_pids(env["cache"]) == [vm_pid(env)]
    fleet.main(["down", "--state-dir", str(env["state"])])


def test_reap_run_id_stops_every_vm_of_that_run_only(fleet, env, monkeypatch):
    monkeypatch.setenv("AGENTNS_RUN_ID", "doomed")
    assert up(fleet, env, count=2) == 0
    doomed = [vm_pid(env, "vm-1"), vm_pid(env, "vm-2")]
    monkeypatch.setenv("AGENTNS_RUN_ID", "kept")
    other = env["tmp"] / "kept"
    assert fleet.main(["up", "--host", "k", "--image", str(env["image"]), "--state-dir", str(other)]) == 0
    kept = vm_pid(env, "k", state=other)
    assert fleet.main(["reap", "--run-id", "doomed"]) == 0
    assert not any(alive(pid) for pid in doomed)
    assert alive(kept)
    assert registered_pids(env["cache"]) == [kept]
    fleet.main(["down", "--state-dir", str(other)])


def test_reap_never_signals_a_pid_that_is_not_that_qemu(fleet, env):
    registry = env["cache"] / "fleet" / "registry"
    registry.mkdir(parents=True)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        (registry / f"{bystander.pid}.json").write_text(json.dumps({"pid": bystander.pid, "run_id": "x", "deadline": 1}))
        assert fleet.main(["reap", "--run-id", "x"]) == 0
        assert bystander.poll() is None
        assert not (registry / f"{bystander.pid}.json").exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_reap_spares_our_qemu_whose_record_does_not_match(fleet, env, monkeypatch):
    # A recycled pid: the record says expired, but the QEMU now at that pid
    # carries another deadline.
    assert up(fleet, env) == 0
    pid = vm_pid(env)
    record_path = env["cache"] / "fleet" / "registry" / f"{pid}.json"
    record = json.loads(record_path.read_text())
    record["deadline"] = 1
    record_path.write_text(json.dumps(record))
    assert fleet.main(["reap"]) == 0
    assert alive(pid)
    fleet.main(["down", "--state-dir", str(env["state"])])


# --- interrupted and failed runs leave nothing behind ----------------------------


@pytest.mark.parametrize(
    ("signum", "ignore_sigint"),
    [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["sigint", "sigterm", "sigint-as-background-job"],
)
def test_interrupted_up_stops_its_vms(env, signum, ignore_sigint):
    env_vars = {**os.environ, "FAKE_QEMU_MODE": "slow"}
    argv = [sys.executable, str(FLEET_PY), "up", "--count", "2", "--image", str(env["image"]), "--state-dir", str(env["state"])]
    if ignore_sigint:  # what a non-interactive shell does to a background job; SIG_IGN survives exec
        argv = [sys.executable, "-c", IGNORE_SIGINT_THEN_EXEC, *argv]
    proc = subprocess.Popen(
        argv,
        env=env_vars,
        start_new_session=True,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert wait_for(lambda: len(fake_qemu_pids(str(env["tmp"]))) == 2, 20)
    os.killpg(proc.pid, signum)
    err = proc.communicate(timeout=30)[1]
    assert proc.returncode == 128 + signum, err
    assert not fake_qemu_pids(str(env["tmp"]))
    assert registered_pids(env["cache"]) == []
    assert not list(env["state"].glob("*/disk.qcow2"))
    assert list(env["state"].glob("*/console.log"))
    assert state_json(env["state"])["vms"] == {}


def test_a_signal_inside_the_spawn_still_stops_that_qemu(fleet, env, monkeypatch):
    # Found by CI: a TERM between QEMU's fork and Popen's return left that
    # QEMU running with its pid on no record.
    spawned = signal_inside_popen(fleet, monkeypatch, lambda argv: os.path.basename(argv[0]) == "qemu-system-x86_64")
    assert up(fleet, env, count=2) == 128 + signal.SIGTERM
    assert spawned
    assert not alive(spawned[0])
    assert not fake_qemu_pids(str(env["tmp"]))
    assert registered_pids(env["cache"]) == []


def test_a_signal_inside_the_image_build_spawn_still_cleans_up(fleet, env, monkeypatch, tmp_path):
    work = tmp_path / "build-work"
    script = tmp_path / "build-image.sh"
    script.write_text(f"trap 'rm -rf {work}; exit 143' TERM\nmkdir {work}\nwhile :; do sleep 0.1; done\n")
    monkeypatch.setattr(fleet, "BUILD_IMAGE", str(script))
    spawned = signal_inside_popen(fleet, monkeypatch, lambda argv: argv[0] == "bash")
    with pytest.raises(fleet.Interrupted), fleet.signals_raise():
        fleet.build_image()
    assert spawned
    assert not alive(spawned[0])


def test_failed_up_stops_its_vms(fleet, env, monkeypatch):
    monkeypatch.setenv("FAKE_QEMU_MODE", "stall")
    assert up(fleet, env, "--stall-timeout", "0.5", count=2) == 1
    assert not fake_qemu_pids(str(env["tmp"]))
    assert registered_pids(env["cache"]) == []


def test_an_interrupted_image_build_cleans_up_first(env, tmp_path):
    work = tmp_path / "build-work"
    script = tmp_path / "build-image.sh"
    script.write_text(
        f"""#!/bin/bash
trap 'kill $!; sleep 1; rm -rf {work}; exit 143' TERM
mkdir {work}
sleep 60 &
wait
"""
    )
    code = f"import sys; sys.path.insert(0, {str(FLEET_PY.parent)!r}); import fleet; fleet.BUILD_IMAGE = {str(script)!r}; sys.exit(fleet.main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "up", "--count", "1", "--state-dir", str(env["state"])],
        start_new_session=True,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert wait_for(work.exists, 10)
    proc.send_signal(signal.SIGTERM)  # to fleet.py alone, as Ansible or a CI runner does
    err = proc.communicate(timeout=30)[1]
    assert proc.returncode == 143, err
    assert not work.exists()


# --- waits that tell slow from dead ------------------------------------------------


def timed_up(fleet, env, *extra):
    start = time.monotonic()
    rc = up(fleet, env, *extra)
    return rc, time.monotonic() - start


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("crash", "QEMU exited with status 3"),
        ("io-error", "paused on a disk I/O error (QMP io-error): is the host disk full?"),
        ("shutdown", "the guest stopped (QMP status shutdown)"),
    ],
)
def test_a_dead_vm_fails_at_once_and_says_why(fleet, env, monkeypatch, capsys, mode, message):
    monkeypatch.setenv("FAKE_QEMU_MODE", mode)
    rc, took = timed_up(fleet, env, "--timeout", "60", "--stall-timeout", "60")
    err = capsys.readouterr().err
    assert rc == 1 and took < 15
    assert message in err and "SSH not ready" not in err


def test_a_silent_console_fails_after_the_stall_timeout(fleet, env, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_QEMU_MODE", "stall")
    rc, took = timed_up(fleet, env, "--timeout", "60", "--stall-timeout", "1")
    assert rc == 1 and took < 15
    assert "no console output" in capsys.readouterr().err


def test_a_slow_boot_that_makes_progress_is_not_dead(fleet, env, monkeypatch):
    # Each console line comes within the stall timeout; the whole boot takes longer.
    monkeypatch.setenv("FAKE_QEMU_LINE_SECONDS", "0.4")
    rc, took = timed_up(fleet, env, "--timeout", "30", "--stall-timeout", "1")
    assert rc == 0 and took > 1.5
    fleet.main(["down", "--state-dir", str(env["state"])])


def test_a_boot_still_in_progress_hits_the_hard_timeout(fleet, env, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_QEMU_MODE", "slow")
    monkeypatch.setenv("FAKE_QEMU_LINE_SECONDS", "0.1")
    rc, took = timed_up(fleet, env, "--timeout", "2", "--stall-timeout", "1")
    err = capsys.readouterr().err
    assert rc == 1 and 2 <= took < 15
    assert "still booting" in err and "no console output" not in err


def test_timeouts_come_from_the_environment(fleet, env, monkeypatch, capsys):
    monkeypatch.setenv("AGENTNS_FLEET_STALL_TIMEOUT", "1")
    monkeypatch.setenv("FAKE_QEMU_MODE", "stall")
    rc, took = timed_up(fleet, env)
    assert rc == 1 and took < 15
    assert "stall timeout 1s" in capsys.readouterr().err


def test_the_playbooks_read_the_timeouts_from_the_fleet(fleet, monkeypatch, capsys):
    """`fleet.py timeouts` is where Molecule's hook and waits take their numbers: the same as the waits use."""
    assert fleet.main(["timeouts"]) == 0
    assert json.loads(capsys.readouterr().out) == {"boot": fleet.DEFAULT_BOOT_TIMEOUT, "stall": fleet.DEFAULT_STALL_TIMEOUT}
    monkeypatch.setenv("AGENTNS_FLEET_BOOT_TIMEOUT", "1234")
    assert fleet.main(["timeouts"]) == 0
    assert json.loads(capsys.readouterr().out)["boot"] == 1234
    assert fleet.build_parser().parse_args(["wait", "x"]).timeout == 1234


def test_reset_wait_comes_back(fleet, env):
    assert up(fleet, env) == 0
    assert fleet.main(["reset", "vm-1", "--wait", "--timeout", "30", "--state-dir", str(env["state"])]) == 0
    fleet.main(["down", "--state-dir", str(env["state"])])


def test_reset_keeps_the_guest_state_from_before(fleet, env, capsys):
    """A guest frozen under TCG leaves its vCPU state and QEMU's thread CPU behind, for whoever reads the failure."""
    assert up(fleet, env) == 0
    capsys.readouterr()
    assert fleet.main(["reset", "vm-1", "--state-dir", str(env["state"])]) == 0
    (kept,) = (env["state"] / "vm-1").glob("guest-state-*.txt")
    assert str(kept) in capsys.readouterr().err
    text = kept.read_text()
    assert '"status": "running"' in text
    # The fake QEMU knows no HMP: a probe that fails is noted, the reset goes on.
    assert "## info registers\nfailed: QMP human-monitor-command failed" in text
    threads = text.split("## QEMU threads: name, state, CPU ticks used in 1 s\n")[1].split("##")[0].splitlines()
    assert threads and all(len(line.split()) >= 4 for line in threads)
    # A stop/cont kick, then what the console did: a lost wake-up shows as
    # a console that moves on (here the fake logs the two commands).
    assert "## stop/cont kick\nthe console grew by " in text
    # Then the registers again, to tell a slow loop from a stuck one.
    assert "## info registers, 0.5 s later\nfailed: QMP human-monitor-command failed" in text
    # The fake logs the reset after answering it: wait for the line.
    log = env["state"] / "vm-1" / "console.log"
    deadline = time.monotonic() + 10
    while "reset" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    console = log.read_text()
    assert console.index("qmp stop") < console.index("qmp cont") < console.index("reset")
    fleet.main(["down", "--state-dir", str(env["state"])])


def test_reset_wait_judges_only_the_new_boot(fleet, env, monkeypatch, capsys):
    # The console of the boot before the reset ends in login:; silence after
    # the reset is a stuck boot, not "SSH does not answer after login:".
    monkeypatch.setenv("FAKE_QEMU_RESET_SECONDS", "60")
    assert up(fleet, env) == 0
    capsys.readouterr()
    rc = fleet.main(["reset", "vm-1", "--wait", "--timeout", "30", "--stall-timeout", "1", "--state-dir", str(env["state"])])
    err = capsys.readouterr().err
    assert "no console output" in err and "reached login:" not in err
    assert rc == 0  # after the power off and on below
    fleet.main(["down", "--state-dir", str(env["state"])])


def test_reset_wait_powers_a_stuck_guest_off_and_on(fleet, env, monkeypatch, capsys):
    # A guest that stays silent after the reset (frozen under TCG) gets a new
    # QEMU on the same disk; the stuck boot's console log is kept.
    monkeypatch.setenv("FAKE_QEMU_RESET_SECONDS", "60")
    assert up(fleet, env) == 0
    old_pid = state_json(env["state"])["vms"]["vm-1"]["pid"]
    capsys.readouterr()
    rc = fleet.main(["reset", "vm-1", "--wait", "--timeout", "30", "--stall-timeout", "1", "--state-dir", str(env["state"])])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "powering it off and on" in err and "powered on again" in err
    new_pid = state_json(env["state"])["vms"]["vm-1"]["pid"]
    assert new_pid != old_pid and old_pid not in fake_qemu_pids(str(env["tmp"]))
    assert new_pid in fake_qemu_pids(str(env["tmp"])) and new_pid in registered_pids(env["cache"])
    assert old_pid not in registered_pids(env["cache"])
    kept = list((env["state"] / "vm-1").glob("console-before-power-cycle-*.log"))
    assert len(kept) == 1 and "login:" in kept[0].read_text()
    # The new QEMU is on record for down (and for the reaper).
    assert fleet.main(["down", "--state-dir", str(env["state"])]) == 0
    assert not fake_qemu_pids(str(env["tmp"]))


# --- errors without tracebacks, and a down that finishes ---------------------------


def test_qemu_img_failure_is_a_clear_error(fleet, env, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_QEMU_IMG_FAIL", "Could not open backing file: No such file")
    assert up(fleet, env) == 1
    err = capsys.readouterr().err
    assert "qemu-img create" in err and "Could not open backing file" in err
    assert "Traceback" not in err
    assert not fake_qemu_pids(str(env["tmp"]))


def test_down_stops_everything_and_keeps_the_console_logs(fleet, env):
    assert up(fleet, env, count=2) == 0
    pids = [vm_pid(env, "vm-1"), vm_pid(env, "vm-2")]
    assert fleet.main(["down", "--state-dir", str(env["state"])]) == 0
    assert not any(alive(pid) for pid in pids)
    assert registered_pids(env["cache"]) == []
    assert not list(env["state"].glob("*/disk.qcow2"))
    assert len(list(env["state"].glob("*/console.log"))) == 2


def test_down_goes_on_past_a_vm_it_cannot_stop(fleet, env, capsys):
    assert up(fleet, env, count=3) == 0
    pids = {name: vm_pid(env, name) for name in ("vm-1", "vm-2", "vm-3")}
    real_stop = fleet.stop_vm

    def stop(vm, proc=None):
        if vm.name == "vm-2":
            raise fleet.FleetError(f"VM {vm.name}: QEMU pid {vm.pid} did not exit")
        real_stop(vm, proc)

    fleet.stop_vm = stop
    assert fleet.main(["down", "--state-dir", str(env["state"])]) == 1
    assert "vm-2" in capsys.readouterr().err
    assert not alive(pids["vm-1"]) and not alive(pids["vm-3"])
    assert list(state_json(env["state"])["vms"]) == ["vm-2"]
    fleet.stop_vm = real_stop
    assert fleet.main(["down", "--state-dir", str(env["state"])]) == 0
    assert not alive(pids["vm-2"])


def test_qemu_identity_needs_qemu_and_both_oem_strings(fleet):
    good = ["qemu-system-x86_64", "-smbios", "type=11,value=agentns-run=r1,value=agentns-deadline=42"]
    assert fleet.qemu_identity(good) == ("r1", 42)
    assert fleet.qemu_identity(["sleep", *good[1:]]) is None
    assert fleet.qemu_identity(["qemu-system-x86_64", "-smbios", "type=11,value=agentns-run=r1"]) is None
    assert fleet.qemu_identity(["qemu-system-x86_64", "-name", "agentns-run=r1"]) is None


def test_pause_freezes_a_vm_and_resume_lets_it_run_on(fleet, env):
    """A host that vanishes mid-run (the fallback scenario's batch guard case) and comes back."""
    assert up(fleet, env) == 0
    state = ["--state-dir", str(env["state"])]
    assert fleet.main(["pause", "vm-1", *state]) == 0
    assert fleet.main(["resume", "vm-1", "--wait", "--timeout", "30", *state]) == 0
    console = (env["state"] / "vm-1" / "console.log").read_text()
    assert console.index("qmp stop") < console.index("qmp cont")
    fleet.main(["down", *state])
    assert fleet.main(["pause", "vm-1", *state]) != 0


def test_each_vm_boots_the_image_of_its_debian_release(fleet, env, monkeypatch, capsys):
    """A mixed fleet (issue 17): one image per suite, each VM reached with its own image's key."""
    images = {}
    for suite in ("bookworm", "trixie"):
        image = env["tmp"] / f"image-{suite}"
        image.mkdir()
        (image / "base.qcow2").write_text("")
        (image / "id_ed25519").write_text("")
        images[suite] = image
    built = []
    monkeypatch.setattr(fleet, "build_image", lambda suite: built.append(suite) or str(images[suite]))
    spec = env["tmp"] / "spec.json"
    spec.write_text(json.dumps([{"name": "old"}, {"name": "new", "suite": "trixie"}]))
    state = ["--state-dir", str(env["state"])]
    assert fleet.main(["up", "--spec", str(spec), *state]) == 0
    assert built == ["bookworm", "trixie"]
    capsys.readouterr()
    assert fleet.main(["inventory", "--format", "json", *state]) == 0
    hosts = json.loads(capsys.readouterr().out)["fleet"]["hosts"]
    assert hosts["old"]["ansible_ssh_private_key_file"] == str(images["bookworm"] / "id_ed25519")
    assert hosts["new"]["ansible_ssh_private_key_file"] == str(images["trixie"] / "id_ed25519")
    vms = state_json(env["state"])["vms"]
    assert (vms["old"]["suite"], vms["new"]["suite"]) == ("bookworm", "trixie")
    # Molecule's create.yml gives each instance the key its state names.
    assert vms["new"]["key"] == str(images["trixie"] / "id_ed25519")
    fleet.main(["down", *state])


def test_a_suite_must_be_a_plain_name(fleet, env, capsys):
    spec = env["tmp"] / "spec.json"
    spec.write_text(json.dumps([{"name": "x", "suite": "../etc"}]))
    assert fleet.main(["up", "--spec", str(spec), "--image", str(env["image"]), "--state-dir", str(env["state"])]) != 0
    assert "invalid Debian release" in capsys.readouterr().err


def test_one_image_cannot_serve_two_suites(fleet, env, capsys):
    spec = env["tmp"] / "spec.json"
    spec.write_text(json.dumps([{"name": "a"}, {"name": "b", "suite": "trixie"}]))
    assert fleet.main(["up", "--spec", str(spec), "--image", str(env["image"]), "--state-dir", str(env["state"])]) != 0
    assert "--image is one image" in capsys.readouterr().err


def test_the_image_may_come_from_the_environment(fleet, env, monkeypatch):
    """AGENTNS_FLEET_IMAGE stands for --image (tests/infra/interrupt.sh boots a blank disk through Molecule)."""
    monkeypatch.setattr(fleet, "build_image", lambda suite: pytest.fail(f"built the {suite} image"))
    monkeypatch.setenv("AGENTNS_FLEET_IMAGE", str(env["image"]))
    state = ["--state-dir", str(env["state"])]
    assert fleet.main(["up", "--count", "1", *state]) == 0
    assert state_json(env["state"])["image"] == str(env["image"])
    fleet.main(["down", *state])
