"""scripts/test.sh's stage plan: which stage runs beside which (nothing is run)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

TEST_SH = Path(__file__).resolve().parents[3] / "scripts/test.sh"


def plan(*stages: str) -> list[str]:
    result = subprocess.run(["bash", str(TEST_SH), "--plan", *stages], capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.split()


def test_molecule_starts_first_and_the_vm_loops_run_beside_it_after_the_quick_stages() -> None:
    assert plan("lint", "sanity", "unit", "package", "infra", "vm", "vm-debug", "molecule") == [
        "start:molecule",
        "lint",
        "sanity",
        "unit",
        "package",
        "infra",
        "molecule",
        "side:vm",
        "side:vm-debug",
    ]


def test_without_molecule_vm_debug_runs_beside_vm() -> None:
    assert plan("unit", "vm", "vm-debug") == ["unit", "vm", "side:vm-debug"]


@pytest.mark.parametrize("stages", [("vm",), ("vm-debug",), ("molecule",), ("vm-debug", "unit")])
def test_a_stage_alone_runs_in_its_own_turn(stages: tuple[str, ...]) -> None:
    assert plan(*stages) == list(stages)


def test_quick_stages_run_beside_molecule() -> None:
    assert plan("lint", "molecule") == ["start:molecule", "lint", "molecule"]


def test_the_plan_of_a_whole_run_is_that_of_every_stage() -> None:
    assert plan() == plan("lint", "sanity", "unit", "package", "infra", "vm", "vm-debug", "molecule")
