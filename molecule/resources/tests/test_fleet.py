"""Checks of the test fleet itself, run against every scenario's VMs.

The shared Molecule config (.config/molecule/config.yml) adds this file to each
scenario's testinfra run, so CI tests the fleet on the VMs the default and
fallback scenarios already booted (and rebooted, reset, moved to another
kernel) instead of booting a smoke fleet of its own. Whatever kernel a host
runs by then, these must hold.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from testinfra.host import Host

# The Debian release of each platform's image (molecule.yml: suite, default bookworm).
RELEASES = {"bookworm": "12", "trixie": "13"}


def platform_suite(name: str) -> str:
    scenario = Path(os.environ.get("MOLECULE_SCENARIO_DIRECTORY", ".")) / "molecule.yml"
    platforms = yaml.safe_load(scenario.read_text()).get("platforms", []) if scenario.exists() else []
    return next((p.get("suite", "bookworm") for p in platforms if p.get("name") == name), "bookworm")


def test_hostname_matches_inventory(host: Host) -> None:
    assert host.check_output("hostname") == host.backend.get_hostname()


def test_debian_release_of_its_image(host: Host) -> None:
    assert host.system_info.distribution == "debian"
    assert host.system_info.release.startswith(RELEASES[platform_suite(host.backend.get_hostname())])


def test_ssh_login_as_agentns(host: Host) -> None:
    assert host.user().name == "agentns"
    assert host.run("true").rc == 0


def test_passwordless_sudo(host: Host) -> None:
    assert host.run("sudo -n true").rc == 0
    with host.sudo():
        assert host.check_output("id -u") == "0"


def test_serial_console_and_dhcp(host: Host) -> None:
    # The power-cycle and console hooks read this console (fleet.py).
    assert "console=ttyS0,115200" in host.file("/proc/cmdline").content_string
    assert "inet 10.0.2.15/" in host.check_output("ip -4 -o addr show")


def test_watchdog_device_present(host: Host) -> None:
    # QEMU's i6300esb, which agentns_install arms for the trial boot.
    assert host.file("/dev/watchdog").exists
