# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
"""The rollout's canary hosts when the inventory names none."""

from __future__ import annotations

DOCUMENTATION = r"""
name: canary_hosts
short_description: The hosts a rollout tries first
version_added: 0.2.0
description:
  - The members of O(group) that match the pattern, when the inventory has that group.
  - Otherwise the first O(count) hosts that match the pattern (and C(--limit)), in inventory
    order. So a fleet without a canary group still starts with a canary. Leave the controller out
    of the pattern (lookup P(agentns.fleet.controller_hosts#lookup)).
  - Meant for play keywords, which see no inventory variable, so it reads the run's inventory again.
options:
  _terms:
    description: The host pattern of the whole rollout (the first term is used).
    type: list
    elements: str
    required: true
  group:
    description: The canary group.
    type: str
    default: agentns_canary
  count:
    description: How many hosts to pick where the group does not exist; 0 for no canary stage.
    type: int
    default: 1
"""

EXAMPLES = r"""
- name: The canary stage
  hosts: "{{ lookup('agentns.fleet.canary_hosts', 'all:!localhost', count=1) | join(',') or 'all:!all' }}"
  tasks: []
"""

RETURN = r"""
_raw:
  description: The canary hosts' names.
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.agentns.fleet.plugins.plugin_utils.inventory import from_variables


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        if not terms:
            raise AnsibleLookupError("canary_hosts needs the rollout's host pattern")
        pattern, group, count = str(terms[0]), self.get_option("group"), self.get_option("count")
        if count < 0:
            raise AnsibleLookupError(f"canary_hosts: count must be 0 or more, not {count}")
        inventory = from_variables(self._loader, variables)
        if inventory is None:
            return []
        limit = variables.get("ansible_limit")
        if group in inventory.inventory.groups:
            return inventory.hosts(f"{pattern}:&{group}", limit)
        return inventory.hosts(pattern, limit)[:count]
