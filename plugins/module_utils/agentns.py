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

import functools
import json
import os
import re
import typing as t

from ansible_collections.agentns.fleet.plugins.module_utils import filecaps, grub, nstree

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
# Where systemd-sysctl(8) looks for sysctl.d(5) files, highest priority first:
# a file in an earlier directory masks a file of the same name in a later one,
# and all the files left are applied in the order of their names.
SYSCTL_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")
# Read last by `sysctl --system` (procps); Debian also links it in as
# /etc/sysctl.d/99-sysctl.conf for systemd-sysctl.
SYSCTL_CONF = "/etc/sysctl.conf"


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

    def __init__(
        self,
        proc: str = "/proc",
        boot: str = "/boot",
        dpkg_query: str | None = "dpkg-query",
        sysctl_dirs: t.Sequence[str] = SYSCTL_DIRS,
        sysctl_conf: str | None = SYSCTL_CONF,
        listns: nstree.ListCall = nstree.libc_listns,
        sys: str = "/sys",
        grub_probe: str | None = "grub-probe",
        grub_cfg: str | None = None,
    ) -> None:
        self.proc = proc
        self.boot = boot
        self.sys = sys
        # Command name or path; None means "do not ask GRUB" (tests).
        self.grub_probe = grub_probe
        # GRUB's menu; its environment block (grubenv) is next to it.
        self.grub_cfg = grub_cfg or os.path.join(boot, "grub", "grub.cfg")
        # Command name or path; None means "do not ask dpkg" (non-Debian hosts, tests).
        self.dpkg_query = dpkg_query
        self.sysctl_dirs = tuple(sysctl_dirs)
        self.sysctl_conf = sysctl_conf
        # listns(2), one page per call (tests pass a fake).
        self.listns = listns

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
        # surrogateescape lets a rewritten file keep bytes that are not UTF-8,
        # and newline="" keeps CRLF line ends as they are.
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError):
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

# Control characters have no place in a path given to systemd-sysctl; a
# newline would even let a value smuggle an extra line into a diff or a log.
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def check_sysctl_file(path: str) -> None:
    """Refuse a sysctl_file that systemd-sysctl would never read, or that is not a plain path."""
    if not path:
        raise AgentNSError("sysctl_file must not be empty")
    if _CONTROL_CHARS.search(path):
        raise AgentNSError(f"sysctl_file must not contain newlines or other control characters: {path!r}")
    if not os.path.isabs(path):
        raise AgentNSError(f"sysctl_file must be an absolute path, got {path!r}")
    if not path.endswith(".conf") or os.path.basename(path) == ".conf":
        raise AgentNSError(f"sysctl_file must be a NAME.conf file (systemd-sysctl reads nothing else), got {path!r}")


def split_lines(text: str | None) -> list[str]:
    """Lines of text, each with its own line end.

    Only '\n' ends a line, as for systemd-sysctl: str.splitlines() would also
    split at form feeds, '\x1c' or U+2028 and misread such a file.
    """
    if not text:
        return []
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def line_ending(text: str | None) -> str:
    """The line end a file uses: CRLF when its first line has one, else LF."""
    first = split_lines(text)[:1]
    return "\r\n" if first and first[0].endswith("\r\n") else "\n"


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
    for line in split_lines(text):
        assignment = conf_assignment(line)
        if assignment and assignment[0] == spec.name:
            found = assignment[1]
    return found


def persisted_value(text: str | None, spec: SysctlSpec) -> int | None:
    """Like persisted_raw_value, as an integer; None when unset or not a number.

    systemd-sysctl knows no inline comments: 'key = 1 # why' hands '1 # why'
    to the kernel, which refuses it, so such a line counts as no number.
    """
    raw = persisted_raw_value(text, spec)
    return None if raw is None else _integer_from_text(raw)


_INLINE_COMMENT = re.compile(r"\s[#;].*$")


def _assignment_lines(line: str, spec: SysctlSpec, value: int) -> list[str]:
    """Rewrite one assignment line, keeping its indentation, '-' prefix and line end.

    An inline comment ('key = 0  # why') is kept on a comment line of its own
    just above: systemd-sysctl would pass it to the kernel as part of the value.
    """
    body = line.rstrip("\r\n")
    newline = line[len(body) :]
    indent = body[: len(body) - len(body.lstrip())]
    prefix = "-" if body.lstrip().startswith("-") else ""
    out = []
    value_text = body.split("=", 1)[1]
    comment = _INLINE_COMMENT.search(value_text)
    if comment:
        out.append(f"{indent}{comment.group(0).strip()}{newline or chr(10)}")
    out.append(f"{indent}{prefix}{spec.name} = {value}{newline}")
    return out


def render_conf(text: str | None, spec: SysctlSpec, value: int, header: str | None = None) -> str:
    """File content with spec set to value; every other line is kept byte for byte.

    All assignments of spec are rewritten (not only the last) so the file does
    not keep a stale value that a reader could mistake for the live one. A line
    the function adds uses the file's own line end (CRLF or LF).
    """
    lines = split_lines(text)
    newline = line_ending(text)
    out = []
    replaced = False
    for line in lines:
        assignment = conf_assignment(line)
        if assignment and assignment[0] == spec.name:
            out.extend(_assignment_lines(line, spec, value))
            replaced = True
        else:
            out.append(line)
    if not replaced:
        if out and not out[-1].endswith("\n"):
            out[-1] += newline
        if not out and header:
            out.append(header.rstrip("\n") + newline)
        # '-' tells systemd-sysctl and sysctl --system to ignore the line on a
        # kernel without agent_ns (a fallback boot) instead of failing the unit.
        out.append(f"-{spec.name} = {value}{newline}")
    return "".join(out)


def remove_from_conf(text: str | None, spec: SysctlSpec) -> str | None:
    """File content without any assignment of spec; None stays None (no file)."""
    if text is None:
        return None
    return "".join(line for line in split_lines(text) if (conf_assignment(line) or ("",))[0] != spec.name)


def _boot_order(paths: HostPaths) -> list[str]:
    """The sysctl.d files systemd-sysctl applies, in the order it applies them."""
    chosen: dict[str, str] = {}
    for directory in paths.sysctl_dirs:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            path = os.path.join(directory, name)
            if name.endswith(".conf") and name not in chosen and os.path.isfile(path):
                chosen[name] = path
    ordered = [chosen[name] for name in sorted(chosen)]
    # sysctl.conf comes last, unless a sysctl.d link (Debian's 99-sysctl.conf)
    # already puts it in its place: systemd-sysctl reads it only through that.
    linked = {os.path.realpath(path) for path in ordered}
    if paths.sysctl_conf and os.path.isfile(paths.sysctl_conf) and os.path.realpath(paths.sysctl_conf) not in linked:
        ordered.append(paths.sysctl_conf)
    return ordered


def shadowing_file(paths: HostPaths, sysctl_file: str, spec: SysctlSpec) -> tuple[str, str] | None:
    """(path, raw value) of the file that sets spec after sysctl_file at boot, if any.

    A file applied later wins; so does a same-named file in a directory that
    masks sysctl_file's own (sysctl_file is then never read at all). The last
    such file is the one whose value the host boots with. Files that resolve
    to sysctl_file itself (Debian's 99-sysctl.conf link) are not counted.
    """
    ours = os.path.realpath(sysctl_file)
    name = os.path.basename(sysctl_file)
    our_dir = os.path.dirname(sysctl_file)
    dirs = [os.path.normpath(d) for d in paths.sysctl_dirs]

    def rank(directory: str) -> int | None:
        directory = os.path.normpath(directory)
        return dirs.index(directory) if directory in dirs else None

    our_rank = rank(our_dir)
    found = None
    for path in _boot_order(paths):
        if os.path.realpath(path) == ours:
            continue
        base = os.path.basename(path)
        its_rank = rank(os.path.dirname(path))
        if path == paths.sysctl_conf:
            later = True
        elif our_rank is None or its_rank is None:
            # sysctl_file is outside the sysctl.d directories: only sysctl.conf comes after it.
            later = False
        else:
            later = base > name or (base == name and its_rank < our_rank)
        if not later:
            continue
        try:
            raw = persisted_raw_value(read_text(path), spec)
        except AgentNSError:
            continue
        if raw is not None:
            found = (path, raw)
    return found


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


def boot_kernels(paths: HostPaths) -> list[str]:
    """Agentns releases with a /boot/vmlinuz-RELEASE."""
    found = []
    try:
        names = os.listdir(paths.boot)
    except OSError:
        return found
    for name in names:
        if not name.startswith("vmlinuz-"):
            continue
        release = name[len("vmlinuz-") :]
        if is_agentns_release(release) and os.path.isfile(os.path.join(paths.boot, name)):
            found.append(release)
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


# --------------------------------------------------------------------------
# Debian version comparison: a port of dpkg's verrevcmp() (lib/dpkg/version.c)


def _isdigit(char: str) -> bool:
    return "0" <= char <= "9"


def _dpkg_order(char: str) -> int:
    """dpkg's order(): digits 0, letters their code, '~' before everything, other characters after letters."""
    if _isdigit(char):
        return 0
    if "a" <= char.lower() <= "z":
        return ord(char)
    if char == "~":
        return -1
    if char:
        return ord(char) + 256
    return 0


def _verrevcmp(left: str, right: str) -> int:
    i = j = 0
    while i < len(left) or j < len(right):
        first_diff = 0
        while (i < len(left) and not _isdigit(left[i])) or (j < len(right) and not _isdigit(right[j])):
            lc = _dpkg_order(left[i]) if i < len(left) else 0
            rc = _dpkg_order(right[j]) if j < len(right) else 0
            if lc != rc:
                return lc - rc
            i += 1
            j += 1
        while i < len(left) and left[i] == "0":
            i += 1
        while j < len(right) and right[j] == "0":
            j += 1
        while i < len(left) and _isdigit(left[i]) and j < len(right) and _isdigit(right[j]):
            if not first_diff:
                first_diff = ord(left[i]) - ord(right[j])
            i += 1
            j += 1
        if i < len(left) and _isdigit(left[i]):
            return 1
        if j < len(right) and _isdigit(right[j]):
            return -1
        if first_diff:
            return first_diff
    return 0


def _split_version(version: str) -> tuple[int, str, str]:
    """(epoch, upstream, revision) as dpkg's parseversion() splits them."""
    version = version.strip()
    epoch = 0
    if ":" in version:
        head, version = version.split(":", 1)
        epoch = int(head) if head.isdigit() else 0
    upstream, revision = version, ""
    if "-" in version:
        upstream, revision = version.rsplit("-", 1)
    return epoch, upstream, revision


def compare_versions(left: str, right: str) -> int:
    """<0, 0 or >0 as `dpkg --compare-versions LEFT lt|eq|gt RIGHT` would answer."""
    left_epoch, left_up, left_rev = _split_version(left)
    right_epoch, right_up, right_rev = _split_version(right)
    if left_epoch != right_epoch:
        return left_epoch - right_epoch
    return _verrevcmp(left_up, right_up) or _verrevcmp(left_rev, right_rev)


def order_kernels(releases: t.Iterable[str]) -> list[str]:
    """Agentns releases, oldest first, in dpkg's version order (ties by name).

    File times are no guide: dpkg gives an image its build time as mtime, and a
    chmod or a backup restore moves its ctime.
    """
    unique = sorted(set(releases))
    return sorted(unique, key=functools.cmp_to_key(compare_versions))


def reboot_pending(running: str, ordered_kernels: list[str]) -> bool:
    """True when the newest installed agentns kernel is not the one running."""
    return bool(ordered_kernels) and ordered_kernels[-1] != running


# --------------------------------------------------------------------------
# what agentns_info and agentns_facts report


def _dpkg_kernels(module: t.Any, paths: HostPaths) -> list[str]:
    """Releases of installed agentns image packages; empty where dpkg is absent."""
    if not paths.dpkg_query:
        return []
    dpkg_query = module.get_bin_path(paths.dpkg_query)
    if not dpkg_query:
        return []
    # dpkg-query exits 1 when no package matches the pattern: that is an empty answer.
    _dummy_rc, out, _dummy_err = module.run_command(dpkg_query_argv(dpkg_query), environ_update={"LC_ALL": "C"})
    return parse_dpkg_kernels(out)


def read_grub(paths: HostPaths) -> dict[str, t.Any]:
    """What GRUB boots next (by default, and once if grub-reboot armed an
    entry), its saved default and each kernel's menu id."""
    grub_cfg = read_text(paths.grub_cfg)
    if grub_cfg is None:
        return dict(NO_GRUB)
    grubenv = read_text(os.path.join(os.path.dirname(paths.grub_cfg), "grubenv"))
    targets = grub.boot_targets(grub_cfg, grubenv)
    return {
        "default": targets["default"],
        "next": targets["next"],
        "saved_entry": grub.parse_grubenv(grubenv).get("saved_entry", ""),
        "entries": grub.entry_ids(grub_cfg),
    }


NO_GRUB: dict[str, t.Any] = {"default": None, "next": None, "saved_entry": "", "entries": {}}

# The EFI variable SecureBoot: 4 attribute bytes, then 1 when it is on.
SECURE_BOOT_VAR = "firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e39e2b7d3a3e"

# What the running kernel says about loading a kernel for kexec: sysfs has
# kexec_loaded only with kexec built in; the sysctls (relative to /proc) and
# the lockdown mode (relative to /sys) only ever get stricter until a reboot.
KEXEC_LOADED = "kernel/kexec_loaded"
KEXEC_LOAD_DISABLED = "sys/kernel/kexec_load_disabled"
KEXEC_LOAD_LIMIT_REBOOT = "sys/kernel/kexec_load_limit_reboot"
LOCKDOWN = "kernel/security/lockdown"
LOCKDOWN_MODE_RE = re.compile(r"\[(\w+)\]")


def _read_stripped(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None


def kexec_blocker(paths: HostPaths) -> str:
    """Why the running kernel would refuse to load the new kernel for kexec,
    "" when nothing it shows stands in the way. Only reads."""
    if not os.path.exists(os.path.join(paths.sys, KEXEC_LOADED)):
        return "the running kernel has no kexec (no /sys/kernel/kexec_loaded)"
    if _read_stripped(os.path.join(paths.proc, KEXEC_LOAD_DISABLED)) == "1":
        return "kernel.kexec_load_disabled = 1, which only a reboot clears"
    # -1 is unlimited; each load counts it down, and at 0 loading is refused.
    if _read_stripped(os.path.join(paths.proc, KEXEC_LOAD_LIMIT_REBOOT)) == "0":
        return "kernel.kexec_load_limit_reboot = 0 (no kexec load left until a reboot)"
    lockdown = LOCKDOWN_MODE_RE.search(_read_stripped(os.path.join(paths.sys, LOCKDOWN)) or "")
    if lockdown and lockdown.group(1) != "none":
        return f"kernel lockdown is in {lockdown.group(1)} mode (/sys/kernel/security/lockdown), which refuses an unsigned kernel for kexec"
    return ""


def probe_boot(module: t.Any, paths: HostPaths) -> dict[str, t.Any]:
    """What the install role's pre-flight needs: what /boot/grub is on
    (grub-probe's fs and abstraction, fs None when it cannot tell), whether
    Secure Boot is on, the bytes free in /boot, and why kexec would not
    load a kernel ("" when nothing stands in the way)."""
    grub_dir = os.path.dirname(paths.grub_cfg)
    answers: dict[str, t.Any] = {"fs": None, "abstraction": ""}
    grub_probe = module.get_bin_path(paths.grub_probe) if paths.grub_probe else None
    if grub_probe:
        for target in answers:
            rc, out, _dummy_err = module.run_command([grub_probe, f"--target={target}", grub_dir], environ_update={"LC_ALL": "C"})
            if rc == 0:
                answers[target] = out.strip()
    try:
        with open(os.path.join(paths.sys, SECURE_BOOT_VAR), "rb") as handle:
            secure_boot = handle.read()[-1:] == b"\x01"
    except OSError:
        secure_boot = False
    try:
        usage = os.statvfs(paths.boot)
        free: int | None = usage.f_bavail * usage.f_frsize
    except OSError:
        free = None
    return {
        "grub_fs": answers["fs"],
        "grub_abstraction": answers["abstraction"],
        "secure_boot": secure_boot,
        "boot_free_bytes": free,
        "kexec_blocker": kexec_blocker(paths),
    }


def _read_sysctls(paths: HostPaths) -> dict[str, int | None] | None:
    if not sysctl_interface_present(paths):
        return None
    return {spec.short_name: read_runtime(spec, paths) for spec in SYSCTLS.values()}


def _read_or_warn(module: t.Any, reader: t.Callable[[HostPaths], t.Any], paths: HostPaths) -> t.Any:
    """Run one reader; a malformed kernel file becomes None and a warning, not a failed task."""
    try:
        return reader(paths)
    except AgentNSError as exc:
        module.warn(str(exc))
        return None


def read_tree(paths: HostPaths) -> dict[str, t.Any]:
    """The initial agent namespace's id and type and the count alive; all None where the kernel has no tree entry."""
    try:
        return nstree.read_tree(paths.proc, paths.listns)
    except OSError:
        # Normal before the rollout: the stock kernel has no agent namespace.
        return {"initial_namespace": None, "namespaces_alive": None}


def gather(module: t.Any, paths: HostPaths, files: t.Sequence[str] = (), boot_probe: bool = False) -> dict[str, t.Any]:
    """Everything agentns_info and agentns_facts report about the host (module:
    an AnsibleModule); files: paths to describe; boot_probe: add probe_boot's answers."""
    running = running_release(paths)
    kernels = order_kernels(boot_kernels(paths) + _dpkg_kernels(module, paths))
    session_id = _read_or_warn(module, read_session_id, paths)
    boot = _read_or_warn(module, read_grub, paths) or dict(NO_GRUB)
    return {
        "supported": kernel_supported(paths),
        "running_kernel": running,
        "running_agentns": is_agentns_release(running),
        "installed_agentns_kernels": kernels,
        "latest_agentns_kernel": kernels[-1] if kernels else None,
        "reboot_pending": reboot_pending(running, kernels),
        "boot_default_kernel": boot["default"],
        "boot_default_differs": boot["default"] is not None and boot["default"] != running,
        "boot_next_kernel": boot["next"],
        "boot_saved_entry": boot["saved_entry"],
        "boot_entries": boot["entries"],
        "boot_probe": probe_boot(module, paths) if boot_probe else None,
        "files": {path: filecaps.describe(path) for path in files},
        "sysctls": _read_or_warn(module, _read_sysctls, paths),
        "session_id": session_id,
        "in_agent_namespace": session_id is not None and session_id != NULL_SESSION_ID,
        "namespace": read_namespace_link(paths),
        "counters": _read_or_warn(module, read_counters, paths),
        **read_tree(paths),
    }
