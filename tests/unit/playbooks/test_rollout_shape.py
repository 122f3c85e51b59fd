"""deploy.yml's shape: which hosts go first and how batches grow.

Play keywords see no inventory variable, so the shape comes from -e or from
the inventory's group all through the collection's lookups; these runs prove
both ways, with --list-hosts (canary choice) and with a run that skips every
task but still walks the batches (batch sizes). No host is contacted.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from playbook_run import PLAYBOOK_BIN, REPO, STAGE_PLAYS, rollout_batches, rollout_stages, run_playbook

pytestmark = pytest.mark.skipif(not PLAYBOOK_BIN.exists(), reason="ansible-playbook not in the venv")


def fleet(tmp_path: Path, count: int, *, group_all: str = "", canary_group: bool = False) -> Path:
    """An inventory: the controller (connection local) first, then web1..webN."""
    lines = ["all:", "  hosts:", "    ctl:", "      ansible_connection: local", "  children:", "    web:", "      hosts:"]
    lines += [f"        web{i}: {{}}" for i in range(1, count + 1)]
    if canary_group:
        lines += ["    agentns_canary:", "      hosts:", f"        web{count}: {{}}"]
    inventory = tmp_path / "inventory" / "hosts.yml"
    inventory.parent.mkdir()
    inventory.write_text("\n".join(lines) + "\n")
    if group_all:
        (inventory.parent / "group_vars").mkdir()
        (inventory.parent / "group_vars" / "all.yml").write_text(group_all)
    return inventory


def stages(inventory: Path, *args: str, playbook: str = "deploy.yml") -> list[set[str]]:
    result = run_playbook(REPO / playbook, inventory, "--list-hosts", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    found = rollout_stages(result.stdout, STAGE_PLAYS[playbook])
    assert len(found) == 2, result.stdout
    return found


def batches(inventory: Path, *args: str, playbook: str = "deploy.yml") -> int:
    # No task runs (none is tagged so), but serial still cuts the plays.
    result = run_playbook(REPO / playbook, inventory, "--tags", "agentns-no-such-tag", "--skip-tags", "always", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return rollout_batches(result.stdout, STAGE_PLAYS[playbook])


def test_without_a_canary_group_the_first_host_is_the_canary(tmp_path: Path) -> None:
    """A first run on a fleet with no canary group must not reboot every host at once."""
    canary, rest = stages(fleet(tmp_path, 4))
    # ctl comes first in the inventory but is the controller, never rolled out.
    assert canary == {"web1"}
    assert rest == {"web2", "web3", "web4"}


def test_the_canary_group_wins(tmp_path: Path) -> None:
    canary, rest = stages(fleet(tmp_path, 4, canary_group=True))
    assert canary == {"web4"}
    assert "web4" not in rest


def test_canary_count_from_the_inventory(tmp_path: Path) -> None:
    canary, rest = stages(fleet(tmp_path, 4, group_all="agentns_canary_count: 2\n"))
    assert canary == {"web1", "web2"}
    assert rest == {"web3", "web4"}


def test_canary_count_zero_means_no_canary_stage(tmp_path: Path) -> None:
    canary, rest = stages(fleet(tmp_path, 3), "-e", "agentns_canary_count=0")
    assert canary == set()
    assert rest == {"web1", "web2", "web3"}


def test_the_canary_is_chosen_inside_the_limit(tmp_path: Path) -> None:
    canary, rest = stages(fleet(tmp_path, 4), "--limit", "web3,web4,localhost")
    assert canary == {"web3"}
    assert rest == {"web4"}


def test_hosts_pattern_from_the_inventory(tmp_path: Path) -> None:
    canary, rest = stages(fleet(tmp_path, 3, group_all="agentns_hosts: web\n"))
    assert canary == {"web1"}
    assert rest == {"web2", "web3"}


def test_default_batches_grow(tmp_path: Path) -> None:
    # 20 hosts after the canary: [1, "10%", "25%"] -> 1, 2, 5, 5, 5, 2.
    assert batches(fleet(tmp_path, 21)) == 1 + 6


def test_batch_size_from_the_inventory(tmp_path: Path) -> None:
    # 20 hosts after the canary, 10 at a time.
    assert batches(fleet(tmp_path, 21, group_all="agentns_serial: 10\n")) == 1 + 2


def test_extra_vars_win_over_the_inventory(tmp_path: Path) -> None:
    inventory = fleet(tmp_path, 21, group_all="agentns_serial: 10\n")
    assert batches(inventory, "-e", "agentns_serial=100%") == 1 + 1


def test_rollback_takes_the_same_shape(tmp_path: Path) -> None:
    """rollback.yml goes canary first and batch by batch, like deploy.yml, with the same settings."""
    inventory = fleet(tmp_path, 21, group_all="agentns_canary_count: 2\nagentns_serial: 10\n")
    canary, rest = stages(inventory, playbook="rollback.yml")
    assert canary == {"web1", "web2"}
    assert rest == {f"web{i}" for i in range(3, 22)}
    assert stages(inventory) == [canary, rest]
    # 19 hosts after the canary, 10 at a time.
    assert batches(inventory, playbook="rollback.yml") == 1 + 2


def vanishing_fleet(tmp_path: Path) -> Path:
    """gone1 refuses SSH; ok1 and later1 answer (connection local, which only the guard test uses)."""
    inventory = tmp_path / "hosts.yml"
    local = f"ansible_connection: local, ansible_python_interpreter: {sys.executable}"
    inventory.write_text(
        "all:\n  hosts:\n"
        "    gone1: {ansible_host: 127.0.0.1, ansible_port: 1, ansible_ssh_common_args: '-o ConnectTimeout=5'}\n"
        f"    ok1: {{{local}}}\n"
        f"    later1: {{{local}}}\n"
    )
    return inventory


def test_an_unreachable_canary_stops_the_rollout(tmp_path: Path) -> None:
    result = run_playbook(REPO / "deploy.yml", vanishing_fleet(tmp_path), "--tags", "config")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert re.search(r"UNREACHABLE! => .*gone1|gone1.*UNREACHABLE", output), output
    assert rollout_batches(result.stdout) == 1, output


def test_an_unreachable_host_counts_against_the_batch_failure_limit(tmp_path: Path) -> None:
    """Ansible's max_fail_percentage alone lets the next batch start: the guard must stop it."""
    playbook = tmp_path / "batches.yml"
    playbook.write_text(
        "- name: Roll out the agentns kernel\n  hosts: all\n  serial: 2\n  max_fail_percentage: 0\n  gather_facts: false\n"
        "  vars:\n    agentns_rollout_max_fail: 0\n"
        f"  pre_tasks:\n    - ansible.builtin.import_tasks: {REPO}/playbooks/tasks/batch_note.yml\n"
        "  tasks:\n    - ansible.builtin.ping:\n"
        f"  post_tasks:\n    - ansible.builtin.import_tasks: {REPO}/playbooks/tasks/batch_guard.yml\n"
    )
    result = run_playbook(playbook, vanishing_fleet(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "1 of 2 hosts of this batch failed or became unreachable (gone1)" in output, output
    # later1, in the next batch, was never reached.
    assert rollout_batches(result.stdout) == 1, output
    assert "later1" not in output.split("PLAY RECAP")[0], output


def test_the_report_leaves_the_controller_and_the_build_host_alone(tmp_path: Path) -> None:
    """The report's tasks run with become: on the controller that asks an operator's laptop for sudo."""
    result = run_playbook(REPO / "deploy.yml", fleet(tmp_path, 3), "--list-hosts", "-e", "agentns_build_host=web3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert rollout_stages(result.stdout, "Report each host's kernel, session id and sysctls") == [{"web1", "web2"}]
