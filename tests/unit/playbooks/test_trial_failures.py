"""agentns_install's trial boot fails a host in one task that every host of the batch reaches together.

A host failed earlier (in the reboot's rescue, say) ends the play for the rest
of its batch (max_fail_percentage), which may be in the middle of its own trial
boot or recovery: the fallback scenario once left a canary that had just come
back from a panic without its restore, because the other canary's power-cycle
hook failed first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

TRIAL = Path(__file__).resolve().parents[3] / "roles/agentns_install/tasks/trial.yml"
START = "Note when the trial boot started"


def walk(tasks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for task in tasks:
        yield task
        for key in ("block", "rescue", "always"):
            yield from walk(task.get(key) or [])


def after_the_trial_starts() -> list[dict[str, Any]]:
    tasks = yaml.safe_load(TRIAL.read_text())
    names = [task.get("name") for task in tasks]
    return tasks[names.index(START) :]


def test_only_the_last_task_fails_a_host() -> None:
    tasks = after_the_trial_starts()
    failing = [task for task in walk(tasks) if "ansible.builtin.fail" in task or "fail" in task]
    assert len(failing) == 1, [task.get("name") for task in failing]
    # At the top level, with nothing but reporting after it.
    last = tasks.index(failing[0])
    assert all("ansible.builtin.debug" in task for task in tasks[last + 1 :])


def test_the_last_failure_is_the_recorded_one() -> None:
    tasks = after_the_trial_starts()
    fail = next(task for task in tasks if "ansible.builtin.fail" in task)
    assert fail["ansible.builtin.fail"]["msg"] == "{{ agentns_install_trial_error }}"
    # Every later step of a failed host is skipped, not run against a hung host.
    checks = next(task for task in tasks if task.get("name") == "Check the kernel the host came back on")
    assert checks["when"] == "agentns_install_trial_error | length == 0"


def test_kexec_tools_missing_from_the_lists_refreshes_them_whatever_their_age() -> None:
    # The test fleet's image empties its package lists when it is built; a
    # cold run used it within the hour, so cache_valid_time skipped the
    # refresh and the kexec host fell back to a full reboot (2026-12-05).
    tasks = list(walk(yaml.safe_load(TRIAL.read_text())))
    retry = next(task for task in tasks if task.get("name") == "Install kexec-tools with fresh package lists")
    assert retry["when"] == "agentns_install_kexec_tools_cached is failed"
    assert retry["ansible.builtin.apt"]["update_cache"] is True
    assert "cache_valid_time" not in retry["ansible.builtin.apt"]
