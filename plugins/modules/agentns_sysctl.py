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
  - An already correct file is never rewritten. Other lines in the file, including comments,
    other sysctls, CRLF line ends and bytes that are not UTF-8, are kept as they are.
  - When O(sysctl_file) is a symbolic link (Debian's C(/etc/sysctl.d/99-sysctl.conf) points to
    C(/etc/sysctl.conf)), the file it points to is written and the link is kept.
  - The file is written before the live value, so a failure never leaves a live value that the
    next boot would undo; a failed task says what it did and did not change.
  - Warns, and returns RV(shadowed_by), when a C(sysctl.d) file that C(systemd-sysctl) applies
    after O(sysctl_file) sets the same sysctl, since at the next boot that file's value wins.
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
      - Not allowed with O(state=absent).
    type: raw
  state:
    description:
      - V(present) makes the sysctl hold O(value).
      - V(absent) removes every assignment of the sysctl from O(sysctl_file) (the file itself
        stays, even when empty). The live value is left alone unless O(reset_runtime=true).
    type: str
    choices: [present, absent]
    default: present
  reset_runtime:
    description:
      - With O(state=absent), also set the live value back to the kernel's default
        (V(1) for C(kernel.agent_ns.enabled), V(86400) for C(kernel.agent_ns.max_lifetime)).
      - Ignored with O(state=present).
    type: bool
    default: false
  fail_on_shadow:
    description:
      - Fail, before changing anything, when another C(sysctl.d) file applied after
        O(sysctl_file) sets the same sysctl (see RV(shadowed_by)).
      - By default this is only a warning.
    type: bool
    default: false
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
      - Must be an absolute path ending in C(.conf) (C(systemd-sysctl) reads no other files), without
        newlines or other control characters.
      - A symbolic link is followed and the file it points to is written.
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
  - Files are applied at boot in the order C(systemd-sysctl) uses, across C(/etc/sysctl.d),
    C(/run/sysctl.d), C(/usr/local/lib/sysctl.d), C(/usr/lib/sysctl.d) and C(/lib/sysctl.d)
    (a file in C(/etc) masks one of the same name in the others), then C(/etc/sysctl.conf).
  - C(systemd-sysctl) has no inline comments, so a managed line with a comment after its value
    does not set a number; when the module rewrites such a line, the comment moves to a line of its own above.
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

- name: Drop the setting from the file, keeping the live value
  agentns.fleet.agentns_sysctl:
    name: max_lifetime
    state: absent

- name: Write through Debian's symlinked file, and fail when a later file overrides it
  agentns.fleet.agentns_sysctl:
    name: enabled
    value: 1
    sysctl_file: /etc/sysctl.d/99-sysctl.conf
    fail_on_shadow: true

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
  description: Path of the persisted file, as given.
  returned: always
  type: str
  sample: /etc/sysctl.d/60-agentns.conf
written_file:
  description: The file actually read and written, with symbolic links resolved.
  returned: always
  type: str
  sample: /etc/sysctl.conf
state:
  description: The requested state.
  returned: always
  type: str
  sample: present
shadowed_by:
  description:
    - Maps the sysctl's full name to the file that sets it after O(sysctl_file) at boot (the last
      such file, whose value wins). Empty when nothing overrides O(sysctl_file), and with O(state=absent).
  returned: always
  type: dict
  sample: {kernel.agent_ns.enabled: /etc/sysctl.d/99-local.conf}
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
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "reset_runtime": {"type": "bool", "default": False},
        "fail_on_shadow": {"type": "bool", "default": False},
        "runtime": {"type": "bool", "default": True},
        "persist": {"type": "bool", "default": True},
        "sysctl_file": {"type": "path", "default": agentns.DEFAULT_SYSCTL_FILE},
    }


class PartialChange(agentns.AgentNSError):
    """A failure after something was already changed; carries what was."""

    def __init__(self, message: str, persisted_changed: bool) -> None:
        super().__init__(message)
        self.persisted_changed = persisted_changed


def check_request(params: dict, supported: bool, paths: agentns.HostPaths) -> None:
    """Refuse requests that cannot do what they ask for."""
    agentns.check_sysctl_file(params["sysctl_file"])
    if params["state"] == "absent":
        if params["value"] is not None:
            raise agentns.AgentNSError("value is not allowed with state=absent")
        if params["reset_runtime"] and not supported:
            raise agentns.AgentNSError(
                f"reset_runtime=true, but the running kernel ({agentns.running_release(paths)}) has no agent namespace: /proc/sys/kernel/agent_ns is missing"
            )
        return
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
    """Replace path through a temporary file in the same directory, so readers never see half a file.

    Every failure is an AgentNSError that leaves path as it was and no
    temporary file behind (atomic_move's own failure exits through
    fail_json, which removes the files registered for cleanup).
    """
    directory = os.path.dirname(path) or "."
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        existed = os.path.exists(path)
        handle, tmp_path = tempfile.mkstemp(prefix=".agentns_sysctl_", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise agentns.AgentNSError(f"cannot write {path}: {to_native(exc)}; nothing was changed")
    module.add_cleanup_file(tmp_path)
    try:
        with os.fdopen(handle, "wb") as tmp:
            # surrogateescape gives back the bytes that were not UTF-8 as they were read.
            tmp.write(to_bytes(content, errors="surrogate_or_strict"))
        if not existed:
            os.chmod(tmp_path, 0o644)
    except OSError as exc:
        os.unlink(tmp_path)
        raise agentns.AgentNSError(f"cannot write {path}: {to_native(exc)}; nothing was changed")
    # atomic_move keeps the owner, mode and SELinux context of an existing file.
    module.atomic_move(tmp_path, path)


def printable(text: str | None) -> str:
    """text for a diff: bytes that are not UTF-8 become U+FFFD, so the result stays valid JSON."""
    if not text:
        return ""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def runtime_diff(spec: agentns.SysctlSpec, paths: agentns.HostPaths, before, after) -> dict:
    path = paths.sysctl_file(spec)
    return {
        "before_header": f"{path} (live)",
        "after_header": f"{path} (live)",
        "before": "" if before is None else f"{before}\n",
        "after": "" if after is None else f"{after}\n",
    }


def shadow_check(module: AnsibleModule, spec: agentns.SysctlSpec, paths: agentns.HostPaths, file_path: str) -> dict:
    """{name: path} of a later file that overrides sysctl_file at boot, with a warning (or a failure)."""
    found = agentns.shadowing_file(paths, file_path, spec)
    if not found:
        return {}
    path, raw = found
    message = f"{path} sets {spec.name} = {raw} and is applied after {file_path} at boot, so its value wins"
    if module.params["fail_on_shadow"] and module.params["state"] == "present":
        raise agentns.AgentNSError(message + " (fail_on_shadow=true; nothing was changed)")
    module.warn(message)
    return {spec.name: path}


def manage(module: AnsibleModule, paths: agentns.HostPaths) -> dict:
    params = module.params
    spec = agentns.lookup_sysctl(params["name"])
    supported = agentns.sysctl_interface_present(paths)
    check_request(params, supported, paths)
    absent = params["state"] == "absent"
    wanted = None if params["value"] is None else agentns.parse_value(spec, params["value"])

    runtime_before = agentns.read_runtime(spec, paths)
    file_path = params["sysctl_file"]
    # Write through a symlink (Debian's 99-sysctl.conf) instead of replacing it.
    target = os.path.realpath(file_path)
    file_before = agentns.read_text(target)
    persisted_before = agentns.persisted_value(file_before, spec)
    # Nothing of ours is left to override once the lines are gone.
    shadowed_by = {} if absent else shadow_check(module, spec, paths, file_path)

    runtime_after, file_after = runtime_before, file_before
    if absent:
        if params["persist"]:
            file_after = agentns.remove_from_conf(file_before, spec)
        if params["reset_runtime"] and runtime_before != spec.default:
            runtime_after = spec.default
    else:
        if wanted is not None and params["runtime"] and runtime_before != wanted:
            runtime_after = wanted
        if wanted is not None and params["persist"] and persisted_before != wanted:
            file_after = agentns.render_conf(file_before, spec, wanted, header=FILE_HEADER)

    runtime_changed = runtime_after != runtime_before
    persisted_changed = file_after != file_before
    if not module.check_mode:
        # The file first: a live value the next boot would undo is worse than
        # a file that waits for the next boot.
        if persisted_changed:
            write_file_atomically(module, target, file_after)
        if runtime_changed:
            try:
                agentns.write_runtime(spec, runtime_after, paths)
            except agentns.AgentNSError as exc:
                done = f"{target} was updated" if persisted_changed else f"{target} was not changed"
                raise PartialChange(f"{exc}; {done}, the live value was not changed", persisted_changed)

    result = {
        "changed": runtime_changed or persisted_changed,
        "name": spec.name,
        "value": wanted,
        "state": params["state"],
        "supported": supported,
        "sysctl_file": file_path,
        "written_file": target,
        "runtime_value": runtime_after,
        "persisted_value": agentns.persisted_value(file_after, spec),
        "before": {"runtime_value": runtime_before, "persisted_value": persisted_before},
        "runtime_changed": runtime_changed,
        "persisted_changed": persisted_changed,
        "shadowed_by": shadowed_by,
    }
    if module._diff:
        # Only what drifted, so --check --diff over a fleet shows exactly the drift.
        result["diff"] = []
        if runtime_changed:
            result["diff"].append(runtime_diff(spec, paths, runtime_before, runtime_after))
        if persisted_changed:
            result["diff"].append({"before_header": target, "after_header": target, "before": printable(file_before), "after": printable(file_after)})
    return result


def main(paths: agentns.HostPaths | None = None) -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        result = manage(module, paths or agentns.HostPaths())
    except PartialChange as exc:
        module.fail_json(msg=to_native(exc), changed=exc.persisted_changed, persisted_changed=exc.persisted_changed, runtime_changed=False)
    except agentns.AgentNSError as exc:
        module.fail_json(msg=to_native(exc), changed=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
