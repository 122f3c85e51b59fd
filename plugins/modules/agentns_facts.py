#!/usr/bin/python
# Copyright: (c) 2026, the agentns contributors
# GNU General Public License v2.0 only (see https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)
# SPDX-License-Identifier: GPL-2.0-only

from __future__ import annotations

DOCUMENTATION = r"""
---
module: agentns_facts
short_description: Gather agent namespace support, kernels and sysctls as facts
version_added: 0.1.0
description:
  - Tells whether the running kernel has the agent namespace series, which agentns kernels are
    installed, whether a reboot is needed to run the newest of them, the current
    C(kernel.agent_ns.*) sysctls, and the session id and counters of the module's own process.
  - The result is returned as facts under RV(ansible_facts.agentns), so it is available as
    C(ansible_facts.agentns) for the rest of the play. M(agentns.fleet.agentns_info) returns the
    same data as a plain result.
  - Never changes anything on the host.
  - A per-process file or sysctl with content that does not follow the agentns ABI is reported
    as V(null) with a warning rather than failing the task; M(agentns.fleet.agentns_selftest)
    is the tool that checks the ABI.
author:
  - agentns contributors (!UNKNOWN)
options:
  files:
    description:
      - Paths to describe under RV(ansible_facts.agentns.files), e.g. the shim and its file capability, so a
        role needs no separate M(ansible.builtin.stat) and C(getcap) runs on the host.
    type: list
    elements: path
    default: []
    version_added: 0.1.0
  grub_cfg:
    description:
      - GRUB's menu, read for RV(ansible_facts.agentns.boot_default_kernel) and the other C(boot_) facts;
        C(grubenv) is read from the same directory, which is also what O(boot_probe) asks C(grub-probe) about.
      - When not set, C(/boot/grub/grub.cfg).
    type: path
    version_added: 0.1.0
  boot_probe:
    description:
      - Also ask C(grub-probe) what C(/boot/grub) is on, and read the Secure Boot state, the free space in
        C(/boot) and whether the running kernel would load a kernel for kexec, under
        RV(ansible_facts.agentns.boot_probe), which the install role checks before a trial boot.
    type: bool
    default: false
    version_added: 0.1.0
attributes:
  check_mode:
    description: Only reads, so it runs the same way in check mode.
    support: full
  diff_mode:
    description: Changes nothing, so there is nothing to show.
    support: none
  facts:
    description: Returns the facts described in RV(ansible_facts.agentns).
    support: full
  platform:
    description: Linux hosts; installed kernels are found in C(/boot) and, on Debian, through C(dpkg-query).
    support: full
    platforms: posix
notes:
  - The module's own process is in the namespace it was started in, so on a host where Ansible
    does not run inside an agent namespace the session id is 32 zeros.
  - An agentns kernel is one whose release contains C(agentns), as set through C(LOCALVERSION)
    when the kernel package is built.
seealso:
  - module: agentns.fleet.agentns_info
  - module: agentns.fleet.agentns_sysctl
  - module: agentns.fleet.agentns_selftest
"""

EXAMPLES = r"""
- name: Gather agent namespace facts
  agentns.fleet.agentns_facts:

- name: Gather them with the shim's state
  agentns.fleet.agentns_facts:
    files:
      - /usr/local/bin/agentns-unshare

- name: Insist on a shim that can create agent namespaces
  ansible.builtin.assert:
    that: "'cap_sys_admin' in ansible_facts.agentns.files['/usr/local/bin/agentns-unshare'].capabilities"

- name: Reboot hosts that run an older kernel than the newest agentns one installed
  ansible.builtin.reboot:
  when: ansible_facts.agentns.reboot_pending

- name: Insist on a running agentns kernel
  ansible.builtin.assert:
    that:
      - ansible_facts.agentns.supported
      - ansible_facts.agentns.sysctls.enabled == 1
"""

RETURN = r"""
ansible_facts:
  description: Facts about the agent namespace on the host.
  returned: always
  type: dict
  contains:
    agentns:
      description: Agent namespace facts.
      returned: always
      type: dict
      contains:
        supported:
          description: Whether the running kernel has the agent namespace series.
          returned: always
          type: bool
          sample: true
        running_kernel:
          description: Release of the running kernel, as C(uname -r) prints it.
          returned: always
          type: str
          sample: 7.3.4-agentns-1a2b3c4
        running_agentns:
          description: Whether the running kernel is an agentns build.
          returned: always
          type: bool
          sample: true
        installed_agentns_kernels:
          description:
            - Releases of the installed agentns kernels, from C(/boot/vmlinuz-*) and from the
              installed C(linux-image-*agentns*) packages.
            - Ordered oldest first by version, compared as C(dpkg --compare-versions) does.
          returned: always
          type: list
          elements: str
          sample: [7.3.4-agentns-1a2b3c4]
        latest_agentns_kernel:
          description: The last entry of RV(ansible_facts.agentns.installed_agentns_kernels), V(null) when there is none.
          returned: always
          type: str
          sample: 7.3.4-agentns-1a2b3c4
        reboot_pending:
          description: Whether the newest installed agentns kernel is not the running one.
          returned: always
          type: bool
          sample: false
        boot_default_kernel:
          description:
            - Release of the kernel GRUB boots by default, worked out from C(/boot/grub/grub.cfg) and C(grubenv)
              as GRUB resolves its default entry (a saved entry, a number, an id or a title).
            - V(null) when there is no GRUB menu, it cannot be read, or the default entry boots no Linux kernel.
          returned: always
          type: str
          sample: 7.3.4-agentns-1a2b3c4
        boot_default_differs:
          description:
            - Whether the next ordinary boot would bring up another kernel than the running one, e.g. after a
              distribution kernel update under C(agentns_install_default_policy=follow), or a hand-made change.
          returned: always
          type: bool
          sample: false
        boot_next_kernel:
          description: Release of a pending one-shot entry (C(grub-reboot)), V(null) when none is pending.
          returned: always
          type: str
          sample: null
        boot_saved_entry:
          description: GRUB's saved default (C(saved_entry) in C(grubenv)), V("") when none is saved.
          returned: always
          type: str
          sample: gnulinux-advanced-0f1e2d3c>gnulinux-7.3.4-agentns-1a2b3c4-advanced-0f1e2d3c
        boot_entries:
          description:
            - Each kernel's stable GRUB menu id, by release, as C(grub-reboot) and C(grub-set-default) take it,
              Debian's C(gnulinux-RELEASE-advanced-ROOTUUID) entry, prefixed with its submenu's id and C(>)
              unless C(GRUB_DISABLE_SUBMENU=y) puts it at the top level.
            - Empty when there is no GRUB menu.
          returned: always
          type: dict
          sample:
            6.1.0-28-amd64: gnulinux-advanced-0f1e2d3c>gnulinux-6.1.0-28-amd64-advanced-0f1e2d3c
        boot_probe:
          description: What O(boot_probe) asked for, V(null) without it.
          returned: always
          type: dict
          contains:
            grub_fs:
              description: The file system C(/boot/grub) is on, as C(grub-probe --target=fs) names it; V(null) when it cannot tell.
              returned: success
              type: str
              sample: ext2
            grub_abstraction:
              description: The storage layers under it (C(grub-probe --target=abstraction)), e.g. C(lvm) or C(diskfilter); V("") for none.
              returned: success
              type: str
              sample: ''
            secure_boot:
              description: Whether the firmware has Secure Boot on (the C(SecureBoot) EFI variable).
              returned: success
              type: bool
              sample: false
            boot_free_bytes:
              description: Bytes free in C(/boot) for an unprivileged user, as C(df) counts them; V(null) if unknown.
              returned: success
              type: int
              sample: 312475648
            kexec_blocker:
              description:
                - Why the running kernel would refuse to load a kernel for kexec, V("") when nothing it shows stands in the way.
                - Read without changing anything. It names the first of these that applies, in this order;
                  no C(/sys/kernel/kexec_loaded) (no kexec in the kernel), C(kernel.kexec_load_disabled) at 1,
                  C(kernel.kexec_load_limit_reboot) at 0 where the kernel has it (-1 is unlimited),
                  a kernel lockdown mode other than C(none) in C(/sys/kernel/security/lockdown)
                  (which refuses an unsigned kernel).
              returned: success
              type: str
              sample: ''
        files:
          description: Each path of O(files), described.
          returned: always
          type: dict
          sample:
            /usr/local/bin/agentns-unshare: {exists: true, executable: true, capabilities: cap_sys_admin=ep}
          contains:
            exists:
              description: Whether the path exists.
              returned: success
              type: bool
            executable:
              description: Whether it is a regular file with an execute bit.
              returned: success
              type: bool
            capabilities:
              description:
                - Its file capabilities in C(getcap)'s notation (C(cap_sys_admin=ep)), V("") for none.
              returned: success
              type: str
        sysctls:
          description: Current sysctl values, V(null) without kernel support.
          returned: always
          type: dict
          contains:
            enabled:
              description: Value of C(kernel.agent_ns.enabled).
              returned: success
              type: int
              sample: 1
            max_lifetime:
              description: Value of C(kernel.agent_ns.max_lifetime) in seconds.
              returned: success
              type: int
              sample: 86400
        session_id:
          description:
            - Contents of C(/proc/self/agent_session) for the module's process, 32 lowercase hex digits.
            - V(null) without kernel support.
          returned: always
          type: str
          sample: '00000000000000000000000000000000'
        in_agent_namespace:
          description: Whether the module's process runs inside an agent namespace (a non-zero session id).
          returned: always
          type: bool
          sample: false
        namespace:
          description: Target of C(/proc/self/ns/agent), V(null) without kernel support.
          returned: always
          type: str
          sample: agent:[4026531840]
        counters:
          description: Contents of C(/proc/self/agent_counters), V(null) without kernel support.
          returned: always
          type: dict
          sample:
            total_syscalls: 1520
            openat_count: 41
            write_bytes: 0
            connect_count: 0
            unlink_count: 0
            fork_count: 0
            elapsed_ns: 73400000
        initial_namespace:
          description:
            - The host's initial agent namespace in the kernel's namespace tree (C(NS_GET_ID) and C(NS_GET_NSTYPE)
              of C(/proc/1/ns/agent)); the id is 9 and the type 4194304 (C(AGENT_NS)) on every agentns kernel.
            - V(null) on a kernel without agent namespaces in its tree (a stock kernel, or a series before it).
          returned: always
          type: dict
          sample: {id: 9, type: 4194304}
        namespaces_alive:
          description:
            - How many agent namespaces are alive on the host, the initial one included, as C(listns(2)) lists them.
            - V(null) without the namespace tree, or when the module does not run as root (unprivileged,
              C(listns(2)) shows only the caller's own namespaces).
          returned: always
          type: int
          sample: 3
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.agentns.fleet.plugins.module_utils import agentns


def main(paths: agentns.HostPaths | None = None) -> None:
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "path", "default": []},
            "boot_probe": {"type": "bool", "default": False},
            "grub_cfg": {"type": "path"},
        },
        supports_check_mode=True,
    )
    paths = paths or agentns.HostPaths()
    if module.params["grub_cfg"]:
        paths.grub_cfg = module.params["grub_cfg"]
    try:
        facts = agentns.gather(module, paths, module.params["files"], module.params["boot_probe"])
    except agentns.AgentNSError as exc:
        module.fail_json(msg=to_native(exc))
    module.exit_json(changed=False, ansible_facts={"agentns": facts})


if __name__ == "__main__":
    main()
