# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only

from __future__ import annotations

import os
import time

from ansible_collections.agentns.fleet.plugins.module_utils import agentns
from ansible_collections.agentns.fleet.plugins.modules import agentns_facts, agentns_info

SESSION = "5f0c2a9e1b3d4c6f8a7e9d0b1c2f3a4e"
COUNTERS = '{"total_syscalls": 120, "openat_count": 4, "write_bytes": 17, "connect_count": 0, "unlink_count": 0, "fork_count": 1, "elapsed_ns": 900}\n'


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def fake_host(root, running, supported=True, boot=(), dpkg_output=None):
    """Build a fake /proc and /boot; dpkg-query is a script printing dpkg_output."""
    dpkg_query = None
    if dpkg_output is not None:
        dpkg_query = str(root / "dpkg-query")
        escaped = dpkg_output.replace("\t", "\\t").replace("\n", "\\n")
        write(dpkg_query, f"#!/bin/sh\nprintf '{escaped}'\n")
        os.chmod(dpkg_query, 0o755)
    paths = agentns.HostPaths(proc=str(root / "proc"), boot=str(root / "boot"), dpkg_query=dpkg_query)
    write(os.path.join(paths.proc, "sys", "kernel", "osrelease"), running + "\n")
    if supported:
        write(os.path.join(paths.sysctl_dir(), "enabled"), "1\n")
        write(os.path.join(paths.sysctl_dir(), "max_lifetime"), "86400\n")
        write(paths.process_file("agent_session"), SESSION + "\n")
        write(paths.process_file("agent_counters"), COUNTERS)
        os.makedirs(os.path.join(paths.proc, "self", "ns"))
        os.symlink("agent:[4026532001]", os.path.join(paths.proc, "self", "ns", "agent"))
    for index, release in enumerate(boot):
        image = os.path.join(paths.boot, "vmlinuz-" + release)
        if index:
            # The install order is read from inode change times, which advance
            # with the kernel's coarse clock: leave a few ticks between files.
            time.sleep(0.05)
        write(image, "")
        # dpkg gives images their build time as mtime; make it disagree with
        # the install order so a test notices if mtime is used instead.
        os.utime(image, (2000 - index, 2000 - index))
    return paths


def facts_of(run_module, paths, **args):
    result = run_module(agentns_facts.main, args, paths=paths)
    assert result["changed"] is False
    assert result.get("failed") is not True, result
    assert "deprecations" not in result
    return result["ansible_facts"]["agentns"]


def deprecation_texts(result):
    return [d if isinstance(d, str) else d.get("msg") or d.get("event", {}).get("msg", str(d)) for d in result.get("deprecations", [])]


def test_agentns_kernel_running_newest(run_module, tmp_path):
    paths = fake_host(tmp_path, "7.3.4-agentns-aaa", boot=["7.3.4-agentns-aaa", "6.1.0-28-amd64"])
    facts = facts_of(run_module, paths)
    assert facts["supported"] is True
    assert facts["running_kernel"] == "7.3.4-agentns-aaa"
    assert facts["running_agentns"] is True
    assert facts["installed_agentns_kernels"] == ["7.3.4-agentns-aaa"]
    assert facts["latest_agentns_kernel"] == "7.3.4-agentns-aaa"
    assert facts["reboot_pending"] is False
    assert facts["sysctls"] == {"enabled": 1, "max_lifetime": 86400}
    assert facts["session_id"] == SESSION
    assert facts["in_agent_namespace"] is True
    assert facts["namespace"] == "agent:[4026532001]"
    assert facts["counters"]["total_syscalls"] == 120
    assert set(facts["counters"]) == set(agentns.COUNTER_KEYS)


def test_plain_kernel_with_agentns_package_installed(run_module, tmp_path):
    output = "linux-image-7.3.4-agentns-bbb\tinstall ok installed\nlinux-image-7.3.4-agentns-bbb-dbg\tinstall ok installed\n"
    paths = fake_host(tmp_path, "6.1.0-28-amd64", supported=False, dpkg_output=output)
    facts = facts_of(run_module, paths)
    assert facts["supported"] is False
    assert facts["running_agentns"] is False
    assert facts["installed_agentns_kernels"] == ["7.3.4-agentns-bbb"]
    assert facts["reboot_pending"] is True
    assert facts["sysctls"] is None
    assert facts["session_id"] is None
    assert facts["in_agent_namespace"] is False
    assert facts["namespace"] is None
    assert facts["counters"] is None


def test_kernels_are_ordered_by_dpkg_version_not_file_times(run_module, tmp_path):
    # 7.3.10 is newer than 7.3.9 for dpkg; install it first and touch 7.3.9's
    # inode afterwards (a chmod), so the ctime order says the opposite.
    paths = fake_host(tmp_path, "7.3.9-agentns-bbb", boot=["7.3.10-agentns-aaa", "7.3.9-agentns-bbb"])
    os.chmod(os.path.join(paths.boot, "vmlinuz-7.3.9-agentns-bbb"), 0o600)
    facts = facts_of(run_module, paths)
    assert facts["installed_agentns_kernels"] == ["7.3.9-agentns-bbb", "7.3.10-agentns-aaa"]
    assert facts["latest_agentns_kernel"] == "7.3.10-agentns-aaa"
    assert facts["reboot_pending"] is True


def test_no_agentns_anywhere(run_module, tmp_path):
    paths = fake_host(tmp_path, "6.1.0-28-amd64", supported=False, boot=["6.1.0-28-amd64"], dpkg_output="")
    facts = facts_of(run_module, paths)
    assert facts["installed_agentns_kernels"] == []
    assert facts["latest_agentns_kernel"] is None
    assert facts["reboot_pending"] is False


def test_init_namespace_session_is_not_inside(run_module, tmp_path):
    paths = fake_host(tmp_path, "7.3.4-agentns-aaa")
    write(paths.process_file("agent_session"), "0" * 32 + "\n")
    facts = facts_of(run_module, paths)
    assert facts["session_id"] == "0" * 32
    assert facts["in_agent_namespace"] is False


def test_malformed_files_become_null_with_warning(run_module, tmp_path):
    paths = fake_host(tmp_path, "7.3.4-agentns-aaa")
    write(paths.process_file("agent_counters"), '{"total_syscalls": 1}\n')
    write(paths.process_file("agent_session"), "XYZ\n")
    result = run_module(agentns_facts.main, {}, paths=paths)
    facts = result["ansible_facts"]["agentns"]
    assert facts["counters"] is None
    assert facts["session_id"] is None
    assert facts["sysctls"] == {"enabled": 1, "max_lifetime": 86400}
    assert len(result["warnings"]) == 2


def test_check_mode_is_the_same(run_module, tmp_path):
    paths = fake_host(tmp_path, "7.3.4-agentns-aaa", boot=["7.3.4-agentns-aaa"])
    assert facts_of(run_module, paths, _ansible_check_mode=True)["reboot_pending"] is False


def test_info_returns_data_under_its_own_key(run_module, tmp_path):
    paths = fake_host(tmp_path, "7.3.4-agentns-aaa", boot=["7.3.4-agentns-aaa"])
    result = run_module(agentns_info.main, {"legacy_facts": False}, paths=paths)
    assert "ansible_facts" not in result
    assert "deprecations" not in result
    assert result["agentns"]["running_kernel"] == "7.3.4-agentns-aaa"
    assert result["agentns"] == facts_of(run_module, paths)


def test_info_keeps_the_old_facts_with_a_deprecation(run_module, tmp_path):
    paths = fake_host(tmp_path, "7.3.4-agentns-aaa", boot=["7.3.4-agentns-aaa"])
    result = run_module(agentns_info.main, {}, paths=paths)
    assert result["ansible_facts"]["agentns"] == result["agentns"]
    texts = deprecation_texts(result)
    assert len(texts) == 1
    assert "agentns_facts" in texts[0]
    deprecation = result["deprecations"][0]
    if isinstance(deprecation, dict):
        flat = str(deprecation)
        assert "1.0.0" in flat
        assert "agentns.fleet" in flat


def grub_menu(default, *releases):
    entries = "".join(f"menuentry 'Linux {r}' $menuentry_id_option 'gnulinux-{r}-advanced-x' {{\n\tlinux /boot/vmlinuz-{r} ro\n}}\n" for r in releases)
    return f'if [ "${{next_entry}}" ] ; then\n   set default="${{next_entry}}"\nelse\n   set default="{default}"\nfi\n' + entries


def test_boot_default_reported_when_it_is_not_the_running_kernel(run_module, tmp_path):
    # A newer distribution kernel sorts first and GRUB boots entry 0: the next boot leaves agentns.
    paths = fake_host(tmp_path, "7.3.4-agentns-aaa")
    write(os.path.join(paths.boot, "grub", "grub.cfg"), grub_menu("0", "7.3.9-1-amd64", "7.3.4-agentns-aaa"))
    facts = facts_of(run_module, paths)
    assert facts["boot_default_kernel"] == "7.3.9-1-amd64"
    assert facts["boot_default_differs"] is True
    assert facts["boot_next_kernel"] is None


def test_boot_default_pinned_to_the_running_kernel(run_module, tmp_path):
    paths = fake_host(tmp_path, "7.3.4-agentns-aaa")
    write(os.path.join(paths.boot, "grub", "grub.cfg"), grub_menu("${saved_entry}", "7.3.9-1-amd64", "7.3.4-agentns-aaa"))
    write(os.path.join(paths.boot, "grub", "grubenv"), "# GRUB Environment Block\nsaved_entry=gnulinux-7.3.4-agentns-aaa-advanced-x\n")
    facts = facts_of(run_module, paths)
    assert facts["boot_default_kernel"] == "7.3.4-agentns-aaa"
    assert facts["boot_default_differs"] is False


def test_no_grub_menu_no_boot_default(run_module, tmp_path):
    facts = facts_of(run_module, fake_host(tmp_path, "7.3.4-agentns-aaa"))
    assert facts["boot_default_kernel"] is None
    assert facts["boot_default_differs"] is False


def test_boot_entries_and_saved_entry_from_a_given_menu(run_module, tmp_path):
    paths = fake_host(tmp_path, "7.3.4-agentns-aaa")
    menu_dir = tmp_path / "efi"
    write(str(menu_dir / "grub.cfg"), grub_menu("${saved_entry}", "7.3.9-1-amd64", "7.3.4-agentns-aaa"))
    write(str(menu_dir / "grubenv"), "# GRUB Environment Block\nsaved_entry=gnulinux-7.3.4-agentns-aaa-advanced-x\n")
    facts = facts_of(run_module, paths, grub_cfg=str(menu_dir / "grub.cfg"))
    assert facts["boot_entries"] == {
        "7.3.9-1-amd64": "gnulinux-7.3.9-1-amd64-advanced-x",
        "7.3.4-agentns-aaa": "gnulinux-7.3.4-agentns-aaa-advanced-x",
    }
    assert facts["boot_saved_entry"] == "gnulinux-7.3.4-agentns-aaa-advanced-x"
    assert facts["boot_default_kernel"] == "7.3.4-agentns-aaa"
    # Nothing asked for: no probe, no files.
    assert facts["boot_probe"] is None
    assert facts["files"] == {}


def test_files_described(run_module, tmp_path):
    paths = fake_host(tmp_path, "7.3.4-agentns-aaa")
    shim = tmp_path / "shim"
    write(str(shim), "#!/bin/sh\n")
    os.chmod(shim, 0o755)
    facts = facts_of(run_module, paths, files=[str(shim), str(tmp_path / "gone")])
    assert facts["files"][str(shim)] == {"exists": True, "executable": True, "capabilities": ""}
    assert facts["files"][str(tmp_path / "gone")]["exists"] is False


def test_boot_probe(run_module, tmp_path):
    grub_probe = tmp_path / "grub-probe"
    # What grub-probe says for /boot/grub on LVM.
    write(str(grub_probe), '#!/bin/sh\ncase "$1" in --target=fs) echo ext2 ;; --target=abstraction) echo lvm ;; esac\n')
    os.chmod(grub_probe, 0o755)
    paths = fake_host(tmp_path, "6.1.0-28-amd64", supported=False)
    paths.grub_probe = str(grub_probe)
    paths.sys = str(tmp_path / "sys")
    write(os.path.join(paths.sys, agentns.SECURE_BOOT_VAR), "\x06\x00\x00\x00\x01")
    os.makedirs(paths.boot, exist_ok=True)
    probe = facts_of(run_module, paths, boot_probe=True)["boot_probe"]
    assert probe["grub_fs"] == "ext2"
    assert probe["grub_abstraction"] == "lvm"
    assert probe["secure_boot"] is True
    assert probe["boot_free_bytes"] > 0
    # No /sys/kernel/kexec_loaded in the fake tree.
    assert probe["kexec_blocker"] == "the running kernel has no kexec (no /sys/kernel/kexec_loaded)"


def test_boot_probe_kexec_usable_and_locked_down(run_module, tmp_path):
    paths = fake_host(tmp_path, "6.1.0-28-amd64", supported=False)
    paths.grub_probe = None
    paths.sys = str(tmp_path / "sys")
    os.makedirs(paths.boot, exist_ok=True)
    write(os.path.join(paths.sys, agentns.KEXEC_LOADED), "0\n")
    write(os.path.join(paths.proc, agentns.KEXEC_LOAD_DISABLED), "0\n")
    assert facts_of(run_module, paths, boot_probe=True)["boot_probe"]["kexec_blocker"] == ""
    write(os.path.join(paths.sys, agentns.LOCKDOWN), "none [integrity] confidentiality\n")
    assert facts_of(run_module, paths, boot_probe=True)["boot_probe"]["kexec_blocker"].startswith("kernel lockdown is in integrity mode")


def test_boot_probe_without_grub_probe_or_efi(run_module, tmp_path):
    paths = fake_host(tmp_path, "6.1.0-28-amd64", supported=False)
    paths.grub_probe = str(tmp_path / "no-grub-probe")
    paths.sys = str(tmp_path / "sys")
    os.makedirs(paths.boot, exist_ok=True)
    probe = facts_of(run_module, paths, boot_probe=True)["boot_probe"]
    assert probe["grub_fs"] is None
    assert probe["grub_abstraction"] == ""
    assert probe["secure_boot"] is False
