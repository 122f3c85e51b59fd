"""agentns_build's signed apt repository (repo.yml), checked the way a host uses it.

The role publishes two stand-in kernel packages with reprepro; apt, with a
configuration of its own in the test's directory, then fetches the
repository over HTTP and must trust it with the role's public key only.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playbook_run import run_playbook

RELEASE = "9.9.9-agentns-test"
VERSION = "9.9.9-1"

pytestmark = pytest.mark.skipif(
    not (shutil.which("reprepro") and shutil.which("gpg") and shutil.which("apt-get")),
    reason="needs reprepro, gpg and apt-get (scripts/bootstrap.sh installs them)",
)


def build_deb(out: Path, name: str) -> Path:
    root = out / name
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        f"Package: {name}\nVersion: {VERSION}\nSection: kernel\nPriority: optional\nArchitecture: amd64\n"
        "Maintainer: tests <root@localhost>\nDescription: stand-in\n"
    )
    deb = out / f"{name}_{VERSION}_amd64.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True, capture_output=True)
    return deb


def publish(tmp_path: Path, debs: list[Path]) -> int:
    """Run the role's repo.yml on these packages; the number of tasks that changed something."""
    playbook = tmp_path / "publish.yml"
    files = ", ".join(f'{{"path": "{deb}"}}' for deb in debs)
    playbook.write_text(
        f"""
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    agentns_build_cache: {tmp_path}/cache
    agentns_build_debs: {{"files": [{files}]}}
  tasks:
    - ansible.builtin.include_role:
        name: agentns.fleet.agentns_build
        tasks_from: repo
"""
    )
    result = run_playbook(playbook, tmp_path / "hosts", env={"ANSIBLE_LOCALHOST_WARNING": "0"})
    assert result.returncode == 0, result.stdout + result.stderr
    return int(re.search(r"localhost\s+: ok=\d+\s+changed=(\d+)", result.stdout).group(1))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "hosts").write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    debs = [build_deb(tmp_path / "debs", f"linux-{kind}-{RELEASE}") for kind in ("image", "headers")]
    assert publish(tmp_path, debs) > 0
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "cache/repo"))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        subprocess.run(["gpgconf", "--homedir", str(tmp_path / "cache/repo-gnupg"), "--kill", "all"], check=False)


def apt(tmp_path: Path, url: str, keyring: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """apt-get or apt-cache with everything (sources, lists, cache) under tmp_path/apt."""
    base = tmp_path / "apt"
    for sub in ("lists/partial", "archives/partial", "parts"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    (base / "sources.list").write_text(f"deb [signed-by={keyring}] {url} agentns main\n")
    options = {
        "Dir::Etc::SourceList": base / "sources.list",
        "Dir::Etc::SourceParts": base / "parts",
        "Dir::State::Lists": base / "lists",
        "Dir::State::status": "/var/lib/dpkg/status",
        "Dir::Cache": base,
        "Dir::Cache::archives": base / "archives",
        "Debug::NoLocking": "1",
        "APT::Sandbox::User": "root",
    }
    argv = [args[0]] + [f"-o{key}={value}" for key, value in options.items()] + list(args[1:])
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def test_hosts_trust_the_repository_with_its_key(tmp_path: Path, served: str) -> None:
    keyring = tmp_path / "cache/repo/agentns-archive-keyring.gpg"
    update = apt(tmp_path, served, keyring, "apt-get", "update")
    assert update.returncode == 0 and "W:" not in update.stderr and "E:" not in update.stderr, update.stderr
    policy = apt(tmp_path, served, keyring, "apt-cache", "policy", f"linux-image-{RELEASE}")
    assert f"Candidate: {VERSION}" in policy.stdout, policy.stdout


def test_another_key_is_refused(tmp_path: Path, served: str) -> None:
    other = tmp_path / "other-gnupg"
    other.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(other), "PATH": "/usr/bin:/bin"}
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-generate-key", "someone else", "ed25519", "sign", "never"],
        check=True,
        capture_output=True,
        env=env,
    )
    keyring = tmp_path / "other.gpg"
    keyring.write_bytes(subprocess.run(["gpg", "--batch", "--export"], check=True, capture_output=True, env=env).stdout)
    subprocess.run(["gpgconf", "--kill", "all"], check=False, env=env)
    update = apt(tmp_path, served, keyring, "apt-get", "update")
    assert "NO_PUBKEY" in update.stderr or "not signed" in update.stderr, update.stderr
    policy = apt(tmp_path, served, keyring, "apt-cache", "policy", f"linux-image-{RELEASE}")
    assert f"Candidate: {VERSION}" not in policy.stdout


def test_publishing_again_changes_nothing(tmp_path: Path, served: str) -> None:
    debs = sorted((tmp_path / "debs").glob("*.deb"))
    assert publish(tmp_path, debs) == 0
