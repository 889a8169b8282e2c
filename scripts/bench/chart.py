#!/usr/bin/env python3
"""Draws the read benchmark as an SVG: throughput per endpoint beside the
database's own limit (pgbench on the same SQL), and p99 latency beside the
20 ms target, with the 1,000,000-post p99 when the scaling run measured it.

Usage: chart.py ENDPOINTS.tsv OUT.svg "caption"
The TSV has a header and the columns: label, api_rps, p99, pgbench_tps,
scale_p99 (empty when not measured). Latencies are wrk's (e.g. 4.93ms, 350.00us).
Standard library only.
"""

import csv
import math
import sys
from html import escape


def ms(text):
    text = (text or "").strip()
    if not text:
        return None
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def main():
    src, out, caption = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows:
        sys.exit("chart.py: no rows")

    label_w, bar_w, gap = 270, 330, 40
    row_h, top = 46, 70
    width = label_w + 2 * bar_w + gap + 30
    height = top + row_h * len(rows) + 20

    rps_max = max(max(float(r["api_rps"]), float(r["pgbench_tps"])) for r in rows)
    log_max = math.log10(max(rps_max, 10)) + 0.2

    def rps_x(v):
        v = max(float(v), 1.0)
        return label_w + bar_w * math.log10(v) / log_max

    p99s = [ms(r["p99"]) for r in rows] + [ms(r.get("scale_p99")) for r in rows]
    p99_max = max([v for v in p99s if v is not None] + [25.0]) * 1.1
    p99_left = label_w + bar_w + gap

    def p99_x(v):
        return p99_left + bar_w * v / p99_max

    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(caption)}</text>',
        f'<text x="{label_w}" y="45">requests/s, log scale: '
        f'<tspan fill="#2b6cb0">■ API</tspan> <tspan fill="#a0aec0">■ pgbench, same SQL</tspan></text>',
        f'<text x="{p99_left}" y="45">p99 (ms): <tspan fill="#dd6b20">■ 10,000 posts</tspan> '
        f'<tspan fill="#805ad5">■ 1,000,000 posts</tspan></text>',
    ]
    target = p99_x(20.0)
    svg.append(
        f'<line x1="{target:.1f}" y1="{top - 8}" x2="{target:.1f}" y2="{top + row_h * len(rows)}" '
        f'stroke="#e53e3e" stroke-dasharray="4 3"/>'
        f'<text x="{target + 3:.1f}" y="{top - 10}" fill="#e53e3e">20 ms target</text>'
    )
    for i, r in enumerate(rows):
        y = top + i * row_h
        svg.append(f'<text x="10" y="{y + 20}">{escape(r["label"])}</text>')
        for j, (value, colour) in enumerate(((r["api_rps"], "#2b6cb0"), (r["pgbench_tps"], "#a0aec0"))):
            x2 = rps_x(value)
            yy = y + 4 + j * 16
            svg.append(
                f'<rect x="{label_w}" y="{yy}" width="{max(x2 - label_w, 1):.1f}" height="13" fill="{colour}"/>'
                f'<text x="{x2 + 4:.1f}" y="{yy + 11}">{float(value):,.0f}</text>'
            )
        for j, (value, colour) in enumerate(((ms(r["p99"]), "#dd6b20"), (ms(r.get("scale_p99")), "#805ad5"))):
            if value is None:
                continue
            x2 = p99_x(value)
            yy = y + 4 + j * 16
            svg.append(
                f'<rect x="{p99_left}" y="{yy}" width="{max(x2 - p99_left, 1):.1f}" height="13" fill="{colour}"/>'
                f'<text x="{x2 + 4:.1f}" y="{yy + 11}">{value:.1f}</text>'
            )
    svg.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
