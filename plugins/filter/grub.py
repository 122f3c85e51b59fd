# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
"""Filters about GRUB that the install role's pre-flight uses."""

from __future__ import annotations

DOCUMENTATION = r"""
name: grubenv_blocker
short_description: Why GRUB cannot write its environment block on this storage
version_added: 0.1.0
description:
  - A one-shot boot (C(grub-reboot)) relies on GRUB clearing C(next_entry) in C(grubenv) at boot.
    GRUB cannot write its environment block through LVM, software RAID or encryption, nor on
    Btrfs or ZFS, so there a one-shot entry is booted again and again.
  - Given what C(grub-probe --target=fs) and C(grub-probe --target=abstraction) print for
    C(/boot/grub), returns why GRUB cannot write there, or an empty string when it can.
options:
  _input:
    description: The file system, as C(grub-probe --target=fs) prints it.
    type: str
    required: true
  abstraction:
    description: The abstractions, as C(grub-probe --target=abstraction) prints them (space separated).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Refuse a one-shot trial where GRUB cannot clear it
  ansible.builtin.fail:
    msg: "{{ fs | agentns.fleet.grubenv_blocker(abstraction) }}"
  when: fs | agentns.fleet.grubenv_blocker(abstraction) | length > 0
"""

RETURN = r"""
_value:
  description: Why GRUB cannot write C(grubenv) there; empty when it can.
  type: str
"""

# grub-probe's names: diskfilter covers lvm and mdraid*; cryptodisk covers
# luks, luks2 and geli.
UNWRITABLE_ABSTRACTIONS = ("diskfilter", "lvm", "mdraid", "raid", "cryptodisk", "luks", "geli", "ldm")
UNWRITABLE_FILESYSTEMS = ("btrfs", "zfs")


def grubenv_blocker(fs: str, abstraction: str = "") -> str:
    fs = (fs or "").strip().lower()
    layers = (abstraction or "").split()
    blocking = [layer for layer in layers if layer.lower().startswith(UNWRITABLE_ABSTRACTIONS)]
    if blocking:
        return f"/boot/grub is on {' + '.join(blocking)}, where GRUB cannot write its environment block"
    if fs in UNWRITABLE_FILESYSTEMS:
        return f"/boot/grub is on {fs}, where GRUB cannot write its environment block"
    if not fs:
        return "grub-probe could not tell what /boot/grub is on"
    return ""


class FilterModule:
    def filters(self) -> dict:
        return {"grubenv_blocker": grubenv_blocker}
