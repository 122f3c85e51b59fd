#!/usr/bin/python
# Copyright: (c) 2026, the agentns contributors
# GNU General Public License v2.0 only (see https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)
# SPDX-License-Identifier: GPL-2.0-only

from __future__ import annotations

DOCUMENTATION = r"""
---
module: agentns_info
short_description: Report agent namespace support, kernels and sysctls
version_added: 0.1.0
description:
  - Returns under RV(agentns), like other C(_info) modules, what M(agentns.fleet.agentns_facts) sets
    as facts - kernel support, installed agentns kernels, a pending reboot, the sysctls, and the
    session id and counters of the module's own process.
  - For playbooks written before M(agentns.fleet.agentns_facts) existed, it also returns the data
    as facts (C(ansible_facts.agentns)) unless O(legacy_facts=false); that use is deprecated and
    goes away in 1.0.0.
  - Also reports the host's initial agent namespace as the kernel's namespace tree names it (id and type) and how many
    agent namespaces are alive (C(listns(2)), as root).
  - Never changes anything on the host; content that does not follow the agentns ABI is
    reported as V(null) with a warning, as M(agentns.fleet.agentns_facts) does.
author:
  - agentns contributors (!UNKNOWN)
options:
  legacy_facts:
    description:
      - Also return the data as C(ansible_facts.agentns), as the module first did, with a deprecation warning.
      - Set it to V(false) to get only RV(agentns) and no warning; use M(agentns.fleet.agentns_facts) for facts.
      - The default becomes V(false) and then the option goes away in 1.0.0.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: The module reads and never writes, so check mode runs it unchanged.
  diff_mode:
    support: none
    description: No diff, since nothing is changed.
  platform:
    support: full
    platforms: posix
    description: Linux; it looks at C(/proc), C(/boot) and, where it exists, C(dpkg-query).
seealso:
  - module: agentns.fleet.agentns_facts
  - module: agentns.fleet.agentns_sysctl
  - module: agentns.fleet.agentns_selftest
"""

EXAMPLES = r"""
- name: Read the agent namespace state
  agentns.fleet.agentns_info:
    legacy_facts: false
  register: agentns_state

- name: List the hosts still waiting for a reboot into the newest agentns kernel
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }} runs {{ agentns_state.agentns.running_kernel }}, newest is {{ agentns_state.agentns.latest_agentns_kernel }}"
  when: agentns_state.agentns.reboot_pending

- name: List the hosts whose next boot would bring up another kernel
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }} runs {{ agentns_state.agentns.running_kernel }}, GRUB boots {{ agentns_state.agentns.boot_default_kernel }}"
  when: agentns_state.agentns.boot_default_differs
"""

RETURN = r"""
agentns:
  description:
    - The agent namespace state of the host, with the keys M(agentns.fleet.agentns_facts) documents
      under C(ansible_facts.agentns) (C(supported), C(running_kernel), C(running_agentns),
      C(installed_agentns_kernels) in dpkg version order, C(latest_agentns_kernel), C(reboot_pending),
      C(boot_default_kernel), C(boot_default_differs), C(boot_next_kernel), C(boot_saved_entry), C(boot_entries),
      C(boot_probe) (always V(null) here), C(files) (always empty here), C(sysctls), C(session_id), C(in_agent_namespace), C(namespace),
        C(counters), C(initial_namespace) and C(namespaces_alive)).
  returned: always
  type: dict
  sample:
    supported: true
    running_kernel: 7.3.4-agentns-1a2b3c4
    running_agentns: true
    installed_agentns_kernels: [7.3.4-agentns-1a2b3c4]
    latest_agentns_kernel: 7.3.4-agentns-1a2b3c4
    reboot_pending: false
    boot_default_kernel: 7.3.4-agentns-1a2b3c4
    boot_default_differs: false
    boot_next_kernel: null
    boot_saved_entry: ''
    boot_entries: {7.3.4-agentns-1a2b3c4: gnulinux-advanced-0f1e2d3c>gnulinux-7.3.4-agentns-1a2b3c4-advanced-0f1e2d3c}
    boot_probe: null
    files: {}
    sysctls: {enabled: 1, max_lifetime: 86400}
    session_id: '00000000000000000000000000000000'
    in_agent_namespace: false
    namespace: agent:[4026531840]
    counters: {total_syscalls: 1520, openat_count: 41, write_bytes: 0, connect_count: 0, unlink_count: 0, fork_count: 0, elapsed_ns: 73400000}
    initial_namespace: {id: 9, type: 4194304}
    namespaces_alive: 3
ansible_facts:
  description:
    - The same data as C(ansible_facts.agentns), for compatibility with older playbooks (deprecated).
  returned: when O(legacy_facts=true)
  type: dict
  sample: {agentns: {supported: true}}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.agentns.fleet.plugins.module_utils import agentns


def main(paths: agentns.HostPaths | None = None) -> None:
    module = AnsibleModule(argument_spec={"legacy_facts": {"type": "bool", "default": True}}, supports_check_mode=True)
    try:
        data = agentns.gather(module, paths or agentns.HostPaths())
    except agentns.AgentNSError as exc:
        module.fail_json(msg=to_native(exc))
    result = {"changed": False, "agentns": data}
    if module.params["legacy_facts"]:
        module.deprecate(
            "agentns.fleet.agentns_info returning ansible_facts is deprecated: read the registered result's"
            " 'agentns' key, or use agentns.fleet.agentns_facts for facts; set legacy_facts=false to silence this",
            version="1.0.0",
            collection_name="agentns.fleet",
        )
        result["ansible_facts"] = {"agentns": data}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
