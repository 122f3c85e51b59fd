"""The rollout's gates, run through ansible-playbook on the controller itself.

Nothing here touches a remote host: each case is either a --list-hosts of
deploy.yml or a play against the controller (connection local, --check)
that must be stopped before it changes anything.
"""

from __future__ import annotations

import json
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from playbook_run import PLAYBOOK_BIN, REPO, rollout_hosts, run_playbook

pytestmark = pytest.mark.skipif(not PLAYBOOK_BIN.exists(), reason="ansible-playbook not in the venv")


def controller_inventory(tmp_path: Path) -> Path:
    """An inventory whose one host, ctl, is this controller (connection local)."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(f"all:\n  hosts:\n    ctl:\n      ansible_connection: local\n      ansible_python_interpreter: {sys.executable}\n")
    return inventory


def install_tasks_playbook(tmp_path: Path, tasks_from: str, variables: dict[str, object], extra_tasks: str = "", pre_tasks: str = "") -> Path:
    """A play importing agentns_install's tasks_from with these variables."""
    playbook = tmp_path / f"{tasks_from}.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        + pre_tasks
        + f"    - ansible.builtin.import_role:\n        name: agentns.fleet.agentns_install\n        tasks_from: {tasks_from}\n"
        "      vars:\n" + "".join(f"        {name}: {json.dumps(value)}\n" for name, value in variables.items()) + extra_tasks
    )
    return playbook


def test_stages_never_include_the_build_host(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    web1: {}\n    builder: {}\n  children:\n    agentns_canary:\n      hosts:\n        c1: {}\n")
    result = run_playbook(REPO / "deploy.yml", inventory, "--list-hosts", "-e", "agentns_build_host=builder")
    assert result.returncode == 0, result.stderr
    assert rollout_hosts(result.stdout) == {"web1", "c1"}, result.stdout


def test_build_host_rolled_out_only_when_asked(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    web1: {}\n    builder: {}\n")
    result = run_playbook(
        REPO / "deploy.yml",
        inventory,
        "--list-hosts",
        "-e",
        "agentns_build_host=builder",
        "-e",
        "agentns_rollout_build_host=true",
    )
    assert result.returncode == 0, result.stderr
    assert rollout_hosts(result.stdout) == {"web1", "builder"}, result.stdout


def test_controller_in_the_inventory_is_left_out_of_the_stages(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    web1: {}\n    ctl:\n      ansible_connection: local\n")
    result = run_playbook(REPO / "deploy.yml", inventory, "--list-hosts")
    assert result.returncode == 0, result.stderr
    assert rollout_hosts(result.stdout) == {"web1"}, result.stdout
    opted_in = run_playbook(REPO / "deploy.yml", inventory, "--list-hosts", "-e", "agentns_rollout_controller=true")
    assert rollout_hosts(opted_in.stdout) == {"web1", "ctl"}, opted_in.stdout


def test_controller_known_only_at_run_time_is_left_alone(tmp_path: Path) -> None:
    # A host added at run time is not in the inventory the stage's pattern is
    # computed from; the pre-task sees its connection and ends its rollout.
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts: {}\n")
    playbook = tmp_path / "runtime.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        f"    - ansible.builtin.add_host: {{name: ctl, ansible_connection: local, ansible_python_interpreter: {sys.executable}}}\n"
        f"- ansible.builtin.import_playbook: {REPO}/playbooks/rollout.yml\n"
    )
    result = run_playbook(playbook, inventory, "--check", "-e", "agentns_canary_count=0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is the controller (ansible_connection=local): left untouched" in result.stdout
    assert re.search(r"ctl\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0", result.stdout), result.stdout


def test_commit_needs_verify_and_selftest_in_the_same_run(tmp_path: Path) -> None:
    """--tags install runs the commit step without verify and selftest."""
    inventory = controller_inventory(tmp_path)
    playbook = install_tasks_playbook(tmp_path, "commit", {"agentns_install_kernelrelease": platform.release()})
    result = run_playbook(playbook, inventory, "--check", "-e", "agentns_verify_passed=true")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "selftest did not pass on it in this run" in result.stdout, result.stdout
    assert "GRUB's default stays the old kernel" in result.stdout
    assert re.search(r"ctl\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0", result.stdout), result.stdout


@pytest.mark.parametrize(
    ("argv", "timeout", "error"),
    [
        (["true"], 30, ""),
        (["sh", "-c", "echo BMC unreachable >&2; exit 3"], 30, "it exited 3: BMC unreachable"),
        (["sleep", "607"], 2, "it did not finish within 2 s (agentns_install_hook_timeout)"),
    ],
)
def test_hooks_are_bounded_and_their_failures_named(tmp_path: Path, argv: list[str], timeout: int, error: str) -> None:
    """A hung BMC call must not stall a host's rollout forever, nor outlive it:
    woken up later, it would power-cycle the host in the middle of the next step."""
    inventory = controller_inventory(tmp_path)
    playbook = install_tasks_playbook(
        tmp_path,
        "hook",
        {"agentns_install_hook_argv": argv, "agentns_install_hook_name": "power-cycle", "agentns_install_hook_timeout": timeout},
        "    - ansible.builtin.debug:\n        msg: 'HOOK-ERROR=[{{ agentns_install_hook_error }}]'\n",
    )
    start = time.monotonic()
    result = run_playbook(playbook, inventory)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"HOOK-ERROR=[{error}]" in result.stdout, result.stdout
    # Far below the hung hook's 607 s, with room for a loaded machine.
    assert time.monotonic() - start < 150
    left = subprocess.run(["pgrep", "-f", "-x", " ".join(argv)], capture_output=True, text=True, check=False).stdout.split()
    assert not left or argv != ["sleep", "607"], f"the hook still runs after the play: pids {left}"


def test_the_hooks_of_a_batch_run_at_once_under_mitogen(tmp_path: Path) -> None:
    """Each host's power-cycle hook waits for its host; under Mitogen, tasks
    delegated to localhost share one Python and ran one after another (the
    fallback scenario's two power-cycles took 605 s instead of about 300)."""
    pytest.importorskip("ansible_mitogen")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n" + "".join(f"    h{n}:\n      ansible_connection: local\n      ansible_python_interpreter: {sys.executable}\n" for n in (1, 2))
    )
    marks = tmp_path / "marks"
    marks.mkdir()
    hook = f"date +%s.%N > {marks}/{{{{ inventory_hostname }}}}.start; sleep 4; date +%s.%N > {marks}/{{{{ inventory_hostname }}}}.end"
    playbook = install_tasks_playbook(
        tmp_path,
        "hook",
        {"agentns_install_hook_argv": ["sh", "-c", hook], "agentns_install_hook_name": "power-cycle", "agentns_install_hook_timeout": 60},
    )
    strategy = {"ANSIBLE_STRATEGY_PLUGINS": str(REPO / "molecule/resources/strategy"), "ANSIBLE_STRATEGY": "mitogen_unpinned"}
    result = run_playbook(playbook, inventory, env=strategy)
    assert result.returncode == 0, result.stdout + result.stderr
    span = {host: [float((marks / f"{host}.{edge}").read_text()) for edge in ("start", "end")] for host in ("h1", "h2")}
    # Each started before the other ended: they overlapped.
    assert span["h1"][0] < span["h2"][1] and span["h2"][0] < span["h1"][1], span


def preflight(tmp_path: Path, *extra: str, package_size: int = 1024, boot_probe: dict[str, object] | None = None) -> subprocess.CompletedProcess[str]:
    """preflight.yml against the controller in check mode; boot_probe: facts to
    check instead of what agentns_facts reads on the controller."""
    inventory = controller_inventory(tmp_path)
    package = tmp_path / "linux-image.deb"
    with package.open("wb") as sparse:
        sparse.truncate(package_size)
    # The pre-flight asks the host only when the facts lack boot_probe.
    facts = f"    - ansible.builtin.set_fact:\n        ansible_facts: {json.dumps({'agentns': {'boot_probe': boot_probe}})}\n" if boot_probe else ""
    playbook = install_tasks_playbook(tmp_path, "preflight", {"agentns_install_image_package": str(package)}, pre_tasks=facts)
    return run_playbook(playbook, inventory, "--check", *extra)


def passed_unchanged(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == 0 and re.search(r"ctl\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0", result.stdout) is not None


def refused(result: subprocess.CompletedProcess[str], message: str) -> bool:
    """Stopped by a pre-flight refusal whose message starts with this (spaces as the folded message has them)."""
    return result.returncode != 0 and " ".join(message.split()) in " ".join(result.stdout.split()) and "Nothing was changed." in result.stdout


# A host with /boot on LVM (GRUB cannot clear a one-shot entry there), kexec
# usable, no Secure Boot and room in /boot; each test changes one thing.
PROBE = {"grub_fs": "ext2", "grub_abstraction": "lvm", "secure_boot": False, "boot_free_bytes": 1 << 40, "kexec_blocker": ""}
LVM = "Not installing on ctl: /boot/grub is on lvm, where GRUB cannot write its environment block"
KEXEC_OFF = "kernel.kexec_load_disabled = 1, which only a reboot clears"


def test_preflight_refuses_a_one_shot_trial_on_unknown_grub_storage(tmp_path: Path) -> None:
    """This controller has no GRUB on /boot/grub: grub-probe cannot vouch for grubenv."""
    result = preflight(tmp_path)
    assert result.returncode != 0
    assert "Not installing on ctl: grub-probe could not tell what /boot/grub is on" in result.stdout, result.stdout
    assert "Nothing was changed." in result.stdout


def test_preflight_lets_the_kexec_trial_through(tmp_path: Path) -> None:
    result = preflight(tmp_path, "-e", "agentns_install_kexec=true", boot_probe=PROBE)
    assert passed_unchanged(result), result.stdout + result.stderr


@pytest.mark.parametrize(
    ("kexec", "message"),
    [
        (True, f"{LVM}, so the trial has to boot through kexec (agentns_install_kexec), and kexec cannot load the new kernel: {KEXEC_OFF}."),
        # Without the kexec trial: not the advice to use it.
        (False, f"on every reset. The kexec trial (agentns_install_kexec) cannot help here: {KEXEC_OFF}. Make kexec usable, or accept"),
    ],
    ids=["kexec-trial", "one-shot"],
)
def test_preflight_refuses_the_kexec_trial_where_the_kernel_cannot_kexec(tmp_path: Path, kexec: bool, message: str) -> None:
    """trial.yml found this out only after the kernel package was installed."""
    result = preflight(tmp_path, "-e", f"agentns_install_kexec={kexec}", boot_probe={**PROBE, "kexec_blocker": KEXEC_OFF})
    assert refused(result, message), result.stdout + result.stderr


@pytest.mark.skipif(Path("/sys/kernel/kexec_loaded").exists(), reason="this controller's kernel has kexec")
def test_preflight_reads_that_this_kernel_has_no_kexec(tmp_path: Path) -> None:
    """The same through agentns_facts on the controller (no grub-probe, no kexec)."""
    result = preflight(tmp_path, "-e", "agentns_install_kexec=true")
    assert refused(result, "kexec cannot load the new kernel: the running kernel has no kexec (no /sys/kernel/kexec_loaded)."), result.stdout


@pytest.mark.parametrize(("kexec", "blocker"), [(False, ""), (True, KEXEC_OFF)], ids=["one-shot", "kexec-unusable"])
def test_preflight_lets_an_unsafe_trial_through_when_accepted(tmp_path: Path, kexec: bool, blocker: str) -> None:
    probe = {**PROBE, "kexec_blocker": blocker}
    assert refused(preflight(tmp_path, "-e", f"agentns_install_kexec={kexec}", boot_probe=probe), LVM)
    result = preflight(tmp_path, "-e", f"agentns_install_kexec={kexec}", "-e", "agentns_install_allow_unsafe_trial=true", boot_probe=probe)
    assert passed_unchanged(result), result.stdout + result.stderr


def test_preflight_refuses_secure_boot_unless_the_kernel_is_signed(tmp_path: Path) -> None:
    probe = {**PROBE, "grub_abstraction": "", "secure_boot": True}
    result = preflight(tmp_path, boot_probe=probe)
    assert refused(result, "Not installing on ctl: Secure Boot is on and the agentns kernel is not signed"), result.stdout
    signed = preflight(tmp_path, "-e", "agentns_install_secure_boot_signed=true", boot_probe=probe)
    assert passed_unchanged(signed), signed.stdout + signed.stderr


def test_preflight_refuses_a_boot_without_room(tmp_path: Path) -> None:
    # This controller's own /boot, as agentns_facts measures it.
    result = preflight(tmp_path, "-e", "agentns_install_allow_unsafe_trial=true", package_size=1 << 42)
    assert result.returncode != 0
    assert re.search(r"Not installing on ctl: /boot has [0-9.]+ MiB\s+free", result.stdout), result.stdout


TRIAL_TASKS = REPO / "roles/agentns_install/tasks/trial.yml"


def trial_tasks_playbook(tmp_path: Path, names: list[str], variables: dict[str, object], marker: str = "") -> Path:
    """A play of just these tasks of trial.yml (none of them reboots), with the
    role's defaults and these variables; then a debug task printing marker."""
    tasks = [task for task in yaml.safe_load(TRIAL_TASKS.read_text()) if task.get("name") in names]
    assert [task["name"] for task in tasks] == names
    for task in tasks:
        if "ansible.builtin.include_tasks" in task:
            task["ansible.builtin.include_tasks"] = str(TRIAL_TASKS.parent / task["ansible.builtin.include_tasks"])
    if marker:
        tasks.append({"ansible.builtin.debug": {"msg": marker}})
    defaults = yaml.safe_load((REPO / "roles/agentns_install/defaults/main.yml").read_text())
    playbook = tmp_path / "trial_tasks.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "all", "gather_facts": False, "vars": {**defaults, **variables}, "tasks": tasks}]))
    return playbook


@pytest.mark.parametrize(
    ("extra", "args"),
    [
        ([], "root=UUID=1 ro quiet panic=10 oops=panic softlockup_panic=1 hung_task_panic=1"),
        (
            ["-e", json.dumps({"agentns_install_trial_panic_on": ["oops=panic", "softlockup_panic=1", "hung_task_panic=1", "panic_on_warn=1"]})],
            "root=UUID=1 ro quiet panic=10 oops=panic softlockup_panic=1 hung_task_panic=1 panic_on_warn=1",
        ),
        (["-e", "agentns_install_trial_cmdline=init=/x"], "root=UUID=1 ro quiet panic=10 oops=panic softlockup_panic=1 hung_task_panic=1 init=/x"),
    ],
    ids=["default", "panic-on-warn", "cmdline"],
)
def test_trial_command_line_panics_on_faults(tmp_path: Path, extra: list[str], args: str) -> None:
    """An oops, a soft lockup or a hung task panics the trial kernel (panic=N then
    reboots the old one); a WARN() only when the operator asks for it."""
    entry = {"stdout_lines": ["load_video", "linux\t/boot/vmlinuz-7.3.4-agentns-abcdef0 root=UUID=1 ro quiet", "initrd\t/boot/initrd.img"]}
    playbook = trial_tasks_playbook(
        tmp_path, ["Work out the trial command line"], {"agentns_install_entry_body": entry}, "ARGS=[{{ agentns_install_trial_args }}]"
    )
    result = run_playbook(playbook, controller_inventory(tmp_path), *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ARGS=[{args}]" in result.stdout, result.stdout


@pytest.mark.parametrize(("kexec_blocker", "via_kexec"), [("", True), ("kernel lockdown is in integrity mode", False)], ids=["usable", "locked-down"])
def test_trial_reboots_in_full_where_the_kernel_refuses_kexec(tmp_path: Path, kexec_blocker: str, via_kexec: bool) -> None:
    """kexec --load would fail after the package is installed: a full reboot, saying why."""
    variables = {"agentns_install_kexec": True, "agentns_install_kexec_probe": {"rc": 0}, "agentns_install_kexec_blocker": kexec_blocker}
    names = ["Choose how to reboot", "Report that kexec is not available"]
    result = run_playbook(trial_tasks_playbook(tmp_path, names, variables, "VIA-KEXEC=[{{ agentns_install_via_kexec }}]"), controller_inventory(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"VIA-KEXEC=[{via_kexec}]" in result.stdout, result.stdout
    assert ("kexec is not usable on ctl (kernel lockdown is in integrity mode): full reboot instead." in result.stdout) is not via_kexec


TRIAL_ENTRY = "menuentry 'agentns trial boot' --id agentns-trial {\n\tlinux /vmlinuz panic=10\n}\n"


@pytest.mark.parametrize(
    ("in_menu", "update_grub_adds_it", "runs", "booted"),
    [(True, False, 0, True), (False, True, 1, True), (False, False, 1, False)],
    ids=["in-place", "regenerated", "still-missing"],
)
def test_trial_entry_regenerated_once_then_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_menu: bool, update_grub_adds_it: bool, runs: int, booted: bool
) -> None:
    """A trial entry missing from grub.cfg: update-grub once; still missing, the host fails before any reboot."""
    script = tmp_path / "42_agentns_trial"
    script.write_text(f"#!/bin/sh\ncat <<'E'\n{TRIAL_ENTRY}E\n")
    script.chmod(0o755)
    block = f"### BEGIN {script} ###\n{TRIAL_ENTRY}### END {script} ###\n"
    grub_cfg = tmp_path / "grub.cfg"
    grub_cfg.write_text("menuentry 'Debian' {\n}\n" + (block if in_menu else ""))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    regenerate = f"printf '%s' {shlex.quote(block)} >>{grub_cfg}\n" if update_grub_adds_it else ""
    (bin_dir / "update-grub").write_text(f"#!/bin/sh\necho run >>{tmp_path}/update-grub.log\n{regenerate}")
    (bin_dir / "update-grub").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    names = [
        "Check the trial entry in GRUB's menu",
        "Regenerate GRUB's menu with the trial entry",
        "Check the trial entry again",
        "Fail when GRUB's menu still lacks the trial entry",
    ]
    variables = {
        "agentns_install_grub_cfg": str(grub_cfg),
        "agentns_install_trial_script": str(script),
        "agentns_install_trial_entry": {"changed": False},
        "agentns_install_pin": {"changed": False},
    }
    # The marker stands for the reboot that comes next in trial.yml.
    result = run_playbook(trial_tasks_playbook(tmp_path, names, variables, "REBOOT-WOULD-FOLLOW"), controller_inventory(tmp_path))
    log = tmp_path / "update-grub.log"
    assert (len(log.read_text().splitlines()) if log.exists() else 0) == runs
    assert ("REBOOT-WOULD-FOLLOW" in result.stdout) is booted, result.stdout
    assert (result.returncode == 0) is booted, result.stdout + result.stderr
    if not booted:
        assert "even after update-grub: the trial boot would not be booted." in " ".join(result.stdout.split()), result.stdout
        assert "Nothing was rebooted." in result.stdout


GRUB_ENTRY = (
    "menuentry 'Debian GNU/Linux, with Linux {release}' --class debian $menuentry_id_option 'gnulinux-{release}-advanced-UUID1' {{\n"
    "\tlinux\t/boot/vmlinuz-{release} root=UUID=UUID1 ro quiet\n}}\n"
)


@pytest.mark.parametrize("submenu", [True, False], ids=["submenu", "GRUB_DISABLE_SUBMENU=y"])
def test_grub_entry_ids_with_and_without_the_submenu(tmp_path: Path, submenu: bool) -> None:
    """GRUB_DISABLE_SUBMENU=y puts the entries at the top level: no "SUBMENU>" prefix then."""
    release = platform.release()
    entries = GRUB_ENTRY.format(release=release) + GRUB_ENTRY.format(release="7.3.4-agentns-abcdef0")
    if submenu:
        entries = "submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-UUID1' {\n" + entries + "}\n"
    grub_cfg = tmp_path / "grub.cfg"
    grub_cfg.write_text(entries)
    playbook = install_tasks_playbook(
        tmp_path,
        "grub_entries",
        {"agentns_install_grub_cfg": str(grub_cfg), "agentns_install_kernelrelease": "7.3.4-agentns-abcdef0"},
        "    - ansible.builtin.debug:\n        msg: 'IDS=[{{ agentns_install_grub_running }}|{{ agentns_install_grub_new }}]'\n",
    )
    result = run_playbook(playbook, controller_inventory(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    prefix = "gnulinux-advanced-UUID1>" if submenu else ""
    assert f"IDS=[{prefix}gnulinux-{release}-advanced-UUID1|{prefix}gnulinux-7.3.4-agentns-abcdef0-advanced-UUID1]" in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("menu_block", "in_place"),
    [
        ("menuentry 'agentns trial boot' --id agentns-trial {\n\tlinux /vmlinuz panic=10\n}\n", True),
        # update-grub interrupted (or never run): the block is missing.
        (None, False),
        # left from an earlier trial: other arguments.
        ("menuentry 'agentns trial boot' --id agentns-trial {\n\tlinux /vmlinuz panic=10 init=/x\n}\n", False),
    ],
    ids=["current", "missing", "stale"],
)
def test_trial_entry_checked_against_grub_menu(tmp_path: Path, menu_block: str | None, in_place: bool) -> None:
    """A trial entry missing from grub.cfg must be regenerated, not blamed on the kernel as a panic."""
    script = tmp_path / "42_agentns_trial"
    script.write_text("#!/bin/sh\ncat <<'E'\nmenuentry 'agentns trial boot' --id agentns-trial {\n\tlinux /vmlinuz panic=10\n}\nE\n")
    script.chmod(0o755)
    menu = "### BEGIN /etc/grub.d/10_linux ###\nmenuentry 'Debian' {\n}\n### END /etc/grub.d/10_linux ###\n"
    if menu_block is not None:
        menu += f"### BEGIN {script} ###\n{menu_block}### END {script} ###\n"
    grub_cfg = tmp_path / "grub.cfg"
    grub_cfg.write_text(menu)
    playbook = install_tasks_playbook(
        tmp_path,
        "trial_entry_check",
        {"agentns_install_grub_cfg": str(grub_cfg), "agentns_install_trial_script": str(script)},
        "    - ansible.builtin.debug:\n        msg: 'IN-PLACE=[{{ agentns_install_trial_entry_in_place }}]'\n",
    )
    result = run_playbook(playbook, controller_inventory(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"IN-PLACE=[{in_place}]" in result.stdout, result.stdout


def fake_grub_tools(tmp_path: Path, saved_entry: str) -> Path:
    """grub-editenv (list answers saved_entry), grub-set-default and update-grub that log their arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.log"
    for tool in ("grub-editenv", "grub-set-default", "update-grub"):
        listing = f"[ \"$2\" = list ] && printf 'saved_entry={saved_entry}\\nnext_entry=\\n' && exit 0\n" if tool == "grub-editenv" else ""
        (bin_dir / tool).write_text(f'#!/bin/sh\n{listing}echo {tool} "$@" >>{calls}\n')
        (bin_dir / tool).chmod(0o755)
    return bin_dir


@pytest.mark.parametrize(
    ("pinned", "saved", "now_saved", "expected_calls", "snippet_left"),
    [
        # The first rollout's trial failed: Debian's settings back, exactly.
        (False, "", "gnulinux-6.1", ["grub-editenv - unset next_entry", "grub-editenv - unset saved_entry", "update-grub"], False),
        # An earlier rollout had pinned another kernel: that stays as it was.
        (True, "gnulinux-7.3.3", "gnulinux-6.1", ["grub-editenv - unset next_entry", "grub-set-default gnulinux-7.3.3"], True),
        # Nothing to change but the spent one-shot entry GRUB left.
        (True, "gnulinux-6.1", "gnulinux-6.1", ["grub-editenv - unset next_entry"], True),
    ],
    ids=["first-rollout", "earlier-pin", "unchanged"],
)
def test_grub_settings_put_back_as_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pinned: bool, saved: str, now_saved: str, expected_calls: list[str], snippet_left: bool
) -> None:
    """A failed trial (and follow, and removal) must leave GRUB's settings as recorded, not pinned to the old kernel."""
    bin_dir = fake_grub_tools(tmp_path, now_saved)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    snippet = tmp_path / "zz-agentns-kernel.cfg"
    snippet.write_text("GRUB_DEFAULT=saved\n")
    playbook = install_tasks_playbook(
        tmp_path,
        "grub_restore",
        {
            "agentns_install_grub_default_file": str(snippet),
            "agentns_install_restore_pinned": pinned,
            "agentns_install_restore_saved": saved,
        },
    )
    result = run_playbook(playbook, controller_inventory(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    calls = tmp_path / "calls.log"
    assert (calls.read_text().splitlines() if calls.exists() else []) == expected_calls
    assert snippet.exists() == snippet_left


@pytest.mark.parametrize(("sysctls", "runs"), [({"enabled": 0, "max_lifetime": 86400}, False), (None, True)], ids=["switched-off", "no-sysctls"])
def test_selftest_reads_the_kill_switch_from_the_facts(tmp_path: Path, sysctls: dict[str, int] | None, runs: bool) -> None:
    """enabled=0 in the facts agentns_verify gathered: the suite is skipped, saying why
    (a 0 read as 'no value' once ran it); without the sysctls at all it runs."""
    shim = "/usr/local/bin/agentns-unshare"
    facts = {"agentns": {"sysctls": sysctls, "files": {shim: {"exists": False, "executable": False, "capabilities": ""}}}}
    playbook = tmp_path / "selftest.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        f"    - ansible.builtin.set_fact:\n        ansible_facts: {json.dumps(facts)}\n"
        "    - ansible.builtin.import_role:\n        name: agentns.fleet.agentns_selftest\n"
        # No kselftest headers: a run that would build the suite stops there.
        f"      vars:\n        agentns_selftest_kselftest_dir: {tmp_path / 'none'}\n"
    )
    result = run_playbook(playbook, controller_inventory(tmp_path))
    skipped = "kernel test suite skipped: kernel.agent_ns.enabled=0" in result.stdout
    assert skipped is not runs, result.stdout
    assert (result.returncode != 0) is runs, result.stdout
