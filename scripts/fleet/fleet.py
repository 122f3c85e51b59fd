#!/usr/bin/env python3
"""Launch and manage the agentns test fleet: Debian VMs under QEMU (TCG).

Every VM runs the cached base image (scripts/fleet/build-image.sh) from its
own qcow2 overlay, so each run starts clean (`up --image DIR` or
$AGENTNS_FLEET_IMAGE: that image for every VM instead). SSH is forwarded from
127.0.0.1; the serial console is logged to a file, and a QMP socket lets
`reset` power-cycle a VM the way a BMC would.

A VM starts from a booted-state snapshot of its shape (image, memory,
vCPUs, extra disk): its overlay on the snapshot's disk and QEMU restoring
the saved RAM and devices (-incoming), a few seconds of CPU where a boot
through BIOS, GRUB and systemd takes a minute under TCG. Then the guest
gets the host's time and a machine id of its own. The first `up` that needs
a shape makes its snapshot, under a lock in the image's directory (a second
`up` waits and uses it): one VM boots as below, syncs, and its state is
saved with QMP stop and migrate. A restore that fails boots that VM cold
instead, once, and drops the snapshot so the next `up` makes a new one.
`up --cold-boot` or AGENTNS_FLEET_BOOT=cold boots every VM through BIOS
and GRUB, as a reset or power cycle always does.

All state (ports, pids, paths) lives in STATE_DIR/state.json; `down` stops
only the QEMU processes recorded there (and the state dir's repository
server, see `serve`).

`serve` starts an HTTP server on 127.0.0.1 (read-only, stdlib) for a
directory of this machine, which the VMs reach at http://10.0.2.2:PORT/ (the
test fleet's stand-in for a fleet's apt repository web server). It is one per
state dir, noted in STATE_DIR/repo-server.json, and carries its run id and
deadline like a VM: `down` and `reap` stop it, and it exits by itself at its
deadline.

QEMU runs as a child of `up` in a session of its own (no -daemonize), so an
interrupted `up` (INT, TERM, HUP) stops the VMs it started. Every VM carries
its run's id ($AGENTNS_RUN_ID, else a fresh one per `up`) and a deadline
($AGENTNS_FLEET_MAX_LIFETIME seconds from its start, default 10800) on its
QEMU command line, and is listed in a registry shared by every checkout
($AGENTNS_CACHE_DIR/fleet/registry/PID.json). `reap` stops the expired VMs
and servers of any checkout, or all those of one run (--run-id), after
checking the pid's command line; `up` reaps expired VMs before it starts new
ones.

Waits tell slow from dead: while waiting for SSH they watch the serial
console grow and reach `login:` and ask QMP `query-status` (a restored VM
prints nothing: QMP and SSH alone tell, with the same timeouts). A VM that exits,
stops, pauses on an I/O error (full disk) or prints nothing for
--stall-timeout seconds ($AGENTNS_FLEET_STALL_TIMEOUT, default 240) fails at
once; a VM that makes progress gets up to --timeout seconds
($AGENTNS_FLEET_BOOT_TIMEOUT, default 900: a boot to SSH took 170-185 s and a
reset --wait 340 s with two scenarios on 2 cores).

    fleet.py up --count 2 --name vm --state-dir DIR  [--cold-boot]
    fleet.py inventory --state-dir DIR > hosts.yml
    fleet.py reset vm-1 --wait --state-dir DIR
    fleet.py pause vm-1 --state-dir DIR       (a host that vanishes: QMP stop)
    fleet.py resume vm-1 --wait --state-dir DIR
    fleet.py ssh --state-dir DIR vm-1 uname -r   (options before the name)
    fleet.py serve --state-dir DIR [--lifetime SECONDS] DIRECTORY   (prints its json)
    fleet.py down --state-dir DIR             (the VMs and the repository server)
    fleet.py reap [--run-id ID]

--state-dir defaults to $AGENTNS_FLEET_STATE_DIR, else build/fleet.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import functools
import hashlib
import http.server
import itertools
import json
import math
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FLEET_SCRIPT = Path(__file__).resolve()
HERE = FLEET_SCRIPT.parent
REPO = HERE.parent.parent
BUILD_IMAGE = HERE / "build-image.sh"
STATE_FILE = "state.json"
SSH_USER = "agentns"
# ServerAlive*: after a reboot or reset, an SSH connection (or Ansible's
# ControlMaster) to the old boot would otherwise hang forever, since QEMU's
# user-mode network never tells the host side that the guest went away.
SSH_OPTIONS = (
    "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o IdentitiesOnly=yes -o ServerAliveInterval=5 -o ServerAliveCountMax=3"
)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
# A unix socket path must fit in sun_path (108 bytes with the NUL).
MAX_SOCKET_PATH = 100
CONSOLE_TAIL_LINES = 40
ANSI_ESCAPE = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[()][A-Za-z0-9])")
RUN_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# The timeouts, in one place (see the module docstring for where they come from).
DEFAULT_MAX_LIFETIME = 10800.0
# The Debian release a VM boots unless its spec names another (build-image.sh's AGENTNS_IMAGE_SUITE).
DEFAULT_SUITE = "bookworm"
DEFAULT_BOOT_TIMEOUT = 900.0
DEFAULT_STALL_TIMEOUT = 240.0
QEMU_START_TIMEOUT = 60.0  # until QMP answers after the spawn
BUILD_CLEANUP_TIMEOUT = 60.0  # for build-image.sh to clean up after a signal
POLL_INTERVAL = 1.0
QMP_POLL_INTERVAL = 5.0
# QMP run states in which the guest will never boot on its own.
DEAD_STATES = {"shutdown", "internal-error", "guest-panicked"}
SMBIOS_RUN = "agentns-run="
SMBIOS_DEADLINE = "agentns-deadline="
# The repository server (`serve`): its record in the state dir, its log, and
# the hidden subcommand it runs as (fleet.py itself, so the reaper knows it).
REPO_SERVER_FILE = "repo-server.json"
REPO_SERVER_LOG = "repo-server.log"
REPO_SERVER_NAME = "repo-server"
SERVE_CHILD = "_serve-repo"
REPO_SERVER_START_TIMEOUT = 30.0  # until its port accepts connections
REPO_SERVER_PORT_TAKEN = 3  # its exit status when another process took the port first


def say(message: str) -> None:
    """Progress for humans goes to stderr; stdout is kept for data."""
    print(f"fleet: {message}", file=sys.stderr)


class FleetError(Exception):
    """A failure to report to the user without a traceback."""


class BootStalled(FleetError):
    """The console printed nothing for the stall timeout: the guest is stuck, not slow."""


class RestoreFailed(FleetError):
    """A VM started from a snapshot did not come up (QEMU exited, a bad state, no SSH): boot it cold instead."""

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        self.name = name


class Interrupted(BaseException):
    """INT, TERM or HUP arrived: stop what this command started, then exit."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def raise_interrupted(signum: int, _frame: object) -> None:
    raise Interrupted(signum)


HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def signals_handled_by(handler: Callable[[int, Any], None] | int) -> Iterator[None]:
    """INT/TERM/HUP go to handler during the block; the previous handlers come back after it."""
    previous = {sig: signal.signal(sig, handler) for sig in HANDLED_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def signals_raise() -> contextlib.AbstractContextManager[None]:
    """Turn INT/TERM/HUP into Interrupted, even where they were ignored.

    A background job of a non-interactive shell (scripts/test.sh, a CI step)
    starts with SIGINT ignored; a Ctrl-C must still stop the VMs it started.
    """
    return signals_handled_by(raise_interrupted)


def signals_held() -> contextlib.AbstractContextManager[None]:
    """Let a cleanup run to its end: a second Ctrl-C must not cut it short."""
    return signals_handled_by(signal.SIG_IGN)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold INT/TERM/HUP until the block ends, then deliver the first to ourselves.

    For a spawn and putting its pid on record: a signal raised inside
    subprocess.Popen, after the fork, leaves the child running with no Popen
    object, so no pid anyone could stop.
    """
    pending: list[int] = []
    try:
        with signals_handled_by(lambda signum, _frame: pending.append(signum)):
            yield
    finally:
        if pending:
            signal.raise_signal(pending[0])  # as if it came now: the restored handler decides


def env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise FleetError(f"{name}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise FleetError(f"{name}={raw!r} must be positive")
    return value


def cache_dir() -> Path:
    """$AGENTNS_CACHE_DIR, else ~/.cache/agentns (as build-image.sh)."""
    if os.environ.get("AGENTNS_CACHE_DIR"):
        return Path(os.environ["AGENTNS_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "agentns"


def registry_dir() -> Path:
    return cache_dir() / "fleet" / "registry"


def new_run_id() -> str:
    run_id = os.environ.get("AGENTNS_RUN_ID") or uuid.uuid4().hex
    if not RUN_ID_RE.match(run_id):
        raise FleetError(f"invalid run id {run_id!r} (AGENTNS_RUN_ID: letters, digits, '.', '_', '-')")
    return run_id


@dataclass
class VmSpec:
    """What to boot: one entry of `up`."""

    name: str
    memory: int = 1536
    smp: int = 1
    extra_disk_gb: int = 0
    suite: str = DEFAULT_SUITE


@dataclass
class Vm:
    """A started VM, as recorded in state.json."""

    name: str
    port: int
    pid: int
    dir: str
    overlay: str
    extra_disk: str | None
    console: str
    qmp: str
    memory: int
    smp: int
    started: float
    ssh_ready_seconds: float | None = None
    run_id: str = ""
    deadline: int = 0
    log: str = ""
    pidfile: str = ""  # only VMs of older versions (-daemonize) have one
    # Its image's Debian release and SSH key; records of older versions have
    # neither and use the state's key.
    suite: str = ""
    key: str = ""
    # Started from a booted-state snapshot (this directory) rather than booted;
    # a reset or power cycle afterwards boots its disk as usual.
    restored: bool = False
    snapshot: str = ""


@dataclass
class State:
    """The fleet of one state directory.

    image and key: of the last `up` (each VM notes its own key too).
    """

    path: Path
    image: str = ""
    key: str = ""
    vms: dict[str, Vm] | None = None

    @property
    def machines(self) -> dict[str, Vm]:
        if self.vms is None:
            self.vms = {}
        return self.vms


# --- state ------------------------------------------------------------------


def load_state(state_dir: Path) -> State:
    path = state_dir / STATE_FILE
    if not path.exists():
        return State(path=path, vms={})
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise FleetError(f"cannot read {path}: {err}") from None
    known = set(Vm.__dataclass_fields__)
    vms = {name: Vm(**{k: v for k, v in vm.items() if k in known}) for name, vm in raw.get("vms", {}).items()}
    return State(path=path, image=raw.get("image", ""), key=raw.get("key", ""), vms=vms)


def save_state(state: State) -> None:
    data = {
        "image": state.image,
        "key": state.key,
        "vms": {name: asdict(vm) for name, vm in state.machines.items()},
    }
    write_json_atomically(state.path, data, indent=2)


def write_json_atomically(path: Path, data: Any, indent: int | None = None) -> None:
    """Write under a temporary name, then rename: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=indent) + "\n")
    tmp.replace(path)


@contextlib.contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    """Serialise commands that change one state directory."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def get_vm(state: State, name: str) -> Vm:
    try:
        return state.machines[name]
    except KeyError:
        known = ", ".join(sorted(state.machines)) or "none"
        raise FleetError(f"no VM named {name!r} in {state.path} (known: {known})") from None


# --- processes and sockets --------------------------------------------------


def cmdline_of(pid: int) -> list[str] | None:
    """The argv of a live process, None if there is none (zombies have none)."""
    if pid <= 0:
        return None
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if not raw:
        return None
    return [arg.decode(errors="replace") for arg in raw.rstrip(b"\0").split(b"\0")]


def qemu_identity(argv: list[str] | None) -> tuple[str, int] | None:
    """(run id, deadline) if argv is a QEMU of this fleet, read from its -smbios."""
    if not argv or not os.path.basename(argv[0]).startswith("qemu-system"):
        return None
    for flag, value in itertools.pairwise(argv):
        if flag != "-smbios" or SMBIOS_RUN not in value:
            continue
        fields = {}
        for item in value.split(","):
            key, _sep, rest = item.partition("=")
            if key == "value":
                name, _sep, text = rest.partition("=")
                fields[name] = text
        try:
            return fields[SMBIOS_RUN[:-1]], int(fields[SMBIOS_DEADLINE[:-1]])
        except (KeyError, ValueError):
            return None
    return None


def repo_server_identity(argv: list[str] | None) -> tuple[str, int] | None:
    """(run id, deadline) if argv is a repository server of this fleet (repo_server_argv)."""
    if not argv or len(argv) < 7 or os.path.basename(argv[1]) != FLEET_SCRIPT.name:
        return None
    if argv[2] != SERVE_CHILD or argv[3] != "--run-id" or argv[5] != "--deadline":
        return None
    try:
        return argv[4], int(argv[6])
    except ValueError:
        return None


def process_identity(argv: list[str] | None) -> tuple[str, int] | None:
    """(run id, deadline) if argv is a process this fleet started: a QEMU or a repository server."""
    return qemu_identity(argv) or repo_server_identity(argv)


def pid_is_ours(vm: Vm) -> bool:
    """True if vm.pid is alive and still the QEMU we started (pids get reused)."""
    argv = cmdline_of(vm.pid)
    if argv is None:
        return False
    if not vm.run_id:  # started by an older version with -daemonize -pidfile
        return os.path.basename(argv[0]).startswith("qemu-system") and bool(vm.pidfile) and vm.pidfile in argv
    return qemu_identity(argv) == (vm.run_id, vm.deadline) and any(vm.overlay in arg for arg in argv)


def signal_if(pid: int, check: Callable[[list[str] | None], bool], sig: int) -> bool:
    """Send sig to pid if its command line passes check; never to a reused pid.

    The pidfd is taken before the check, so a pid that is reused after the
    check cannot receive the signal.
    """
    pidfd = None
    with contextlib.suppress(OSError, AttributeError):
        pidfd = os.pidfd_open(pid)
    try:
        if not check(cmdline_of(pid)):
            return False
        if pidfd is not None:
            signal.pidfd_send_signal(pidfd, sig)
        else:
            os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False
    finally:
        if pidfd is not None:
            os.close(pidfd)


def free_port(taken: set[int]) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port


def ssh_banner(port: int, timeout: float = 3.0) -> bool:
    """True once sshd in the guest answers.

    User-mode networking accepts the TCP connection even while nothing listens
    in the guest, so only the banner proves sshd is up.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def qmp_socket_path(vm_dir: Path) -> Path:
    path = vm_dir / "qmp.sock"
    if len(str(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(vm_dir).encode()).hexdigest()[:16]
    return Path(f"/tmp/agentns-qmp-{os.getuid()}-{digest}.sock")


def qmp(path: str, command: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one QMP command and return its reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(path)
        reader = sock.makefile("r")
        if not reader.readline():  # greeting
            raise FleetError(f"QMP socket {path} closed")
        for execute, args in (("qmp_capabilities", None), (command, arguments)):
            msg: dict[str, Any] = {"execute": execute}
            if args:
                msg["arguments"] = args
            sock.sendall(json.dumps(msg).encode() + b"\n")
            while True:
                line = reader.readline()
                if not line:
                    raise FleetError(f"QMP socket {path} closed")
                reply = json.loads(line)
                if "event" not in reply:
                    break
            if "error" in reply:
                raise FleetError(f"QMP {execute} failed: {reply['error']}")
        return reply


def qmp_status(vm: Vm) -> str | None:
    """QMP query-status (running, paused, io-error, shutdown, ...); None if QMP does not answer."""
    try:
        reply = qmp(vm.qmp, "query-status")
    except (OSError, ValueError, FleetError):
        return None
    status = reply.get("return", {}).get("status")
    return str(status) if status else None


def thread_cpu(pid: int) -> dict[str, tuple[str, str, int]]:
    """Each thread of a process: tid -> (name, state, utime + stime in ticks)."""
    threads = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        threads[task.name] = (name, fields[0], int(fields[11]) + int(fields[12]))
    return threads


# How long record_guest_state watches the console after its stop/cont kick.
KICK_SECONDS = 10.0
GUEST_PROBES: list[tuple[str, dict[str, Any] | None]] = [
    ("query-status", None),
    ("query-cpus-fast", None),
    ("human-monitor-command", {"command-line": "info registers"}),
    ("human-monitor-command", {"command-line": "info lapic"}),
]

# Asked again after the kick (kick()).
LATER_PROBES = ("info registers", "info jit")


def record_guest_state(vm: Vm, why: str, sample_seconds: float = 1.0) -> Path:
    """Keep what a guest looked like before it is reset, in its directory.

    Guests under TCG have frozen silently in early boot, now and then, under
    the suite's heaviest load; the vCPU's registers and local APIC, and whether
    QEMU's vCPU thread was spinning or asleep over sample_seconds, tell a
    guest halted for an interrupt that never came from one looping. Best
    effort: a probe that fails is written down as failed.
    """
    lines = [f"# {vm.name}: {why}", f"# console last written {time.time() - console_mtime(vm):.0f} s ago"]
    running = False
    for command, arguments in GUEST_PROBES:
        label = arguments["command-line"] if arguments else command
        reply = probe(vm, command, arguments)
        if command == "query-status" and isinstance(reply, dict):
            running = reply.get("status") == "running"
        lines += [f"## {label}", reply if isinstance(reply, str) else json.dumps(reply, indent=1)]
    before = thread_cpu(vm.pid)
    time.sleep(sample_seconds)
    after = thread_cpu(vm.pid)
    lines.append(f"## QEMU threads: name, state, CPU ticks used in {sample_seconds:g} s")
    for tid, (name, state, ticks) in sorted(after.items()):
        lines.append(f"{tid} {name} {state} {ticks - before.get(tid, (name, state, ticks))[2]}")
    if running:
        lines += kick(vm)
    path = Path(vm.dir) / f"guest-state-{int(time.time())}.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def probe(vm: Vm, command: str, arguments: dict[str, Any] | None = None) -> Any:
    """One QMP question about the guest; a failure is the answer, as text."""
    try:
        return qmp(vm.qmp, command, arguments).get("return")
    except (OSError, ValueError, FleetError) as err:
        return f"failed: {err}"


def kick(vm: Vm) -> list[str]:
    """Pause and resume the (running) guest, then watch its console for a while.

    A stop/cont wakes a vCPU thread that lost a wake-up: a console that moves
    on afterwards says so. The registers asked again after it tell a guest
    that crawls from one that is stuck: the GRUB freezes of 2026-12-05 were
    GRUB copying the initrd at about 40 bytes a second (build-image.sh).
    The reset follows either way.
    """
    try:
        before = console_size(vm)
        qmp(vm.qmp, "stop")
        qmp(vm.qmp, "cont")
    except (OSError, ValueError, FleetError) as err:
        return ["## stop/cont kick", f"failed: {err}"]
    time.sleep(KICK_SECONDS)
    grown = console_size(vm) - before
    lines = ["## stop/cont kick", f"the console grew by {grown} bytes in the {KICK_SECONDS:g} s after it"]
    # The same registers again: a copy loop that moved on in these seconds
    # is slow, one that did not is stuck; and the translator's own counters.
    for command in LATER_PROBES:
        reply = probe(vm, "human-monitor-command", {"command-line": command})
        lines += [f"## {command}, {KICK_SECONDS:g} s later", str(reply)]
    return lines


def console_mtime(vm: Vm) -> float:
    try:
        return os.stat(vm.console).st_mtime
    except OSError:
        return 0.0


def console_size(vm: Vm) -> int:
    try:
        return os.stat(vm.console).st_size
    except OSError:
        return 0


def console_tail(vm: Vm, lines: int = CONSOLE_TAIL_LINES) -> str:
    """The last lines of the serial log, without GRUB's and systemd's escapes."""
    try:
        text = Path(vm.console).read_text(errors="replace")
    except OSError:
        return "(no console output)"
    text = ANSI_ESCAPE.sub("", text).replace("\r", "")
    kept = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


# --- image ------------------------------------------------------------------


def ensure_image(image: str | None, suite: str = DEFAULT_SUITE) -> Path:
    """The image directory: the one given, or the cached build of this Debian release."""
    if image:
        path = Path(image).resolve()
    else:
        path = Path(build_image(suite))
    if not (path / "base.qcow2").is_file():
        raise FleetError(f"no base.qcow2 in {path}")
    return path


def build_image(suite: str = DEFAULT_SUITE) -> str:
    """Run build-image.sh; on a signal, let it stop its steps and remove its work dir."""
    proc = None
    try:
        with signals_deferred():
            proc = subprocess.Popen(["bash", str(BUILD_IMAGE)], stdout=subprocess.PIPE, text=True, env={**os.environ, "AGENTNS_IMAGE_SUITE": suite})
        out = proc.communicate()[0]
    except BaseException:
        if proc is None:
            raise
        # A terminal's Ctrl-C reached the script too; a TERM sent to us alone did not.
        with signals_held():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=BUILD_CLEANUP_TIMEOUT)
            except subprocess.TimeoutExpired:
                say(f"{BUILD_IMAGE} did not clean up within {BUILD_CLEANUP_TIMEOUT:.0f}s; killing it")
                proc.kill()
                proc.wait()
        raise
    lines = out.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise FleetError(f"{BUILD_IMAGE} failed (exit {proc.returncode})")
    return lines[-1]


# --- the registry of VMs of every checkout ------------------------------------


@contextlib.contextmanager
def registry_locked() -> Iterator[Path]:
    path = registry_dir()
    path.mkdir(parents=True, exist_ok=True)
    with (path / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield path


def write_registry_record(pid: int, record: dict[str, Any]) -> None:
    path = registry_dir()
    path.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path / f"{pid}.json", record, indent=2)


def register(vm: Vm, state_dir: Path) -> None:
    """Note a started VM where the reaper of any checkout finds it."""
    record = {
        "pid": vm.pid,
        "run_id": vm.run_id,
        "deadline": vm.deadline,
        "name": vm.name,
        "state_dir": str(state_dir.resolve()),
        "checkout": str(REPO),
        "overlay": vm.overlay,
        "extra_disk": vm.extra_disk,
        "qmp": vm.qmp,
        "console": vm.console,
        "started": vm.started,
    }
    write_registry_record(vm.pid, record)


def put_on_record(state_dir: Path, state: State, vm: Vm) -> None:
    """A VM just spawned: in state.json for down, in the registry for the reaper."""
    state.machines[vm.name] = vm
    save_state(state)
    register(vm, state_dir)


def unregister(pid: int) -> None:
    (registry_dir() / f"{pid}.json").unlink(missing_ok=True)


def kill_process(pid: int, identity: tuple[str, int]) -> bool:
    """TERM, then KILL, the QEMU or server at pid if it still has this identity; True once gone."""

    def same(argv: list[str] | None) -> bool:
        return process_identity(argv) == identity

    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        if not signal_if(pid, same, sig):
            return True
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not same(cmdline_of(pid)):
                return True
            time.sleep(0.1)
    return not same(cmdline_of(pid))


def reap(run_id: str | None = None, now: float | None = None) -> list[dict[str, Any]]:
    """Stop the registered VMs and servers that are past their deadline, or of run_id.

    A pid counts only if its command line still carries the run id and the
    deadline recorded for it; records of VMs that are gone are dropped.
    """
    now = time.time() if now is None else now
    reaped = []
    with registry_locked() as path:
        for entry in sorted(path.glob("*.json")):
            try:
                record = json.loads(entry.read_text())
                pid = int(record["pid"])
                recorded = (str(record["run_id"]), int(record["deadline"]))
            except (OSError, ValueError, KeyError, TypeError):
                entry.unlink(missing_ok=True)
                continue
            identity = process_identity(cmdline_of(pid))
            if identity != recorded:
                entry.unlink(missing_ok=True)  # gone, or the pid is someone else's now
                continue
            expired = recorded[1] <= now
            if not expired and recorded[0] != run_id:
                continue
            why = f"expired {now - recorded[1]:.0f}s ago" if expired else f"of run {run_id}"
            if not kill_process(pid, recorded):
                say(f"could not stop pid {pid} ({record.get('name')}, {why})")
                continue
            for disk in (record.get("overlay"), record.get("extra_disk"), record.get("qmp")):
                if disk:
                    Path(disk).unlink(missing_ok=True)
            entry.unlink(missing_ok=True)
            say(f"reaped {record.get('name')} (pid {pid}, run {recorded[0]}, {why}; state dir {record.get('state_dir')})")
            reaped.append(record)
    return reaped


# --- starting VMs -----------------------------------------------------------


def qemu_argv(vm: Vm, incoming: str | None = None) -> list[str]:
    """QEMU's command line for vm; with incoming, it restores a saved state instead of booting.

    A restore needs the very device set of the VM that was saved (machine,
    memory, devices in the same order): only names and paths may differ.
    """
    options = [
        # debug-threads: the vCPU thread is "CPU 0/TCG" in guest-state-*.txt.
        ("-name", f"agentns-{vm.name},debug-threads=on"),
        ("-machine", "pc"),  # BIOS, boots GRUB from the disk like the fleet's hosts
        ("-accel", "tcg"),
        ("-smp", str(vm.smp)),
        ("-m", str(vm.memory)),
        ("-display", "none"),
        # cache=unsafe: the overlay is thrown away anyway; a QMP reset does not lose it.
        ("-drive", f"file={vm.overlay},format=qcow2,if=virtio,cache=unsafe"),
        ("-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{vm.port}-:22"),
        ("-device", "virtio-net-pci,netdev=net0,romfile="),  # no iPXE ROM: the disk boots
        ("-device", "virtio-rng-pci"),
        # A new generation id on each restore: the guest kernel (5.18+) reseeds
        # its random state, which VMs restored from one snapshot would share.
        ("-device", "vmgenid,guid=auto"),
        ("-serial", f"file:{vm.console}"),
        ("-device", "i6300esb"),
        ("-watchdog-action", "reset"),
        ("-qmp", f"unix:{vm.qmp},server=on,wait=off"),
        # Who owns this QEMU and until when: the reaper checks these (OEM strings, type 11).
        ("-smbios", f"type=11,value={SMBIOS_RUN}{vm.run_id},value={SMBIOS_DEADLINE}{vm.deadline}"),
    ]
    if vm.extra_disk:
        options.append(("-drive", f"file={vm.extra_disk},format=qcow2,if=virtio,cache=unsafe"))
    if incoming:
        options.append(("-incoming", incoming))
    argv = ["qemu-system-x86_64", "-nodefaults"]
    for flag, value in options:
        argv += [flag, value]
    return argv


def qemu_img(*args: str) -> None:
    try:
        done = subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=False)
    except OSError as err:
        raise FleetError(f"cannot run qemu-img: {err} (run scripts/bootstrap.sh)") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip() or "no message"
        raise FleetError(f"qemu-img {' '.join(args)} failed (exit {done.returncode}): {detail}")


def prepare_vm(vm_dir: Path, image: Path, spec: VmSpec, port: int, run_id: str, deadline: int, snapshot: Snapshot | None = None) -> Vm:
    """A VM's fresh disks in vm_dir: its overlay on the image (or on a snapshot's disk) and a blank extra disk."""
    vm_dir = vm_dir.resolve()
    vm_dir.mkdir(parents=True, exist_ok=True)
    overlay = vm_dir / "disk.qcow2"
    overlay.unlink(missing_ok=True)
    backing = snapshot.disk if snapshot else image / "base.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", "-b", str(backing), "-F", "qcow2", str(overlay))
    extra = None
    if spec.extra_disk_gb > 0:
        extra = vm_dir / "extra.qcow2"
        extra.unlink(missing_ok=True)
        qemu_img("create", "-q", "-f", "qcow2", str(extra), f"{spec.extra_disk_gb}G")
    qmp_path = qmp_socket_path(vm_dir)
    # A console log of an earlier boot must not pass for this one's progress.
    for stale in (qmp_path, vm_dir / "console.log", vm_dir / "qemu.log"):
        stale.unlink(missing_ok=True)
    return Vm(
        name=spec.name,
        port=port,
        pid=0,
        dir=str(vm_dir),
        overlay=str(overlay),
        extra_disk=str(extra) if extra else None,
        console=str(vm_dir / "console.log"),
        qmp=str(qmp_path),
        memory=spec.memory,
        smp=spec.smp,
        started=0.0,
        run_id=run_id,
        deadline=deadline,
        log=str(vm_dir / "qemu.log"),
        suite=spec.suite,
        key=str(image / "id_ed25519"),
        restored=snapshot is not None,
        snapshot=str(snapshot.dir) if snapshot else "",
    )


def qemu_log_tail(vm: Vm) -> str:
    return log_tail(Path(vm.log))


def launch(vm: Vm, on_spawn: Callable[[Vm, subprocess.Popen[bytes]], None], incoming: str | None = None) -> subprocess.Popen[bytes]:
    """Start QEMU as our child in a session of its own; return once QMP answers.

    on_spawn runs right after the spawn, before anything can fail, so the pid
    is on record (state.json, registry) whatever happens next. With incoming
    (restore_uri), QEMU restores a saved state instead of booting.
    """
    with signals_deferred():
        with open(vm.log, "wb") as log:
            try:
                proc = subprocess.Popen(qemu_argv(vm, incoming), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as err:
                raise FleetError(f"cannot start QEMU for {vm.name}: {err}") from None
        vm.pid = proc.pid
        vm.started = time.time()
        on_spawn(vm, proc)
    start = time.monotonic()
    while proc.poll() is None:
        if qmp_status(vm) is not None:
            return proc
        if time.monotonic() - start > QEMU_START_TIMEOUT:
            break
        time.sleep(0.1)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
        raise FleetError(f"QEMU for {vm.name} (pid {vm.pid}) did not answer on QMP within {QEMU_START_TIMEOUT:.0f}s:\n{qemu_log_tail(vm)}")
    raise FleetError(f"QEMU for {vm.name} failed to start (exit {proc.returncode}):\n{qemu_log_tail(vm)}")


def start_vm(
    prepare: Callable[[int], Vm],
    taken: set[int],
    on_spawn: Callable[[Vm, subprocess.Popen[bytes]], None],
    on_failed: Callable[[Vm], None],
    incoming: str | None = None,
) -> tuple[Vm, subprocess.Popen[bytes]]:
    """Create the disks (prepare, given a free SSH port) and start QEMU; retry if the port got taken meanwhile."""
    for _attempt in range(5):
        vm = prepare(free_port(taken))
        try:
            return vm, launch(vm, on_spawn, incoming)
        except FleetError as err:
            on_failed(vm)  # QEMU is gone: launch reaped it
            if "hostfwd" not in str(err) and "forward" not in str(err):
                raise
    raise FleetError(f"could not find a free SSH port for {vm.name}")


# --- SSH --------------------------------------------------------------------


def ssh_argv(state: State, vm: Vm, command: str | None = None) -> list[str]:
    login = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-i", vm.key or state.key, "-p", str(vm.port)]
    argv = ["ssh", *SSH_OPTIONS.split(), *login, f"{SSH_USER}@127.0.0.1"]
    if command is not None:
        argv.append(command)
    return argv


def ssh_run(state: State, vm: Vm, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(ssh_argv(state, vm, command), capture_output=True, text=True, timeout=timeout, check=False)


def ssh_login_works(state: State, vm: Vm) -> bool:
    try:
        return ssh_run(state, vm, "true", timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def boot_error(vm: Vm, seconds: float, why: str, kind: type[FleetError] = FleetError) -> FleetError:
    return kind(
        f"VM {vm.name}: {why} ({seconds:.0f}s into the wait, SSH port {vm.port}).\n"
        f"Console log: {vm.console}\n"
        f"--- last {CONSOLE_TAIL_LINES} console lines ---\n{console_tail(vm)}"
    )


@dataclass
class Watch:
    """What a wait has seen of one VM's boot.

    restored: the VM was started from a snapshot and runs (finish_restore):
    its console stays silent, so only QEMU, QMP and SSH tell; a failure is a
    RestoreFailed, for a cold boot instead.
    """

    vm: Vm
    proc: subprocess.Popen[bytes] | None
    offset: int  # console bytes written before this boot
    size: int
    progress_at: float  # monotonic time of the last console growth
    login: bool = False
    qmp_at: float = 0.0
    since: float = field(default_factory=time.monotonic)  # start of the wait
    restored: bool = False

    def error(self, now: float, why: str, kind: type[FleetError] = FleetError) -> FleetError:
        if self.restored:
            return RestoreFailed(str(boot_error(self.vm, now - self.since, f"restored from {self.vm.snapshot}: {why}")), self.vm.name)
        return boot_error(self.vm, now - self.since, why, kind)

    def look(self, now: float) -> None:
        """Fail at once if the VM is dead; note console progress."""
        vm = self.vm
        if self.proc is not None and self.proc.poll() is not None:
            log = qemu_log_tail(vm)
            raise self.error(now, f"QEMU exited with status {self.proc.returncode}" + (f": {log}" if log else ""))
        if self.proc is None and not pid_is_ours(vm):
            raise self.error(now, f"QEMU (pid {vm.pid}) is gone")
        size = console_size(vm)
        if size > self.size:
            self.size, self.progress_at = size, now
            if not self.login:
                self.login = b"login:" in read_console(vm, self.offset)
        if now - self.qmp_at >= QMP_POLL_INTERVAL:
            self.qmp_at = now
            status = qmp_status(vm)
            if status == "io-error":
                raise self.error(now, f"the guest is paused on a disk I/O error (QMP io-error): is the host disk full? {disk_free(vm)}")
            if status in DEAD_STATES:
                raise self.error(now, f"the guest stopped (QMP status {status})")
            if self.restored and status in RESTORE_PAUSED_STATES:
                raise self.error(now, f"the guest no longer runs (QMP status {status})")

    def stalled(self, now: float, stall_timeout: float) -> FleetError | None:
        """The error if this VM made no progress for stall_timeout, else None."""
        quiet = now - self.progress_at
        if quiet <= stall_timeout:
            return None
        if self.restored:
            # A restored guest has nothing left to print: it runs, sshd included.
            return self.error(now, f"SSH did not answer for {quiet:.0f}s (stall timeout {stall_timeout:.0f}s)")
        if self.login:
            return self.error(now, f"the console reached login: but SSH did not answer for {quiet:.0f}s")
        return self.error(now, f"no console output for {quiet:.0f}s (stall timeout {stall_timeout:.0f}s): the boot is stuck", BootStalled)


def read_console(vm: Vm, offset: int) -> bytes:
    try:
        with open(vm.console, "rb") as console:
            console.seek(offset)
            return console.read()
    except OSError:
        return b""


def disk_free(vm: Vm) -> str:
    try:
        free = shutil.disk_usage(Path(vm.overlay).parent).free
    except OSError:
        return ""
    return f"{free // 2**20} MiB free under {Path(vm.overlay).parent}"


def wait_ssh(
    state: State,
    watches: list[Watch],
    timeout: float,
    stall_timeout: float,
    since: float | None = None,
) -> None:
    """Wait until every VM accepts an SSH login; fail early when one is dead.

    Dead: QEMU exited, QMP reports a stopped guest or an I/O error, or the
    console printed nothing for stall_timeout (a restored VM: SSH did not
    answer for stall_timeout). Slow (the console grows) is given up to
    timeout.
    """
    start = time.monotonic()
    waiting = {watch.vm.name: watch for watch in watches}
    while waiting:
        now = time.monotonic()
        for name, watch in list(waiting.items()):
            vm = watch.vm
            watch.look(now)
            if ssh_banner(vm.port) and ssh_login_works(state, vm):
                vm.ssh_ready_seconds = round(time.time() - (since or vm.started), 1)
                say(f"{name} ready on port {vm.port} after {vm.ssh_ready_seconds}s" + (" (restored)" if watch.restored else ""))
                del waiting[name]
                continue
            stalled = watch.stalled(time.monotonic(), stall_timeout)
            if stalled:
                raise stalled
        if not waiting:
            break
        elapsed = time.monotonic() - start
        if elapsed > timeout:
            watch = next(iter(waiting.values()))
            if watch.restored:
                raise watch.error(time.monotonic(), f"SSH not ready within the {timeout:.0f}s timeout")
            state_now = "reached login: but SSH is not ready" if watch.login else "still booting (the console is growing)"
            raise boot_error(watch.vm, elapsed, f"SSH not ready within the {timeout:.0f}s timeout; {state_now}")
        time.sleep(POLL_INTERVAL)


def watch_vm(vm: Vm, proc: subprocess.Popen[bytes] | None = None, offset: int | None = None, restored: bool = False) -> Watch:
    size = console_size(vm) if offset is None else offset
    return Watch(vm=vm, proc=proc, offset=size, size=size, progress_at=time.monotonic(), restored=restored)


def set_hostname(state: State, vm: Vm, first: str = "") -> None:
    """Name the guest after its VM; first: commands to run before, in the same SSH login.

    (Each login costs a TCG guest about 0.7 s of CPU.)
    """
    # /etc/hosts first, so sudo can resolve the new name at once.
    rename = (
        f"sudo sed -i 's/^127\\.0\\.1\\.1\\s.*/127.0.1.1\\t{vm.name}/' /etc/hosts; "
        f"sudo hostnamectl set-hostname {vm.name} 2>/dev/null || "
        f"{{ echo {vm.name} | sudo tee /etc/hostname >/dev/null; sudo hostname {vm.name}; }}"
    )
    script = f"set -e; {first}; {rename}" if first else f"set -e; {rename}"
    done = ssh_run(state, vm, script)
    if done.returncode != 0:
        what = "setting the clock, machine id and hostname after its restore" if first else "setting the hostname"
        raise FleetError(f"VM {vm.name}: {what} failed: {done.stderr.strip()}")


# --- stopping ---------------------------------------------------------------


def wait_gone(running: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not running():
            return True
        time.sleep(0.2)
    return not running()


def stop_vm(vm: Vm, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Stop one QEMU: QMP quit, then SIGTERM, then SIGKILL.

    With proc (our child, not yet waited for, so its pid cannot be another's)
    by proc, else by the recorded pid once it proves to be that QEMU.
    """
    if proc is not None:

        def running() -> bool:
            return proc.poll() is None

        def send(sig: int) -> None:
            proc.send_signal(sig)  # a no-op once proc has been waited for

    else:

        def running() -> bool:
            return pid_is_ours(vm)

        def send(sig: int) -> None:
            signal_if(vm.pid, lambda _argv: pid_is_ours(vm), sig)

    if not running():
        return
    with contextlib.suppress(OSError, FleetError, ValueError):
        qmp(vm.qmp, "quit")
    if wait_gone(running, 10):
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        send(sig)
        if wait_gone(running, 5):
            return
    raise FleetError(f"VM {vm.name}: QEMU pid {vm.pid} did not exit")


def remove_disks(vm: Vm) -> None:
    for disk in (vm.overlay, vm.extra_disk):
        if disk:
            Path(disk).unlink(missing_ok=True)
    Path(vm.qmp).unlink(missing_ok=True)


def forget(state: State, vm: Vm) -> None:
    """Drop a stopped VM: its disks, its registry record, its state entry."""
    remove_disks(vm)
    unregister(vm.pid)
    if state.machines.get(vm.name) is vm:
        del state.machines[vm.name]
    save_state(state)


# --- booted-state snapshots -------------------------------------------------
#
# A VM boots once per shape (image, memory, vCPUs, extra disk); its booted
# state is saved (QMP stop, migrate to a file) with its disk, and `up` starts
# every VM of that shape from there (-incoming) in seconds, where a boot
# through BIOS, GRUB and systemd costs a minute of CPU under TCG.
#
# IMAGE_DIR/booted-KEY is a symlink to the snapshot, IMAGE_DIR/booted-KEY.ID/:
#   disk.qcow2     overlay on the image's base.qcow2: what the first boot wrote
#   state          the migration stream (RAM and devices), uncompressed:
#                  189 MB for a booted 1536 MiB Debian 12 guest (a zero page
#                  takes a few bytes); zstd -1 would make it 55 MB but cost
#                  each restore 0.16 s of CPU, which is what snapshots save
#   manifest.json  what KEY covers, and the QEMU command line it was saved from
# Each snapshot has a directory of its own, since restored overlays name its
# disk as their backing file: a snapshot dropped and made again must not pass
# for the old one under a VM that is power-cycled later. It is built in
# IMAGE_DIR/.booted-KEY.work-ID under IMAGE_DIR/.booted-KEY.lock (a second
# `up` that wants it waits, then uses it) and published by a rename and the
# symlink, so an interrupted or failed creation leaves nothing behind.

# Part of every snapshot key: bump it when what a snapshot holds, or how it is made, changes.
SNAPSHOT_VERSION = 1
SNAPSHOT_SAVE_TIMEOUT = 300.0  # from `migrate` to `completed`
SNAPSHOT_SETTLE_TIMEOUT = 120  # for the boot's last jobs, before the state is saved
# Beyond the boot and save of the one who creates it, how long a second `up` waits for a snapshot.
SNAPSHOT_LOCK_MARGIN = 300.0
# QEMU's default cap on migration bandwidth (128 MiB/s in 7.2) would only slow the save down.
MIGRATION_MAX_BANDWIDTH = 8 << 30
# A restored guest arrives paused: its state was saved stopped (QMP `cont` runs it).
RESTORE_PAUSED_STATES = {"paused", "postmigrate", "prelaunch", "finish-migrate"}
RESTORE_POLL_INTERVAL = 0.1
BOOT_MODES = ("snapshot", "cold")


@dataclass(frozen=True)
class Shape:
    """What a booted state depends on besides QEMU: the VMs of one shape share a snapshot."""

    image: Path
    memory: int
    smp: int
    extra_disk_gb: int

    @classmethod
    def of(cls, spec: VmSpec, image: Path) -> Shape:
        return cls(image=image, memory=spec.memory, smp=spec.smp, extra_disk_gb=spec.extra_disk_gb)

    def describe(self) -> str:
        extra = f", {self.extra_disk_gb} GiB extra disk" if self.extra_disk_gb else ""
        return f"{self.image.name}, {self.memory} MiB, {self.smp} vCPU{extra}"


@dataclass(frozen=True)
class Snapshot:
    """A published snapshot: its own directory (the symlink resolved)."""

    dir: Path

    @property
    def disk(self) -> Path:
        return self.dir / "disk.qcow2"

    @property
    def state(self) -> Path:
        return self.dir / "state"

    @property
    def manifest(self) -> Path:
        return self.dir / "manifest.json"


def template_vm(shape: Shape) -> Vm:
    """A VM of this shape with placeholder names, paths and ids: its argv is the shape of QEMU's command line."""
    return Vm(
        name="NAME",
        port=0,
        pid=0,
        dir="DIR",
        overlay="DISK",
        extra_disk="EXTRA" if shape.extra_disk_gb > 0 else None,
        console="CONSOLE",
        qmp="QMP",
        memory=shape.memory,
        smp=shape.smp,
        started=0.0,
        run_id="RUN",
    )


def qemu_binary_stamp() -> list[Any]:
    """Which QEMU runs the VMs: a new one may not read an old one's migration stream."""
    path = shutil.which("qemu-system-x86_64")
    if path is None:
        return ["missing"]
    real = os.path.realpath(path)
    stat = os.stat(real)
    return [real, stat.st_size, stat.st_mtime_ns]


def snapshot_inputs(shape: Shape) -> dict[str, Any]:
    base = (shape.image / "base.qcow2").stat()
    return {
        "version": SNAPSHOT_VERSION,
        "image": str(shape.image),
        "base": [base.st_size, base.st_mtime_ns],
        "memory": shape.memory,
        "smp": shape.smp,
        "extra_disk_gb": shape.extra_disk_gb,
        "argv": qemu_argv(template_vm(shape)),
        "qemu": qemu_binary_stamp(),
    }


def snapshot_key(shape: Shape) -> str:
    """A digest of everything a booted state depends on: a change to any of them means a new snapshot."""
    return hashlib.sha256(json.dumps(snapshot_inputs(shape), sort_keys=True).encode()).hexdigest()[:16]


def snapshot_link(image: Path, key: str) -> Path:
    return image / f"booted-{key}"


def find_snapshot(image: Path, key: str) -> Snapshot | None:
    """The published snapshot of this key, if there is one (complete: it is published whole)."""
    try:
        target = snapshot_link(image, key).resolve(strict=True)
    except OSError:
        return None
    snapshot = Snapshot(target)
    if snapshot.disk.is_file() and snapshot.state.is_file() and snapshot.manifest.is_file():
        return snapshot
    return None


def restore_uri(snapshot: Snapshot) -> str:
    return f"exec:cat {shlex.quote(str(snapshot.state))}"


def wait_for_lock(lock: Any, limit: float, what: str) -> bool:
    """Take the flock of an open file, waiting up to limit seconds; False if it stayed taken."""
    start = time.monotonic()
    said = False
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        if not said:
            say(f"waiting for {what} (another fleet.py is creating it), up to {limit:.0f}s")
            said = True
        if time.monotonic() - start >= limit:
            return False
        time.sleep(POLL_INTERVAL)


@contextlib.contextmanager
def snapshot_locked(image: Path, key: str, limit: float) -> Iterator[bool]:
    """Hold the snapshot's lock (True), or give up after limit seconds (False)."""
    with (image / f".booted-{key}.lock").open("w") as lock:
        yield wait_for_lock(lock, limit, f"the snapshot {snapshot_link(image, key)}")


def remove_unpublished(image: Path, key: str) -> None:
    """Under the snapshot's lock: what creations of this key that died left behind."""
    current = snapshot_link(image, key).resolve()
    for leftover in [*image.glob(f".booted-{key}.work-*"), *image.glob(f"booted-{key}.*")]:
        if leftover.is_dir() and not leftover.is_symlink() and leftover != current:
            say(f"removing {leftover}, left by an interrupted snapshot creation")
            shutil.rmtree(leftover, ignore_errors=True)
    for staged in image.glob(f".booted-{key}.link-*"):
        staged.unlink(missing_ok=True)


def drop_snapshot(snapshot_dir: Path) -> None:
    """Unpublish a snapshot that failed to restore and delete it: the next `up` makes a new one.

    No lock: the symlink goes only if it still names this snapshot, and a
    snapshot's directory is never reused.
    """
    link = snapshot_dir.parent / snapshot_dir.name.rsplit(".", 1)[0]
    with contextlib.suppress(OSError):
        if link.is_symlink() and link.resolve() == snapshot_dir:
            link.unlink()
    shutil.rmtree(snapshot_dir, ignore_errors=True)


@dataclass
class SnapshotBuild:
    """One snapshot being made: its work directory, and the VM that boots for it."""

    shape: Shape
    key: str
    work: Path
    vm: Vm | None = None
    proc: subprocess.Popen[bytes] | None = None
    published: bool = False


def migrate_to_file(vm: Vm, path: Path, timeout: float = SNAPSHOT_SAVE_TIMEOUT) -> None:
    """Save a stopped guest's state (RAM and devices) to path: QMP migrate, polled until completed."""
    qmp(vm.qmp, "migrate-set-parameters", {"max-bandwidth": MIGRATION_MAX_BANDWIDTH})
    qmp(vm.qmp, "migrate", {"uri": f"exec:cat > {shlex.quote(str(path))}"})
    start = time.monotonic()
    while True:
        info = qmp(vm.qmp, "query-migrate").get("return", {})
        status = info.get("status")
        if status == "completed":
            return
        if status in ("failed", "cancelled"):
            raise FleetError(f"VM {vm.name}: saving its state to {path} {status}: {info.get('error-desc', 'no reason given')}")
        if time.monotonic() - start > timeout:
            raise FleetError(f"VM {vm.name}: saving its state to {path} took over {timeout:.0f}s (migration status {status})")
        time.sleep(0.2)


def quit_qemu(vm: Vm, proc: subprocess.Popen[bytes]) -> None:
    """Let QEMU exit after a save (QMP quit closes the disks cleanly); stop it harder if it will not."""
    with contextlib.suppress(OSError, FleetError, ValueError):
        qmp(vm.qmp, "quit")
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        stop_vm(vm, proc)


def publish_snapshot(build: SnapshotBuild) -> Snapshot:
    """Rename the finished work directory to its own name, then point the key's symlink at it."""
    image = build.shape.image
    final = image / f"booted-{build.key}.{build.work.name.rsplit('-', 1)[-1]}"
    link = snapshot_link(image, build.key)
    with signals_held():
        build.work.rename(final)
        build.published = True
        staged = image / f".booted-{build.key}.link-{os.getpid()}"
        staged.unlink(missing_ok=True)
        staged.symlink_to(final.name)
        staged.replace(link)
    return Snapshot(final)


def save_snapshot(state: State, build: SnapshotBuild) -> Snapshot:
    """The booted VM's state to disk: settle, sync, stop, migrate, quit; then publish it."""
    vm, proc = build.vm, build.proc
    assert vm is not None and proc is not None
    # The boot's last jobs end before the save, or every restored VM would run them again.
    settle = f"timeout {SNAPSHOT_SETTLE_TIMEOUT} systemctl is-system-running --wait >/dev/null 2>&1; sync"
    done = ssh_run(state, vm, settle, timeout=SNAPSHOT_SETTLE_TIMEOUT + 60)
    if done.returncode != 0:
        raise FleetError(f"VM {vm.name}: sync before the snapshot failed: {done.stderr.strip()}")
    qmp(vm.qmp, "stop")
    migrate_to_file(vm, build.work / "state")
    argv = qemu_argv(vm)
    quit_qemu(vm, proc)
    unregister(vm.pid)
    # Restored VMs get a blank extra disk of their own; the console log stays, for whoever wonders.
    for leftover in (vm.extra_disk, vm.qmp, vm.log):
        if leftover:
            Path(leftover).unlink(missing_ok=True)
    manifest = {
        "key": build.key,
        "inputs": snapshot_inputs(build.shape),
        "argv": argv,
        "created": time.time(),
        "boot_seconds": vm.ssh_ready_seconds,
        "state_bytes": (build.work / "state").stat().st_size,
    }
    (build.work / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return publish_snapshot(build)


def abandon_snapshot(build: SnapshotBuild) -> None:
    """An unfinished creation: stop its VM and remove its work directory."""
    if build.published:
        return
    if build.vm is not None and build.vm.pid:
        try:
            stop_vm(build.vm, build.proc)
            unregister(build.vm.pid)
        except FleetError as err:
            say(f"error: {err}")  # its registry record stays, for the reaper
        Path(build.vm.qmp).unlink(missing_ok=True)
    shutil.rmtree(build.work, ignore_errors=True)


def keep_console(build: SnapshotBuild, state_dir: Path) -> None:
    """A failed creation's console log, kept in the state dir: its work directory goes."""
    if not build.published:
        with contextlib.suppress(OSError):
            shutil.copyfile(build.work / "console.log", state_dir / f"snapshot-{build.key}-console.log")


def finish_restore(vm: Vm, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait until a restored guest runs: the state is read (inmigrate), then it is paused until `cont`."""
    start = time.monotonic()
    status: str | None = None
    while time.monotonic() - start <= timeout:
        if proc.poll() is not None:
            raise RestoreFailed(f"VM {vm.name}: QEMU exited with status {proc.returncode} while restoring {vm.snapshot}: {qemu_log_tail(vm)}", vm.name)
        status = qmp_status(vm)
        if status == "running":
            return
        if status in RESTORE_PAUSED_STATES:
            try:
                qmp(vm.qmp, "cont")
            except (OSError, ValueError, FleetError) as err:
                raise RestoreFailed(f"VM {vm.name}: QMP cont after the restore of {vm.snapshot} failed: {err}", vm.name) from None
        elif status in DEAD_STATES or status == "io-error":
            raise RestoreFailed(f"VM {vm.name}: the guest restored from {vm.snapshot} stopped (QMP status {status})", vm.name)
        time.sleep(RESTORE_POLL_INTERVAL)
    raise RestoreFailed(f"VM {vm.name}: not running {timeout:.0f}s into its restore from {vm.snapshot} (QMP status {status})", vm.name)


def after_restore_script() -> str:
    """What makes a restored guest a host of its own: the host's time, its own machine id.

    The snapshot's clock stopped when it was saved (days ago, maybe: apt
    refuses Release files "not valid yet"). The machine id is made here, not
    by systemd-machine-id-setup in the guest: guests restored from one
    snapshot share the kernel's random state until it reseeds (the vmgenid
    device has it reseed at once on Linux 5.18+; host bytes are mixed in
    too). Carried over from the snapshot, and fine for a test fleet: the
    DHCP lease (user-mode networking gives every VM 10.0.2.15 anyway), the
    SSH host keys (the image's, shared by every VM already) and the boot id.
    """
    machine_id = uuid.uuid4().hex
    noise = os.urandom(32).hex()
    script = f"date -u -s @{time.time():.3f} >/dev/null && echo {machine_id} >/etc/machine-id && echo {noise} >/dev/urandom"
    return f"sudo sh -c {shlex.quote(script)}"


# --- the repository server --------------------------------------------------


@dataclass
class RepoServer:
    """A state dir's repository server, as in its repo-server.json."""

    pid: int
    port: int
    run_id: str
    deadline: int
    started: bool = True

    @property
    def identity(self) -> tuple[str, int]:
        return self.run_id, self.deadline


def repo_server_argv(run_id: str, deadline: int, port: int, directory: Path) -> list[str]:
    """fleet.py itself, as SERVE_CHILD: the run id and deadline at fixed places for the reaper."""
    return [sys.executable, str(FLEET_SCRIPT), SERVE_CHILD, "--run-id", run_id, "--deadline", str(deadline), "--port", str(port), str(directory)]


def serve_directory(argv: list[str]) -> int:
    """SERVE_CHILD: serve a directory read-only (GET and HEAD) on 127.0.0.1 until the deadline."""
    parser = argparse.ArgumentParser(prog=f"fleet.py {SERVE_CHILD}")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--deadline", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("directory")
    args = parser.parse_args(argv)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=args.directory)
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    except OSError as err:
        if err.errno != errno.EADDRINUSE:
            raise
        say(f"port {args.port} is taken")
        return REPO_SERVER_PORT_TAKEN
    # Nobody may be left to stop it (an interrupted run): it stops itself.
    timer = threading.Timer(max(0.0, args.deadline - time.time()), server.shutdown)
    timer.daemon = True
    timer.start()
    with server:
        server.serve_forever()
    say(f"deadline {args.deadline} reached: stopped")
    return 0


def load_repo_server(state_dir: Path) -> RepoServer | None:
    """The state dir's repo-server.json; None if there is none it could use."""
    try:
        raw = json.loads((state_dir / REPO_SERVER_FILE).read_text())
        return RepoServer(pid=int(raw["pid"]), port=int(raw["port"]), run_id=str(raw["run_id"]), deadline=int(raw["deadline"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def repo_server_runs(server: RepoServer) -> bool:
    """True if server.pid is alive and still that server: pid and command line, never a name."""
    argv = cmdline_of(server.pid) or []
    return repo_server_identity(argv) == server.identity and argv[7:9] == ["--port", str(server.port)]


def put_repo_server_on_record(state_dir: Path, server: RepoServer) -> None:
    """A server just spawned: in repo-server.json for serve and down, in the registry for the reaper."""
    write_json_atomically(state_dir / REPO_SERVER_FILE, asdict(server))
    record = {
        "pid": server.pid,
        "run_id": server.run_id,
        "deadline": server.deadline,
        "name": REPO_SERVER_NAME,
        "port": server.port,
        "state_dir": str(state_dir.resolve()),
        "checkout": str(REPO),
        "started": time.time(),
    }
    write_registry_record(server.pid, record)


def forget_repo_server(state_dir: Path, server: RepoServer) -> None:
    unregister(server.pid)
    (state_dir / REPO_SERVER_FILE).unlink(missing_ok=True)


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_until_serving(server: RepoServer, proc: subprocess.Popen[bytes], log: Path) -> int | None:
    """None once the server accepts connections; its exit status if it exited first."""
    limit = time.monotonic() + REPO_SERVER_START_TIMEOUT
    while time.monotonic() < limit:
        if proc.poll() is not None:
            return proc.returncode
        if port_accepts(server.port) and proc.poll() is None:
            return None
        time.sleep(0.05)
    raise FleetError(
        f"the repository server (pid {server.pid}) did not accept connections on port {server.port} "
        f"within {REPO_SERVER_START_TIMEOUT:.0f}s; {log}:\n{log_tail(log)}"
    )


def start_repo_server(state_dir: Path, directory: Path, run_id: str, lifetime: float) -> RepoServer:
    """Spawn the server in a session of its own and return once it serves; retry a port taken meanwhile."""
    deadline = math.ceil(time.time() + lifetime)  # at least lifetime seconds
    log = state_dir / REPO_SERVER_LOG
    for _attempt in range(3):
        port = free_port(set())
        spawned: tuple[subprocess.Popen[bytes], RepoServer] | None = None
        try:
            with signals_deferred(), log.open("wb") as out:
                try:
                    argv = repo_server_argv(run_id, deadline, port, directory)
                    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
                except OSError as err:
                    raise FleetError(f"cannot start the repository server: {err}") from None
                server = RepoServer(pid=proc.pid, port=port, run_id=run_id, deadline=deadline)
                spawned = proc, server
                # Right after the spawn: whatever fails or interrupts us next, down and reap can stop it.
                put_repo_server_on_record(state_dir, server)
            status = wait_until_serving(server, proc, log)
        except BaseException:
            if spawned is not None:
                child, record = spawned
                with signals_held():
                    child.kill()  # our child, not yet waited for: its pid cannot be another's
                    child.wait()
                    forget_repo_server(state_dir, record)
            raise
        if status is None:
            return server
        forget_repo_server(state_dir, server)
        if status != REPO_SERVER_PORT_TAKEN:
            raise FleetError(f"the repository server exited with status {status}; {log}:\n{log_tail(log)}")
    raise FleetError("could not find a free port for the repository server")


def stop_repo_server(state_dir: Path) -> None:
    """Stop the state dir's repository server if it runs, and drop its repo-server.json."""
    server = load_repo_server(state_dir)
    if server is not None and repo_server_runs(server):
        if not kill_process(server.pid, server.identity):
            raise FleetError(f"the repository server (pid {server.pid}) did not exit")
        unregister(server.pid)
        say(f"stopped the repository server (pid {server.pid}, port {server.port})")
    # A server that is gone leaves its registry record to the reaper: its pid may be another's now.
    (state_dir / REPO_SERVER_FILE).unlink(missing_ok=True)


# --- commands ---------------------------------------------------------------


def parse_specs(args: argparse.Namespace) -> list[VmSpec]:
    defaults = {"memory": args.memory, "smp": args.smp, "extra_disk_gb": args.extra_disk_gb, "suite": args.suite}
    entries: list[dict[str, Any]] = []
    if args.spec:
        text = args.spec if args.spec.lstrip().startswith("[") else Path(args.spec).read_text()
        entries = json.loads(text)
    entries += [{"name": host} for host in args.host or []]
    if args.count:
        entries += [{"name": f"{args.name}-{i}"} for i in range(1, args.count + 1)]
    if not entries:
        raise FleetError("nothing to start: give --count, --host or --spec")
    specs = []
    for entry in entries:
        unknown = set(entry) - {"name", *defaults}
        if unknown:
            raise FleetError(f"unknown VM settings {sorted(unknown)} in {entry}")
        spec = VmSpec(**{**defaults, **entry})
        if not NAME_RE.match(spec.name):
            raise FleetError(f"invalid VM name {spec.name!r} (letters, digits, '-')")
        if not NAME_RE.match(spec.suite):
            raise FleetError(f"invalid Debian release {spec.suite!r} for {spec.name}")
        specs.append(spec)
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise FleetError(f"duplicate VM names in {names}")
    return specs


def boot_mode(args: argparse.Namespace) -> str:
    """snapshot (the default) or cold: --cold-boot, else $AGENTNS_FLEET_BOOT."""
    if args.cold_boot:
        return "cold"
    mode = os.environ.get("AGENTNS_FLEET_BOOT", "") or "snapshot"
    if mode not in BOOT_MODES:
        raise FleetError(f"AGENTNS_FLEET_BOOT={mode!r}: use {' or '.join(BOOT_MODES)}")
    return mode


@dataclass
class Run:
    """One `up`: where its VMs go on record, its run id and waits, and what it started."""

    state_dir: Path
    state: State
    run_id: str
    lifetime: float
    timeout: float
    stall_timeout: float
    taken: set[int]
    started: list[tuple[Vm, subprocess.Popen[bytes]]] = field(default_factory=list)
    # What each VM was asked to be: a failed restore boots it cold from this.
    plans: dict[str, tuple[VmSpec, Path]] = field(default_factory=dict)
    snapshots: dict[Shape, Snapshot] = field(default_factory=dict)

    def deadline(self) -> int:
        return int(time.time() + self.lifetime)

    def on_spawn(self, vm: Vm, proc: subprocess.Popen[bytes]) -> None:
        # Right after the spawn: whatever fails or interrupts us next, the
        # cleanup of cmd_up, `down` and `reap` can stop it.
        self.started.append((vm, proc))
        put_on_record(self.state_dir, self.state, vm)

    def on_failed(self, vm: Vm) -> None:
        self.started[:] = [(other, proc) for other, proc in self.started if other is not vm]
        if vm.pid:
            forget(self.state, vm)

    def start(self, spec: VmSpec, image: Path, snapshot: Snapshot | None = None) -> tuple[Vm, subprocess.Popen[bytes]]:
        """Boot a VM, or with snapshot restore it (its overlay on the snapshot's disk, -incoming its state)."""
        self.plans[spec.name] = (spec, image)

        def prepare(port: int) -> Vm:
            return prepare_vm(self.state_dir / spec.name, image, spec, port, self.run_id, self.deadline(), snapshot)

        vm, proc = start_vm(prepare, self.taken, self.on_spawn, self.on_failed, restore_uri(snapshot) if snapshot else None)
        how = f"restoring {snapshot.dir}" if snapshot else "booting"
        say(f"started {vm.name} (pid {vm.pid}, ssh port {vm.port}, run {self.run_id}; {how})")
        return vm, proc

    def start_planned(self, spec: VmSpec, image: Path) -> None:
        """Start a VM from its shape's snapshot if there is one, else boot it."""
        snapshot = self.snapshots.get(Shape.of(spec, image))
        if snapshot is None:
            self.start(spec, image)
            return
        try:
            self.start(spec, image, snapshot)
        except FleetError as err:  # QEMU exited at once: a stream it cannot read
            self.boot_cold_instead(spec.name, snapshot.dir, str(err))

    def boot_cold_instead(
        self, name: str, snapshot_dir: Path, why: str, running: tuple[Vm, subprocess.Popen[bytes]] | None = None
    ) -> tuple[Vm, subprocess.Popen[bytes]]:
        """A restore failed: stop that QEMU, drop the snapshot (the next `up` makes a new one), boot the VM cold.

        Once only: a cold boot that fails fails the `up`, as without snapshots.
        """
        say(f"{name}: the restore failed; dropping the snapshot {snapshot_dir} and booting {name} cold. Why:\n{why}")
        if running is not None:
            vm, proc = running
            stop_vm(vm, proc)
            self.on_failed(vm)
        drop_snapshot(snapshot_dir)
        self.snapshots = {shape: kept for shape, kept in self.snapshots.items() if kept.dir != snapshot_dir}
        spec, image = self.plans[name]
        return self.start(spec, image)

    def running_watches(self) -> list[Watch]:
        """A watch of each VM started, once each restored one runs (or boots cold instead)."""
        watches = []
        for vm, proc in list(self.started):
            if vm.restored:
                try:
                    finish_restore(vm, proc, self.stall_timeout)
                except RestoreFailed as err:
                    vm, proc = self.boot_cold_instead(vm.name, Path(vm.snapshot), str(err), (vm, proc))
            watches.append(watch_vm(vm, proc, offset=0, restored=vm.restored))
        return watches

    def wait_ready(self, watches: list[Watch]) -> None:
        """wait_ssh for every VM; a restored one that does not come up boots cold instead."""
        pending = list(watches)
        while True:
            try:
                wait_ssh(self.state, [watch for watch in pending if watch.vm.ssh_ready_seconds is None], self.timeout, self.stall_timeout)
                return
            except RestoreFailed as err:
                failed = next(watch for watch in pending if watch.vm.name == err.name)
                pending.remove(failed)
                running = (failed.vm, failed.proc) if failed.proc else None
                vm, proc = self.boot_cold_instead(err.name, Path(failed.vm.snapshot), str(err), running)
                pending.append(watch_vm(vm, proc, offset=0))

    def ensure_snapshots(self, shapes: list[Shape]) -> None:
        """A snapshot in self.snapshots for each shape, made now where missing; a shape without one boots cold."""
        missing = []
        for shape in dict.fromkeys(shapes):
            key = snapshot_key(shape)
            snapshot = find_snapshot(shape.image, key)
            if snapshot is None:
                missing.append((shape, key))
            else:
                self.snapshots[shape] = snapshot
        if not missing:
            return
        limit = self.timeout + SNAPSHOT_SETTLE_TIMEOUT + SNAPSHOT_SAVE_TIMEOUT + SNAPSHOT_LOCK_MARGIN
        try:
            with contextlib.ExitStack() as locks:
                mine = []
                # Every `up` takes the locks in one order: none waits for another that waits for it.
                for shape, key in sorted(missing, key=lambda item: item[1]):
                    if not locks.enter_context(snapshot_locked(shape.image, key, limit)):
                        say(f"gave up waiting for the snapshot {snapshot_link(shape.image, key)}: its VMs boot cold")
                        continue
                    snapshot = find_snapshot(shape.image, key)
                    if snapshot is not None:
                        say(f"using the snapshot {snapshot.dir}, made meanwhile by another fleet.py")
                        self.snapshots[shape] = snapshot
                        continue
                    remove_unpublished(shape.image, key)
                    mine.append((shape, key))
                self.snapshots.update(self.create_snapshots(mine))
        except OSError as err:
            say(f"cannot make a booted-state snapshot ({err}): booting cold")

    def create_snapshots(self, wanted: list[tuple[Shape, str]]) -> dict[Shape, Snapshot]:
        """Boot one VM per shape, together, and save each one's booted state; none for a shape whose creation failed."""
        builds: list[SnapshotBuild] = []
        made: dict[Shape, Snapshot] = {}
        try:
            for shape, key in wanted:
                build = SnapshotBuild(shape=shape, key=key, work=shape.image / f".booted-{key}.work-{uuid.uuid4().hex[:12]}")
                build.work.mkdir()
                builds.append(build)
                say(f"creating the booted-state snapshot {snapshot_link(shape.image, key)} ({shape.describe()}): one cold boot, for every `up` after it")
                self.boot_for_snapshot(build)
            wait_ssh(self.state, [watch_vm(build.vm, build.proc, offset=0) for build in builds if build.vm], self.timeout, self.stall_timeout)
            for build in builds:
                made[build.shape] = save_snapshot(self.state, build)
                say(f"saved the snapshot {made[build.shape].dir}")
        except FleetError as err:
            say(f"creating a snapshot failed; its VMs boot cold. Why:\n{err}")
            for build in builds:
                keep_console(build, self.state_dir)
        finally:
            with signals_held():
                for build in builds:
                    abandon_snapshot(build)
        return made

    def boot_for_snapshot(self, build: SnapshotBuild) -> None:
        """Start the VM whose booted state becomes the snapshot: one of this run, in the reaper's registry, not in state.json."""
        shape = build.shape
        spec = VmSpec(name=f"snapshot-{build.key[:8]}", memory=shape.memory, smp=shape.smp, extra_disk_gb=shape.extra_disk_gb)

        def prepare(port: int) -> Vm:
            return prepare_vm(build.work, shape.image, spec, port, self.run_id, self.deadline())

        def on_spawn(vm: Vm, proc: subprocess.Popen[bytes]) -> None:
            build.vm, build.proc = vm, proc
            register(vm, self.state_dir)

        def on_failed(vm: Vm) -> None:
            build.vm = build.proc = None
            unregister(vm.pid)

        start_vm(prepare, self.taken, on_spawn, on_failed)

    def stop_started(self, err: BaseException) -> None:
        """Interrupted or failed: stop what this `up` started, keep the console logs."""
        why = f"interrupted ({err})" if isinstance(err, Interrupted | KeyboardInterrupt) else "failed"
        if self.started:
            say(f"up {why}: stopping {', '.join(vm.name for vm, _proc in self.started)}")
        for vm, proc in list(self.started):
            try:
                stop_vm(vm, proc)
            except FleetError as stop_err:
                say(f"error: {stop_err}")
                continue
            forget(self.state, vm)


def cmd_up(args: argparse.Namespace) -> int:
    specs = parse_specs(args)
    boot = boot_mode(args)
    state_dir = Path(args.state_dir)
    run_id = new_run_id()
    lifetime = env_seconds("AGENTNS_FLEET_MAX_LIFETIME", DEFAULT_MAX_LIFETIME)
    reap()  # expired VMs of any checkout, before this run takes CPU and memory
    with locked(state_dir):
        state = load_state(state_dir)
        # One image per Debian release the specs name (--image: that one for all).
        suites = list(dict.fromkeys(spec.suite for spec in specs))
        if args.image and len(suites) > 1:
            raise FleetError(f"--image is one image, but the VMs ask for {', '.join(suites)}: leave --image out")
        images = {suite: ensure_image(args.image, suite) for suite in suites}
        image = images[specs[0].suite]
        state.image, state.key = str(image), str(image / "id_ed25519")
        run = Run(
            state_dir=state_dir,
            state=state,
            run_id=run_id,
            lifetime=lifetime,
            timeout=args.timeout,
            stall_timeout=args.stall_timeout,
            taken={vm.port for vm in state.machines.values()},
        )
        say(f"run {run_id}: VMs stop by themselves at the latest {lifetime:.0f}s from now (reap)")
        try:
            todo = []
            for spec in specs:
                old = state.machines.get(spec.name)
                if old and pid_is_ours(old):
                    say(f"{spec.name} already running (pid {old.pid})")
                    continue
                todo.append(spec)
            if boot == "snapshot" and todo:
                run.ensure_snapshots([Shape.of(spec, images[spec.suite]) for spec in todo])
            for spec in todo:
                run.start_planned(spec, images[spec.suite])
            run.wait_ready(run.running_watches())
            for vm, _proc in run.started:
                set_hostname(state, vm, first=after_restore_script() if vm.restored else "")
        except BaseException as err:
            with signals_held():
                run.stop_started(err)
            raise
        finally:
            save_state(state)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    """Stop every VM asked for (all: and the repository server); one that will not stop does not stop the rest."""
    state_dir = Path(args.state_dir)
    failures = []
    with locked(state_dir), signals_held():
        state = load_state(state_dir)
        for name in args.names or list(state.machines):
            vm = state.machines.get(name)
            if vm is None:
                known = ", ".join(sorted(state.machines)) or "none"
                failures.append(f"no VM named {name!r} in {state.path} (known: {known})")
                continue
            try:
                stop_vm(vm)
            except (FleetError, OSError) as err:
                failures.append(str(err))
                continue  # kept in state.json: a later `down` tries again
            if args.keep_disks:
                unregister(vm.pid)
                del state.machines[name]
                save_state(state)
            else:
                forget(state, vm)
            say(f"stopped {name} (console log kept: {vm.console})")
        if not args.names:
            try:
                stop_repo_server(state_dir)
            except (FleetError, OSError) as err:
                failures.append(str(err))
    if failures:
        raise FleetError(f"{len(failures)} not stopped (VMs or the repository server):\n" + "\n".join(failures))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Start the state dir's repository server unless it runs; print its repo-server.json."""
    state_dir = Path(args.state_dir)
    run_id = new_run_id()
    lifetime = env_seconds("AGENTNS_FLEET_MAX_LIFETIME", DEFAULT_MAX_LIFETIME) if args.lifetime is None else args.lifetime
    if lifetime <= 0:
        raise FleetError(f"--lifetime {lifetime:g} must be positive")
    directory = Path(args.directory).resolve()
    with locked(state_dir):
        server = load_repo_server(state_dir)
        if server is not None and repo_server_runs(server):
            server.started = False
        else:
            directory.mkdir(parents=True, exist_ok=True)  # the build may publish into it later
            server = start_repo_server(state_dir, directory, run_id, lifetime)
            say(f"serving {directory} on http://127.0.0.1:{server.port}/ (pid {server.pid}, run {run_id}, stops by itself at {server.deadline})")
    print(json.dumps(asdict(server)))
    return 0


def cmd_reap(args: argparse.Namespace) -> int:
    reaped = reap(args.run_id)
    say(f"reaped {len(reaped)} VM(s) or server(s)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state = load_state(Path(args.state_dir))
    rows = []
    for vm in state.machines.values():
        running = pid_is_ours(vm)
        rows.append(
            {
                "name": vm.name,
                "pid": vm.pid,
                "running": running,
                "ssh": running and ssh_banner(vm.port, timeout=1),
                "port": vm.port,
                "console": vm.console,
                "run_id": vm.run_id,
                "deadline": vm.deadline,
                "restored": vm.restored,
                "snapshot": vm.snapshot,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'NAME':<20} {'PID':>8} {'STATE':<8} {'SSH':<5} {'PORT':>6} {'START':<8}  CONSOLE")
    for row in rows:
        run = "running" if row["running"] else "stopped"
        ssh = "up" if row["ssh"] else "down"
        start = "restored" if row["restored"] else "booted"
        print(f"{row['name']:<20} {row['pid']:>8} {run:<8} {ssh:<5} {row['port']:>6} {start:<8}  {row['console']}")
    return 0


def power_off_on(state_dir: Path, state: State, vm: Vm) -> None:
    """A cold power cycle: a new QEMU on the same disks, as a BMC's power off and on.

    The console log of the stuck boot is kept beside the new one.
    """
    stop_vm(vm)
    unregister(vm.pid)
    console = Path(vm.console)
    if console.exists():
        console.replace(console.with_name(f"console-before-power-cycle-{int(time.time())}.log"))
    Path(vm.qmp).unlink(missing_ok=True)

    launch(vm, lambda new, _proc: put_on_record(state_dir, state, new))


def cmd_reset(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    state = load_state(state_dir)
    vm = get_vm(state, args.name)
    if not pid_is_ours(vm):
        raise FleetError(f"VM {vm.name} is not running")
    since = time.time()
    say(f"{vm.name}: its state before the reset: {record_guest_state(vm, 'before a power-cycle (fleet.py reset)')}")
    watch = watch_vm(vm)  # only console output after the reset counts
    qmp(vm.qmp, "system_reset")
    say(f"{vm.name} power-cycled (QMP system_reset)")
    if not args.wait:
        return 0
    # The reset is only queued when QMP answers; let the old sshd go away.
    time.sleep(2)
    try:
        wait_ssh(state, [watch], args.timeout, args.stall_timeout, since=since)
    except BootStalled as err:
        # A guest frozen across a reset (seen under TCG) boots again in a new
        # QEMU; a BMC's power off and on is that, a reset is not.
        say(f"{err}\n{vm.name}: no progress after the reset; powering it off and on (a new QEMU on the same disks)")
        with locked(state_dir):
            state = load_state(state_dir)
            vm = get_vm(state, args.name)
            power_off_on(state_dir, state, vm)
        say(f"{vm.name} powered on again (pid {vm.pid})")
        wait_ssh(state, [watch_vm(vm, offset=0)], args.timeout, args.stall_timeout, since=since)
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    """Freeze a VM (QMP stop) or let it run on (cont): a host that vanishes mid-run and comes back."""
    state = load_state(Path(args.state_dir))
    vm = get_vm(state, args.name)
    if not pid_is_ours(vm):
        raise FleetError(f"VM {vm.name} is not running")
    if args.command == "pause":
        qmp(vm.qmp, "stop")
        say(f"{vm.name} paused (QMP stop): it answers nothing until `fleet.py resume {vm.name}`")
        return 0
    qmp(vm.qmp, "cont")
    say(f"{vm.name} resumed (QMP cont)")
    if args.wait:
        wait_ssh(state, [watch_vm(vm)], args.timeout, args.stall_timeout, since=time.time())
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    state = load_state(Path(args.state_dir))
    vms = [get_vm(state, name) for name in args.names or state.machines]
    wait_ssh(state, [watch_vm(vm, offset=0) for vm in vms], args.timeout, args.stall_timeout, since=time.time())
    return 0


def host_vars(state: State, vm: Vm) -> dict[str, str | int]:
    return {
        "ansible_host": "127.0.0.1",
        "ansible_port": vm.port,
        "ansible_user": SSH_USER,
        "ansible_ssh_private_key_file": vm.key or state.key,
        "ansible_ssh_common_args": SSH_OPTIONS,
        "ansible_python_interpreter": "/usr/bin/python3",
    }


def cmd_inventory(args: argparse.Namespace) -> int:
    state = load_state(Path(args.state_dir))
    hosts = {vm.name: host_vars(state, vm) for vm in state.machines.values()}
    if args.format == "json":
        print(json.dumps({args.group: {"hosts": hosts}}, indent=2))
    elif args.format == "ini":
        print(f"[{args.group}]")
        for name, hvars in hosts.items():
            pairs = " ".join(f"{k}={json.dumps(v) if ' ' in str(v) else v}" for k, v in hvars.items())
            print(f"{name} {pairs}")
    else:
        # JSON scalars are valid YAML, which keeps this stdlib-only.
        print(f"---\nall:\n  children:\n    {args.group}:\n      hosts:")
        for name, hvars in hosts.items():
            print(f"        {name}:")
            for key, value in hvars.items():
                print(f"          {key}: {json.dumps(value)}")
    return 0


def cmd_ssh(args: argparse.Namespace) -> int:
    state = load_state(Path(args.state_dir))
    vm = get_vm(state, args.name)
    argv = ssh_argv(state, vm, " ".join(args.command) if args.command else None)
    os.execvp(argv[0], argv)
    return 1  # not reached


def cmd_console(args: argparse.Namespace) -> int:
    state = load_state(Path(args.state_dir))
    vm = get_vm(state, args.name)
    print(f"==> {vm.console}")
    print(console_tail(vm, args.lines))
    return 0


# --- command line -----------------------------------------------------------


def default_state_dir() -> str:
    return os.environ.get("AGENTNS_FLEET_STATE_DIR", str(REPO / "build" / "fleet"))


def wait_timeouts() -> tuple[float, float]:
    """The waits' hard cap and stall limit: the environment's, else the defaults measured under CI's load."""
    return (
        env_seconds("AGENTNS_FLEET_BOOT_TIMEOUT", DEFAULT_BOOT_TIMEOUT),
        env_seconds("AGENTNS_FLEET_STALL_TIMEOUT", DEFAULT_STALL_TIMEOUT),
    )


def cmd_timeouts(_args: argparse.Namespace) -> int:
    """The one source of the fleet's timeouts: Molecule's power-cycle hook and waits read them here."""
    boot, stall = wait_timeouts()
    print(json.dumps({"boot": round(boot), "stall": round(stall)}))
    return 0


def add_wait_options(parser: argparse.ArgumentParser) -> None:
    boot, stall = wait_timeouts()
    parser.add_argument(
        "--timeout",
        type=float,
        default=boot,
        help=f"hard cap in seconds on the wait for SSH (default: $AGENTNS_FLEET_BOOT_TIMEOUT or {DEFAULT_BOOT_TIMEOUT:.0f}; now {boot:.0f})",
    )
    parser.add_argument(
        "--stall-timeout",
        type=float,
        default=stall,
        help=f"fail after this many seconds without console output (default: $AGENTNS_FLEET_STALL_TIMEOUT or {DEFAULT_STALL_TIMEOUT:.0f}; now {stall:.0f})",
    )


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir",
        default=default_state_dir(),
        help="where state.json, overlays and console logs live (default: $AGENTNS_FLEET_STATE_DIR or build/fleet)",
    )
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", parents=[common], help="start VMs and wait for SSH")
    up.add_argument("--count", type=int, default=0, help="start COUNT VMs named PREFIX-1..COUNT")
    up.add_argument("--name", default="vm", help="name prefix for --count (default: vm)")
    up.add_argument("--host", action="append", help="start a VM with this exact name (repeatable)")
    up.add_argument("--spec", help="JSON list of {name, memory, smp, extra_disk_gb, suite}: a file, or the list itself")
    up.add_argument("--memory", type=int, default=1536, help="MiB per VM (default: 1536)")
    up.add_argument("--smp", type=int, default=1, help="vCPUs per VM (default: 1)")
    up.add_argument("--extra-disk-gb", type=int, default=0, help="size of a blank second disk (vdb)")
    up.add_argument(
        "--image",
        default=os.environ.get("AGENTNS_FLEET_IMAGE") or None,
        help="image directory (default: $AGENTNS_FLEET_IMAGE, else build or reuse the cached one of each --suite)",
    )
    up.add_argument("--suite", default=DEFAULT_SUITE, help=f"Debian release of the VMs (default: {DEFAULT_SUITE}; a spec's suite wins)")
    up.add_argument(
        "--cold-boot",
        action="store_true",
        help="boot through BIOS, GRUB and systemd instead of restoring a booted-state snapshot (as AGENTNS_FLEET_BOOT=cold)",
    )
    add_wait_options(up)
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", parents=[common], help="stop VMs started from this state dir, and its repository server")
    down.add_argument("names", nargs="*", help="only these VMs (default: all, and the repository server)")
    down.add_argument("--keep-disks", action="store_true", help="keep the overlays")
    down.set_defaults(func=cmd_down)

    serve = sub.add_parser("serve", parents=[common], help="serve a directory over HTTP to the VMs (one server per state dir)")
    serve.add_argument("directory", help="served read-only; created if missing")
    serve.add_argument(
        "--lifetime",
        type=float,
        help=f"seconds until it stops by itself (default: $AGENTNS_FLEET_MAX_LIFETIME or {DEFAULT_MAX_LIFETIME:.0f})",
    )
    serve.set_defaults(func=cmd_serve)

    status = sub.add_parser("status", parents=[common], help="show the VMs")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    def one_vm(command: str, help_text: str, func: Callable[[argparse.Namespace], int], wait_help: str = "") -> None:
        parser = sub.add_parser(command, parents=[common], help=help_text)
        parser.add_argument("name")
        if wait_help:
            parser.add_argument("--wait", action="store_true", help=wait_help)
            add_wait_options(parser)
        parser.set_defaults(func=func)

    one_vm("reset", "hard power-cycle a VM (QMP system_reset)", cmd_reset, "wait for SSH to come back")
    one_vm("pause", "freeze a VM where it is (QMP stop)", cmd_pause)
    one_vm("resume", "let a paused VM run on (QMP cont)", cmd_pause, "wait until it answers SSH")

    wait = sub.add_parser("wait", parents=[common], help="wait until VMs accept SSH")
    wait.add_argument("names", nargs="*")
    add_wait_options(wait)
    wait.set_defaults(func=cmd_wait)

    timeouts = sub.add_parser("timeouts", help="print the waits' timeouts in seconds as JSON (boot, stall), for the playbooks")
    timeouts.set_defaults(func=cmd_timeouts)

    reaper = sub.add_parser("reap", help="stop expired VMs and servers of every checkout (and with --run-id, all of one run)")
    reaper.add_argument("--run-id", help="also stop every VM and server of this run, expired or not")
    reaper.set_defaults(func=cmd_reap)

    inv = sub.add_parser("inventory", parents=[common], help="print an Ansible inventory")
    inv.add_argument("--format", choices=("yaml", "ini", "json"), default="yaml")
    inv.add_argument("--group", default="fleet")
    inv.set_defaults(func=cmd_inventory)

    ssh = sub.add_parser("ssh", parents=[common], help="ssh into a VM")
    ssh.add_argument("name")
    ssh.add_argument("command", nargs=argparse.REMAINDER)
    ssh.set_defaults(func=cmd_ssh)

    console = sub.add_parser("console", parents=[common], help="show the end of a console log")
    console.add_argument("name")
    console.add_argument("-n", "--lines", type=int, default=CONSOLE_TAIL_LINES)
    console.set_defaults(func=cmd_console)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        with signals_raise():
            if argv[:1] == [SERVE_CHILD]:
                return serve_directory(argv[1:])
            args = build_parser().parse_args(argv)
            return int(args.func(args))
    except FleetError as err:
        say(f"error: {err}")
        return 1
    except Interrupted as sig:
        say(f"interrupted by {sig}")
        return 128 + sig.signum
    except KeyboardInterrupt:
        say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
