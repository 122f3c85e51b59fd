# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from ansible_collections.agentns.fleet.plugins.module_utils import agentns

ENABLED = agentns.SYSCTLS["kernel.agent_ns.enabled"]
LIFETIME = agentns.SYSCTLS["kernel.agent_ns.max_lifetime"]


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


@pytest.fixture
def paths(tmp_path):
    return agentns.HostPaths(proc=str(tmp_path / "proc"), boot=str(tmp_path / "boot"), dpkg_query=None)


@pytest.fixture
def agentns_proc(paths):
    """A fake /proc of a kernel that has the agent namespace, at its defaults."""
    write(paths.sysctl_file(ENABLED), "1\n")
    write(paths.sysctl_file(LIFETIME), "86400\n")
    return paths


@pytest.mark.parametrize("name", ["kernel.agent_ns.enabled", "enabled", "kernel/agent_ns/enabled", " -kernel.agent_ns.enabled"])
def test_lookup_accepts_every_spelling(name):
    assert agentns.lookup_sysctl(name) is ENABLED


@pytest.mark.parametrize("name", ["kernel.agent_ns", "kernel.agent_ns.bogus", "lifetime", ""])
def test_lookup_rejects_unknown_names(name):
    with pytest.raises(agentns.AgentNSError, match="unknown agent_ns sysctl"):
        agentns.lookup_sysctl(name)


@pytest.mark.parametrize(
    "raw, expected",
    [
        (1, 1),
        (0, 0),
        ("1", 1),
        (" 0\n", 0),
        (True, 1),
        (False, 0),
        ("yes", 1),
        ("off", 0),
    ],
)
def test_parse_enabled(raw, expected):
    assert agentns.parse_value(ENABLED, raw) == expected


@pytest.mark.parametrize("raw", [2, -1, "2", "maybe", 1.0, "1.5", None, [1]])
def test_parse_enabled_rejects(raw):
    with pytest.raises(agentns.AgentNSError):
        agentns.parse_value(ENABLED, raw)


@pytest.mark.parametrize("raw, expected", [(1, 1), ("3600", 3600), ("+60", 60), (2**31 - 1, 2**31 - 1)])
def test_parse_lifetime(raw, expected):
    assert agentns.parse_value(LIFETIME, raw) == expected


@pytest.mark.parametrize(
    "raw, message",
    [
        (0, "between 1 and 2147483647"),
        (-5, "between"),
        ("-5", "between"),
        (2**31, "between"),
        ("1h", "must be an integer"),
        (3.5, "must be an integer"),
        ("", "must be an integer"),
        (True, "must be an integer"),
    ],
)
def test_parse_lifetime_rejects(raw, message):
    with pytest.raises(agentns.AgentNSError, match=message):
        agentns.parse_value(LIFETIME, raw)


def test_runtime_round_trip(agentns_proc):
    assert agentns.read_runtime(LIFETIME, agentns_proc) == 86400
    agentns.write_runtime(LIFETIME, 3600, agentns_proc)
    assert agentns.read_runtime(LIFETIME, agentns_proc) == 3600
    with open(agentns_proc.sysctl_file(LIFETIME)) as handle:
        assert handle.read() == "3600\n"


def test_runtime_missing_on_plain_kernel(paths):
    assert not agentns.kernel_supported(paths)
    assert agentns.read_runtime(ENABLED, paths) is None
    with pytest.raises(agentns.AgentNSError, match="cannot write"):
        agentns.write_runtime(ENABLED, 1, paths)


def test_runtime_garbage_is_an_error(agentns_proc):
    write(agentns_proc.sysctl_file(ENABLED), "on\n")
    with pytest.raises(agentns.AgentNSError, match="unexpected content"):
        agentns.read_runtime(ENABLED, agentns_proc)


CONF = """\
# local tuning
vm.swappiness = 10
; old comment style
kernel.agent_ns.enabled=0
net.ipv4.ip_forward = 1
"""


def test_persisted_value_reads_last_assignment():
    text = CONF + "kernel/agent_ns/enabled = 1\n"
    assert agentns.persisted_value(text, ENABLED) == 1
    assert agentns.persisted_value(CONF, ENABLED) == 0
    assert agentns.persisted_value(CONF, LIFETIME) is None
    assert agentns.persisted_value(None, LIFETIME) is None
    assert agentns.persisted_value("kernel.agent_ns.max_lifetime = soon\n", LIFETIME) is None
    assert agentns.persisted_value("# kernel.agent_ns.enabled = 1\n", ENABLED) is None


def test_render_replaces_in_place_and_keeps_other_lines():
    rendered = agentns.render_conf(CONF, ENABLED, 1)
    assert rendered == CONF.replace("kernel.agent_ns.enabled=0", "kernel.agent_ns.enabled = 1")


def test_render_rewrites_every_assignment_and_keeps_dash_prefix():
    text = "kernel.agent_ns.max_lifetime = 10\n  -kernel/agent_ns/max_lifetime=20\r\n"
    rendered = agentns.render_conf(text, LIFETIME, 30)
    assert rendered == "kernel.agent_ns.max_lifetime = 30\n  -kernel.agent_ns.max_lifetime = 30\r\n"


def test_render_appends_missing_key_after_unterminated_last_line():
    rendered = agentns.render_conf("vm.swappiness = 10", LIFETIME, 600, header="# header")
    assert rendered == "vm.swappiness = 10\n-kernel.agent_ns.max_lifetime = 600\n"


def test_render_keeps_crlf_and_uses_it_for_new_lines():
    text = "# local\r\nvm.swappiness = 10\r\n"
    assert agentns.render_conf(text, ENABLED, 1) == text + "-kernel.agent_ns.enabled = 1\r\n"
    replaced = agentns.render_conf("kernel.agent_ns.enabled = 0\r\nvm.x = 1\r\n", ENABLED, 1)
    assert replaced == "kernel.agent_ns.enabled = 1\r\nvm.x = 1\r\n"


def test_render_moves_inline_comment_to_its_own_line():
    text = "vm.a = 1  # keep me\n  kernel.agent_ns.enabled = 0  # off for the migration\n"
    assert agentns.persisted_value(text, ENABLED) is None
    rendered = agentns.render_conf(text, ENABLED, 1)
    assert rendered == "vm.a = 1  # keep me\n  # off for the migration\n  kernel.agent_ns.enabled = 1\n"
    assert agentns.persisted_value(rendered, ENABLED) == 1
    assert agentns.render_conf(rendered, ENABLED, 1) == rendered


def test_only_newline_ends_a_line():
    # str.splitlines() would cut this line at the form feed and see an assignment of its own.
    text = "vm.a = 1\x0ckernel.agent_ns.enabled = 0\n"
    assert agentns.persisted_value(text, ENABLED) is None
    assert agentns.render_conf(text, ENABLED, 1) == text + "-kernel.agent_ns.enabled = 1\n"


def test_remove_from_conf_drops_every_assignment_only():
    text = "# keep\r\nkernel.agent_ns.enabled = 0\r\nvm.a = 1\r\n-kernel/agent_ns/enabled=1\r\n"
    assert agentns.remove_from_conf(text, ENABLED) == "# keep\r\nvm.a = 1\r\n"
    assert agentns.remove_from_conf(text, LIFETIME) == text
    assert agentns.remove_from_conf(None, ENABLED) is None


@pytest.mark.parametrize(
    "path, message",
    [
        ("sysctl.d/60-agentns.conf", "absolute"),
        ("/etc/sysctl.d/60-agentns", "NAME.conf"),
        ("/etc/sysctl.d/.conf", "NAME.conf"),
        ("/etc/sysctl.d/60-agentns.conf.bak", "NAME.conf"),
        ("/etc/sysctl.d/60\nagentns.conf", "control characters"),
        ("/etc/sysctl.d/60\tagentns.conf", "control characters"),
        ("", "empty"),
    ],
)
def test_check_sysctl_file_rejects(path, message):
    with pytest.raises(agentns.AgentNSError, match=message):
        agentns.check_sysctl_file(path)


def test_check_sysctl_file_accepts_a_conf_path():
    agentns.check_sysctl_file("/etc/sysctl.d/60-agentns.conf")


def test_render_new_file_gets_header():
    rendered = agentns.render_conf(None, ENABLED, 1, header="# managed\n")
    assert rendered == "# managed\n-kernel.agent_ns.enabled = 1\n"
    assert agentns.persisted_value(rendered, ENABLED) == 1


def test_session_and_counters(agentns_proc):
    session = "0123456789abcdef0123456789abcdef"
    write(agentns_proc.process_file("agent_session"), session + "\n")
    counters = dict.fromkeys(agentns.COUNTER_KEYS, 0)
    counters["total_syscalls"] = 12
    write(
        agentns_proc.process_file("agent_counters"),
        '{"total_syscalls": 12, "openat_count": 0, "write_bytes": 0, "connect_count": 0, "unlink_count": 0, "fork_count": 0, "elapsed_ns": 0}\n',
    )
    assert agentns.read_session_id(agentns_proc) == session
    assert agentns.read_counters(agentns_proc) == counters
    assert agentns.kernel_supported(agentns_proc)


@pytest.mark.parametrize("text", ["0123456789ABCDEF0123456789ABCDEF\n", "abc\n", "0" * 33 + "\n"])
def test_session_id_must_be_32_lowercase_hex(text):
    with pytest.raises(agentns.AgentNSError):
        agentns.parse_session_id(text)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"total_syscalls": 1}',
        ('{"total_syscalls": -1, "openat_count": 0, "write_bytes": 0, "connect_count": 0, "unlink_count": 0, "fork_count": 0, "elapsed_ns": 0}'),
        ('{"total_syscalls": 1, "openat_count": 0, "write_bytes": 0, "connect_count": 0, "unlink_count": 0, "fork_count": 0, "elapsed_ns": 0, "extra": 0}'),
    ],
)
def test_counters_must_match_the_abi(text):
    with pytest.raises(agentns.AgentNSError):
        agentns.parse_counters(text)


def test_per_process_files_absent_without_support(paths):
    assert agentns.read_session_id(paths) is None
    assert agentns.read_counters(paths) is None
    assert agentns.read_namespace_link(paths) is None


def test_namespace_link(paths):
    ns_dir = os.path.join(paths.proc, "self", "ns")
    os.makedirs(ns_dir)
    os.symlink("agent:[4026532000]", os.path.join(ns_dir, "agent"))
    assert agentns.read_namespace_link(paths) == "agent:[4026532000]"


def test_boot_kernels_only_lists_agentns_images(paths):
    for name in ("vmlinuz-6.1.0-28-amd64", "vmlinuz-7.3.4-agentns-aaa", "config-7.3.4-agentns-aaa", "vmlinuz-7.3.4-agentns-bbb"):
        write(os.path.join(paths.boot, name), "")
    assert sorted(agentns.boot_kernels(paths)) == ["7.3.4-agentns-aaa", "7.3.4-agentns-bbb"]


def test_boot_kernels_without_boot_dir(paths):
    assert agentns.boot_kernels(paths) == []


def test_parse_dpkg_kernels():
    output = (
        "linux-image-7.3.4-agentns-aaa\tinstall ok installed\n"
        "linux-image-7.3.4-agentns-aaa-dbg\tinstall ok installed\n"
        "linux-image-7.3.2-agentns-old\tdeinstall ok config-files\n"
        "linux-image-7.3.5-agentns-ccc\thold ok installed\n"
        "garbage line\n"
    )
    assert agentns.parse_dpkg_kernels(output) == ["7.3.4-agentns-aaa", "7.3.5-agentns-ccc"]


def test_order_kernels_by_dpkg_version():
    releases = ["7.3.10-agentns-x", "7.3.9-agentns-x", "7.3.4-agentns-new", "7.3.4-agentns-pkgonly", "7.3.9-agentns-x"]
    assert agentns.order_kernels(releases) == ["7.3.4-agentns-new", "7.3.4-agentns-pkgonly", "7.3.9-agentns-x", "7.3.10-agentns-x"]


def test_order_kernels_ignores_file_times(paths):
    # A chmod moves the ctime of the older image past the newer one's: the order must not change.
    for release in ("7.3.10-agentns-b", "7.3.4-agentns-a"):
        write(os.path.join(paths.boot, "vmlinuz-" + release), "")
    os.utime(os.path.join(paths.boot, "vmlinuz-7.3.10-agentns-b"), (1, 1))
    os.chmod(os.path.join(paths.boot, "vmlinuz-7.3.4-agentns-a"), 0o600)
    assert agentns.order_kernels(agentns.boot_kernels(paths)) == ["7.3.4-agentns-a", "7.3.10-agentns-b"]


# Pairs with their answer from `dpkg --compare-versions`, including the corner
# cases of dpkg's own test suite: '~' sorts before everything, even the end;
# letters before other characters; leading zeros do not count; epochs win.
DPKG_CASES = [
    ("1.0", "1.0", 0),
    ("1.0", "1.1", -1),
    ("1.10", "1.9", 1),
    ("1.0~rc1", "1.0", -1),
    ("1.0~~", "1.0~", -1),
    ("1.0", "1.0+b1", -1),
    ("1.0a", "1.0+", -1),
    ("1.0-1", "1.0-2", -1),
    ("1.0-10", "1.0-9", 1),
    ("1:0.1", "2.0", 1),
    ("001.0", "1.0", 0),
    ("1.0.0", "1.0", 1),
    ("7.3.4-agentns-1a2b3c4", "7.3.10-agentns-0000000", -1),
    ("7.3.4-agentns-abc", "7.3.4-agentns-abd", -1),
    ("7.3.4-1", "7.3.4", 1),
    ("a", "B", 1),
    ("1.0-0~bpo12+1", "1.0-0", -1),
]


def _sign(value):
    return (value > 0) - (value < 0)


@pytest.mark.parametrize("left, right, expected", DPKG_CASES)
def test_compare_versions_matches_dpkg(left, right, expected):
    assert _sign(agentns.compare_versions(left, right)) == expected
    first, second = right, left
    assert _sign(agentns.compare_versions(first, second)) == -expected


@pytest.mark.skipif(not shutil.which("dpkg"), reason="needs dpkg")
@pytest.mark.parametrize("left, right, expected", DPKG_CASES)
def test_compare_versions_cases_agree_with_real_dpkg(left, right, expected):
    answer = {-1: "lt", 0: "eq", 1: "gt"}[expected]
    assert subprocess.run(["dpkg", "--compare-versions", left, answer, right], check=False).returncode == 0


@pytest.mark.parametrize(
    "running, kernels, pending",
    [
        ("7.3.4-agentns-new", ["7.3.4-agentns-old", "7.3.4-agentns-new"], False),
        ("7.3.4-agentns-old", ["7.3.4-agentns-old", "7.3.4-agentns-new"], True),
        ("6.1.0-28-amd64", ["7.3.4-agentns-new"], True),
        ("6.1.0-28-amd64", [], False),
    ],
)
def test_reboot_pending(running, kernels, pending):
    assert agentns.reboot_pending(running, kernels) is pending


def test_running_release_from_proc(paths):
    write(os.path.join(paths.proc, "sys", "kernel", "osrelease"), "7.3.4-agentns-aaa\n")
    assert agentns.running_release(paths) == "7.3.4-agentns-aaa"


# A kernel with kexec and its sysctls at Debian's defaults, then one change.
KEXEC_USABLE = {
    ("sys", agentns.KEXEC_LOADED): "0\n",
    ("proc", agentns.KEXEC_LOAD_DISABLED): "0\n",
    ("proc", agentns.KEXEC_LOAD_LIMIT_REBOOT): "-1\n",
    ("sys", agentns.LOCKDOWN): "[none] integrity confidentiality\n",
}


@pytest.mark.parametrize(
    ("change", "blocker"),
    [
        ({}, ""),
        ({("sys", agentns.KEXEC_LOADED): None}, "the running kernel has no kexec (no /sys/kernel/kexec_loaded)"),
        ({("proc", agentns.KEXEC_LOAD_DISABLED): "1\n"}, "kernel.kexec_load_disabled = 1, which only a reboot clears"),
        ({("proc", agentns.KEXEC_LOAD_LIMIT_REBOOT): "0\n"}, "kernel.kexec_load_limit_reboot = 0 (no kexec load left until a reboot)"),
        # Counted down but not spent; kernels before 6.6 have no limit at all.
        ({("proc", agentns.KEXEC_LOAD_LIMIT_REBOOT): "2\n"}, ""),
        ({("proc", agentns.KEXEC_LOAD_LIMIT_REBOOT): None}, ""),
        (
            {("sys", agentns.LOCKDOWN): "none [integrity] confidentiality\n"},
            "kernel lockdown is in integrity mode (/sys/kernel/security/lockdown), which refuses an unsigned kernel for kexec",
        ),
        ({("sys", agentns.LOCKDOWN): "none integrity [confidentiality]\n"}, "kernel lockdown is in confidentiality mode"),
        # No lockdown LSM, or securityfs not mounted.
        ({("sys", agentns.LOCKDOWN): None}, ""),
        # Both: the one that only a reboot clears comes first.
        ({("proc", agentns.KEXEC_LOAD_DISABLED): "1\n", ("sys", agentns.LOCKDOWN): "none [integrity] confidentiality\n"}, "kernel.kexec_load_disabled = 1"),
    ],
    ids=["usable", "no-kexec", "load-disabled", "limit-spent", "limit-left", "no-limit", "lockdown", "lockdown-confidentiality", "no-lockdown", "first-reason"],
)
def test_kexec_blocker(paths, tmp_path, change, blocker):
    paths.sys = str(tmp_path / "sys")
    for (root, relpath), text in {**KEXEC_USABLE, **change}.items():
        if text is not None:
            write(os.path.join(getattr(paths, root), relpath), text)
    found = agentns.kexec_blocker(paths)
    assert found.startswith(blocker) if blocker else found == "", found
