"""After side_effect.yml: the drifted host is back in line and the steady one was never touched."""

from __future__ import annotations

import re

import pytest
from testinfra.host import Host

SYSCTL_FILE = "/etc/sysctl.d/60-agentns.conf"
WANTED = {"enabled": 1, "max_lifetime": 7200}  # molecule.yml group_vars


def persisted(host: Host, name: str) -> list[int]:
    text = host.file(SYSCTL_FILE).content_string
    return [int(v) for v in re.findall(rf"^-?kernel\.agent_ns\.{name}\s*=\s*(\d+)\s*$", text, re.MULTILINE)]


@pytest.mark.parametrize("name", sorted(WANTED))
def test_live_value_is_back(host: Host, name: str) -> None:
    assert int(host.file(f"/proc/sys/kernel/agent_ns/{name}").content_string) == WANTED[name]


@pytest.mark.parametrize("name", sorted(WANTED))
def test_persisted_value_is_back(host: Host, name: str) -> None:
    # Every assignment, not only the last: the fix rewrites all of them.
    assert persisted(host, name) == [WANTED[name]]


def test_sysctl_file_mode(host: Host) -> None:
    conf = host.file(SYSCTL_FILE)
    assert conf.user == "root"
    assert conf.mode == 0o644


def test_agent_namespaces_still_work(host: Host) -> None:
    session = host.check_output("/usr/local/bin/agentns-unshare cat /proc/self/agent_session")
    assert re.fullmatch(r"[0-9a-f]{32}", session)
    assert session != "0" * 32
