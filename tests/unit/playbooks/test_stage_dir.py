"""Where the selftest and verify roles stage their builds on the controller: a directory per
checkout, so two checkouts deploying at once never ship each other's shim or suite."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from playbook_run import PLAYBOOK_BIN, REPO, run_playbook

pytestmark = pytest.mark.skipif(not PLAYBOOK_BIN.exists(), reason="ansible-playbook not in the venv")

ROLES = {"agentns_selftest": "agentns_selftest_stage_dir", "agentns_verify": "agentns_verify_stage_dir"}

# Added to each role of a copied checkout: prints what the role's own defaults make of its
# stage directory (role_path, and so the checkout, as when the role runs).
PROBE = """\
- name: Show the stage directory
  ansible.builtin.debug:
    msg: "STAGE {{{{ role_path }}}} {{{{ {var} }}}}"
"""

PLAYBOOK = """\
- name: Resolve each checkout's stage directories
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Include the role's probe
      ansible.builtin.include_role:
        name: "{{{{ item }}}}"
        tasks_from: show_stage_dir.yml
      loop: {roles}
"""


def checkout(root: Path) -> Path:
    """A checkout holding the two roles, at its own path."""
    for role, var in ROLES.items():
        shutil.copytree(REPO / "roles" / role, root / "roles" / role)
        (root / "roles" / role / "tasks" / "show_stage_dir.yml").write_text(PROBE.format(var=var))
    return root


def test_each_checkout_stages_in_a_directory_of_its_own(tmp_path: Path) -> None:
    # Two clones with the same name, side by side: only their paths differ.
    checkouts = [checkout(tmp_path / "one" / "agentns"), checkout(tmp_path / "two" / "agentns")]
    roles = [str(root / "roles" / role) for root in checkouts for role in ROLES]
    playbook = tmp_path / "stage.yml"
    playbook.write_text(PLAYBOOK.format(roles=json.dumps(roles)))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(f"all:\n  hosts:\n    localhost:\n      ansible_connection: local\n      ansible_python_interpreter: {sys.executable}\n")
    cache = tmp_path / "cache"
    result = run_playbook(playbook, inventory, env={"AGENTNS_CACHE_DIR": str(cache)})
    assert result.returncode == 0, result.stdout + result.stderr
    # role path -> its stage directory
    stage = {Path(role): Path(directory) for role, directory in re.findall(r'"msg": "STAGE (\S+) (\S+)"', result.stdout)}
    assert sorted(stage) == sorted(map(Path, roles)), result.stdout
    for root in checkouts:
        checkout_hash = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]
        for role in ROLES:
            assert stage[root / "roles" / role] == cache / "stage" / checkout_hash, role
    # The two roles of a checkout share its directory; the two checkouts share nothing.
    for role in ROLES:
        assert stage[checkouts[0] / "roles" / role] != stage[checkouts[1] / "roles" / role]
