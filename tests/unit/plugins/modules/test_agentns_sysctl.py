# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only

from __future__ import annotations

import os
import stat

import pytest
from ansible_collections.agentns.fleet.plugins.module_utils import agentns
from ansible_collections.agentns.fleet.plugins.modules import agentns_sysctl

UNRELATED = "# site tuning\nvm.swappiness = 10\n\n; keep me\nnet.core.somaxconn=4096\n"


class Host:
    """A temporary directory standing in for /proc and /etc/sysctl.d."""

    def __init__(self, root, supported=True, enabled=1, max_lifetime=86400):
        self.paths = agentns.HostPaths(proc=str(root / "proc"), boot=str(root / "boot"), dpkg_query=None)
        self.conf = str(root / "etc" / "sysctl.d" / "60-agentns.conf")
        os.makedirs(os.path.join(self.paths.proc, "sys", "kernel"))
        with open(os.path.join(self.paths.proc, "sys", "kernel", "osrelease"), "w") as handle:
            handle.write("7.3.4-agentns-test\n" if supported else "6.1.0-28-amd64\n")
        if supported:
            os.makedirs(self.paths.sysctl_dir())
            self.set_runtime("enabled", enabled)
            self.set_runtime("max_lifetime", max_lifetime)

    def runtime_path(self, short):
        return os.path.join(self.paths.sysctl_dir(), short)

    def set_runtime(self, short, value):
        with open(self.runtime_path(short), "w") as handle:
            handle.write(f"{value}\n")

    def runtime(self, short):
        with open(self.runtime_path(short)) as handle:
            return handle.read()

    def write_conf(self, text):
        os.makedirs(os.path.dirname(self.conf), exist_ok=True)
        with open(self.conf, "w") as handle:
            handle.write(text)

    def conf_text(self):
        if not os.path.exists(self.conf):
            return None
        with open(self.conf) as handle:
            return handle.read()


@pytest.fixture
def host(tmp_path):
    return Host(tmp_path)


@pytest.fixture
def sysctl(run_module, host):
    def run(**args):
        args.setdefault("sysctl_file", host.conf)
        return run_module(agentns_sysctl.main, args, paths=host.paths)

    return run


def test_query_reports_runtime_and_persisted(host, sysctl):
    host.write_conf("kernel.agent_ns.max_lifetime = 7200\n")
    result = sysctl(name="max_lifetime")
    assert result["changed"] is False
    assert result["name"] == "kernel.agent_ns.max_lifetime"
    assert result["value"] is None
    assert result["runtime_value"] == 86400
    assert result["persisted_value"] == 7200
    assert result["supported"] is True
    assert host.conf_text() == "kernel.agent_ns.max_lifetime = 7200\n"


def test_query_on_kernel_without_agentns(tmp_path, run_module):
    host = Host(tmp_path, supported=False)
    result = run_module(agentns_sysctl.main, {"name": "enabled", "sysctl_file": host.conf}, paths=host.paths)
    assert result.get("failed") is not True
    assert result["supported"] is False
    assert result["runtime_value"] is None
    assert result["persisted_value"] is None


def test_set_fixes_runtime_and_file_drift(host, sysctl):
    host.set_runtime("enabled", 0)
    host.write_conf(UNRELATED + "kernel.agent_ns.enabled = 0\n")
    result = sysctl(name="kernel.agent_ns.enabled", value=1)
    assert result["changed"] is True
    assert result["runtime_changed"] is True
    assert result["persisted_changed"] is True
    assert result["before"] == {"runtime_value": 0, "persisted_value": 0}
    assert result["runtime_value"] == 1
    assert result["persisted_value"] == 1
    assert host.runtime("enabled") == "1\n"
    assert host.conf_text() == UNRELATED + "kernel.agent_ns.enabled = 1\n"


def test_set_only_runtime_drift_leaves_file_untouched(host, sysctl):
    host.set_runtime("max_lifetime", 60)
    host.write_conf(UNRELATED + "kernel.agent_ns.max_lifetime=3600\n")
    before = os.stat(host.conf)
    result = sysctl(name="max_lifetime", value="3600")
    assert result["changed"] is True
    assert result["runtime_changed"] is True
    assert result["persisted_changed"] is False
    assert host.runtime("max_lifetime") == "3600\n"
    after = os.stat(host.conf)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_no_change_when_in_sync(host, sysctl):
    host.write_conf("-kernel.agent_ns.max_lifetime = 86400\n")
    before = os.stat(host.conf)
    result = sysctl(name="max_lifetime", value=86400)
    assert result["changed"] is False
    assert result["runtime_changed"] is False
    assert result["persisted_changed"] is False
    after = os.stat(host.conf)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_second_run_is_idempotent(host, sysctl):
    host.set_runtime("enabled", 0)
    assert sysctl(name="enabled", value=1)["changed"] is True
    assert sysctl(name="enabled", value=1)["changed"] is False


def test_new_file_is_created_with_mode_0644(host, sysctl):
    result = sysctl(name="enabled", value=1)
    assert result["changed"] is True
    assert result["runtime_changed"] is False
    assert result["persisted_changed"] is True
    text = host.conf_text()
    assert text.startswith("#")
    assert text.endswith("\n-kernel.agent_ns.enabled = 1\n")
    assert stat.S_IMODE(os.stat(host.conf).st_mode) == 0o644


def test_check_mode_reports_change_without_writing(host, sysctl):
    host.set_runtime("enabled", 0)
    host.write_conf(UNRELATED)
    result = sysctl(name="enabled", value=1, _ansible_check_mode=True)
    assert result["changed"] is True
    assert result["runtime_changed"] is True
    assert result["persisted_changed"] is True
    assert result["runtime_value"] == 1
    assert result["persisted_value"] == 1
    assert host.runtime("enabled") == "0\n"
    assert host.conf_text() == UNRELATED


def test_check_mode_on_missing_file_creates_nothing(host, sysctl):
    result = sysctl(name="enabled", value=1, _ansible_check_mode=True)
    assert result["changed"] is True
    assert host.conf_text() is None


def test_diff_shows_runtime_and_file(host, sysctl):
    host.set_runtime("max_lifetime", 100)
    host.write_conf(UNRELATED)
    result = sysctl(name="max_lifetime", value=200, _ansible_diff=True)
    runtime_diff, file_diff = result["diff"]
    assert runtime_diff["before"] == "100\n"
    assert runtime_diff["after"] == "200\n"
    assert runtime_diff["before_header"].endswith("sys/kernel/agent_ns/max_lifetime (live)")
    assert file_diff["before_header"] == host.conf
    assert file_diff["before"] == UNRELATED
    assert file_diff["after"] == UNRELATED + "-kernel.agent_ns.max_lifetime = 200\n"


def test_diff_lists_only_what_drifted(host, sysctl):
    host.write_conf("kernel.agent_ns.max_lifetime = 200\n")
    assert sysctl(name="max_lifetime", value=86400, _ansible_diff=True)["diff"] == [
        {
            "before_header": host.conf,
            "after_header": host.conf,
            "before": "kernel.agent_ns.max_lifetime = 200\n",
            "after": "kernel.agent_ns.max_lifetime = 86400\n",
        }
    ]
    assert sysctl(name="max_lifetime", value=86400, _ansible_diff=True)["diff"] == []


def test_no_diff_unless_asked(host, sysctl):
    assert "diff" not in sysctl(name="max_lifetime", value=200)


def test_unknown_name_fails(sysctl):
    result = sysctl(name="kernel.agent_ns.bogus", value=1)
    assert result["failed"] is True
    assert "kernel.agent_ns.enabled" in result["msg"]


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("enabled", 2, "between 0 and 1"),
        ("enabled", "maybe", "integer or a boolean"),
        ("max_lifetime", 0, "between 1 and 2147483647"),
        ("max_lifetime", -1, "between"),
        ("max_lifetime", 2**31, "between"),
        ("max_lifetime", "1.5", "must be an integer"),
        ("max_lifetime", 1.5, "must be an integer"),
    ],
)
def test_bad_value_fails_and_changes_nothing(host, sysctl, name, value, message):
    host.write_conf(UNRELATED)
    result = sysctl(name=name, value=value)
    assert result["failed"] is True
    assert message in result["msg"]
    assert host.conf_text() == UNRELATED
    assert host.runtime("max_lifetime") == "86400\n"
    assert host.runtime("enabled") == "1\n"


def test_unsupported_kernel_fails_when_runtime_requested(tmp_path, run_module):
    host = Host(tmp_path, supported=False)
    result = run_module(agentns_sysctl.main, {"name": "enabled", "value": 1, "sysctl_file": host.conf}, paths=host.paths)
    assert result["failed"] is True
    assert "6.1.0-28-amd64" in result["msg"]
    assert "runtime=false" in result["msg"]
    assert host.conf_text() is None


def test_unsupported_kernel_can_still_persist(tmp_path, run_module):
    host = Host(tmp_path, supported=False)
    args = {"name": "max_lifetime", "value": 600, "runtime": False, "sysctl_file": host.conf}
    result = run_module(agentns_sysctl.main, args, paths=host.paths)
    assert result["changed"] is True
    assert result["runtime_value"] is None
    assert result["persisted_value"] == 600
    assert agentns.persisted_value(host.conf_text(), agentns.SYSCTLS["kernel.agent_ns.max_lifetime"]) == 600


def test_runtime_only_leaves_file_alone(host, sysctl):
    host.set_runtime("enabled", 0)
    result = sysctl(name="enabled", value=True, persist=False)
    assert result["changed"] is True
    assert result["persisted_changed"] is False
    assert host.runtime("enabled") == "1\n"
    assert host.conf_text() is None


def test_nothing_to_manage_fails(sysctl):
    result = sysctl(name="enabled", value=1, persist=False, runtime=False)
    assert result["failed"] is True
    assert "nothing to do" in result["msg"]


def test_unrelated_lines_survive_and_duplicates_are_all_updated(host, sysctl):
    original = "kernel.agent_ns.enabled = 0\n" + UNRELATED + "kernel/agent_ns/enabled=0\n# trailing comment"
    host.write_conf(original)
    result = sysctl(name="enabled", value=1)
    assert result["persisted_changed"] is True
    assert host.conf_text() == ("kernel.agent_ns.enabled = 1\n" + UNRELATED + "kernel.agent_ns.enabled = 1\n# trailing comment")


def test_existing_file_mode_is_kept(host, sysctl):
    host.write_conf(UNRELATED)
    os.chmod(host.conf, 0o600)
    sysctl(name="enabled", value=1)
    assert stat.S_IMODE(os.stat(host.conf).st_mode) == 0o600
