"""scripts/test.sh's stage plan: which stage runs beside which (nothing is run)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

TEST_SH = Path(__file__).resolve().parents[3] / "scripts/test.sh"


def plan(*stages: str) -> list[str]:
    result = subprocess.run(["bash", str(TEST_SH), "--plan", *stages], capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.split()


def test_the_vm_loops_start_with_the_run_and_are_reported_after_the_rest() -> None:
    assert plan("lint", "sanity", "unit", "package", "infra", "vm", "vm-debug", "molecule") == [
        "start:vm",
        "start:vm-debug",
        "lint",
        "sanity",
        "unit",
        "package",
        "infra",
        "molecule",
        "vm",
        "vm-debug",
    ]


def test_without_molecule_the_vm_loops_still_run_beside_the_rest() -> None:
    assert plan("unit", "vm-debug") == ["start:vm-debug", "unit", "vm-debug"]


def test_the_vm_loops_alone_run_beside_each_other() -> None:
    assert plan("vm", "vm-debug") == ["start:vm", "start:vm-debug", "vm", "vm-debug"]


@pytest.mark.parametrize("stages", [("vm",), ("vm-debug",), ("lint", "molecule"), ("sanity", "unit")])
def test_a_stage_alone_runs_in_its_own_turn(stages: tuple[str, ...]) -> None:
    assert plan(*stages) == list(stages)


def test_the_plan_of_a_whole_run_is_that_of_every_stage() -> None:
    assert plan() == plan("lint", "sanity", "unit", "package", "infra", "vm", "vm-debug", "molecule")
