# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
from __future__ import annotations

import pytest
from ansible_collections.agentns.fleet.plugins.filter.grub import FilterModule, grubenv_blocker


@pytest.mark.parametrize(
    ("fs", "abstraction"),
    [("ext2", ""), ("xfs", ""), ("vfat", ""), ("ext2", "\n")],
)
def test_plain_storage_is_writable(fs: str, abstraction: str) -> None:
    assert grubenv_blocker(fs, abstraction) == ""


@pytest.mark.parametrize(
    ("fs", "abstraction", "named"),
    [
        ("ext2", "diskfilter lvm", "diskfilter + lvm"),
        ("ext2", "diskfilter mdraid1x", "diskfilter + mdraid1x"),
        ("ext2", "cryptodisk luks2", "cryptodisk + luks2"),
        ("btrfs", "", "btrfs"),
        ("zfs", "", "zfs"),
    ],
)
def test_storage_grub_cannot_write_is_named(fs: str, abstraction: str, named: str) -> None:
    assert f"/boot/grub is on {named}, where GRUB cannot write" in grubenv_blocker(fs, abstraction)


def test_unknown_storage_is_not_taken_as_writable() -> None:
    assert grubenv_blocker("", "") == "grub-probe could not tell what /boot/grub is on"


def test_registered_under_its_name() -> None:
    assert FilterModule().filters()["grubenv_blocker"] is grubenv_blocker
