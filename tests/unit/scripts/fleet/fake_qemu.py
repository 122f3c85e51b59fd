# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
"""Stand-in for qemu-system-x86_64 in the unit tests of scripts/fleet/fleet.py.

Started through a wrapper that sets argv[0] to qemu-system-x86_64, so
/proc/PID/cmdline looks like a real QEMU's. It honours the options fleet.py
relies on: `-serial file:PATH` (the console log), `-qmp unix:PATH,...` (a QMP
server: qmp_capabilities, query-status, stop, cont, system_reset, quit,
migrate-set-parameters, migrate, query-migrate), the SSH hostfwd port (a
listener that sends an SSH banner once the "guest" is up), `-incoming
exec:CMD` (a restore) and -daemonize/-pidfile (so the tests also run against
older fleet.py versions).

`migrate` with `exec:CMD` writes a fake state to CMD's stdin: the run state
and the device argv (fleet_testlib.device_argv). `-incoming exec:CMD` reads
it back, fails as QEMU does if the device argv differs, and comes up in the
saved run state (paused, when the VM was stopped first) without a word on the
console; SSH answers once it runs.

FAKE_QEMU_MODE picks the guest's behaviour:
  boot      prints a few lines, then "login:", then SSH answers (default)
  slow      prints a line every FAKE_QEMU_LINE_SECONDS, never boots
  stall     prints two lines, then nothing
  crash     prints two lines, then exits with status 3
  io-error  prints two lines, then QMP reports the io-error run state
  shutdown  prints two lines, then QMP reports the shutdown run state
  hostfwd   fails like QEMU does when the SSH port is taken (exit 1); with
            FAKE_QEMU_MARKER set only while that file does not exist yet
FAKE_QEMU_LINE_SECONDS paces the console lines; after a system_reset the
console stays silent for FAKE_QEMU_RESET_SECONDS before the next boot.
FAKE_QEMU_MIGRATE=fail makes a migration fail; FAKE_QEMU_RESTORE picks how a
restore goes: ok (default), fail (QEMU exits at once, as on a bad stream) or
nossh (the guest runs but SSH never answers).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

from fleet_testlib import device_argv

MODE = os.environ.get("FAKE_QEMU_MODE", "boot")
LINE_SECONDS = float(os.environ.get("FAKE_QEMU_LINE_SECONDS", "0.05"))
RESET_SECONDS = float(os.environ.get("FAKE_QEMU_RESET_SECONDS", "0"))
MIGRATE = os.environ.get("FAKE_QEMU_MIGRATE", "ok")
RESTORE = os.environ.get("FAKE_QEMU_RESTORE", "ok")
STATE_MAGIC = "FAKE-QEMU-STATE "
argv = sys.argv[1:]


def option(flag: str) -> str:
    for name, value in itertools.pairwise(argv):
        if name == flag and value:
            return value
    return ""


console_path = option("-serial").removeprefix("file:")
qmp_path = option("-qmp").removeprefix("unix:").split(",")[0]
port_match = re.search(r"hostfwd=tcp:127\.0\.0\.1:(\d+)-", option("-netdev"))
ssh_port = int(port_match.group(1)) if port_match else 0
incoming = option("-incoming")
status = "inmigrate" if incoming else "running"
migration: dict[str, object] = {}
lock = threading.Lock()
boot_generation = 0
listener: socket.socket | None = None


def write(line: str) -> None:
    with open(console_path, "a") as console:
        console.write(line + "\r\n")


def serve_ssh(sock: socket.socket) -> None:
    while True:
        try:
            conn = sock.accept()[0]
        except OSError:
            return
        with conn:
            conn.sendall(b"SSH-2.0-fake_qemu\r\n")


def open_ssh() -> None:
    global listener
    with lock:
        if listener is not None:
            return
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", ssh_port))
        sock.listen(8)
        listener = sock
    threading.Thread(target=serve_ssh, args=(sock,), daemon=True).start()


def save_state(uri: str) -> None:
    """QMP migrate: the fake state to exec:CMD's stdin."""
    global status
    migration["status"] = "active"
    time.sleep(0.1)
    if MIGRATE == "fail":
        migration.update(status="failed", **{"error-desc": "fake migration failure"})
        return
    state = STATE_MAGIC + json.dumps({"status": status, "devices": device_argv(argv)})
    subprocess.run(["sh", "-c", uri.removeprefix("exec:")], input=state.encode(), check=True)
    status = "postmigrate"
    migration["status"] = "completed"


def restore() -> None:
    """-incoming exec:CMD: read the fake state; exit as QEMU does if it does not fit."""
    global status
    data = subprocess.run(["sh", "-c", incoming.removeprefix("exec:")], capture_output=True, check=False).stdout.decode()
    time.sleep(0.1)
    if RESTORE == "fail" or not data.startswith(STATE_MAGIC):
        print("qemu-system-x86_64: load of migration failed: Invalid argument", file=sys.stderr, flush=True)
        os._exit(1)
    saved = json.loads(data.removeprefix(STATE_MAGIC))
    if saved["devices"] != device_argv(argv):
        print(f"qemu-system-x86_64: Unknown savevm section or instance: {saved['devices']} != {device_argv(argv)}", file=sys.stderr, flush=True)
        os._exit(1)
    status = saved["status"]
    if status == "running":
        guest_runs()


def guest_runs() -> None:
    """A restored guest runs on where it was saved: sshd is up, nothing is printed."""
    if RESTORE != "nossh":
        open_ssh()


def boot(generation: int, delay: float = 0.0) -> None:
    global status
    time.sleep(delay)
    write("SeaBIOS (version fake)")
    write("Booting from Hard Disk...")
    if MODE == "slow":
        while True:
            time.sleep(LINE_SECONDS)
            write("[    1.000000] still booting")
    if MODE in ("stall", "crash", "io-error", "shutdown"):
        write("[    0.000000] Linux version fake")
        if MODE == "crash":
            time.sleep(0.5)
            os._exit(3)
        if MODE in ("io-error", "shutdown"):
            time.sleep(0.3)
            status = MODE
        return
    for i in range(5):
        time.sleep(LINE_SECONDS)
        write(f"[    {i}.000000] booting")
    with lock:
        if generation != boot_generation:
            return
        write("debian login: ")
    open_ssh()


def reset() -> None:
    global boot_generation, listener
    with lock:
        boot_generation += 1
        if listener is not None:
            # shutdown first: close alone does not wake a thread blocked in accept.
            listener.shutdown(socket.SHUT_RDWR)
            listener.close()
            listener = None
        generation = boot_generation
    write("[  100.000000] reset")
    threading.Thread(target=boot, args=(generation, RESET_SECONDS), daemon=True).start()


def serve_qmp(conn: socket.socket) -> None:
    global status
    reader = conn.makefile("r")
    conn.sendall(json.dumps({"QMP": {"version": {}, "capabilities": []}}).encode() + b"\n")
    for line in reader:
        message = json.loads(line)
        command = message.get("execute")
        reply: dict[str, object] = {"return": {}}
        if command == "query-status":
            reply = {"return": {"status": status, "running": status == "running"}}
        elif command == "stop":
            write(f"[  100.000000] qmp {command}")
            status = "paused" if status == "running" else status
        elif command == "cont":
            if status == "inmigrate":
                pass  # QEMU only notes it: the restore decides
            elif incoming and status != "running":
                status = "running"
                guest_runs()
            else:
                write(f"[  100.000000] qmp {command}")
                status = "running" if status == "paused" else status
        elif command == "migrate":
            threading.Thread(target=save_state, args=(message["arguments"]["uri"],), daemon=True).start()
        elif command == "query-migrate":
            reply = {"return": dict(migration)}
        elif command not in ("qmp_capabilities", "system_reset", "quit", "migrate-set-parameters"):
            reply = {"error": {"class": "CommandNotFound", "desc": command}}
        conn.sendall(json.dumps(reply).encode() + b"\n")
        if command == "system_reset":
            reset()
        elif command == "quit":
            os._exit(0)


def main() -> None:
    if MODE == "hostfwd":
        marker = os.environ.get("FAKE_QEMU_MARKER", "")
        if not marker or not os.path.exists(marker):
            if marker:
                open(marker, "w").close()
            print(f"qemu-system-x86_64: -netdev user: could not set up host forwarding rule 'tcp:127.0.0.1:{ssh_port}-:22'", file=sys.stderr)
            sys.exit(1)
    open(console_path, "w").close()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(qmp_path)
    server.listen(4)
    if "-daemonize" in argv:  # as QEMU: the parent returns once the VM is set up
        if os.fork():
            os._exit(0)
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        if option("-pidfile"):
            with open(option("-pidfile"), "w") as pidfile:
                pidfile.write(f"{os.getpid()}\n")
    threading.Thread(target=restore if incoming else boot, args=() if incoming else (0,), daemon=True).start()
    while True:
        conn = server.accept()[0]
        with conn:
            try:
                serve_qmp(conn)
            except (OSError, ValueError):
                pass


if __name__ == "__main__":
    main()
