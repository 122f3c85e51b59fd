# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
"""The inventory's hosts that are the controller itself."""

from __future__ import annotations

DOCUMENTATION = r"""
name: controller_hosts
short_description: The inventory's hosts that Ansible reaches with connection local
version_added: 0.2.0
description:
  - Names of the hosts whose inventory variables set C(ansible_connection=local), that is the
    controller, whatever their names.
  - The rollout leaves them out of its plays' host patterns, so that a batch never counts the
    controller among its hosts (a host ended early would hide a lost one from the batch's failure
    accounting).
  - Meant for play keywords, which see no inventory variable, so it reads the run's inventory again.
options: {}
"""

EXAMPLES = r"""
- name: Everything but the controller
  hosts: "{{ (['all'] + lookup('agentns.fleet.controller_hosts', wantlist=true) | map('regex_replace', '^', '!') | list) | join(':') }}"
  tasks: []
"""

RETURN = r"""
_raw:
  description: The controller's host names.
  type: list
  elements: str
"""

from ansible.plugins.lookup import LookupBase
from ansible_collections.agentns.fleet.plugins.plugin_utils.inventory import from_variables


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        inventory = from_variables(self._loader, variables or {})
        return inventory.controllers() if inventory else []
