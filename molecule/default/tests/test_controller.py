"""The controller is in the scenario's inventory (it builds the kernel, as a real
fleet's build host does); the rollout must have left it exactly as it was."""

from __future__ import annotations

import os
from pathlib import Path

from testinfra.host import Host

testinfra_hosts = ["ansible://localhost"]

SCENARIO_DIR = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")) / "build/molecule/default"


def test_rollout_left_the_controller_untouched(host: Host) -> None:
    before = (STATE_DIR / "controller-before.txt").read_text()
    after = host.check_output(f"sh {SCENARIO_DIR / 'controller_state.sh'}")
    assert after.strip() == before.strip()
