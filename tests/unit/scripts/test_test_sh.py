"""scripts/test.sh's stage plan: which stage runs beside which (nothing is run)."""

from __future__ import annotations

import os
import subprocess
import sys
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


def kernel_builds(*stages: str) -> list[str]:
    result = subprocess.run(["bash", str(TEST_SH), "--kernel-builds", *stages], capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.splitlines()


FLEET = "tests/vm/vmtest.sh --build-only"
DEBUG = "tests/vm/vmtest.sh --debug --build-only"
KUNIT32 = "tests/vm/kunit32.sh --build-only"


def test_a_whole_run_builds_every_kernel_from_the_start_the_fleets_first() -> None:
    # The scenarios wait for the fleet's kernel; vm-debug's guest must not
    # be left to run alone at the end of a cold run.
    assert kernel_builds() == [FLEET, DEBUG, KUNIT32]


@pytest.mark.parametrize(
    ("stages", "builds"),
    [
        (("lint", "unit"), []),
        (("molecule",), [FLEET]),
        (("vm-debug",), [DEBUG]),
        (("vm",), [FLEET, KUNIT32]),
    ],
)
def test_only_the_kernels_the_stages_need_are_built(stages: tuple[str, ...], builds: list[str]) -> None:
    assert kernel_builds(*stages) == builds


def molecule_env(scenario: str, mitogen: str | None = None) -> list[str]:
    env = dict(os.environ)
    env.pop("AGENTNS_MOLECULE_MITOGEN", None)
    if mitogen is not None:
        env["AGENTNS_MOLECULE_MITOGEN"] = mitogen
    result = subprocess.run(["bash", str(TEST_SH), "--molecule-env", scenario], capture_output=True, text=True, timeout=60, check=True, env=env)
    return result.stdout.split()


@pytest.mark.parametrize("scenario", ["default", "fallback"])
def test_ci_scenarios_run_under_mitogen_unpinned(scenario: str) -> None:
    env = dict(item.split("=", 1) for item in molecule_env(scenario))
    assert env["ANSIBLE_STRATEGY"] == "mitogen_unpinned"
    assert (Path(env["ANSIBLE_STRATEGY_PLUGINS"]) / "mitogen_unpinned.py").is_file()
    assert env["ANSIBLE_HOST_KEY_CHECKING"] == "False"
    # prepare.yml's free play: Ansible's own free strategy would run every task without Mitogen.
    assert (Path(env["ANSIBLE_STRATEGY_PLUGINS"]) / f"{env['AGENTNS_MOLECULE_FREE_STRATEGY']}.py").is_file()


PIN_CHECK = """
import os, sys
sys.path.insert(0, sys.argv[1])
import mitogen_unpinned, mitogen_free_unpinned
import ansible_mitogen.affinity, ansible_mitogen.strategy
from ansible.plugins.strategy.free import StrategyModule as Free
assert issubclass(mitogen_unpinned.StrategyModule, ansible_mitogen.strategy.StrategyMixin)
assert issubclass(mitogen_free_unpinned.StrategyModule, ansible_mitogen.strategy.StrategyMixin)
assert issubclass(mitogen_free_unpinned.StrategyModule, Free)
before = os.sched_getaffinity(0)
policy = ansible_mitogen.affinity.policy
policy.assign_controller(); policy.assign_worker(); policy.assign_muxprocess(0)
print(before == os.sched_getaffinity(0))
"""


def test_the_strategy_pins_no_process_to_a_cpu() -> None:
    """Mitogen's own policy puts Ansible, and so the VMs, on one of 2 CPUs."""
    strategy_dir = TEST_SH.parents[1] / "molecule/resources/strategy"
    result = subprocess.run([sys.executable, "-c", PIN_CHECK, str(strategy_dir)], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "True"


def test_other_scenarios_and_the_switch_keep_ansibles_own_strategy() -> None:
    assert molecule_env("smoke") == []
    assert molecule_env("default", mitogen="") == []
    assert molecule_env("default", mitogen="fallback") == []
