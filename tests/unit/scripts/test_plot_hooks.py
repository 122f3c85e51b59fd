"""benchmarks/plot_hooks.py: the chart shows every row of the exact table, and only it."""

from __future__ import annotations

import importlib.util
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SPEC = importlib.util.spec_from_file_location("plot_hooks", REPO / "benchmarks/plot_hooks.py")
assert SPEC and SPEC.loader
plot_hooks = importlib.util.module_from_spec(SPEC)
# dataclasses look their module up by name.
sys.modules["plot_hooks"] = plot_hooks
SPEC.loader.exec_module(plot_hooks)

TABLE = """# benchmarks/hooks.sh, 2026-12-05
# 1. exact: -icount shift=0,sleep=off
#    instructions per call
mode             op              instr/call         range_over_boots    vs_nons   ratio
nons             getppid            218.138     218.138..218.138         +0.000   1.000
inside1          getppid            227.179     227.179..227.179         +9.041   1.041
nons-bpf         getppid            488.286     488.285..488.286       +270.148   2.238

# 2. wall clock under TCG
mode             op                 ns/call         range_over_boots    vs_nons   ratio
nons             getppid            564.818     532.013..1439.036        +0.000   1.000
"""


def test_only_the_exact_table_is_read() -> None:
    rows = plot_hooks.parse(TABLE)
    assert [(r.mode, r.instructions, r.ratio) for r in rows] == [
        ("nons", 218.138, 1.0),
        ("inside1", 227.179, 1.041),
        ("nons-bpf", 488.286, 2.238),
    ]


def test_one_bar_per_row_in_well_formed_svg() -> None:
    root = ET.fromstring(plot_hooks.svg(plot_hooks.parse(TABLE), "t"))
    bars = [e for e in root.iter("{http://www.w3.org/2000/svg}rect") if e.get("height") != "100%"]
    assert len(bars) == 3
    widths = [float(b.get("width", "0")) for b in bars]
    assert widths[2] / widths[0] == pytest.approx(2.238, rel=1e-3)


def test_a_table_without_rows_is_an_error() -> None:
    with pytest.raises(ValueError, match="no exact table"):
        plot_hooks.parse("# 2. wall clock\nmode op\n")


def test_the_committed_results_render() -> None:
    rows = plot_hooks.parse((REPO / "benchmarks/results/hooks.txt").read_text())
    assert {r.op for r in rows} == {"getppid", "write1", "openat_close"}
    ET.fromstring(plot_hooks.svg(rows, "committed"))
