#!/usr/bin/env python3
"""Check that the agentns series is internally consistent.

    scripts/apply-agentns.py --check [--sched-h PATH]

Checks, without a kernel tree:
  * the new files the series creates, after every patch touching them,
    are byte-identical to the copies kept at the top of the repository
    (kernel/, include/), so the two can never drift apart;
  * likewise every file the series creates in tools/testing/selftests/agent_ns/
    equals its copy in tests/kernel/ (content and executable bit); files
    only the repository has there (run.sh, README.md) are allowed;
  * the uapi numbers are the ones SPEC.md fixes;
  * no CLONE_NEWAGENT definition reuses 0x100 (CLONE_VM) or any other
    clone bit known to the target kernel.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
NEW_FILES = (
    "kernel/agent_namespaces.c",
    "include/linux/agent_namespaces.h",
    "include/uapi/linux/agent_namespaces.h",
    "include/trace/events/agent_ns.h",
)
SELFTEST_DIR = "tools/testing/selftests/agent_ns"
SELFTEST_COPY = "tests/kernel"
PR_AGENT_BASE = 0x41544E53
PRCTL_OFFSETS = {
    "PR_GET_AGENT_SESSION_ID": 1,
    "PR_SET_AGENT_INTENT_TAG": 2,
    "PR_GET_AGENT_INTENT_TAG": 3,
    "PR_SET_AGENT_BUDGET_LIMITS": 4,
    "PR_GET_AGENT_COUNTERS": 5,
    "PR_GET_AGENT_PARENT_ID": 6,
    "PR_SET_AGENT_NS": 7,
}
COUNTER_FIELDS = [
    "total_syscalls",
    "openat_count",
    "write_bytes",
    "connect_count",
    "unlink_count",
    "fork_count",
    "elapsed_ns",
]
BUDGET_FIELDS = ["max_syscalls", "max_write_bytes", "max_elapsed_ns", "action", "reserved"]
CLONE_DEFINE = re.compile(r"^[+ ]?#define\s+(CLONE_\w+)\s+(\(?[0-9xXa-fA-FuUlL <()]+\)?)")


def series() -> list[Path]:
    return sorted((TOP / "patches").glob("[0-9][0-9][0-9][0-9]-*.patch"))


def replay_new_files(patches: list[Path]) -> dict[str, str]:
    """Apply only the hunks for NEW_FILES, in order, into an empty directory."""
    with tempfile.TemporaryDirectory() as tmp:
        includes = [f"--include={name}" for name in NEW_FILES]
        for patch in patches:
            subprocess.run(
                ["git", "apply", "--unsafe-paths", *includes, str(patch)],
                cwd=tmp,
                check=True,
                capture_output=True,
            )
        return {name: (Path(tmp) / name).read_text() for name in NEW_FILES if (Path(tmp) / name).exists()}


def replay_selftests(patches: list[Path]) -> dict[str, tuple[bytes, bool]]:
    """Files the series creates in SELFTEST_DIR: name -> (content, executable)."""
    with tempfile.TemporaryDirectory() as tmp:
        for patch in patches:
            subprocess.run(
                ["git", "apply", "--unsafe-paths", f"--include={SELFTEST_DIR}/*", str(patch)],
                cwd=tmp,
                check=True,
                capture_output=True,
            )
        root = Path(tmp) / SELFTEST_DIR
        if not root.is_dir():
            return {}
        return {f.name: (f.read_bytes(), bool(f.stat().st_mode & 0o100)) for f in sorted(root.iterdir()) if f.is_file()}


def check_selftests(patches: list[Path]) -> list[str]:
    replayed = replay_selftests(patches)
    if not replayed:
        return [f"no patch creates {SELFTEST_DIR}/"]
    errors = []
    for name, (content, executable) in replayed.items():
        kept = TOP / SELFTEST_COPY / name
        if not kept.is_file():
            errors.append(f"{SELFTEST_DIR}/{name}: the series creates it, {SELFTEST_COPY}/ has no copy")
        elif kept.read_bytes() != content:
            errors.append(f"{SELFTEST_DIR}/{name}: differs from {SELFTEST_COPY}/{name} (regenerate with scripts/export-series.sh)")
        elif bool(kept.stat().st_mode & 0o100) != executable:
            errors.append(f"{SELFTEST_DIR}/{name}: executable bit differs from {SELFTEST_COPY}/{name}")
    return errors


def c_int(expr: str) -> int:
    expr = re.sub(r"(?<=[0-9a-fA-F])[uUlL]+\b", "", expr.strip())
    return int(eval(expr, {"__builtins__": {}}))


def check_new_files(patches: list[Path]) -> list[str]:
    errors = []
    replayed = replay_new_files(patches)
    for name in NEW_FILES:
        kept = (TOP / name).read_text()
        if name not in replayed:
            errors.append(f"{name}: no patch in the series creates it")
        elif replayed[name] != kept:
            errors.append(f"{name}: differs from what the series creates (regenerate both with scripts/export-series.sh)")
    return errors


def struct_fields(header: str, struct: str) -> list[str]:
    body = re.search(rf"struct {struct} \{{(.*?)\}};", header, re.DOTALL)
    if not body:
        return []
    return re.findall(r"(\w+)\s*[;,]", re.sub(r"/\*.*?\*/", "", body.group(1), flags=re.DOTALL))


def check_uapi() -> list[str]:
    header = (TOP / "include/uapi/linux/agent_namespaces.h").read_text()
    errors = []
    base = re.search(r"#define PR_AGENT_BASE\s+(0x[0-9A-Fa-f]+)", header)
    if not base or int(base.group(1), 16) != PR_AGENT_BASE:
        errors.append("PR_AGENT_BASE is not 0x41544E53")
    for name, offset in PRCTL_OFFSETS.items():
        if not re.search(rf"#define {name}\s+\(PR_AGENT_BASE \+ {offset}\)", header):
            errors.append(f"{name} is not PR_AGENT_BASE + {offset}")
    if struct_fields(header, "agent_ns_counters") != COUNTER_FIELDS:
        errors.append("struct agent_ns_counters fields are not in the ABI order")
    if struct_fields(header, "agent_ns_budget") != BUDGET_FIELDS:
        errors.append("struct agent_ns_budget fields are not in the ABI order")
    return errors


def clone_defines(lines: list[str]) -> dict[str, int]:
    found = {}
    for line in lines:
        m = CLONE_DEFINE.match(line)
        if m:
            try:
                found[m.group(1)] = c_int(m.group(2))
            except (SyntaxError, ValueError, NameError):
                continue
    return found


def check_clone_bit(patches: list[Path], sched_h: Path | None) -> list[str]:
    errors = []
    added: dict[str, int] = {}
    context: list[str] = []
    for patch in patches:
        for line in patch.read_text().splitlines():
            if line.startswith("+") and "CLONE_NEWAGENT" in line and "#define" in line:
                added.update(clone_defines([line]))
            elif line.startswith(" #define CLONE_"):
                context.append(line)
    upstream = clone_defines(context)
    if sched_h and sched_h.exists():
        upstream.update(clone_defines(sched_h.read_text().splitlines()))
    upstream.pop("CLONE_NEWAGENT", None)
    if "CLONE_NEWAGENT" not in added:
        return ["no patch defines CLONE_NEWAGENT"]
    value = added["CLONE_NEWAGENT"]
    if value == 0x100:
        errors.append("CLONE_NEWAGENT is 0x100, which is CLONE_VM")
    if value <= 0xFFFFFFFF:
        errors.append("CLONE_NEWAGENT must be a clone3-only bit above 32")
    for name, bit in upstream.items():
        if bit & value:
            errors.append(f"CLONE_NEWAGENT ({value:#x}) collides with {name} ({bit:#x})")
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", required=True)
    parser.add_argument("--sched-h", type=Path, help="include/uapi/linux/sched.h of the target tree")
    args = parser.parse_args()

    patches = series()
    if not patches:
        print("no patches found in patches/", file=sys.stderr)
        return 1
    errors = check_new_files(patches) + check_selftests(patches) + check_uapi() + check_clone_bit(patches, args.sched_h)
    for error in errors:
        print(f"apply-agentns: {error}", file=sys.stderr)
    if not errors:
        print(f"apply-agentns: {len(patches)} patches consistent")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
