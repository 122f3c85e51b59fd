"""The controller is in the scenario's inventory (it builds the kernel, as a real
fleet's build host does); the rollout must have left it exactly as it was.

A plain test, not one per inventory host: testinfra runs on the controller.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCENARIO_DIR = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")) / "build/molecule/default"


def test_rollout_left_the_controller_untouched() -> None:
    before = (STATE_DIR / "controller-before.txt").read_text()
    after = subprocess.run(["sh", str(SCENARIO_DIR / "controller_state.sh")], capture_output=True, text=True, check=True).stdout
    assert after.strip() == before.strip()
