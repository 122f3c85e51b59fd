#!/usr/bin/python
# Copyright: (c) 2026, the agentns contributors
# GNU General Public License v2.0 only (see https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)
# SPDX-License-Identifier: GPL-2.0-only

from __future__ import annotations

DOCUMENTATION = r"""
---
module: agentns_selftest
short_description: Run the agent namespace kernel test suite and report each result
version_added: 0.1.0
description:
  - Runs the kernel test suite shipped in the collection's C(tests/kernel/) directory on the
    host, after it has been copied there, and returns one structured result per test.
  - Tests are the C(test_*.sh) scripts, run with C(sh) and named with their C(.sh), and the
    executable C(test_*) programs, named by their file name. A C(test_*.c) whose program was not
    built still counts, as a failed test. Names given in O(tests) are checked against the suite
    before anything is built or run.
  - With O(runner=auto) (the default) and a C(run.sh) in O(suite_dir), the suite's own runner runs
    the tests and the module reads its TAP or KTAP output (C(ok)/C(not ok) lines, C(# SKIP) and
    C(# TIMEOUT) directives, the C(1..N) plan), so there is one runner. Otherwise the module runs
    each test itself.
  - Exit status V(0) is a pass; V(4) (the kselftest C(KSFT_SKIP) code the suite's tests use) and
    V(77) (Automake's, which older suites used) are a skip; anything else a failure. A test still
    running after O(timeout) seconds is killed and fails.
  - The task fails when any test failed and lists their names. It never reports a change,
    since it only probes the kernel (the C(make) step writes only build products into O(suite_dir)).
author:
  - agentns contributors (!UNKNOWN)
options:
  suite_dir:
    description:
      - Directory on the host holding the copied test suite (its C(Makefile), C(test_*.c) and C(test_*.sh)).
    type: path
    required: true
  build:
    description:
      - Run C(make) in O(suite_dir) before the tests. Skipped when the directory has no makefile.
    type: bool
    default: true
  make_args:
    description:
      - Extra arguments for C(make), such as C(UAPI_INCLUDE=/usr/local/include) when the
        kernel's UAPI headers are not two levels above O(suite_dir) as in the collection.
    type: list
    elements: str
    default: []
  runner:
    description:
      - V(auto) runs the suite's C(run.sh) when O(suite_dir) has one and parses its TAP/KTAP output,
        and runs the tests one by one otherwise.
      - V(run.sh) insists on the suite's runner; V(module) always runs the tests one by one.
    type: str
    choices: [auto, run.sh, module]
    default: auto
  tests:
    description:
      - Names of the tests to run, in the order given. A test can be named as reported in
        RV(results), or by its file name (C(test_x.c), C(test_x.sh)), or without extension.
      - All tests, sorted by name, when omitted or empty.
    type: list
    elements: str
  timeout:
    description:
      - Seconds each test may run before it is killed and counted as failed.
    type: int
    default: 120
  build_timeout:
    description:
      - Seconds the C(make) step may take.
    type: int
    default: 900
attributes:
  check_mode:
    description: In check mode nothing is built or run and the task is reported as skipped.
    support: full
  diff_mode:
    description: Changes nothing, so there is nothing to show.
    support: none
  platform:
    description: Linux hosts; needs C(timeout) from coreutils, and C(make) and a C compiler when O(build=true).
    support: full
    platforms: posix
notes:
  - Most tests need root (C(CAP_SYS_ADMIN)), so run the task with C(become=true).
  - Tests inherit the task's environment, so the task keyword C(environment) can pass them
    settings such as C(AGENTNS_UNSHARE), the path of the C(agentns-unshare) shim.
  - On a kernel without the agent namespace the tests skip themselves (exit status 4).
  - Through C(run.sh), RV(results[].duration) and RV(results[].rc) are V(null) when the runner
    does not print them, and a test's output is in RV(results[].stdout) (the runner merges stderr into it).
seealso:
  - module: agentns.fleet.agentns_info
"""

EXAMPLES = r"""
- name: Copy the kernel test suite to the host
  ansible.builtin.copy:
    src: "{{ playbook_dir }}/tests/kernel/"
    dest: /var/tmp/agentns-tests/
    mode: preserve

- name: Build and run every kernel test
  agentns.fleet.agentns_selftest:
    suite_dir: /var/tmp/agentns-tests
  become: true
  register: agentns_selftest

- name: Run two tests again without rebuilding, with a short timeout
  agentns.fleet.agentns_selftest:
    suite_dir: /var/tmp/agentns-tests
    build: false
    tests:
      - test_prctl_ns
      - test_inheritance.sh
    timeout: 30
  become: true
  environment:
    AGENTNS_UNSHARE: /usr/local/bin/agentns-unshare

- name: Show the skipped tests
  ansible.builtin.debug:
    msg: "{{ agentns_selftest.results | selectattr('status', 'equalto', 'skip') | map(attribute='name') | list }}"
"""

RETURN = r"""
results:
  description: One entry per test that ran, in the order they ran.
  returned: when the tests ran
  type: list
  elements: dict
  contains:
    name:
      description: Test name.
      type: str
      returned: always
      sample: test_prctl_ns
    status:
      description: V(pass), V(fail) or V(skip).
      type: str
      returned: always
      sample: pass
    rc:
      description: Exit status, V(null) when the test could not be started or the runner did not report it.
      type: int
      returned: always
      sample: 0
    timed_out:
      description: Whether the test was killed for running past O(timeout).
      type: bool
      returned: always
      sample: false
    reason:
      description:
        - Why the test skipped (its C(SKIP:) line) or failed (exit status, timeout, not built).
        - Empty for a pass.
      type: str
      returned: always
      sample: "kernel has no agent namespaces (no /proc/self/agent_session)"
    duration:
      description: Run time in seconds, V(null) when the runner did not report it.
      type: float
      returned: always
      sample: 0.412
    stdout:
      description: Standard output, cut to its last 16384 characters.
      type: str
      returned: always
      sample: "session 5f0c... ok"
    stderr:
      description: Standard error, cut to its last 16384 characters.
      type: str
      returned: always
      sample: ""
summary:
  description:
    - Counts of the tests that ran.
    - The counts are not top-level keys because Ansible reads a top-level C(failed) or C(skipped)
      as the status of the task itself.
  returned: when the tests ran
  type: dict
  contains:
    passed:
      description: Number of tests that passed.
      type: int
      returned: always
      sample: 5
    failed:
      description: Number of tests that failed.
      type: int
      returned: always
      sample: 0
    skipped:
      description: Number of tests that skipped themselves.
      type: int
      returned: always
      sample: 1
    total:
      description: Number of tests that ran.
      type: int
      returned: always
      sample: 6
failed_tests:
  description: Names of the failed tests.
  returned: when the tests ran
  type: list
  elements: str
  sample: []
runner:
  description: Which runner ran the tests, V(run.sh) or V(module).
  returned: when the tests ran
  type: str
  sample: run.sh
built:
  description: Whether C(make) ran.
  returned: when the tests ran
  type: bool
  sample: true
msg:
  description: Summary line, in the same form as the suite's runner prints.
  returned: always
  type: str
  sample: 5 passed, 0 failed, 1 skipped
"""

import os
import re
import time

from ansible.module_utils.basic import AnsibleModule

KSFT_SKIP = 4  # tools/testing/selftests/kselftest.h
SUITE_SKIP = 77  # Automake's skip code, which older suites used (run.sh still accepts it)
SKIP_RCS = (KSFT_SKIP, SUITE_SKIP)
RUNNER = "run.sh"
TIMEOUT_RC = 124  # what timeout(1) returns when it had to stop the command
KILL_GRACE = 10  # seconds between timeout(1)'s SIGTERM and its SIGKILL
OUTPUT_LIMIT = 16384
MAKEFILES = ("GNUmakefile", "makefile", "Makefile")
# Never tests, even when executable; the same list as the suite's run.sh.
NOT_TESTS = (".c", ".h", ".o", ".d", ".txt", ".md", ".orig", ".rej", "~")
SKIP_LINE = re.compile(r"^SKIP: *(.*)$", re.MULTILINE)


class SuiteError(Exception):
    """The suite cannot be run at all (missing directory, failed build, unknown test)."""


class KernelTest:
    """One test of the suite: a compiled program or a shell script."""

    def __init__(self, name: str, path: str, script: bool, aliases: tuple[str, ...] = ()) -> None:
        self.name = name
        self.path = path
        self.script = script
        self.aliases = (name,) + tuple(aliases)


def discover_tests(suite_dir: str) -> list[KernelTest]:
    """All tests in suite_dir, sorted by name, chosen by the rules of the suite's run.sh."""
    if not os.path.isdir(suite_dir):
        raise SuiteError(f"suite_dir {suite_dir} is not a directory")
    found = {}
    for entry in os.listdir(suite_dir):
        path = os.path.join(suite_dir, entry)
        if not entry.startswith("test_") or not os.path.isfile(path):
            continue
        if entry.endswith(".sh"):
            found[entry] = KernelTest(entry, path, script=True, aliases=(entry[:-3],))
        elif entry.endswith(".c"):
            # A program that was never built must still show up, as a failure.
            stem = entry[:-2]
            found.setdefault(stem, KernelTest(stem, os.path.join(suite_dir, stem), script=False))
            found[stem].aliases += (entry,)
        elif not entry.endswith(NOT_TESTS) and os.access(path, os.X_OK):
            found.setdefault(entry, KernelTest(entry, path, script=False))
    return [found[name] for name in sorted(found)]


def select_tests(available: list[KernelTest], wanted: list[str] | None) -> list[KernelTest]:
    if not wanted:
        return available
    chosen = []
    unknown = []
    for name in wanted:
        matches = [test for test in available if name in test.aliases]
        if matches:
            chosen.append(matches[0])
        else:
            unknown.append(name)
    if unknown:
        raise SuiteError("unknown test(s): {}; the suite has: {}".format(", ".join(unknown), ", ".join(test.name for test in available) or "no tests"))
    return chosen


def last_chars(text: str) -> str:
    """Keep the end of long output: that is where tests print why they failed."""
    return text if len(text) <= OUTPUT_LIMIT else text[-OUTPUT_LIMIT:]


def last_lines(lines: list[str]) -> str:
    """The end of a test's output lines, joined: only the lines last_chars keeps are copied."""
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        if size > OUTPUT_LIMIT:
            break
        kept.append(line)
        size += len(line) + 1
    return last_chars("".join(line + "\n" for line in reversed(kept)))


def with_timeout(module: AnsibleModule, seconds: int, argv: list[str]) -> list[str]:
    timeout_bin = module.get_bin_path("timeout", required=True)
    return [timeout_bin, f"--kill-after={KILL_GRACE}", str(seconds)] + argv


def classify(rc: int | None, timed_out: bool) -> str:
    if rc == 0 and not timed_out:
        return "pass"
    if rc in SKIP_RCS and not timed_out:
        return "skip"
    return "fail"


def command_for(module: AnsibleModule, test: KernelTest) -> list[str]:
    if test.script:
        # Like run.sh: the scripts are POSIX sh, and need no mode bits.
        return [module.get_bin_path("sh", required=True), test.path]
    return [test.path]


def explain(status: str, rc: int | None, timed_out: bool, output: str, timeout: int) -> str:
    """One line saying why a test skipped or failed; empty for a pass."""
    if status == "skip":
        found = SKIP_LINE.search(output)
        return found.group(1).strip() if found else f"exit code {rc}"
    if status == "pass":
        return ""
    if timed_out:
        return f"timed out after {timeout} s"
    return f"exit code {rc}"


def run_test(module: AnsibleModule, test: KernelTest, suite_dir: str, timeout: int) -> dict:
    result = {
        "name": test.name,
        "status": "fail",
        "rc": None,
        "timed_out": False,
        "duration": 0.0,
        "stdout": "",
        "stderr": "",
        "reason": "not built (run with build=true)",
    }
    if not os.path.isfile(test.path):
        return result
    started = time.monotonic()
    rc, out, err = module.run_command(with_timeout(module, timeout, command_for(module, test)), cwd=suite_dir, errors="surrogate_or_replace")
    duration = time.monotonic() - started
    # timeout(1) answers 124 after SIGTERM worked, or 128+9 when it had to send SIGKILL.
    timed_out = rc == TIMEOUT_RC or (rc > 128 and duration >= timeout)
    status = classify(rc, timed_out)
    result.update(
        status=status,
        rc=rc,
        timed_out=timed_out,
        duration=round(duration, 3),
        stdout=last_chars(out),
        stderr=last_chars(err),
        reason=explain(status, rc, timed_out, out + "\n" + err, timeout),
    )
    return result


def find_makefile(suite_dir: str) -> str | None:
    for name in MAKEFILES:
        if os.path.isfile(os.path.join(suite_dir, name)):
            return name
    return None


def build_suite(module: AnsibleModule, suite_dir: str, timeout: int, make_args: list[str]) -> bool:
    """Run make; False when there is nothing to build."""
    if not find_makefile(suite_dir):
        return False
    make = module.get_bin_path("make", required=True)
    argv = with_timeout(module, timeout, [make, "-C", suite_dir] + list(make_args))
    rc, out, err = module.run_command(argv, errors="surrogate_or_replace")
    if rc != 0:
        raise SuiteError(f"make in {suite_dir} failed (rc {rc}):\n{last_chars(out)}{last_chars(err)}")
    return True


TAP_RESULT = re.compile(r"^(?P<ok>not ok|ok)\b\s*(?P<number>\d+)?\s*(?:-\s*)?(?P<name>[^#]*?)\s*(?:#\s*(?P<directive>.*))?$")
TAP_PLAN = re.compile(r"^1\.\.(?P<count>\d+)")
EXIT_CODE = re.compile(r"exit code (-?\d+)")


def _tap_entry(match: re.Match, number: int) -> dict:
    directive = (match.group("directive") or "").strip()
    word = directive.split(None, 1)[0].upper() if directive else ""
    rest = directive.split(None, 1)[1] if " " in directive else ""
    ok = match.group("ok") == "ok"
    timed_out = word == "TIMEOUT"
    if ok and word == "SKIP":
        status, reason = "skip", rest or "skipped"
    elif ok and word != "TODO":
        status, reason = "pass", ""
    else:
        status = "fail"
        reason = f"timed out ({rest})" if timed_out and rest else (directive or "not ok")
    code = EXIT_CODE.search(directive)
    rc = int(code.group(1)) if code else (0 if status == "pass" else None)
    return {
        "name": match.group("name").strip() or f"test {number}",
        "status": status,
        "rc": rc,
        "timed_out": timed_out,
        "duration": None,
        "stdout": "",
        "stderr": "",
        "reason": reason,
    }


def parse_tap(output: str) -> tuple[list[dict], int | None, str | None]:
    """(results, planned count, bail-out reason) from TAP 13 or KTAP 1 output.

    Diagnostic '# ' lines belong to a test: the suite's run.sh (TAP) prints
    them after the test's result line, kselftest's KTAP before it. Lines of
    nested (indented) KTAP subtests are diagnostics of their parent.
    """
    results: list[dict] = []
    # Each result's diagnostic lines, joined once at the end: appending to
    # a string per line took quadratic time (minutes for a few MB of a
    # chatty test's output, far longer on a slow host).
    diagnostics: list[list[str]] = []
    planned = None
    bail = None
    ktap = False
    pending: list[str] = []
    for raw in output.splitlines():
        line = raw.rstrip()
        if line.startswith("KTAP version"):
            ktap = True
            continue
        if line.startswith("TAP version"):
            continue
        plan = TAP_PLAN.match(line)
        if plan and planned is None:
            planned = int(plan.group("count"))
            continue
        if line.startswith("Bail out!"):
            bail = line[len("Bail out!") :].strip() or "runner bailed out"
            continue
        match = TAP_RESULT.match(line)
        if match:
            results.append(_tap_entry(match, len(results) + 1))
            diagnostics.append(pending if ktap else [])
            pending = [] if ktap else pending
            continue
        text = line.strip()
        text = text[1:] if text.startswith("#") else text
        text = text[1:] if text.startswith(" ") else text
        if ktap or not results:
            pending.append(text)
        else:
            diagnostics[-1].append(text)
    for entry, lines in zip(results, diagnostics):
        entry["stdout"] = last_lines(lines)
    return results, planned, bail


def run_with_runner(module: AnsibleModule, suite_dir: str, tests: list[KernelTest], timeout: int, selected: bool) -> list[dict]:
    """Run the suite's run.sh (all tests, or the selected ones) and turn its TAP into results."""
    argv = [module.get_bin_path("sh", required=True), os.path.join(suite_dir, RUNNER)]
    if selected:
        argv += [test.name for test in tests]
    # run.sh enforces the per-test timeout; this bounds the whole run.
    overall = timeout * max(len(tests), 1) + 60
    env = {"AGENTNS_TIMEOUT": str(timeout), "AGENTNS_VERBOSE": "1"}
    started = time.monotonic()
    rc, out, err = module.run_command(with_timeout(module, overall, argv), cwd=suite_dir, environ_update=env, errors="surrogate_or_replace")
    results, planned, bail = parse_tap(out)
    if rc == TIMEOUT_RC or (rc > 128 and time.monotonic() - started >= overall):
        bail = bail or f"{RUNNER} was killed after {overall} s"
    missing = (planned or 0) - len(results)
    if bail or missing > 0 or not results:
        why = bail or (
            f"{RUNNER} stopped before reporting this test (rc {rc})" if results else f"{RUNNER} reported no result (rc {rc}): {last_chars(err or out)}"
        )
        reported = {entry["name"] for entry in results}
        for test in tests:
            if test.name not in reported and not any(alias in reported for alias in test.aliases):
                results.append(
                    {
                        "name": test.name,
                        "status": "fail",
                        "rc": None,
                        "timed_out": False,
                        "duration": None,
                        "stdout": "",
                        "stderr": last_chars(err),
                        "reason": why,
                    }
                )
    return results


def summarize(results: list[dict]) -> dict:
    counts = {status: sum(1 for r in results if r["status"] == status) for status in ("pass", "fail", "skip")}
    return {
        "summary": {"passed": counts["pass"], "failed": counts["fail"], "skipped": counts["skip"], "total": len(results)},
        "failed_tests": [r["name"] for r in results if r["status"] == "fail"],
        "msg": f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped",
    }


def run_suite(module: AnsibleModule) -> dict:
    params = module.params
    suite_dir = params["suite_dir"]
    if params["timeout"] < 1 or params["build_timeout"] < 1:
        raise SuiteError("timeout and build_timeout must be at least 1 second")
    if not os.path.isdir(suite_dir):
        raise SuiteError(f"suite_dir {suite_dir} is not a directory")
    has_runner = os.path.isfile(os.path.join(suite_dir, RUNNER))
    if params["runner"] == RUNNER and not has_runner:
        raise SuiteError(f"runner={RUNNER} but {suite_dir} has no {RUNNER}")
    use_runner = params["runner"] == RUNNER or (params["runner"] == "auto" and has_runner)
    # Unknown names fail before make runs: the C tests are known by their sources.
    tests = select_tests(discover_tests(suite_dir), params["tests"])
    if not tests:
        raise SuiteError(f"no test_*.c, test_* or test_*.sh found in {suite_dir}")
    built = build_suite(module, suite_dir, params["build_timeout"], params["make_args"]) if params["build"] else False
    if use_runner:
        results = run_with_runner(module, suite_dir, tests, params["timeout"], bool(params["tests"]))
    else:
        results = [run_test(module, test, suite_dir, params["timeout"]) for test in tests]
    outcome = summarize(results)
    outcome.update(results=results, built=built, runner=RUNNER if use_runner else "module")
    return outcome


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "suite_dir": {"type": "path", "required": True},
            "build": {"type": "bool", "default": True},
            "make_args": {"type": "list", "elements": "str", "default": []},
            "runner": {"type": "str", "default": "auto", "choices": ["auto", "run.sh", "module"]},
            "tests": {"type": "list", "elements": "str"},
            "timeout": {"type": "int", "default": 120},
            "build_timeout": {"type": "int", "default": 900},
        },
        supports_check_mode=True,
    )
    if module.check_mode:
        module.exit_json(changed=False, skipped=True, msg="check mode: the kernel test suite was not run")
    try:
        outcome = run_suite(module)
    except SuiteError as exc:
        module.fail_json(msg=str(exc))
    if outcome["failed_tests"]:
        failed = outcome["failed_tests"]
        outcome["msg"] = f"{len(failed)} of {len(outcome['results'])} kernel tests failed: {', '.join(failed)} ({outcome['msg']})"
        module.fail_json(changed=False, **outcome)
    module.exit_json(changed=False, **outcome)


if __name__ == "__main__":
    main()
