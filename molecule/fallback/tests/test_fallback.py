"""Where the fallback scenario leaves its hosts, run by Molecule's testinfra verifier.

converge.yml made fb1's trial boot panic, then hang, then resumed the rollout
on fb1 alone; fb2 (the next stage) must never have been touched.
"""

from __future__ import annotations

import re

from testinfra.host import Host

AGENTNS_RELEASE = re.compile(r"7\.3\.\d+-agentns-[0-9a-f]{7}")


def test_canary_ends_on_the_verified_kernel(host: Host) -> None:
    if host.backend.host != "fb1":
        return
    release = host.check_output("uname -r")
    assert AGENTNS_RELEASE.fullmatch(release), release
    with host.sudo():
        env_lines = host.check_output("grub-editenv list").splitlines()
        grub_cfg = host.file("/boot/grub/grub.cfg").content_string
    grubenv = dict(line.split("=", 1) for line in env_lines if "=" in line)
    assert f"gnulinux-{release}-advanced-" in grubenv.get("saved_entry", ""), grubenv
    assert not grubenv.get("next_entry"), grubenv
    assert "agentns-trial" not in grub_cfg


def test_next_stage_was_never_touched(host: Host) -> None:
    if host.backend.host != "fb2":
        return
    release = host.check_output("uname -r")
    assert not AGENTNS_RELEASE.fullmatch(release), release
    assert not host.file("/proc/self/agent_session").exists
    kernels = host.check_output("ls /boot").split()
    assert not [k for k in kernels if "agentns" in k], kernels
    assert not host.file("/etc/grub.d/42_agentns_trial").exists
