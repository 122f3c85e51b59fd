# Copyright: (c) 2026, the agentns contributors
# GNU General Public License v2.0 only (see https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)
# SPDX-License-Identifier: GPL-2.0-only
"""A file's state as the verify and selftest roles need it (exists, executable,
file capabilities), read in the module's own process: getcap and stat would
be one module run on the host each."""

from __future__ import annotations

import os
import stat
import struct
import typing as t

# include/uapi/linux/capability.h, in bit order.
CAPABILITY_NAMES = (
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
)

XATTR_NAME = "security.capability"
_REVISION_MASK = 0xFF000000
_REVISION_1 = 0x01000000
_FLAG_EFFECTIVE = 0x000001


def _name(bit: int) -> str:
    return CAPABILITY_NAMES[bit] if bit < len(CAPABILITY_NAMES) else f"cap_{bit}"


def format_capabilities(raw: bytes | None) -> str:
    """The security.capability xattr (struct vfs_cap_data, revision 1 to 3) in
    getcap's notation: "cap_sys_admin=ep", capabilities with the same flags
    grouped ("cap_net_raw,cap_sys_admin=ep cap_chown=i"); "" without any."""
    if not raw or len(raw) < 12:
        return ""
    magic, permitted_lo, inheritable_lo = struct.unpack_from("<III", raw)
    permitted, inheritable = permitted_lo, inheritable_lo
    if magic & _REVISION_MASK != _REVISION_1 and len(raw) >= 20:
        permitted_hi, inheritable_hi = struct.unpack_from("<II", raw, 12)
        permitted |= permitted_hi << 32
        inheritable |= inheritable_hi << 32
    effective = bool(magic & _FLAG_EFFECTIVE)
    groups: dict[str, list[str]] = {}
    for bit in range(64):
        held = permitted >> bit & 1
        # getcap writes the flags in the order e, i, p.
        flags = ("e" if effective and held else "") + ("i" if inheritable >> bit & 1 else "") + ("p" if held else "")
        if flags:
            groups.setdefault(flags, []).append(_name(bit))
    return " ".join(f"{','.join(names)}={flags}" for flags, names in groups.items())


def describe(path: str, getxattr: t.Callable[[str, str], bytes] = os.getxattr) -> dict[str, t.Any]:
    """exists, executable (a regular file with an execute bit) and capabilities of path."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return {"exists": False, "executable": False, "capabilities": ""}
    try:
        raw: bytes | None = getxattr(path, XATTR_NAME)
    except OSError:
        # ENODATA: no capabilities; ENOTSUP: a file system without xattrs.
        raw = None
    return {
        "exists": True,
        "executable": stat.S_ISREG(info.st_mode) and bool(info.st_mode & 0o111),
        "capabilities": format_capabilities(raw),
    }
