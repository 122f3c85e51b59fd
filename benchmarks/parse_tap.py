#!/usr/bin/env python3
"""How long the agentns_selftest module takes to read a chatty suite's output.

    benchmarks/parse_tap.py [MB ...]     # default: 1 2 4 8

One test's result line followed by MB megabytes of diagnostic lines, as a
test printing in a loop gives run.sh; prints the seconds parse_tap() takes for
each size. Linear is the target: the module runs on the host under test, and a
TCG guest is 5-10 times slower than this machine (docs/benchmarks.md).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

MODULE = Path(__file__).resolve().parents[1] / "plugins/modules/agentns_selftest.py"


def load_module():
    spec = importlib.util.spec_from_file_location("agentns_selftest", MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chatty_output(megabytes: int) -> str:
    line = "# " + "x" * 60 + "\n"
    return "TAP version 13\n1..1\nnot ok 1 - test_chatty\n" + line * (megabytes * 1024 * 1024 // len(line))


def main(argv: list[str]) -> int:
    selftest = load_module()
    for megabytes in [int(arg) for arg in argv] or [1, 2, 4, 8]:
        output = chatty_output(megabytes)
        start = time.perf_counter()
        selftest.parse_tap(output)
        print(f"{megabytes} MB: {time.perf_counter() - start:.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
