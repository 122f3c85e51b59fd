"""Run ansible-playbook from the venv against the checkout's collection.

Shared by the tests of this directory (pytest puts it on sys.path).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK_BIN = Path(sys.executable).with_name("ansible-playbook")


def run_playbook(playbook: Path, inventory: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env or {})}
    env["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / ".ansible/collections")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_CALLBACK_RESULT_FORMAT"] = "json"
    env["ANSIBLE_RETRY_FILES_ENABLED"] = "0"
    return subprocess.run(
        [str(PLAYBOOK_BIN), "-i", str(inventory), str(playbook), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=False,
    )


ROLLOUT_PLAY = "Roll out the agentns kernel"
ROLLBACK_PLAY = "Roll the fleet back to its previous kernel"
# The play each stage of these playbooks runs as.
STAGE_PLAYS = {"deploy.yml": ROLLOUT_PLAY, "rollback.yml": ROLLBACK_PLAY}


def rollout_stages(listing: str, play: str = ROLLOUT_PLAY) -> list[set[str]]:
    """The hosts of each stage (deploy.yml's rollout, or rollback.yml's), from `--list-hosts` output."""
    stages: list[set[str]] = []
    in_rollout = False
    for line in listing.splitlines():
        match = re.match(r"\s+play #\d+ \(.*\): (.*?)\tTAGS", line)
        if match:
            in_rollout = match.group(1) == play
            if in_rollout:
                stages.append(set())
        elif in_rollout and re.match(r"\s{6}\S+$", line):
            stages[-1].add(line.strip())
    return stages


def rollout_hosts(listing: str) -> set[str]:
    """The hosts of all of deploy.yml's rollout stages."""
    return set().union(*rollout_stages(listing))


def rollout_batches(output: str, play: str = ROLLOUT_PLAY) -> int:
    """How many batches (plays) of the rollout (or rollback) a run went through."""
    return len(re.findall(rf"^PLAY \[{re.escape(play)}\]", output, re.MULTILINE))
