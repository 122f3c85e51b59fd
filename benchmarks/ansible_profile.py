#!/usr/bin/env python3
"""Where a Molecule scenario spends its time, from Ansible's own log.

scripts/test.sh sets ANSIBLE_LOG_PATH to build/molecule/NAME.ansible.log, so
every ansible-playbook of a scenario (Molecule's and the nested deploy.yml
runs) logs each task with a timestamp and its process id. A task lasts until
the next line of the same process.

  benchmarks/ansible_profile.py build/molecule/default.ansible.log [--top 25]
"""

from __future__ import annotations

import argparse
import collections
import datetime
import re
from pathlib import Path

LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) p=(\d+) u=\S+ n=\S+ \w+\| (.*)$")
TASK = re.compile(r"^(TASK|PLAY|RUNNING HANDLER) \[(.*?)\]")


def parse(path: Path) -> list[tuple[datetime.datetime, str, str]]:
    """(time, pid, message) of every log line that starts a record."""
    records = []
    for line in path.read_text(errors="replace").splitlines():
        match = LINE.match(line)
        if match:
            stamp = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")
            stamp += datetime.timedelta(milliseconds=int(match.group(2)))
            records.append((stamp, match.group(3), match.group(4)))
    return records


def task_durations(records: list[tuple[datetime.datetime, str, str]]) -> list[tuple[float, str, str]]:
    """(seconds, pid, task) for every task and play header, per process."""
    by_pid: dict[str, list[tuple[datetime.datetime, str]]] = collections.defaultdict(list)
    for stamp, pid, message in records:
        by_pid[pid].append((stamp, message))
    durations = []
    for pid, lines in by_pid.items():
        current: tuple[datetime.datetime, str] | None = None
        for stamp, message in [*lines, (lines[-1][0], "TASK [end]")]:
            match = TASK.match(message)
            if not match:
                continue
            if current:
                durations.append(((stamp - current[0]).total_seconds(), pid, current[1]))
            current = (stamp, f"{match.group(1).lower()}: {match.group(2)}")
    return durations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    records = parse(args.log)
    if not records:
        raise SystemExit(f"{args.log}: no Ansible log lines")
    durations = task_durations(records)
    spans = collections.OrderedDict()
    for stamp, pid, _message in records:
        first, _last = spans.get(pid, (stamp, stamp))
        spans[pid] = (first, stamp)
    print(f"{args.log}: {(records[-1][0] - records[0][0]).total_seconds():.0f} s from first to last line")
    print("\nansible-playbook runs (pid, start, seconds):")
    for pid, (first, last) in spans.items():
        print(f"  {pid:>7}  {first:%H:%M:%S}  {(last - first).total_seconds():7.0f}")
    print(f"\nslowest {args.top} tasks (seconds, pid, task):")
    for seconds, pid, task in sorted(durations, reverse=True)[: args.top]:
        print(f"  {seconds:7.1f}  {pid:>7}  {task}")
    totals: collections.Counter[str] = collections.Counter()
    for seconds, _pid, task in durations:
        totals[task] += seconds
    print(f"\nslowest {args.top} tasks summed over runs and hosts' batches (seconds, task):")
    for task, seconds in totals.most_common(args.top):
        print(f"  {seconds:7.1f}  {task}")


if __name__ == "__main__":
    main()
