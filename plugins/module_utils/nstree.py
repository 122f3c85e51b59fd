# Copyright: (c) 2026, the agentns contributors
# GNU General Public License v2.0 only (see https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)
# SPDX-License-Identifier: GPL-2.0-only
"""The agent namespace in the kernel's namespace tree (Linux 7.x nsfs and listns(2)).

The numbers are the kernel ABI the agentns series adds to include/uapi/linux/nsfs.h
(AGENT_NS, AGENT_NS_INIT_ID) next to upstream's (NS_GET_ID, NS_GET_NSTYPE, listns).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import platform
import struct
import typing as t

AGENT_NS_TYPE = 0x00400000
AGENT_NS_INIT_ID = 9

# _IO(0xb7, 3) and _IOR(0xb7, 13, __u64)
NS_GET_NSTYPE = 0xB703
NS_GET_ID = 0x8008B70D

# listns(2) has the same number on every architecture with the unified
# syscall table; the others are left out rather than guessed.
LISTNS_SYSCALL = {"x86_64": 470, "aarch64": 470, "riscv64": 470, "ppc64le": 470, "s390x": 470}
LISTNS_PAGE = 256


class NsIdReq(ctypes.Structure):
    """struct ns_id_req (NS_ID_REQ_SIZE_VER0, 32 bytes)."""

    _fields_ = [
        ("size", ctypes.c_uint32),
        ("spare", ctypes.c_uint32),
        ("ns_id", ctypes.c_uint64),
        ("ns_type", ctypes.c_uint32),
        ("spare2", ctypes.c_uint32),
        ("user_ns_id", ctypes.c_uint64),
    ]


ListCall = t.Callable[[int, int], t.List[int]]


def namespace_id(fd: int) -> int:
    """NS_GET_ID of an nsfs file descriptor."""
    return struct.unpack("=Q", fcntl.ioctl(fd, NS_GET_ID, bytes(8)))[0]


def namespace_type(fd: int) -> int:
    """NS_GET_NSTYPE of an nsfs file descriptor."""
    return fcntl.ioctl(fd, NS_GET_NSTYPE)


def libc_listns(ns_type: int, after: int) -> list[int]:
    """One page of listns(2) for ns_type after the id `after`; [] when nothing follows."""
    number = LISTNS_SYSCALL.get(platform.machine())
    if number is None:
        raise OSError(errno.ENOSYS, "listns(2): unknown syscall number on " + platform.machine())
    libc = ctypes.CDLL(None, use_errno=True)
    req = NsIdReq(size=ctypes.sizeof(NsIdReq), ns_id=after, ns_type=ns_type)
    ids = (ctypes.c_uint64 * LISTNS_PAGE)()
    count = libc.syscall(ctypes.c_long(number), ctypes.byref(req), ids, ctypes.c_size_t(LISTNS_PAGE), 0)
    if count < 0:
        err = ctypes.get_errno()
        # ENOENT: no namespace after `after`.
        if err == errno.ENOENT and after:
            return []
        raise OSError(err, "listns(2): " + os.strerror(err))
    return list(ids[:count])


def list_namespaces(ns_type: int, listns: ListCall = libc_listns) -> list[int]:
    """Every id listns(2) returns for ns_type, page by page."""
    found: list[int] = []
    while True:
        page = listns(ns_type, found[-1] if found else 0)
        found.extend(page)
        if len(page) < LISTNS_PAGE:
            return found


def read_tree(proc: str, listns: ListCall = libc_listns) -> dict[str, t.Any]:
    """The id and type of the initial agent namespace (pid 1's) and, as root, how many are alive.

    Raises OSError where the kernel has no agent namespace in its tree (no
    /proc/1/ns/agent, an older series without the type, no listns(2)).
    """
    fd = os.open(os.path.join(proc, "1", "ns", "agent"), os.O_RDONLY | os.O_CLOEXEC)
    try:
        initial = {"id": namespace_id(fd), "type": namespace_type(fd)}
    finally:
        os.close(fd)
    if initial["type"] != AGENT_NS_TYPE:
        raise OSError(errno.EOPNOTSUPP, "the agent namespace is not in this kernel's namespace tree (type {:#x})".format(initial["type"]))
    # Unprivileged, listns(2) shows only the caller's own namespaces.
    alive = len(list_namespaces(AGENT_NS_TYPE, listns)) if os.geteuid() == 0 else None
    return {"initial_namespace": initial, "namespaces_alive": alive}
