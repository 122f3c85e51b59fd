"""What the smoke scenario did to its VMs, run by Molecule's testinfra verifier.

The checks of the fleet itself (SSH, sudo, console, watchdog) are in
molecule/resources/tests/test_fleet.py, which every scenario runs.
"""

from __future__ import annotations

from testinfra.host import Host

MARKER = "/etc/agentns-smoke"
MARKER_MODE = 0o644  # as converge.yml sets it


def test_stock_debian_12_kernel(host: Host) -> None:
    assert host.check_output("uname -s") == "Linux"
    assert host.check_output("uname -r").endswith("-amd64")


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
