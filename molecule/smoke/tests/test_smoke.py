"""Smoke checks of the fleet VMs, run by Molecule's testinfra verifier."""

from __future__ import annotations

from testinfra.host import Host

MARKER = "/etc/agentns-smoke"
MARKER_MODE = 0o644  # as converge.yml sets it


def test_hostname_matches_inventory(host: Host) -> None:
    assert host.check_output("hostname") == host.backend.get_hostname()


def test_stock_debian_12_kernel(host: Host) -> None:
    assert host.system_info.distribution == "debian"
    assert host.system_info.release.startswith("12")
    assert host.check_output("uname -s") == "Linux"
    assert host.check_output("uname -r").endswith("-amd64")


def test_ssh_login_as_agentns(host: Host) -> None:
    assert host.user().name == "agentns"
    assert host.run("true").rc == 0


def test_passwordless_sudo(host: Host) -> None:
    assert host.run("sudo -n true").rc == 0
    with host.sudo():
        assert host.check_output("id -u") == "0"


def test_serial_console_and_dhcp(host: Host) -> None:
    assert "console=ttyS0,115200" in host.file("/proc/cmdline").content_string
    assert "inet 10.0.2.15/" in host.check_output("ip -4 -o addr show")


def test_watchdog_device_present(host: Host) -> None:
    # QEMU's i6300esb; later scenarios rely on it being there.
    assert host.file("/dev/watchdog").exists


def test_converge_marker_file(host: Host) -> None:
    marker = host.file(MARKER)
    assert marker.is_file
    assert marker.user == "root"
    assert marker.mode == MARKER_MODE
    expected = f"agentns fleet smoke test on {host.backend.get_hostname()}\n"
    assert marker.content_string == expected


def test_came_back_from_a_new_boot(host: Host) -> None:
    # side_effect.yml saved the boot id, then rebooted or power-cycled the host.
    before = host.file("/var/tmp/agentns-boot-id.before").content_string.strip()
    now = host.file("/proc/sys/kernel/random/boot_id").content_string.strip()
    assert before
    assert now != before
