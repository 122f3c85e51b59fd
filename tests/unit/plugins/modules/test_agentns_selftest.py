# Copyright: (c) 2026, the agentns contributors
# SPDX-License-Identifier: GPL-2.0-only

from __future__ import annotations

import os
import shutil

import pytest
from ansible_collections.agentns.fleet.plugins.modules import agentns_selftest

needs_tools = pytest.mark.skipif(
    not (shutil.which("timeout") and shutil.which("make") and shutil.which("bash")),
    reason="needs timeout(1), make and bash",
)


def add_script(suite, name, body, executable=True):
    path = suite / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    if executable:
        path.chmod(0o755)
    return path


@pytest.fixture
def suite(tmp_path):
    """A suite with one test of each outcome and a 'C' test that make builds."""
    suite = tmp_path / "kernel"
    suite.mkdir()
    add_script(suite, "test_pass.sh", "echo all good")
    add_script(suite, "test_fail.sh", "echo broken >&2; exit 3")
    add_script(suite, "test_skip.sh", 'echo "# probing"; echo "SKIP: no agent_session"; exit 77')
    add_script(suite, "test_noexec.sh", "exit 0", executable=False)
    (suite / "test_built.c").write_text("int main(void) { return 0; }\n")
    # make "compiles" test_built.c by writing a script, so the test needs no compiler.
    (suite / "Makefile").write_text("test_built: test_built.c\n\tprintf '#!/bin/sh\\necho built\\n' > $@ && chmod +x $@\n")
    (suite / "helper.sh").write_text("not a test\n")
    add_script(suite, "test_notes.txt", "executable, but a text file is never a test")
    (suite / "test_plain").write_text("not executable, so not a test\n")
    return suite


REAL_RUNNER = os.path.join(os.path.dirname(__file__), "..", "..", "..", "kernel", "run.sh")


def by_name(result):
    return {entry["name"]: entry for entry in result["results"]}


def test_discovery_follows_run_sh(suite):
    add_script(suite, "test_prebuilt", "exit 0")
    add_script(suite, "test_tool.py", "exit 0")
    names = [test.name for test in agentns_selftest.discover_tests(str(suite))]
    assert names == [
        "test_built",
        "test_fail.sh",
        "test_noexec.sh",
        "test_pass.sh",
        "test_prebuilt",
        "test_skip.sh",
        "test_tool.py",
    ]


def test_discovery_pairs_a_built_program_with_its_source(suite):
    add_script(suite, "test_built", "exit 0")
    tests = {test.name: test for test in agentns_selftest.discover_tests(str(suite))}
    assert tests["test_built"].aliases == ("test_built", "test_built.c")
    assert not tests["test_built"].script


def test_select_by_alias_and_unknown_name(suite):
    available = agentns_selftest.discover_tests(str(suite))
    chosen = agentns_selftest.select_tests(available, ["test_pass", "test_built.c", "test_skip.sh"])
    assert [test.name for test in chosen] == ["test_pass.sh", "test_built", "test_skip.sh"]
    with pytest.raises(agentns_selftest.SuiteError, match="unknown test.*test_nope"):
        agentns_selftest.select_tests(available, ["test_nope"])


@pytest.mark.parametrize(
    "rc, timed_out, status",
    [
        (0, False, "pass"),
        (77, False, "skip"),
        (4, False, "skip"),
        (4, True, "fail"),
        (1, False, "fail"),
        (124, True, "fail"),
        (0, True, "fail"),
        (None, False, "fail"),
    ],
)
def test_classify(rc, timed_out, status):
    assert agentns_selftest.classify(rc, timed_out) == status


@needs_tools
def test_full_run_reports_each_outcome_and_fails(run_module, suite):
    result = run_module(agentns_selftest.main, {"suite_dir": str(suite)})
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["built"] is True
    assert result["failed_tests"] == ["test_fail.sh"]
    assert "test_fail.sh" in result["msg"]
    assert result["summary"] == {"passed": 3, "failed": 1, "skipped": 1, "total": 5}
    results = by_name(result)
    assert results["test_built"]["status"] == "pass"
    assert results["test_built"]["stdout"] == "built\n"
    assert results["test_pass.sh"]["stdout"] == "all good\n"
    assert results["test_noexec.sh"]["status"] == "pass"
    assert results["test_fail.sh"]["rc"] == 3
    assert results["test_fail.sh"]["stderr"] == "broken\n"
    assert results["test_fail.sh"]["reason"] == "exit code 3"
    assert results["test_skip.sh"]["status"] == "skip"
    assert results["test_skip.sh"]["rc"] == 77
    assert results["test_skip.sh"]["reason"] == "no agent_session"
    assert results["test_pass.sh"]["reason"] == ""
    for entry in result["results"]:
        assert set(entry) == {"name", "status", "rc", "timed_out", "duration", "stdout", "stderr", "reason"}
        assert entry["duration"] >= 0


@needs_tools
def test_passing_selection_succeeds(run_module, suite):
    result = run_module(agentns_selftest.main, {"suite_dir": str(suite), "tests": ["test_pass", "test_skip.sh"]})
    assert result.get("failed") is not True
    assert result["msg"] == "1 passed, 0 failed, 1 skipped"
    assert [entry["name"] for entry in result["results"]] == ["test_pass.sh", "test_skip.sh"]


@needs_tools
def test_timeout_kills_and_fails_the_test(run_module, suite):
    add_script(suite, "test_hang.sh", "sleep 60")
    result = run_module(agentns_selftest.main, {"suite_dir": str(suite), "build": False, "tests": ["test_hang"], "timeout": 1})
    assert result["failed"] is True
    entry = by_name(result)["test_hang.sh"]
    assert entry["status"] == "fail"
    assert entry["timed_out"] is True
    assert entry["duration"] < 30
    assert entry["reason"] == "timed out after 1 s"


@needs_tools
def test_unbuilt_program_fails_without_build(run_module, suite):
    result = run_module(agentns_selftest.main, {"suite_dir": str(suite), "build": False, "tests": ["test_built"]})
    assert result["failed"] is True
    assert result["built"] is False
    entry = by_name(result)["test_built"]
    assert entry["rc"] is None
    assert entry["reason"].startswith("not built")
    assert not os.path.exists(suite / "test_built")


@needs_tools
def test_broken_build_fails_the_module(run_module, suite):
    (suite / "Makefile").write_text("all:\n\techo cannot build >&2; exit 2\n")
    result = run_module(agentns_selftest.main, {"suite_dir": str(suite)})
    assert result["failed"] is True
    assert "make in" in result["msg"]
    assert "cannot build" in result["msg"]
    assert "results" not in result


@needs_tools
def test_make_args_reach_make(run_module, suite):
    (suite / "Makefile").write_text("GREETING ?= unset\ntest_built: test_built.c\n\tprintf '#!/bin/sh\\necho $(GREETING)\\n' > $@ && chmod +x $@\n")
    args = {"suite_dir": str(suite), "tests": ["test_built"], "make_args": ["GREETING=hello"]}
    result = run_module(agentns_selftest.main, args)
    assert by_name(result)["test_built"]["stdout"] == "hello\n"


def test_check_mode_runs_nothing(run_module, suite):
    result = run_module(agentns_selftest.main, {"suite_dir": str(suite), "_ansible_check_mode": True})
    assert result["skipped"] is True
    assert result["changed"] is False
    assert not os.path.exists(suite / "test_built")


def test_missing_suite_dir_fails(run_module, tmp_path):
    result = run_module(agentns_selftest.main, {"suite_dir": str(tmp_path / "nowhere")})
    assert result["failed"] is True
    assert "not a directory" in result["msg"]


def test_empty_suite_fails(run_module, tmp_path):
    result = run_module(agentns_selftest.main, {"suite_dir": str(tmp_path), "build": False})
    assert result["failed"] is True
    assert "no test_" in result["msg"]


def test_long_output_keeps_the_end():
    text = "x" * agentns_selftest.OUTPUT_LIMIT + "the reason"
    kept = agentns_selftest.last_chars(text)
    assert len(kept) == agentns_selftest.OUTPUT_LIMIT
    assert kept.endswith("the reason")


@needs_tools
def test_kselftest_skip_code_is_a_skip(run_module, suite):
    add_script(suite, "test_ksft.sh", 'echo "SKIP: needs CONFIG_FOO"; exit 4')
    result = run_module(agentns_selftest.main, {"suite_dir": str(suite), "build": False, "tests": ["test_ksft"]})
    assert result.get("failed") is not True, result
    entry = by_name(result)["test_ksft.sh"]
    assert entry["status"] == "skip"
    assert entry["rc"] == 4
    assert entry["reason"] == "needs CONFIG_FOO"


def test_unknown_test_fails_before_make_runs(run_module, suite):
    (suite / "Makefile").write_text("all:\n\ttouch made\n")
    result = run_module(agentns_selftest.main, {"suite_dir": str(suite), "tests": ["test_pass", "test_nope", "test_gone.sh"]})
    assert result["failed"] is True
    assert "test_nope" in result["msg"] and "test_gone.sh" in result["msg"]
    assert "test_pass.sh" in result["msg"]  # the names the suite does have
    assert not (suite / "made").exists()


TAP_OUTPUT = """TAP version 13
1..4
ok 1 - test_a
not ok 2 - test_b # exit code 3
# line one
# line two
ok 3 - test_c # SKIP kernel has no agent namespaces
not ok 4 - test_d # TIMEOUT after 5s
3 passed, 1 failed, 0 skipped
"""

KTAP_OUTPUT = """KTAP version 1
1..3
# selftests: agentns: test_a
# probing
ok 1 selftests: agentns: test_a
# boom
not ok 2 selftests: agentns: test_b # exit=1
ok 3 selftests: agentns: test_c # SKIP no CONFIG_AGENT_NS
# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0
"""


def test_parse_tap_from_run_sh():
    results, planned, bail = agentns_selftest.parse_tap(TAP_OUTPUT)
    assert planned == 4 and bail is None
    assert [(r["name"], r["status"]) for r in results] == [("test_a", "pass"), ("test_b", "fail"), ("test_c", "skip"), ("test_d", "fail")]
    assert results[1]["rc"] == 3
    assert results[1]["stdout"] == "line one\nline two\n"
    assert results[2]["reason"] == "kernel has no agent namespaces"
    assert results[3]["timed_out"] is True


def test_parse_ktap_output_precedes_its_result():
    results, planned, _bail = agentns_selftest.parse_tap(KTAP_OUTPUT)
    assert planned == 3
    assert [(r["name"], r["status"]) for r in results] == [
        ("selftests: agentns: test_a", "pass"),
        ("selftests: agentns: test_b", "fail"),
        ("selftests: agentns: test_c", "skip"),
    ]
    assert results[0]["stdout"] == "selftests: agentns: test_a\nprobing\n"
    assert results[1]["stdout"] == "boom\n"
    assert results[2]["reason"] == "no CONFIG_AGENT_NS"


def test_a_chatty_tests_output_keeps_its_end_under_its_own_name():
    """A few MB of one test's diagnostics: its last lines are kept, the next test's stay its own."""
    chatty = "".join(f"# line {i}\n" for i in range(200_000))
    results, _planned, _bail = agentns_selftest.parse_tap(f"TAP version 13\n1..2\nnot ok 1 - test_a\n{chatty}ok 2 - test_b\n# quiet\n")
    kept = results[0]["stdout"]
    assert len(kept) == agentns_selftest.OUTPUT_LIMIT
    assert kept.endswith("line 199998\nline 199999\n")
    assert results[1]["stdout"] == "quiet\n"


def test_parse_tap_bail_out():
    _results, planned, bail = agentns_selftest.parse_tap("TAP version 13\n1..2\nok 1 - a\nBail out! no /proc\n")
    assert planned == 2
    assert bail == "no /proc"


@pytest.fixture
def runner_suite(suite):
    """The suite with the project's own tests/kernel/run.sh as its runner."""
    shutil.copy(REAL_RUNNER, suite / "run.sh")
    return suite


@needs_tools
def test_run_sh_is_the_runner_and_its_tap_is_parsed(run_module, runner_suite):
    add_script(runner_suite, "test_hang.sh", "sleep 60")
    result = run_module(agentns_selftest.main, {"suite_dir": str(runner_suite), "timeout": 2})
    assert result["runner"] == "run.sh"
    assert result["built"] is True
    results = by_name(result)
    assert set(results) == {"test_built", "test_fail.sh", "test_hang.sh", "test_noexec.sh", "test_pass.sh", "test_skip.sh"}
    assert results["test_built"]["status"] == "pass"
    assert results["test_pass.sh"]["stdout"] == "all good\n"
    assert results["test_fail.sh"]["status"] == "fail"
    assert results["test_fail.sh"]["rc"] == 3
    assert "broken" in results["test_fail.sh"]["stdout"]
    assert results["test_skip.sh"]["status"] == "skip"
    assert results["test_skip.sh"]["reason"] == "no agent_session"
    assert results["test_hang.sh"]["timed_out"] is True
    assert result["failed"] is True
    assert result["failed_tests"] == ["test_fail.sh", "test_hang.sh"]


@needs_tools
def test_run_sh_runs_only_the_selected_tests(run_module, runner_suite):
    result = run_module(agentns_selftest.main, {"suite_dir": str(runner_suite), "build": False, "tests": ["test_pass", "test_skip.sh"]})
    assert result.get("failed") is not True, result
    assert result["runner"] == "run.sh"
    assert [entry["name"] for entry in result["results"]] == ["test_pass.sh", "test_skip.sh"]
    assert result["msg"] == "1 passed, 0 failed, 1 skipped"


@needs_tools
def test_runner_that_dies_early_fails_the_missing_tests(run_module, suite):
    add_script(suite, "run.sh", 'echo "TAP version 13"; echo "1..2"; echo "ok 1 - test_pass.sh"; exit 139', executable=False)
    result = run_module(agentns_selftest.main, {"suite_dir": str(suite), "build": False, "tests": ["test_pass", "test_skip"]})
    assert result["failed"] is True
    assert by_name(result)["test_pass.sh"]["status"] == "pass"
    assert by_name(result)["test_skip.sh"]["status"] == "fail"
    assert "stopped before reporting" in by_name(result)["test_skip.sh"]["reason"]


def test_runner_run_sh_needs_run_sh(run_module, suite):
    result = run_module(agentns_selftest.main, {"suite_dir": str(suite), "runner": "run.sh"})
    assert result["failed"] is True
    assert "has no run.sh" in result["msg"]
