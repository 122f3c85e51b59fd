#!/usr/bin/env python3
"""Bar chart of the exact hook benchmark: instructions per call as a ratio
to the CONFIG_AGENT_NS=n kernel, one panel per operation.

Reads table 1 of benchmarks/results/hooks.txt (written by benchmarks/hooks.sh)
and writes a self-contained SVG, with no plotting library to install:

  benchmarks/plot_hooks.py [benchmarks/results/hooks.txt] [-o benchmarks/results/hooks.svg]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from html import escape
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Modes in the order hooks.sh prints them, with the label a reader sees.
MODES = {
    "nons": "CONFIG_AGENT_NS=n",
    "none": "no namespace anywhere",
    "outside": "outside, namespaces exist",
    "inside1": "inside, depth 1",
    "inside8": "inside, depth 8",
    "inside-disabled": "inside, enabled=0",
    "nons-seccomp": "peer: seccomp allow-all",
    "nons-bpf": "peer: eBPF per-cgroup counter",
}
OPS = {"getppid": "getppid", "write1": "write, 1 byte", "openat_close": "openat + close"}
COLOURS = {"nons": "#9e9e9e", "nons-seccomp": "#e6862a", "nons-bpf": "#c0392b"}
SERIES_COLOUR = "#2e6fb7"

BAR_H, GAP, LABEL_W, PLOT_W, PANEL_GAP, TOP = 16, 4, 210, 420, 34, 40


@dataclass(frozen=True)
class Row:
    mode: str
    op: str
    instructions: float
    extra: float
    ratio: float


def parse(text: str) -> list[Row]:
    """The rows of table 1 (the exact one), which ends at the first blank line."""
    rows: list[Row] = []
    in_table = False
    for line in text.splitlines():
        if line.startswith("# 1."):
            in_table = True
            continue
        if not in_table:
            continue
        if not line.strip():
            break
        fields = line.split()
        if line.startswith("#") or fields[0] == "mode":
            continue
        mode, op, instr, _range, extra, ratio = fields
        rows.append(Row(mode, op, float(instr), float(extra), float(ratio)))
    if not rows:
        raise ValueError("no exact table (# 1.) with rows found")
    return rows


def svg(rows: list[Row], title: str) -> str:
    """One panel per operation; each bar is a mode's ratio to the =n kernel."""
    by_op: dict[str, list[Row]] = {}
    for row in rows:
        by_op.setdefault(row.op, []).append(row)
    top_ratio = max(row.ratio for row in rows)
    scale_max = max(1.1, round(top_ratio + 0.15, 1))

    def x(ratio: float) -> float:
        return LABEL_W + PLOT_W * ratio / scale_max

    out: list[str] = []
    y = TOP
    for op in (op for op in OPS if op in by_op):
        panel = sorted(by_op[op], key=lambda r: list(MODES).index(r.mode) if r.mode in MODES else len(MODES))
        out.append(f'<text x="{LABEL_W}" y="{y - 8}" font-weight="bold">{escape(OPS[op])}</text>')
        for row in panel:
            colour = COLOURS.get(row.mode, SERIES_COLOUR)
            label = MODES.get(row.mode, row.mode)
            out.append(f'<text x="{LABEL_W - 6}" y="{y + BAR_H - 4}" text-anchor="end">{escape(label)}</text>')
            out.append(f'<rect x="{LABEL_W}" y="{y}" width="{x(row.ratio) - LABEL_W:.1f}" height="{BAR_H}" fill="{colour}"/>')
            note = f"{row.ratio:.3f}" if row.mode == "nons" else f"{row.ratio:.3f} ({round(row.extra):+d})"
            out.append(f'<text x="{x(row.ratio) + 4:.1f}" y="{y + BAR_H - 4}">{note}</text>')
            y += BAR_H + GAP
        y += PANEL_GAP
    height = y - PANEL_GAP + 24
    one = x(1.0)
    grid = f'<line x1="{one:.1f}" y1="{TOP - 20}" x2="{one:.1f}" y2="{height - 24}" stroke="#000" stroke-dasharray="3,3"/>'
    width = LABEL_W + PLOT_W + 120
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">'
        f'<rect width="100%" height="100%" fill="#fff"/>'
        f'<text x="8" y="16" font-size="14" font-weight="bold">{escape(title)}</text>'
    )
    foot = (
        f'<text x="{one:.1f}" y="{height - 8}" text-anchor="middle">1.0 = CONFIG_AGENT_NS=n; '
        "bar = instructions per call / =n kernel (extra instructions)</text></svg>"
    )
    return "\n".join([head, grid, *out, foot]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", nargs="?", type=Path, default=HERE / "results" / "hooks.txt")
    parser.add_argument("-o", "--output", type=Path, default=HERE / "results" / "hooks.svg")
    args = parser.parse_args()
    rows = parse(args.table.read_text())
    args.output.write_text(svg(rows, "agent_ns hooks: instructions per call (QEMU -icount), ratio to CONFIG_AGENT_NS=n"))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
