"""Checks of a fleet that deploy.yml converged, run by Molecule's testinfra verifier."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from testinfra.host import Host

SHIM = "/usr/local/bin/agentns-unshare"
SYSCTL_FILE = "/etc/sysctl.d/60-agentns.conf"
SUITE = "/var/lib/agentns/selftest/tests/kernel"
SESSION_RE = re.compile(r"^[0-9a-f]{32}$")
ZERO_SESSION = "0" * 32
# As molecule.yml's group_vars set them (enabled is the role default); on
# deploy1 side_effect.yml changed both and deploy.yml put them back.
WANTED = {"enabled": 1, "max_lifetime": 7200}
# Left out of the scenario (molecule.yml); the VM loop runs them: these wait
# for a reaper tick (60-90 s each), test_stress and test_reaper_lifetime also
# switch the feature and its limits for the whole host, and
# test_enforcement_misc's key-switch case needs two CPUs (the fleet VMs have one).
SLOW_TESTS = {
    "test_budget_enforce.sh",
    "test_enforcement_misc",
    "test_reaper_disabled.sh",
    "test_reaper_idle.sh",
    "test_reaper_escape",
    "test_reaper_lifetime",
    "test_stress",
}
# Serial consoles of the VMs, on the controller (molecule/resources/README.md).
CONSOLE_DIR = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")) / "build/molecule/default"
# molecule.yml: deploy2 takes the kexec fast path, deploy1 GRUB's one-shot
# entry; deploy2 follows Debian's default (agentns_install_default_policy).
KEXEC_HOSTS = {"deploy2"}
FOLLOW_HOSTS = {"deploy2"}
# prepare.yml moved deploy2's /boot onto LVM (GRUB cannot write grubenv there).
BOOT_ON_LVM_HOSTS = {"deploy2"}
# deploy1 fetched the kernel from the fleet's signed apt repository.
REPO_HOSTS = {"deploy1"}


def fresh_session(host: Host, *, root: bool = False) -> str:
    cmd = f"{SHIM} cat /proc/self/agent_session"
    if root:
        with host.sudo():
            return host.check_output(cmd)
    return host.check_output(cmd)


def test_runs_the_agentns_kernel(host: Host) -> None:
    release = host.check_output("uname -r")
    assert re.fullmatch(r"7\.3\.\d+-agentns-[0-9a-f]{7}", release), release
    assert host.file("/proc/self/agent_session").exists
    assert host.file(f"/boot/vmlinuz-{release}").exists


def test_grub_boots_it_by_default(host: Host) -> None:
    """The verified kernel is what GRUB boots by default; the trial entry is gone.

    pin: it is GRUB's saved default. follow: GRUB has Debian's settings back
    (no snippet, no saved default) and boots the newest kernel, which it is.
    """
    release = host.check_output("uname -r")
    snippet = host.file("/etc/default/grub.d/zz-agentns-kernel.cfg")
    with host.sudo():
        grub_default = snippet.content_string if snippet.exists else ""
        grubenv = dict(line.split("=", 1) for line in host.check_output("grub-editenv list").splitlines() if "=" in line)
        grub_cfg = host.file("/boot/grub/grub.cfg").content_string
    if host.backend.host in FOLLOW_HOSTS:
        assert not snippet.exists, grub_default
        assert "saved_entry" not in grubenv, grubenv
        assert re.search(r'^\s*set default="0"$', grub_cfg, re.MULTILINE)
        first_linux = re.search(r"^\s*linux\s+(\S+)", grub_cfg, re.MULTILINE)
        assert first_linux and first_linux.group(1).endswith(f"/vmlinuz-{release}"), first_linux
    else:
        assert re.search(r"^GRUB_DEFAULT=saved$", grub_default, re.MULTILINE), grub_default
        assert re.fullmatch(rf"gnulinux-advanced-\S+>gnulinux-{re.escape(release)}-advanced-\S+", grubenv.get("saved_entry", "")), grubenv
    assert not grubenv.get("next_entry"), grubenv
    assert f"vmlinuz-{release}" in grub_cfg
    assert "agentns-trial" not in grub_cfg
    assert not host.file("/etc/grub.d/42_agentns_trial").exists


def test_new_kernel_was_booted_on_trial(host: Host) -> None:
    name = host.backend.host
    console = (CONSOLE_DIR / name / "console.log").read_text(errors="replace")
    if name in KEXEC_HOSTS:
        assert "kexec_core: Starting new kernel" in console
        with host.sudo():
            # Installed for the fast path, without taking over ordinary reboots.
            assert re.search(r"^LOAD_KEXEC=false", host.file("/etc/default/kexec").content_string, re.MULTILINE)
    else:
        assert "Booting `agentns trial boot: Linux" in console


def test_trial_boot_turned_faults_into_panics(host: Host) -> None:
    # The host still runs its trial boot: the commit makes it GRUB's default
    # without another reboot. Both ways (one-shot entry, kexec) carry them.
    args = host.file("/proc/cmdline").content_string.split()
    for wanted in ("panic=10", "oops=panic", "softlockup_panic=1", "hung_task_panic=1"):
        assert wanted in args, args


def test_kernel_installed_into_a_boot_on_lvm(host: Host) -> None:
    if host.backend.host not in BOOT_ON_LVM_HOSTS:
        pytest.skip("/boot is on the root file system")
    release = host.check_output("uname -r")
    assert "agentns_boot" in host.check_output("findmnt -no SOURCE /boot")
    assert host.file(f"/boot/vmlinuz-{release}").exists


def test_kernel_came_from_where_the_host_was_told(host: Host) -> None:
    release = host.check_output("uname -r")
    sources = host.file("/etc/apt/sources.list.d/agentns.sources")
    if host.backend.host not in REPO_HOSTS:
        assert not sources.exists
        return
    # The repository, trusted with its own key only; this build pinned and held.
    assert "Signed-By: /etc/apt/keyrings/agentns-archive-keyring.gpg" in sources.content_string
    assert re.search(r"^URIs: http://10\.0\.2\.2:\d+/$", sources.content_string, re.MULTILINE)
    assert host.file("/etc/apt/keyrings/agentns-archive-keyring.gpg").exists
    assert f"linux-image-{release}" in host.file("/etc/apt/preferences.d/agentns-kernel").content_string
    assert host.check_output(f"dpkg --get-selections linux-image-{release}").split() == [f"linux-image-{release}", "hold"]
    # Nothing was copied to the host.
    assert not host.file("/var/cache/agentns/packages").exists


def test_stock_kernel_kept_as_fallback(host: Host) -> None:
    assert host.run("ls /boot/vmlinuz-*-amd64").rc == 0


def test_shim_has_its_file_capability(host: Host) -> None:
    shim = host.file(SHIM)
    assert shim.is_file
    assert shim.user == "root"
    assert shim.mode == 0o755
    assert host.check_output(f"/usr/sbin/getcap {SHIM}").endswith("cap_sys_admin=ep")


@pytest.mark.parametrize("root", [False, True], ids=["user", "root"])
def test_shim_gives_a_fresh_nonzero_session(host: Host, root: bool) -> None:
    outside = host.file("/proc/self/agent_session").content_string.strip()
    assert outside == ZERO_SESSION
    first, second = fresh_session(host, root=root), fresh_session(host, root=root)
    for session in (first, second):
        assert SESSION_RE.match(session), session
        assert session != ZERO_SESSION
    assert first != second


def test_login_user_is_not_root(host: Host) -> None:
    # The non-root half of the session test means something only then.
    assert host.check_output("id -u") != "0"


@pytest.mark.parametrize("name", sorted(WANTED))
def test_sysctl_live_value(host: Host, name: str) -> None:
    value = host.file(f"/proc/sys/kernel/agent_ns/{name}").content_string.strip()
    assert int(value) == WANTED[name]


@pytest.mark.parametrize("name", sorted(WANTED))
def test_sysctl_persisted(host: Host, name: str) -> None:
    conf = host.file(SYSCTL_FILE)
    assert conf.is_file
    assert conf.user == "root"
    assert conf.mode == 0o644
    values = re.findall(rf"^-?kernel\.agent_ns\.{name}\s*=\s*(\d+)\s*$", conf.content_string, re.MULTILINE)
    # Every assignment, not only the last: on the drifted host the fix
    # (side_effect.yml) must have rewritten the hand-edited one.
    assert [int(v) for v in values] == [WANTED[name]], conf.content_string


def test_kernel_suite_is_green(host: Host) -> None:
    with host.sudo():
        tests = sorted(
            name for name in host.check_output(f"ls {SUITE}").split() if name.startswith("test_") and not name.endswith(".c") and name not in SLOW_TESTS
        )
        assert "test_prctl_ns" in tests
        run = host.run(f"AGENTNS_UNSHARE={SHIM} sh {SUITE}/run.sh {' '.join(tests)}")
    tally = run.stdout.strip().splitlines()[-1]
    assert run.rc == 0, run.stdout
    assert re.fullmatch(rf"{len(tests)} passed, 0 failed, 0 skipped", tally), run.stdout
