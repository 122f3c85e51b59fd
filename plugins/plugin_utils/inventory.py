# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only
"""The run's inventory, read again for play keywords (which see no inventory variable).

Ansible evaluates a play's hosts, serial and max_fail_percentage before any
host is known: they see extra vars and play vars, and the magic variables
ansible_inventory_sources and ansible_limit, but no inventory variable. The
rollout's lookups parse the same sources once more, once per run.
"""

from __future__ import annotations

from ansible.inventory.manager import InventoryManager
from ansible.utils.vars import combine_vars
from ansible.vars.manager import VariableManager
from ansible.vars.plugins import get_vars_from_inventory_sources, get_vars_from_path

# Vars plugins (group_vars/, host_vars/) run at one of these stages, as
# RUN_VARS_PLUGINS and each plugin's `stage` option say; ask for both.
_STAGES = ("inventory", "task")


class RunInventory:
    """The inventory of this run, with group all's variables and hosts' connection."""

    def __init__(self, loader, sources: tuple[str, ...], playbook_dir: str) -> None:
        # The lookup's loader: it holds the run's vault secrets.
        self._loader = loader
        self._sources = list(sources)
        self._playbook_dir = playbook_dir
        self.inventory = InventoryManager(loader=self._loader, sources=self._sources)
        self._variables = VariableManager(loader=self._loader, inventory=self.inventory)
        self._controllers: list[str] | None = None
        self._group_all: dict | None = None

    def group_all_vars(self) -> dict:
        """Group all's variables, with Ansible's precedence between their places (read once)."""
        if self._group_all is None:
            self._group_all = self._read_group_all()
        return self._group_all

    def _read_group_all(self) -> dict:
        group = self.inventory.groups["all"]
        found = group.get_vars()
        for stage in _STAGES:
            found = combine_vars(found, get_vars_from_inventory_sources(self._loader, self._sources, [group], stage))
        if self._playbook_dir:
            for stage in _STAGES:
                found = combine_vars(found, get_vars_from_path(self._loader, self._playbook_dir, [group], stage))
        return found

    def hosts(self, pattern: str, limit: str | None = None) -> list[str]:
        """Names of the hosts matching pattern (and limit), in inventory order."""
        self.inventory.subset(limit)
        try:
            return [host.name for host in self.inventory.get_hosts(pattern)]
        finally:
            self.inventory.subset(None)

    def controllers(self) -> list[str]:
        """Hosts Ansible reaches with connection local: the controller, whatever their names."""
        if self._controllers is None:
            self._controllers = [host.name for host in self.inventory.get_hosts("all") if self.host_vars(host.name).get("ansible_connection") == "local"]
        return self._controllers

    def host_vars(self, name: str) -> dict:
        """A host's inventory variables (the file, group_vars/, host_vars/)."""
        return self._variables.get_vars(host=self.inventory.get_host(name), include_hostvars=False)


_PARSED: dict[tuple[tuple[str, ...], str], RunInventory] = {}


def from_variables(loader, variables: dict) -> RunInventory | None:
    """The run's inventory, as a lookup's variables name it; None without sources."""
    sources = tuple(str(source) for source in variables.get("ansible_inventory_sources") or ())
    if not sources:
        return None
    key = (sources, str(variables.get("playbook_dir") or ""))
    if key not in _PARSED:
        _PARSED[key] = RunInventory(loader, *key)
    return _PARSED[key]
