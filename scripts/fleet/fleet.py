#!/usr/bin/env python3
"""Launch and manage the agentns test fleet: Debian VMs under QEMU (TCG).

Every VM boots the cached base image (scripts/fleet/build-image.sh) through
BIOS and GRUB from its own qcow2 overlay, so each run starts clean. SSH is
forwarded from 127.0.0.1; the serial console is logged to a file, and a QMP
socket lets `reset` power-cycle a VM the way a BMC would.

All state (ports, pids, paths) lives in STATE_DIR/state.json; `down` stops
only the QEMU processes recorded there.

    fleet.py up --count 2 --name vm --state-dir DIR
    fleet.py inventory --state-dir DIR > hosts.yml
    fleet.py reset vm-1 --wait --state-dir DIR
    fleet.py ssh --state-dir DIR vm-1 uname -r   (options before the name)
    fleet.py down --state-dir DIR

--state-dir defaults to $AGENTNS_FLEET_STATE_DIR, else build/fleet.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
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


def say(message: str) -> None:
    """Progress for humans goes to stderr; stdout is kept for data."""
    print(f"fleet: {message}", file=sys.stderr)


class FleetError(Exception):
    """A failure to report to the user without a traceback."""


@dataclass
class VmSpec:
    """What to boot: one entry of `up`."""

    name: str
    memory: int = 1536
    smp: int = 1
    extra_disk_gb: int = 0


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
    pidfile: str
    memory: int
    smp: int
    started: float
    ssh_ready_seconds: float | None = None


@dataclass
class State:
    """The fleet of one state directory."""

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
    raw = json.loads(path.read_text())
    vms = {name: Vm(**vm) for name, vm in raw.get("vms", {}).items()}
    return State(path=path, image=raw.get("image", ""), key=raw.get("key", ""), vms=vms)


def save_state(state: State) -> None:
    data = {
        "image": state.image,
        "key": state.key,
        "vms": {name: asdict(vm) for name, vm in state.machines.items()},
    }
    tmp = state.path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(state.path)


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


def pid_is_ours(vm: Vm) -> bool:
    """True if vm.pid is alive and still the QEMU we started (pids get reused)."""
    try:
        cmdline = Path(f"/proc/{vm.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(b"qemu-system" in arg for arg in cmdline[:1]) and vm.pidfile.encode() in cmdline


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
        json.loads(reader.readline())  # greeting
        for execute, args in (("qmp_capabilities", None), (command, arguments)):
            msg: dict[str, Any] = {"execute": execute}
            if args:
                msg["arguments"] = args
            sock.sendall(json.dumps(msg).encode() + b"\n")
            while True:
                reply = json.loads(reader.readline())
                if "event" not in reply:
                    break
            if "error" in reply:
                raise FleetError(f"QMP {execute} failed: {reply['error']}")
        return reply


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


def ensure_image(image: str | None) -> Path:
    """The image directory: the one given, or the cached build."""
    if image:
        path = Path(image).resolve()
    else:
        done = subprocess.run(["bash", str(BUILD_IMAGE)], stdout=subprocess.PIPE, text=True, check=False)
        if done.returncode != 0:
            raise FleetError(f"{BUILD_IMAGE} failed (exit {done.returncode})")
        path = Path(done.stdout.strip().splitlines()[-1])
    if not (path / "base.qcow2").is_file():
        raise FleetError(f"no base.qcow2 in {path}")
    return path


# --- starting VMs -----------------------------------------------------------


def qemu_argv(vm: Vm) -> list[str]:
    options = [
        ("-name", f"agentns-{vm.name}"),
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
        ("-serial", f"file:{vm.console}"),
        ("-device", "i6300esb"),
        ("-watchdog-action", "reset"),
        ("-qmp", f"unix:{vm.qmp},server=on,wait=off"),
        ("-pidfile", vm.pidfile),
    ]
    if vm.extra_disk:
        options.append(("-drive", f"file={vm.extra_disk},format=qcow2,if=virtio,cache=unsafe"))
    argv = ["qemu-system-x86_64", "-nodefaults", "-daemonize"]
    for flag, value in options:
        argv += [flag, value]
    return argv


def qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, stdout=subprocess.DEVNULL)


def prepare_vm(state_dir: Path, image: Path, spec: VmSpec, port: int) -> Vm:
    vm_dir = (state_dir / spec.name).resolve()
    vm_dir.mkdir(parents=True, exist_ok=True)
    overlay = vm_dir / "disk.qcow2"
    overlay.unlink(missing_ok=True)
    qemu_img(
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        str(image / "base.qcow2"),
        "-F",
        "qcow2",
        str(overlay),
    )
    extra = None
    if spec.extra_disk_gb > 0:
        extra = vm_dir / "extra.qcow2"
        extra.unlink(missing_ok=True)
        qemu_img("create", "-q", "-f", "qcow2", str(extra), f"{spec.extra_disk_gb}G")
    qmp_path = qmp_socket_path(vm_dir)
    qmp_path.unlink(missing_ok=True)
    return Vm(
        name=spec.name,
        port=port,
        pid=0,
        dir=str(vm_dir),
        overlay=str(overlay),
        extra_disk=str(extra) if extra else None,
        console=str(vm_dir / "console.log"),
        qmp=str(qmp_path),
        pidfile=str(vm_dir / "qemu.pid"),
        memory=spec.memory,
        smp=spec.smp,
        started=0.0,
    )


def launch(vm: Vm) -> None:
    done = subprocess.run(qemu_argv(vm), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise FleetError(f"QEMU for {vm.name} failed to start:\n{done.stderr.strip()}")
    vm.pid = int(Path(vm.pidfile).read_text().strip())
    vm.started = time.time()


def start_vm(state_dir: Path, image: Path, spec: VmSpec, taken: set[int]) -> Vm:
    """Create the overlay and start QEMU; retry if the port got taken meanwhile."""
    for _attempt in range(5):
        vm = prepare_vm(state_dir, image, spec, free_port(taken))
        try:
            launch(vm)
        except FleetError as err:
            if "hostfwd" not in str(err) and "forward" not in str(err):
                raise
            continue
        return vm
    raise FleetError(f"could not find a free SSH port for {spec.name}")


# --- SSH --------------------------------------------------------------------


def ssh_argv(state: State, vm: Vm, command: str | None = None) -> list[str]:
    login = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-i", state.key, "-p", str(vm.port)]
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


def timeout_error(vm: Vm, timeout: float, why: str) -> FleetError:
    return FleetError(
        f"VM {vm.name}: {why} after {timeout:.0f}s (SSH port {vm.port}).\n"
        f"Console log: {vm.console}\n"
        f"--- last {CONSOLE_TAIL_LINES} console lines ---\n{console_tail(vm)}"
    )


def wait_ssh(state: State, vms: list[Vm], timeout: float, since: float | None = None) -> None:
    """Wait until every VM accepts an SSH login; fail naming the console log."""
    start = time.monotonic()
    waiting = {vm.name: vm for vm in vms}
    while waiting:
        for name, vm in list(waiting.items()):
            if not pid_is_ours(vm):
                raise timeout_error(vm, time.monotonic() - start, "QEMU exited")
            if ssh_banner(vm.port) and ssh_login_works(state, vm):
                vm.ssh_ready_seconds = round(time.time() - (since or vm.started), 1)
                say(f"{name} ready on port {vm.port} after {vm.ssh_ready_seconds}s")
                del waiting[name]
        if waiting and time.monotonic() - start > timeout:
            vm = next(iter(waiting.values()))
            raise timeout_error(vm, timeout, "SSH not ready")
        if waiting:
            time.sleep(1)


def set_hostname(state: State, vm: Vm) -> None:
    # /etc/hosts first, so sudo can resolve the new name at once.
    script = (
        "set -e; "
        f"sudo sed -i 's/^127\\.0\\.1\\.1\\s.*/127.0.1.1\\t{vm.name}/' /etc/hosts; "
        f"sudo hostnamectl set-hostname {vm.name} 2>/dev/null || "
        f"{{ echo {vm.name} | sudo tee /etc/hostname >/dev/null; sudo hostname {vm.name}; }}"
    )
    done = ssh_run(state, vm, script)
    if done.returncode != 0:
        raise FleetError(f"VM {vm.name}: setting the hostname failed: {done.stderr.strip()}")


# --- stopping ---------------------------------------------------------------


def wait_gone(vm: Vm, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_is_ours(vm):
            return True
        time.sleep(0.2)
    return not pid_is_ours(vm)


def stop_vm(vm: Vm) -> None:
    """Stop one QEMU: QMP quit, then SIGTERM, then SIGKILL, by recorded pid."""
    if not pid_is_ours(vm):
        return
    with contextlib.suppress(OSError, FleetError, ValueError):
        qmp(vm.qmp, "quit")
    if wait_gone(vm, 10):
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(vm.pid, sig)
        if wait_gone(vm, 5):
            return
    raise FleetError(f"VM {vm.name}: QEMU pid {vm.pid} did not exit")


def remove_disks(vm: Vm) -> None:
    for disk in (vm.overlay, vm.extra_disk):
        if disk:
            Path(disk).unlink(missing_ok=True)
    Path(vm.qmp).unlink(missing_ok=True)


# --- commands ---------------------------------------------------------------


def parse_specs(args: argparse.Namespace) -> list[VmSpec]:
    defaults = {"memory": args.memory, "smp": args.smp, "extra_disk_gb": args.extra_disk_gb}
    entries: list[dict[str, Any]] = []
    if args.spec:
        entries = json.loads(Path(args.spec).read_text())
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
        specs.append(spec)
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise FleetError(f"duplicate VM names in {names}")
    return specs


def cmd_up(args: argparse.Namespace) -> int:
    specs = parse_specs(args)
    state_dir = Path(args.state_dir)
    with locked(state_dir):
        state = load_state(state_dir)
        image = ensure_image(args.image)
        running = [vm.name for vm in state.machines.values() if pid_is_ours(vm)]
        if running and state.image != str(image):
            raise FleetError(f"{state_dir} runs {running} from {state.image}; run down first")
        state.image, state.key = str(image), str(image / "id_ed25519")
        taken = {vm.port for vm in state.machines.values()}
        started = []
        for spec in specs:
            old = state.machines.get(spec.name)
            if old and pid_is_ours(old):
                say(f"{spec.name} already running (pid {old.pid})")
                continue
            vm = start_vm(state_dir, image, spec, taken)
            state.machines[spec.name] = vm
            save_state(state)  # so `down` can find it even if the wait fails
            started.append(vm)
            say(f"started {vm.name} (pid {vm.pid}, ssh port {vm.port})")
        try:
            wait_ssh(state, started, args.timeout)
            for vm in started:
                set_hostname(state, vm)
        finally:
            save_state(state)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir)
    with locked(state_dir):
        state = load_state(state_dir)
        names = args.names or list(state.machines)
        for name in names:
            vm = get_vm(state, name)
            stop_vm(vm)
            if not args.keep_disks:
                remove_disks(vm)
            del state.machines[name]
            save_state(state)
            say(f"stopped {name} (console log kept: {vm.console})")
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
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'NAME':<20} {'PID':>8} {'STATE':<8} {'SSH':<5} {'PORT':>6}  CONSOLE")
    for row in rows:
        run = "running" if row["running"] else "stopped"
        ssh = "up" if row["ssh"] else "down"
        print(f"{row['name']:<20} {row['pid']:>8} {run:<8} {ssh:<5} {row['port']:>6}  {row['console']}")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    state = load_state(Path(args.state_dir))
    vm = get_vm(state, args.name)
    if not pid_is_ours(vm):
        raise FleetError(f"VM {vm.name} is not running")
    since = time.time()
    qmp(vm.qmp, "system_reset")
    say(f"{vm.name} power-cycled (QMP system_reset)")
    if args.wait:
        # The reset is only queued when QMP answers; let the old sshd go away.
        time.sleep(2)
        wait_ssh(state, [vm], args.timeout, since=since)
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    state = load_state(Path(args.state_dir))
    vms = [get_vm(state, name) for name in args.names or state.machines]
    wait_ssh(state, vms, args.timeout, since=time.time())
    return 0


def host_vars(state: State, vm: Vm) -> dict[str, str | int]:
    return {
        "ansible_host": "127.0.0.1",
        "ansible_port": vm.port,
        "ansible_user": SSH_USER,
        "ansible_ssh_private_key_file": state.key,
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
    up.add_argument("--spec", help="JSON list of {name, memory, smp, extra_disk_gb}")
    up.add_argument("--memory", type=int, default=1536, help="MiB per VM (default: 1536)")
    up.add_argument("--smp", type=int, default=1, help="vCPUs per VM (default: 1)")
    up.add_argument("--extra-disk-gb", type=int, default=0, help="size of a blank second disk (vdb)")
    up.add_argument("--image", help="image directory (default: build or reuse the cached one)")
    up.add_argument(
        "--timeout",
        type=float,
        default=180,
        help="seconds to wait for SSH (default: 180)",
    )
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", parents=[common], help="stop VMs started from this state dir")
    down.add_argument("names", nargs="*", help="only these VMs (default: all)")
    down.add_argument("--keep-disks", action="store_true", help="keep the overlays")
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", parents=[common], help="show the VMs")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    reset = sub.add_parser("reset", parents=[common], help="hard power-cycle a VM (QMP system_reset)")
    reset.add_argument("name")
    reset.add_argument("--wait", action="store_true", help="wait for SSH to come back")
    reset.add_argument("--timeout", type=float, default=180)
    reset.set_defaults(func=cmd_reset)

    wait = sub.add_parser("wait", parents=[common], help="wait until VMs accept SSH")
    wait.add_argument("names", nargs="*")
    wait.add_argument("--timeout", type=float, default=180)
    wait.set_defaults(func=cmd_wait)

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
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except FleetError as err:
        say(f"error: {err}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
