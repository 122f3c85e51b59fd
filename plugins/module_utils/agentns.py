# Copyright: (c) 2026, the agentns contributors
# GNU General Public License v2.0 only (see https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)
# SPDX-License-Identifier: GPL-2.0-only
"""Shared helpers for the agentns.fleet modules.

Everything that looks at the host goes through a HostPaths object, so the
unit tests can stand a temporary directory in for /proc and /boot.  The code
runs on the managed host, so it keeps to what Python 3.7 understands
(ansible-core 2.17 still supports 3.7 targets): annotations stay unevaluated.
"""

from __future__ import annotations

import json
import os
import re
import typing as t

SESSION_ID_RE = re.compile(r"^[0-9a-f]{32}$")
NULL_SESSION_ID = "0" * 32
COUNTER_KEYS = (
    "total_syscalls",
    "openat_count",
    "write_bytes",
    "connect_count",
    "unlink_count",
    "fork_count",
    "elapsed_ns",
)
KERNEL_MARKER = "agentns"
IMAGE_PACKAGE_PREFIX = "linux-image-"
DEFAULT_SYSCTL_FILE = "/etc/sysctl.d/60-agentns.conf"


class AgentNSError(Exception):
    """A problem to report to the user as it stands (bad value, unreadable file...)."""


class SysctlSpec:
    """One agent_ns sysctl: its dotted name and the integer range it accepts."""

    def __init__(self, name: str, minimum: int, maximum: int, default: int, boolean: bool = False) -> None:
        self.name = name
        self.minimum = minimum
        self.maximum = maximum
        self.default = default
        self.boolean = boolean

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[1]

    @property
    def proc_relpath(self) -> str:
        """Path below the proc root, e.g. sys/kernel/agent_ns/enabled."""
        return os.path.join("sys", *self.name.split("."))


SYSCTLS = {
    spec.name: spec
    for spec in (
        SysctlSpec("kernel.agent_ns.enabled", 0, 1, 1, boolean=True),
        SysctlSpec("kernel.agent_ns.max_lifetime", 1, 2**31 - 1, 86400),
    )
}
SYSCTL_NAME_CHOICES = sorted(list(SYSCTLS) + [spec.short_name for spec in SYSCTLS.values()])


class HostPaths:
    """Where the host's kernel interfaces live; the defaults are the real ones."""

    def __init__(self, proc: str = "/proc", boot: str = "/boot", dpkg_query: str | None = "dpkg-query") -> None:
        self.proc = proc
        self.boot = boot
        # Command name or path; None means "do not ask dpkg" (non-Debian hosts, tests).
        self.dpkg_query = dpkg_query

    def sysctl_dir(self) -> str:
        return os.path.join(self.proc, "sys", "kernel", "agent_ns")

    def sysctl_file(self, spec: SysctlSpec) -> str:
        return os.path.join(self.proc, spec.proc_relpath)

    def process_file(self, name: str, pid: str = "self") -> str:
        return os.path.join(self.proc, str(pid), name)


# --------------------------------------------------------------------------
# sysctl names and values


def normalize_key(key: str) -> str:
    """Canonical dotted form of a sysctl key as sysctl.d(5) allows writing it.

    A leading '-' (ignore failures) is dropped and '/' separators become dots;
    the agent_ns names contain no dots inside a component, so this is exact.
    """
    key = key.strip()
    if key.startswith("-"):
        key = key[1:].strip()
    return key.strip("/").replace("/", ".")


def lookup_sysctl(name: str) -> SysctlSpec:
    """Find a sysctl by full name (kernel.agent_ns.enabled) or short name (enabled)."""
    key = normalize_key(name or "")
    if key in SYSCTLS:
        return SYSCTLS[key]
    for spec in SYSCTLS.values():
        if key == spec.short_name:
            return spec
    raise AgentNSError("unknown agent_ns sysctl {!r}; expected one of: {}".format(name, ", ".join(SYSCTL_NAME_CHOICES)))


def _integer_from_text(text: str) -> int | None:
    text = text.strip()
    if re.match(r"^[+-]?[0-9]+$", text):
        return int(text)
    return None


def parse_value(spec: SysctlSpec, raw: object) -> int:
    """Turn a user-supplied value into a validated integer for spec, or raise AgentNSError."""
    value: int | None = None
    if isinstance(raw, bool):
        # YAML true/false only make sense for the on/off switch.
        if spec.boolean:
            value = int(raw)
    elif isinstance(raw, int):
        value = raw
    elif isinstance(raw, str):
        value = _integer_from_text(raw)
        if value is None and spec.boolean:
            value = {"true": 1, "yes": 1, "on": 1, "false": 0, "no": 0, "off": 0}.get(raw.strip().lower())
    if value is None:
        kind = "an integer or a boolean" if spec.boolean else "an integer"
        raise AgentNSError(f"{spec.name} must be {kind}, got {raw!r}")
    if not spec.minimum <= value <= spec.maximum:
        raise AgentNSError(f"{spec.name} must be between {spec.minimum} and {spec.maximum}, got {value}")
    return value


# --------------------------------------------------------------------------
# runtime values under /proc/sys


def read_text(path: str) -> str | None:
    """Contents of path, or None when it does not exist."""
    try:
        # surrogateescape lets a rewritten file keep bytes that are not UTF-8.
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AgentNSError(f"cannot read {path}: {exc}")


def sysctl_interface_present(paths: HostPaths) -> bool:
    return os.path.isdir(paths.sysctl_dir())


def kernel_supported(paths: HostPaths) -> bool:
    """True when the running kernel carries the agent namespace series."""
    return sysctl_interface_present(paths) or os.path.exists(paths.process_file("agent_session"))


def read_runtime(spec: SysctlSpec, paths: HostPaths) -> int | None:
    """Current kernel value, or None when the kernel has no such sysctl."""
    path = paths.sysctl_file(spec)
    text = read_text(path)
    if text is None:
        return None
    value = _integer_from_text(text)
    if value is None:
        raise AgentNSError(f"unexpected content in {path}: {text!r}")
    return value


def write_runtime(spec: SysctlSpec, value: int, paths: HostPaths) -> None:
    """Set the kernel value and check that the kernel took it."""
    path = paths.sysctl_file(spec)
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(f"{value}\n")
    except OSError as exc:
        raise AgentNSError(f"cannot write {value} to {path}: {exc}")
    now = read_runtime(spec, paths)
    if now != value:
        raise AgentNSError(f"wrote {value} to {path} but it reads back {now!r}")


# --------------------------------------------------------------------------
# persisted values in a sysctl.d file


def conf_assignment(line: str) -> tuple[str, str] | None:
    """(canonical key, value) for an assignment line of a sysctl.d file, else None."""
    stripped = line.strip()
    if not stripped or stripped[0] in "#;" or "=" not in stripped:
        return None
    key, value = stripped.split("=", 1)
    return normalize_key(key), value.strip()


def persisted_raw_value(text: str | None, spec: SysctlSpec) -> str | None:
    """The value a sysctl.d file gives spec (the last assignment wins), or None."""
    found = None
    for line in (text or "").splitlines():
        assignment = conf_assignment(line)
        if assignment and assignment[0] == spec.name:
            found = assignment[1]
    return found


def persisted_value(text: str | None, spec: SysctlSpec) -> int | None:
    """Like persisted_raw_value, as an integer; None when unset or not a number."""
    raw = persisted_raw_value(text, spec)
    return None if raw is None else _integer_from_text(raw)


def _assignment_line(line: str, spec: SysctlSpec, value: int) -> str:
    """Rewrite one assignment line, keeping its indentation, '-' prefix and newline."""
    body = line.rstrip("\r\n")
    newline = line[len(body) :]
    indent = body[: len(body) - len(body.lstrip())]
    prefix = "-" if body.lstrip().startswith("-") else ""
    return f"{indent}{prefix}{spec.name} = {value}{newline}"


def render_conf(text: str | None, spec: SysctlSpec, value: int, header: str | None = None) -> str:
    """File content with spec set to value; every other line is kept as it was.

    All assignments of spec are rewritten (not only the last) so the file does
    not keep a stale value that a reader could mistake for the live one.
    """
    lines = (text or "").splitlines(True)
    out = []
    replaced = False
    for line in lines:
        assignment = conf_assignment(line)
        if assignment and assignment[0] == spec.name:
            out.append(_assignment_line(line, spec, value))
            replaced = True
        else:
            out.append(line)
    if not replaced:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        if not out and header:
            out.append(header if header.endswith("\n") else header + "\n")
        # '-' tells systemd-sysctl and sysctl --system to ignore the line on a
        # kernel without agent_ns (a fallback boot) instead of failing the unit.
        out.append(f"-{spec.name} = {value}\n")
    return "".join(out)


# --------------------------------------------------------------------------
# per-process files


def parse_session_id(text: str) -> str:
    session = text.strip()
    if not SESSION_ID_RE.match(session):
        raise AgentNSError(f"agent_session is not 32 lowercase hex digits: {text!r}")
    return session


def parse_counters(text: str) -> dict[str, int]:
    try:
        counters = json.loads(text)
    except ValueError as exc:
        raise AgentNSError(f"agent_counters is not JSON: {exc}")
    if not isinstance(counters, dict) or set(counters) != set(COUNTER_KEYS):
        raise AgentNSError("agent_counters must hold exactly the keys {}: {!r}".format(", ".join(COUNTER_KEYS), text))
    for key in COUNTER_KEYS:
        value = counters[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise AgentNSError(f"agent_counters {key} is not an unsigned integer: {value!r}")
    return counters


def read_session_id(paths: HostPaths, pid: str = "self") -> str | None:
    text = read_text(paths.process_file("agent_session", pid))
    return None if text is None else parse_session_id(text)


def read_counters(paths: HostPaths, pid: str = "self") -> dict[str, int] | None:
    text = read_text(paths.process_file("agent_counters", pid))
    return None if text is None else parse_counters(text)


def read_namespace_link(paths: HostPaths, pid: str = "self") -> str | None:
    """Target of /proc/PID/ns/agent (agent:[INODE]), or None without the namespace."""
    try:
        return os.readlink(os.path.join(paths.proc, str(pid), "ns", "agent"))
    except OSError:
        return None


# --------------------------------------------------------------------------
# installed and running kernels


def is_agentns_release(release: str | None) -> bool:
    return bool(release) and KERNEL_MARKER in release


def running_release(paths: HostPaths) -> str:
    """uname -r, read through the proc root so tests can fake it."""
    text = read_text(os.path.join(paths.proc, "sys", "kernel", "osrelease"))
    return text.strip() if text else os.uname().release


def boot_kernels(paths: HostPaths) -> dict[str, float]:
    """Agentns releases with a /boot/vmlinuz-RELEASE, mapped to their install time.

    The inode change time is used because dpkg keeps the build time as the
    mtime, while the ctime is set when the file lands in /boot.
    """
    found = {}
    try:
        names = os.listdir(paths.boot)
    except OSError:
        return found
    for name in names:
        if not name.startswith("vmlinuz-"):
            continue
        release = name[len("vmlinuz-") :]
        path = os.path.join(paths.boot, name)
        if is_agentns_release(release) and os.path.isfile(path):
            found[release] = os.stat(path).st_ctime
    return found


def dpkg_query_argv(dpkg_query: str) -> list[str]:
    return [dpkg_query, "-W", "-f=${Package}\\t${Status}\\n", IMAGE_PACKAGE_PREFIX + "*" + KERNEL_MARKER + "*"]


def parse_dpkg_kernels(output: str) -> list[str]:
    """Releases of installed linux-image-*agentns* packages in dpkg-query output.

    Lines are 'PACKAGE<TAB>WANT FLAG STATUS'; debug-symbol packages are skipped.
    """
    releases = []
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) != 2:
            continue
        package, status = fields[0].strip(), fields[1].split()
        if not package.startswith(IMAGE_PACKAGE_PREFIX) or package.endswith("-dbg"):
            continue
        if not status or status[-1] != "installed":
            continue
        release = package[len(IMAGE_PACKAGE_PREFIX) :]
        if is_agentns_release(release) and release not in releases:
            releases.append(release)
    return releases


def version_key(release: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key comparing digit runs as numbers, like sort -V for kernel releases."""
    return tuple((1, int(part), "") if part.isdigit() else (0, 0, part) for part in re.split(r"([0-9]+)", release) if part)


def order_kernels(install_times: dict[str, float], releases: t.Iterable[str] = ()) -> list[str]:
    """All known agentns releases, oldest first: by install time, then by version.

    Releases dpkg knows about but that have no file in /boot sort first.
    """
    every = set(install_times) | set(releases)
    return sorted(every, key=lambda rel: (install_times.get(rel, 0.0), version_key(rel)))


def reboot_pending(running: str, ordered_kernels: list[str]) -> bool:
    """True when the newest installed agentns kernel is not the one running."""
    return bool(ordered_kernels) and ordered_kernels[-1] != running
