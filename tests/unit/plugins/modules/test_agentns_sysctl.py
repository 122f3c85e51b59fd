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
    """A temporary directory standing in for /proc, /etc, /run and /usr/lib."""

    def __init__(self, root, supported=True, enabled=1, max_lifetime=86400):
        self.root = root
        self.etc_d = str(root / "etc" / "sysctl.d")
        self.run_d = str(root / "run" / "sysctl.d")
        self.lib_d = str(root / "usr" / "lib" / "sysctl.d")
        self.sysctl_conf = str(root / "etc" / "sysctl.conf")
        self.paths = agentns.HostPaths(
            proc=str(root / "proc"),
            boot=str(root / "boot"),
            dpkg_query=None,
            sysctl_dirs=(self.etc_d, self.run_d, self.lib_d),
            sysctl_conf=self.sysctl_conf,
        )
        self.conf = os.path.join(self.etc_d, "60-agentns.conf")
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

    def put(self, path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
        return path

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


def warning_texts(result):
    """Warnings as text; ansible-core 2.19 returns them as structured events."""
    return [w if isinstance(w, str) else w.get("event", {}).get("msg", str(w)) for w in result.get("warnings", [])]


def leftovers(directory):
    return [name for name in os.listdir(directory) if name.startswith(".agentns_sysctl_")]


# --- writing through a symlink (Debian's /etc/sysctl.d/99-sysctl.conf -> ../sysctl.conf)


def test_symlinked_file_is_written_through(host, sysctl):
    host.put(host.sysctl_conf, UNRELATED)
    link = os.path.join(host.etc_d, "99-sysctl.conf")
    os.makedirs(host.etc_d)
    os.symlink("../sysctl.conf", link)
    result = sysctl(name="enabled", value=1, sysctl_file=link)
    assert result["changed"] is True
    assert result["written_file"] == host.sysctl_conf
    assert os.path.islink(link)
    assert os.readlink(link) == "../sysctl.conf"
    with open(host.sysctl_conf) as handle:
        assert handle.read() == UNRELATED + "-kernel.agent_ns.enabled = 1\n"
    # The link's own target is not a later file overriding it.
    assert result["shadowed_by"] == {}
    assert sysctl(name="enabled", value=1, sysctl_file=link)["changed"] is False


# --- order of the work and what a failure reports


def test_file_is_written_before_the_live_value(host, sysctl, monkeypatch):
    host.set_runtime("enabled", 0)

    def refuse(spec, value, paths):
        raise agentns.AgentNSError(f"cannot write {value} to {paths.sysctl_file(spec)}: Permission denied")

    monkeypatch.setattr(agentns, "write_runtime", refuse)
    result = sysctl(name="enabled", value=1)
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["persisted_changed"] is True
    assert result["runtime_changed"] is False
    assert "was updated, the live value was not changed" in result["msg"]
    assert host.conf_text().endswith("-kernel.agent_ns.enabled = 1\n")
    assert host.runtime("enabled") == "0\n"


def test_makedirs_failure_is_reported_and_changes_nothing(host, sysctl):
    host.set_runtime("enabled", 0)
    blocker = host.put(str(host.root / "etc" / "blocker"), "a file, not a directory\n")
    result = sysctl(name="enabled", value=1, sysctl_file=os.path.join(blocker, "sub", "60-agentns.conf"))
    assert result["failed"] is True
    assert result["changed"] is False
    assert "nothing was changed" in result["msg"]
    assert host.runtime("enabled") == "0\n"


def test_mkstemp_failure_is_reported_and_changes_nothing(host, sysctl, monkeypatch):
    host.set_runtime("enabled", 0)

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(agentns_sysctl.tempfile, "mkstemp", no_space)
    result = sysctl(name="enabled", value=1)
    assert result["failed"] is True
    assert "No space left on device" in result["msg"]
    assert host.conf_text() is None
    assert host.runtime("enabled") == "0\n"


def test_failed_atomic_move_leaves_no_temp_file(host, sysctl, monkeypatch):
    from ansible.module_utils.basic import AnsibleModule

    host.set_runtime("enabled", 0)
    host.write_conf(UNRELATED)

    def broken_move(self, src, dest, unsafe_writes=False, keep_dest_attrs=True):
        self.fail_json(msg=f"Could not replace file: {src} to {dest}: read-only file system")

    monkeypatch.setattr(AnsibleModule, "atomic_move", broken_move)
    result = sysctl(name="enabled", value=1)
    assert result["failed"] is True
    assert leftovers(host.etc_d) == []
    assert host.conf_text() == UNRELATED
    assert host.runtime("enabled") == "0\n"


# --- sysctl_file validation


@pytest.mark.parametrize(
    "path, message",
    [
        ("relative/60-agentns.conf", "absolute"),
        ("/SUBST/60-agentns", "NAME.conf"),
        ("/SUBST/60-agentns.conf\n-kernel.agent_ns.enabled=0.conf", "control characters"),
    ],
)
def test_bad_sysctl_file_fails_and_writes_nothing(host, sysctl, path, message):
    host.set_runtime("enabled", 0)
    result = sysctl(name="enabled", value=1, sysctl_file=path.replace("/SUBST", host.etc_d))
    assert result["failed"] is True
    assert message in result["msg"]
    assert not os.path.exists(host.etc_d) or os.listdir(host.etc_d) == []
    assert host.runtime("enabled") == "0\n"


# --- content that must survive a rewrite


def test_non_utf8_bytes_survive_and_diff_still_works(host, sysctl):
    os.makedirs(host.etc_d)
    original = b"# caf\xe9 (latin-1)\nvm.swappiness = 10\n"
    with open(host.conf, "wb") as handle:
        handle.write(original)
    result = sysctl(name="enabled", value=1, _ansible_diff=True)
    assert result.get("failed") is not True, result
    file_diff = result["diff"][-1]
    assert "caf\ufffd" in file_diff["before"]
    assert file_diff["after"].endswith("-kernel.agent_ns.enabled = 1\n")
    with open(host.conf, "rb") as handle:
        assert handle.read() == original + b"-kernel.agent_ns.enabled = 1\n"


def test_crlf_file_keeps_its_line_ends(host, sysctl):
    host.set_runtime("enabled", 0)
    os.makedirs(host.etc_d)
    with open(host.conf, "wb") as handle:
        handle.write(b"# windows\r\nkernel.agent_ns.enabled = 0\r\nvm.a = 1  # inline\r\n")
    sysctl(name="enabled", value=1)
    sysctl(name="max_lifetime", value=600)
    with open(host.conf, "rb") as handle:
        assert handle.read() == b"# windows\r\nkernel.agent_ns.enabled = 1\r\nvm.a = 1  # inline\r\n-kernel.agent_ns.max_lifetime = 600\r\n"


# --- state: absent


def test_absent_drops_our_lines_and_keeps_the_live_value(host, sysctl):
    host.set_runtime("max_lifetime", 600)
    host.write_conf(UNRELATED + "-kernel.agent_ns.max_lifetime = 600\nkernel.agent_ns.enabled = 1\n")
    result = sysctl(name="max_lifetime", state="absent")
    assert result["changed"] is True
    assert result["persisted_changed"] is True
    assert result["runtime_changed"] is False
    assert result["persisted_value"] is None
    assert host.conf_text() == UNRELATED + "kernel.agent_ns.enabled = 1\n"
    assert host.runtime("max_lifetime") == "600\n"
    assert sysctl(name="max_lifetime", state="absent")["changed"] is False


def test_absent_with_reset_runtime_restores_the_kernel_default(host, sysctl):
    host.set_runtime("max_lifetime", 600)
    host.write_conf("-kernel.agent_ns.max_lifetime = 600\n")
    result = sysctl(name="max_lifetime", state="absent", reset_runtime=True, _ansible_diff=True)
    assert result["runtime_changed"] is True
    assert host.runtime("max_lifetime") == "86400\n"
    assert host.conf_text() == ""


def test_absent_check_mode_and_missing_file(host, sysctl):
    host.write_conf("kernel.agent_ns.enabled = 1\n")
    assert sysctl(name="enabled", state="absent", _ansible_check_mode=True)["changed"] is True
    assert host.conf_text() == "kernel.agent_ns.enabled = 1\n"
    os.unlink(host.conf)
    result = sysctl(name="enabled", state="absent")
    assert result["changed"] is False
    assert host.conf_text() is None


def test_absent_refuses_a_value(host, sysctl):
    result = sysctl(name="enabled", state="absent", value=1)
    assert result["failed"] is True
    assert "not allowed with state=absent" in result["msg"]


# --- files that override ours at boot


def test_later_file_setting_the_key_is_reported(host, sysctl):
    later = host.put(os.path.join(host.etc_d, "99-local.conf"), "kernel.agent_ns.enabled = 0\n")
    host.put(os.path.join(host.etc_d, "10-early.conf"), "kernel.agent_ns.enabled = 0\n")
    result = sysctl(name="enabled", value=1)
    assert result.get("failed") is not True
    assert result["shadowed_by"] == {"kernel.agent_ns.enabled": later}
    assert any(later in warning and "wins" in warning for warning in warning_texts(result))


def test_fail_on_shadow_fails_before_changing_anything(host, sysctl):
    host.set_runtime("enabled", 0)
    host.put(os.path.join(host.run_d, "70-runtime.conf"), "-kernel/agent_ns/enabled=0\n")
    result = sysctl(name="enabled", value=1, fail_on_shadow=True)
    assert result["failed"] is True
    assert "70-runtime.conf" in result["msg"]
    assert host.conf_text() is None
    assert host.runtime("enabled") == "0\n"


def test_masked_and_earlier_files_do_not_shadow(host, sysctl):
    # /etc/sysctl.d/80-x.conf masks /usr/lib/sysctl.d/80-x.conf, which is never read.
    host.put(os.path.join(host.etc_d, "80-x.conf"), "vm.a = 1\n")
    host.put(os.path.join(host.lib_d, "80-x.conf"), "kernel.agent_ns.enabled = 0\n")
    # Ours masks the vendor file of the same name.
    host.put(os.path.join(host.lib_d, "60-agentns.conf"), "kernel.agent_ns.enabled = 0\n")
    host.put(os.path.join(host.lib_d, "50-early.conf"), "kernel.agent_ns.enabled = 0\n")
    host.put(os.path.join(host.lib_d, "90-other-key.conf"), "kernel.agent_ns.max_lifetime = 5\n")
    host.put(os.path.join(host.lib_d, "95-not-conf.txt"), "kernel.agent_ns.enabled = 0\n")
    result = sysctl(name="enabled", value=1)
    assert result["shadowed_by"] == {}
    assert "warnings" not in result


def test_file_masking_ours_and_sysctl_conf_shadow(host, sysctl):
    ours = os.path.join(host.lib_d, "60-agentns.conf")
    masking = host.put(os.path.join(host.etc_d, "60-agentns.conf"), "kernel.agent_ns.enabled = 0\n")
    assert sysctl(name="enabled", value=1, sysctl_file=ours)["shadowed_by"] == {"kernel.agent_ns.enabled": masking}
    os.unlink(masking)
    host.put(host.sysctl_conf, "kernel.agent_ns.enabled = 0\n")
    assert sysctl(name="enabled", value=1, sysctl_file=ours)["shadowed_by"] == {"kernel.agent_ns.enabled": host.sysctl_conf}


def test_sysctl_conf_linked_from_sysctl_d_takes_the_link_s_place(host, sysctl):
    # Debian: /etc/sysctl.d/99-sysctl.conf -> ../sysctl.conf, so sysctl.conf is read
    # at 99-sysctl.conf's turn, before 99-zz.conf, not once more at the end.
    host.put(host.sysctl_conf, "kernel.agent_ns.enabled = 0\n")
    os.makedirs(host.etc_d)
    os.symlink("../sysctl.conf", os.path.join(host.etc_d, "99-sysctl.conf"))
    last = host.put(os.path.join(host.etc_d, "99-zz.conf"), "kernel.agent_ns.enabled = 0\n")
    assert sysctl(name="enabled", value=1)["shadowed_by"] == {"kernel.agent_ns.enabled": last}
    os.unlink(last)
    assert sysctl(name="enabled", value=1)["shadowed_by"] == {"kernel.agent_ns.enabled": os.path.join(host.etc_d, "99-sysctl.conf")}
