"""Where the fallback scenario leaves its hosts, run by Molecule's testinfra verifier.

converge.yml made fb1's trial boot panic and fb2's hang in one run, resumed
the rollout on fb1 alone, then rolled the fleet back with removal; fb3 (the
next stage) must never have been touched.
"""

from __future__ import annotations

import re

from testinfra.host import Host

AGENTNS_RELEASE = re.compile(r"7\.3\.\d+-agentns-[0-9a-f]{7}")


def test_canary_rolled_back_with_nothing_left(host: Host) -> None:
    """rollback.yml with removal took fb1 back to the kernel it ran before
    and cleaned up after fb2's failed trial."""
    if host.backend.host not in ("fb1", "fb2"):
        return
    release = host.check_output("uname -r")
    assert not AGENTNS_RELEASE.fullmatch(release), release
    with host.sudo():
        grubenv = host.check_output("grub-editenv list")
        grub_cfg = host.file("/boot/grub/grub.cfg").content_string
        packages = host.run("dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' 'linux-image-*agentns*'")
    assert "saved_entry=" not in grubenv and "next_entry=" not in grubenv, grubenv
    assert "agentns" not in grub_cfg
    assert all(line.split()[-1] == "un" for line in packages.stdout.splitlines()), packages.stdout
    for path in (
        "/etc/default/grub.d/zz-agentns-kernel.cfg",
        "/etc/grub.d/42_agentns_trial",
        "/etc/sysctl.d/60-agentns.conf",
        "/usr/local/bin/agentns-unshare",
        "/var/lib/agentns",
        "/var/cache/agentns",
    ):
        assert not host.file(path).exists, path


def test_next_stage_was_never_touched(host: Host) -> None:
    if host.backend.host != "fb3":
        return
    release = host.check_output("uname -r")
    assert not AGENTNS_RELEASE.fullmatch(release), release
    assert not host.file("/proc/self/agent_session").exists
    kernels = host.check_output("ls /boot").split()
    assert not [k for k in kernels if "agentns" in k], kernels
    assert not host.file("/etc/grub.d/42_agentns_trial").exists
