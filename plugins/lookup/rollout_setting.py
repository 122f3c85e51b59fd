# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
"""A rollout setting from -e or from the inventory's group all, for play keywords."""

from __future__ import annotations

DOCUMENTATION = r"""
name: rollout_setting
short_description: A setting of the rollout's shape, from extra vars or the inventory
version_added: 0.2.0
description:
  - Play keywords (C(hosts), C(serial), C(max_fail_percentage)) are evaluated before any host is
    known, so they see extra vars (C(-e)) and play vars but no inventory variable. This lookup lets
    C(deploy.yml) take its shape (batch sizes, failure limit, canary) from either place.
  - Returns the variable as C(-e) or the play gives it; otherwise as the inventory sets it for the
    group C(all) (its C(vars) in the inventory file, or C(group_vars/all) beside the inventory or
    the playbook); otherwise O(default).
  - Reading the inventory parses its sources once more (once per run). A value set for a single
    host or for a group other than C(all) is not seen, since a play's shape cannot differ between
    its hosts.
options:
  _terms:
    description: Names of the variables.
    type: list
    elements: str
    required: true
  default:
    description: The value where neither C(-e) nor the inventory sets the variable.
    type: raw
"""

EXAMPLES = r"""
- name: Roll out in growing batches, as -e or the inventory's group all says
  hosts: all
  serial: "{{ lookup('agentns.fleet.rollout_setting', 'agentns_serial', default=[1, '10%', '25%']) }}"
  tasks: []
"""

RETURN = r"""
_raw:
  description: One value per name, as found (not templated further).
  type: list
  elements: raw
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.agentns.fleet.plugins.plugin_utils.inventory import from_variables

_MISSING = object()


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        default = self.get_option("default")
        group_all: dict | None = None
        values = []
        for name in terms:
            if not isinstance(name, str):
                raise AnsibleLookupError(f"rollout_setting takes variable names, not {name!r}")
            value = variables.get(name, _MISSING)
            if value is _MISSING:
                if group_all is None:
                    inventory = from_variables(self._loader, variables)
                    group_all = inventory.group_all_vars() if inventory else {}
                value = group_all.get(name, default)
            values.append(value)
        return values
