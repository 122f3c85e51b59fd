# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
"""File capabilities read from the security.capability xattr, printed as getcap prints them."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from ansible_collections.agentns.fleet.plugins.module_utils import filecaps

SYS_ADMIN = 1 << 21


def vfs_cap(permitted: int, inheritable: int = 0, effective: bool = True, revision: int = 2) -> bytes:
    magic = (revision << 24) | (1 if effective else 0)
    if revision == 1:
        return struct.pack("<III", magic, permitted, inheritable)
    data = struct.pack("<IIIII", magic, permitted & 0xFFFFFFFF, inheritable & 0xFFFFFFFF, permitted >> 32, inheritable >> 32)
    # Revision 3 (a user namespace's file capability) adds the root uid.
    return data + (struct.pack("<I", 100000) if revision == 3 else b"")


@pytest.mark.parametrize("revision", [1, 2, 3])
def test_sys_admin_effective_and_permitted(revision: int) -> None:
    assert filecaps.format_capabilities(vfs_cap(SYS_ADMIN, revision=revision)) == "cap_sys_admin=ep"


def test_grouped_by_flags_and_high_bits() -> None:
    raw = vfs_cap(permitted=SYS_ADMIN | (1 << 13) | (1 << 39), inheritable=1, effective=False)
    assert filecaps.format_capabilities(raw) == "cap_chown=i cap_net_raw,cap_sys_admin,cap_bpf=p"


@pytest.mark.parametrize("raw", [None, b"", b"\x00\x00\x00\x02"])
def test_no_or_short_xattr_is_no_capability(raw: bytes | None) -> None:
    assert filecaps.format_capabilities(raw) == ""


def test_describe(tmp_path: Path) -> None:
    shim = tmp_path / "shim"
    shim.write_text("#!/bin/sh\n")
    shim.chmod(0o755)
    data = tmp_path / "data"
    data.write_text("")

    def getxattr(path: str, name: str) -> bytes:
        assert name == "security.capability"
        if path == str(shim):
            return vfs_cap(SYS_ADMIN)
        raise OSError(61, "No data available")

    assert filecaps.describe(str(shim), getxattr) == {"exists": True, "executable": True, "capabilities": "cap_sys_admin=ep"}
    assert filecaps.describe(str(data), getxattr) == {"exists": True, "executable": False, "capabilities": ""}
    assert filecaps.describe(str(tmp_path), getxattr)["executable"] is False
    assert filecaps.describe(str(tmp_path / "gone"), getxattr) == {"exists": False, "executable": False, "capabilities": ""}
