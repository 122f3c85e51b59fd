# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
"""scripts/fleet/fleet.py serve: the repository server stops with the state dir's VMs.

The servers are real (fleet.py's own child serving with http.server); each
test stops what it started, and conftest's env kills whatever is left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from fleet_testlib import alive, cmdline, pids_matching, registered_pids, repo_server_pids, signal_inside_popen, wait_for


@pytest.fixture
def repo(env):
    directory = env["tmp"] / "repo"
    directory.mkdir()
    (directory / "Release").write_text("Origin: agentns\n")
    return directory


def serve(fleet, env, capsys, directory, *extra, state=None) -> dict:
    """fleet.py serve; its stdout must be one line of JSON."""
    assert fleet.main(["serve", "--state-dir", str(state or env["state"]), *extra, str(directory)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


def down(fleet, env, state=None) -> int:
    return fleet.main(["down", "--state-dir", str(state or env["state"])])


def fetch(port: int, name: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{name}", timeout=5) as reply:
        return reply.read().decode()


def server_file(env, state=None):
    return (state or env["state"]) / "repo-server.json"


def test_serve_starts_a_server_of_the_directory_and_notes_it(fleet, env, repo, capsys, monkeypatch):
    monkeypatch.setenv("AGENTNS_RUN_ID", "run-s")
    before = time.time()
    server = serve(fleet, env, capsys, repo, "--lifetime", "600")
    assert server["started"] is True
    assert fetch(server["port"], "Release") == "Origin: agentns\n"
    assert json.loads(server_file(env).read_text()) == server
    assert server["run_id"] == "run-s"
    assert before + 600 <= server["deadline"] <= time.time() + 601
    # Detached, and verifiable like a QEMU: its run id and deadline on its command line.
    pid = server["pid"]
    assert os.getsid(pid) == pid != os.getsid(0)
    assert fleet.process_identity(cmdline(pid)) == ("run-s", server["deadline"])
    assert registered_pids(env["cache"]) == [pid]
    assert down(fleet, env) == 0


def test_a_second_serve_starts_no_other_server(fleet, env, repo, capsys):
    first = serve(fleet, env, capsys, repo)
    again = serve(fleet, env, capsys, repo)
    assert again == {**first, "started": False}
    assert repo_server_pids(str(env["tmp"])) == [first["pid"]]
    assert json.loads(server_file(env).read_text())["started"] is True
    assert down(fleet, env) == 0


def test_down_stops_the_server_and_drops_its_json(fleet, env, repo, capsys):
    server = serve(fleet, env, capsys, repo)
    assert down(fleet, env) == 0
    assert "stopped the repository server" in capsys.readouterr().err
    assert not alive(server["pid"])
    assert not server_file(env).exists()
    assert registered_pids(env["cache"]) == []
    assert down(fleet, env) == 0  # nothing left to stop


def test_down_of_some_vms_leaves_the_server(fleet, env, repo, capsys):
    server = serve(fleet, env, capsys, repo)
    assert fleet.main(["up", "--host", "a", "--image", str(env["image"]), "--state-dir", str(env["state"])]) == 0
    assert fleet.main(["down", "--state-dir", str(env["state"]), "a"]) == 0
    assert alive(server["pid"])
    assert down(fleet, env) == 0
    assert not alive(server["pid"])


def test_down_stops_the_server_past_a_vm_it_cannot_stop(fleet, env, repo, capsys):
    server = serve(fleet, env, capsys, repo)
    assert fleet.main(["up", "--host", "stuck", "--image", str(env["image"]), "--state-dir", str(env["state"])]) == 0
    real_stop = fleet.stop_vm

    def stop(vm, proc=None):
        raise fleet.FleetError(f"VM {vm.name}: QEMU pid {vm.pid} did not exit")

    fleet.stop_vm = stop
    assert down(fleet, env) == 1
    assert "stuck" in capsys.readouterr().err
    assert not alive(server["pid"])
    assert not server_file(env).exists()
    fleet.stop_vm = real_stop
    assert down(fleet, env) == 0


def test_reap_run_id_stops_the_server_of_that_run_only(fleet, env, repo, capsys, monkeypatch):
    monkeypatch.setenv("AGENTNS_RUN_ID", "doomed")
    doomed = serve(fleet, env, capsys, repo)
    monkeypatch.setenv("AGENTNS_RUN_ID", "kept")
    other = env["tmp"] / "other-state"
    kept = serve(fleet, env, capsys, repo, state=other)
    assert fleet.main(["reap", "--run-id", "doomed"]) == 0
    assert not alive(doomed["pid"])
    assert alive(kept["pid"])
    assert registered_pids(env["cache"]) == [kept["pid"]]
    # Its repo-server.json names a server that is gone: serve starts a new one.
    again = serve(fleet, env, capsys, repo)
    assert again["started"] is True and again["pid"] != doomed["pid"]
    assert down(fleet, env) == 0 and down(fleet, env, other) == 0


def test_an_expired_server_is_reaped(fleet, env, repo, capsys):
    server = serve(fleet, env, capsys, repo, "--lifetime", "60")
    assert fleet.reap(now=time.time() + 30) == []
    reaped = fleet.reap(now=server["deadline"] + 1)
    assert [record["pid"] for record in reaped] == [server["pid"]]
    assert not alive(server["pid"])
    assert registered_pids(env["cache"]) == []


def test_a_pid_that_is_not_the_server_is_never_signalled(fleet, env, repo, capsys):
    # A recycled pid: repo-server.json and the registry name a process that
    # serves HTTP too, but is not the server they recorded.
    bystander = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        record = {"pid": bystander.pid, "port": 1, "run_id": "x", "deadline": 1, "started": True}
        env["state"].mkdir()
        server_file(env).write_text(json.dumps(record))
        registry = env["cache"] / "fleet" / "registry"
        registry.mkdir(parents=True)
        (registry / f"{bystander.pid}.json").write_text(json.dumps(record))
        assert fleet.main(["reap", "--run-id", "x"]) == 0
        assert down(fleet, env) == 0
        assert bystander.poll() is None
        assert not server_file(env).exists()
        assert registered_pids(env["cache"]) == []
        # Nor does serve take it for a server that runs.
        server_file(env).write_text(json.dumps(record))
        server = serve(fleet, env, capsys, repo)
        assert server["started"] is True and server["pid"] != bystander.pid
        assert down(fleet, env) == 0
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_the_server_stops_by_itself_at_its_deadline(fleet, env, repo, capsys):
    server = serve(fleet, env, capsys, repo, "--lifetime", "2")
    assert alive(server["pid"])
    assert wait_for(lambda: not alive(server["pid"]), server["deadline"] - time.time() + 2)
    assert "reached: stopped" in (env["state"] / "repo-server.log").read_text()


def test_a_server_that_fails_to_start_is_a_clear_error_and_leaves_no_record(fleet, env, repo, capsys, monkeypatch):
    def failing(*_args):
        return [sys.executable, "-c", "import sys; print('no such luck'); sys.exit(2)"]

    monkeypatch.setattr(fleet, "repo_server_argv", failing)
    assert fleet.main(["serve", "--state-dir", str(env["state"]), str(repo)]) == 1
    err = capsys.readouterr().err
    assert "exited with status 2" in err and "no such luck" in err
    assert "Traceback" not in err
    assert not server_file(env).exists()
    assert registered_pids(env["cache"]) == []


def test_a_server_that_never_answers_is_killed(fleet, env, repo, capsys, monkeypatch):
    def silent(*_args):
        return [sys.executable, "-c", "import time; print('listening soon'); time.sleep(60)", str(env["tmp"])]

    monkeypatch.setattr(fleet, "repo_server_argv", silent)
    monkeypatch.setattr(fleet, "REPO_SERVER_START_TIMEOUT", 0.5)
    assert fleet.main(["serve", "--state-dir", str(env["state"]), str(repo)]) == 1
    assert "did not accept connections" in capsys.readouterr().err
    assert not pids_matching(str(env["tmp"]), lambda argv: b"listening soon" in b" ".join(argv))
    assert not server_file(env).exists()
    assert registered_pids(env["cache"]) == []


def test_process_identity_knows_qemu_and_the_server_only(fleet, tmp_path):
    qemu = ["qemu-system-x86_64", "-smbios", "type=11,value=agentns-run=r1,value=agentns-deadline=42"]
    server = fleet.repo_server_argv("r1", 42, 8080, tmp_path)
    assert fleet.process_identity(qemu) == ("r1", 42)
    assert fleet.process_identity(server) == ("r1", 42)
    assert fleet.process_identity([sys.executable, "-m", "http.server", "8080"]) is None
    assert fleet.process_identity([server[0], "/elsewhere/other.py", *server[2:]]) is None
    assert fleet.process_identity([*server[:6], "soon", *server[7:]]) is None


def test_a_signal_inside_the_spawn_still_stops_the_server(fleet, env, repo, monkeypatch):
    spawned = signal_inside_popen(fleet, monkeypatch, lambda argv: fleet.SERVE_CHILD in argv)
    assert fleet.main(["serve", "--state-dir", str(env["state"]), str(repo)]) == 128 + signal.SIGTERM
    assert spawned
    assert not repo_server_pids(str(env["tmp"]))
    assert not server_file(env).exists()
    assert registered_pids(env["cache"]) == []
