#!/usr/bin/python
# Copyright: (c) 2026, the agentns contributors
# GNU General Public License v2.0 only (see https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)
# SPDX-License-Identifier: GPL-2.0-only

from __future__ import annotations

DOCUMENTATION = r"""
---
module: agentns_sysctl
short_description: Query and set the agent namespace sysctls, live and persisted
version_added: 0.1.0
description:
  - Reads or sets C(kernel.agent_ns.enabled) and C(kernel.agent_ns.max_lifetime) on a host
    running a kernel with the agent namespace series.
  - The live value is read and written through C(/proc/sys/kernel/agent_ns/), the persisted
    value is kept in a C(sysctl.d) file that C(systemd-sysctl) applies at boot.
  - Reports a change only when the live value or the persisted value differs from O(value),
    so it can run on a schedule to put drifted hosts back in line.
  - An already correct file is never rewritten. Other lines in the file, including comments
    and other sysctls, are kept as they are.
  - Without O(value) the module only reports the current values.
author:
  - agentns contributors (!UNKNOWN)
options:
  name:
    description:
      - The sysctl to manage, by its full name or by its last component.
    type: str
    required: true
    aliases: [key]
    choices:
      - enabled
      - kernel.agent_ns.enabled
      - kernel.agent_ns.max_lifetime
      - max_lifetime
  value:
    description:
      - Wanted value.
      - For C(kernel.agent_ns.enabled), V(0) or V(1); a boolean is accepted too.
      - For C(kernel.agent_ns.max_lifetime), a whole number of seconds from V(1) to V(2147483647).
      - Omit it to only query the current values.
    type: raw
  state:
    description:
      - V(present) makes the sysctl hold O(value).
    type: str
    choices: [present]
    default: present
  runtime:
    description:
      - Whether to set the live value in C(/proc/sys).
      - The module fails when this is V(true), O(value) is given and the running kernel has no
        agent namespace (no C(/proc/sys/kernel/agent_ns)). Set it to V(false) to write only the
        persisted file, for example before rebooting into a newly installed agentns kernel.
    type: bool
    default: true
  persist:
    description:
      - Whether to keep the value in O(sysctl_file) so it survives a reboot.
    type: bool
    default: true
  sysctl_file:
    description:
      - The C(sysctl.d) file holding the persisted value. It is created with mode C(0644) when missing.
    type: path
    default: /etc/sysctl.d/60-agentns.conf
attributes:
  check_mode:
    description: Can run in check mode and return the changed status it would report.
    support: full
  diff_mode:
    description: Shows the live value and the file content before and after, for whichever of them changes.
    support: full
  platform:
    description: Needs a Linux host; live values need a kernel with the agent namespace series.
    support: full
    platforms: posix
notes:
  - At least one of O(runtime) and O(persist) must be V(true) when O(value) is given.
  - When the file assigns the sysctl more than once, the last assignment is the one compared,
    as C(systemd-sysctl) applies them in order; on a change every assignment is rewritten.
  - A line the module adds starts with C(-), for example C(-kernel.agent_ns.enabled = 1), which
    tells C(systemd-sysctl) to skip it on a kernel without the agent namespace (a fallback boot)
    instead of failing. Lines already in the file keep their own form.
seealso:
  - module: agentns.fleet.agentns_info
"""

EXAMPLES = r"""
- name: Make sure agent namespaces are enabled, now and after reboots
  agentns.fleet.agentns_sysctl:
    name: kernel.agent_ns.enabled
    value: 1

- name: Limit agent sessions to one hour
  agentns.fleet.agentns_sysctl:
    name: max_lifetime
    value: 3600

- name: Stage the setting before the host boots an agentns kernel
  agentns.fleet.agentns_sysctl:
    name: max_lifetime
    value: 7200
    runtime: false

- name: Report drift without fixing it
  agentns.fleet.agentns_sysctl:
    name: enabled
    value: 1
  check_mode: true
  register: agentns_drift

- name: Read the current value
  agentns.fleet.agentns_sysctl:
    name: kernel.agent_ns.max_lifetime
  register: agentns_lifetime
"""

RETURN = r"""
name:
  description: Full name of the sysctl.
  returned: always
  type: str
  sample: kernel.agent_ns.enabled
value:
  description: The wanted value after validation, or V(null) when only querying.
  returned: always
  type: int
  sample: 1
supported:
  description: Whether the running kernel exposes C(/proc/sys/kernel/agent_ns).
  returned: always
  type: bool
  sample: true
sysctl_file:
  description: Path of the persisted file.
  returned: always
  type: str
  sample: /etc/sysctl.d/60-agentns.conf
runtime_value:
  description:
    - Live value after the task (the predicted value in check mode).
    - V(null) when the kernel has no agent namespace.
  returned: always
  type: int
  sample: 1
persisted_value:
  description:
    - Value the file gives the sysctl after the task (the predicted value in check mode).
    - V(null) when the file does not set it or sets it to something that is not a number.
  returned: always
  type: int
  sample: 1
before:
  description: The live and persisted values found before the task.
  returned: always
  type: dict
  contains:
    runtime_value:
      description: Live value, V(null) without kernel support.
      type: int
      returned: always
      sample: 0
    persisted_value:
      description: Persisted value, V(null) when unset.
      type: int
      returned: always
      sample: 0
runtime_changed:
  description: Whether the live value was (or in check mode would be) changed.
  returned: always
  type: bool
  sample: true
persisted_changed:
  description: Whether the file was (or in check mode would be) rewritten.
  returned: always
  type: bool
  sample: false
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible_collections.agentns.fleet.plugins.module_utils import agentns

FILE_HEADER = "# Managed by agentns.fleet.agentns_sysctl: agent namespace settings.\n"


def argument_spec() -> dict:
    return {
        "name": {"type": "str", "required": True, "aliases": ["key"], "choices": agentns.SYSCTL_NAME_CHOICES},
        "value": {"type": "raw"},
        "state": {"type": "str", "default": "present", "choices": ["present"]},
        "runtime": {"type": "bool", "default": True},
        "persist": {"type": "bool", "default": True},
        "sysctl_file": {"type": "path", "default": agentns.DEFAULT_SYSCTL_FILE},
    }


def check_request(params: dict, supported: bool, paths: agentns.HostPaths) -> None:
    """Refuse requests that cannot do what they ask for."""
    if params["value"] is None:
        return
    if not (params["runtime"] or params["persist"]):
        raise agentns.AgentNSError("nothing to do: runtime and persist are both false")
    if params["runtime"] and not supported:
        raise agentns.AgentNSError(
            "the running kernel ({}) has no agent namespace: /proc/sys/kernel/agent_ns is missing; set runtime=false to only write {}".format(
                agentns.running_release(paths), params["sysctl_file"]
            )
        )


def write_file_atomically(module: AnsibleModule, path: str, content: str) -> None:
    """Replace path through a temporary file in the same directory, so readers never see half a file."""
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    existed = os.path.exists(path)
    handle, tmp_path = tempfile.mkstemp(prefix=".agentns_sysctl_", dir=directory)
    try:
        with os.fdopen(handle, "wb") as tmp:
            tmp.write(to_bytes(content, errors="surrogate_or_strict"))
        if not existed:
            os.chmod(tmp_path, 0o644)
    except OSError as exc:
        os.unlink(tmp_path)
        raise agentns.AgentNSError(f"cannot write {path}: {to_native(exc)}")
    # atomic_move keeps the owner, mode and SELinux context of an existing file.
    module.atomic_move(tmp_path, path)


def runtime_diff(spec: agentns.SysctlSpec, paths: agentns.HostPaths, before, after) -> dict:
    path = paths.sysctl_file(spec)
    return {
        "before_header": f"{path} (live)",
        "after_header": f"{path} (live)",
        "before": "" if before is None else f"{before}\n",
        "after": "" if after is None else f"{after}\n",
    }


def manage(module: AnsibleModule, paths: agentns.HostPaths) -> dict:
    params = module.params
    spec = agentns.lookup_sysctl(params["name"])
    supported = agentns.sysctl_interface_present(paths)
    check_request(params, supported, paths)
    wanted = None if params["value"] is None else agentns.parse_value(spec, params["value"])

    runtime_before = agentns.read_runtime(spec, paths)
    file_path = params["sysctl_file"]
    file_before = agentns.read_text(file_path)
    persisted_before = agentns.persisted_value(file_before, spec)

    runtime_after, file_after = runtime_before, file_before
    if wanted is not None and params["runtime"] and runtime_before != wanted:
        runtime_after = wanted
    if wanted is not None and params["persist"] and persisted_before != wanted:
        file_after = agentns.render_conf(file_before, spec, wanted, header=FILE_HEADER)

    runtime_changed = runtime_after != runtime_before
    persisted_changed = file_after != file_before
    if not module.check_mode:
        if runtime_changed:
            agentns.write_runtime(spec, runtime_after, paths)
        if persisted_changed:
            write_file_atomically(module, file_path, file_after)

    result = {
        "changed": runtime_changed or persisted_changed,
        "name": spec.name,
        "value": wanted,
        "supported": supported,
        "sysctl_file": file_path,
        "runtime_value": runtime_after,
        "persisted_value": agentns.persisted_value(file_after, spec),
        "before": {"runtime_value": runtime_before, "persisted_value": persisted_before},
        "runtime_changed": runtime_changed,
        "persisted_changed": persisted_changed,
    }
    if module._diff:
        # Only what drifted, so --check --diff over a fleet shows exactly the drift.
        result["diff"] = []
        if runtime_changed:
            result["diff"].append(runtime_diff(spec, paths, runtime_before, runtime_after))
        if persisted_changed:
            result["diff"].append({"before_header": file_path, "after_header": file_path, "before": file_before or "", "after": file_after})
    return result


def main(paths: agentns.HostPaths | None = None) -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        result = manage(module, paths or agentns.HostPaths())
    except agentns.AgentNSError as exc:
        module.fail_json(msg=to_native(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
