"""The read benchmark's report (markdown) from scripts/bench/reads.sh's TSVs.

Usage: report.py READS_TSV PROCESS_TSV
Each read and mode may have several rounds (rows); the table gives the
round of median throughput (its p50 and p99 with it) and the range of
throughput over the rounds, and the ratios and verdicts compare medians.
Targets (issue 17), cache off, each as a ratio to pgbench on the best SQL
for the same answer in the same run: first page >= 0.8x (pgbench: the page
statement alone), random pages >= 0.5x, random slug >= 0.6x, search >= 0.5x;
p99 < 20 ms for all (wrk's percentiles, corrected for coordinated
omission; pgbench's corrected alike, see latency.py); warm (cache on, same
random keys) never slower than cold; at the larger scale, the same ratios
within 1.5x of the smaller's.
"""
import sys
from collections import defaultdict
from typing import NamedTuple

# (key in reads.tsv, short name, the table's label, ratio target)
READS = [
    ("first", "first page", "`GET /api/posts?limit=20` (first page with its total)", 0.8),
    ("page", "random page", "`GET /api/posts?limit=20&skip=R`, R uniform over the list", 0.5),
    ("tag", "tag page", "`GET /api/posts?tag=T&limit=20&skip=R`, random tag and page", 0.5),
    ("slug", "slug", "`GET /api/posts/{slug}`, random post", 0.6),
    ("search", "search", "`GET /api/posts?q=W&limit=20`, random rare term", 0.5),
]


def ms(t):
    for unit, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if t.endswith(unit):
            return float(t[: -len(unit)]) * f
    return float(t)


runs = defaultdict(lambda: defaultdict(list))
for line in open(sys.argv[1]):
    n, read, mode, rps, p50, p99, errs = line.rstrip("\n").split("\t")
    runs[int(n)][(read, mode)].append((float(rps), p50, p99, errs))


class Median(NamedTuple):
    """A read's mode over its rounds: the round of median throughput (the
    lower middle of an even count) with its latencies, the range of
    throughput over the rounds, and every round's errors."""

    rps: float
    p50: str
    p99: str
    errs: str
    low: float
    high: float
    rounds: int

    @classmethod
    def of(cls, rounds):
        ordered = sorted(rounds, key=lambda x: x[0])
        rps, p50, p99, _ = ordered[(len(ordered) - 1) // 2]
        errs = "; ".join(e for *_, e in rounds if e != "0") or "0"
        return cls(rps, p50, p99, errs, ordered[0][0], ordered[-1][0], len(rounds))

    def spread(self):
        if self.rounds == 1:
            return f"{self.rps:.0f}"
        return f"{self.rps:.0f} ({self.low:.0f}–{self.high:.0f})"


rows = {n: {k: Median.of(v) for k, v in by.items()} for n, by in runs.items()}
proc = defaultdict(dict)
for line in open(sys.argv[2]):
    n, mode, key, value = line.rstrip("\n").split("\t")
    proc[int(n)][(mode, key)] = value

ratios = {}
out = []
for n in sorted(rows):
    r = rows[n]
    out.append(f"#### {n:,} posts")
    out.append("")
    p = proc[n]
    out.append(
        f"API start-up to first answer: {p.get(('cold', 'startup_ms'), '?')} ms (cache off), "
        f"{p.get(('warm', 'startup_ms'), '?')} ms (cache on). Resident memory with the default cache: "
        f"{p.get(('warm', 'rss_start_mb'), '?')} MiB after start, **{p.get(('warm', 'rss_end_mb'), '?')} MiB** after the warm runs (every read's rounds)."
    )
    out.append("")
    rounds = max(x.rounds for x in r.values())
    out.append(
        f"Each figure is the median of {rounds} alternating rounds (cold, pgbench, warm); the range over the rounds in brackets."
        if rounds > 1
        else "One round of each run."
    )
    out.append("")
    out.append(
        "| read | cold (cache off) req/s | cold p50 | cold p99 | pgbench tps (same SQL) | pgbench p50 | pgbench p99 | cold / pgbench | warm (cache on, same keys) req/s | warm p99 | targets | errors |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for key, _, label, target in READS:
        cold = r.get((key, "cold"))
        warm = r.get((key, "warm"))
        pg = r.get((key, "pgbench"))
        if not (cold and warm and pg):
            continue
        ratio = cold.rps / pg.rps if pg.rps else 0.0
        ratios[(n, key)] = ratio
        verdicts = [
            (f"≥ {target}× pgbench", ratio >= target),
            ("p99 < 20 ms", ms(cold.p99) < 20 and ms(warm.p99) < 20),
            ("warm ≥ cold", warm.rps >= cold.rps),
        ]
        verdict = "; ".join(f"{t}: **{'met' if ok else 'not met'}**" for t, ok in verdicts)
        errs = "; ".join(e for e in (cold.errs, warm.errs, pg.errs) if e != "0") or "0"
        out.append(
            f"| {label} | {cold.spread()} | {cold.p50} | {cold.p99} | {pg.spread()} | {pg.p50} | {pg.p99} | {ratio:.2f} | {warm.spread()} | {warm.p99} | {verdict} | {errs} |"
        )
    out.append("")
    out.append(
        "Latencies are wrk's, which corrects them for coordinated omission (a request that waited "
        "behind a slow one counts too, once per interval of the run's pace), and pgbench's from its "
        "per-transaction log with the same correction (`scripts/bench/latency.py`)."
    )
    raw = [
        f"{short} {u.p50} / {u.p99}"
        for key, short, _, _ in READS
        if (u := r.get((key, "pgbench-uncorrected")))
    ]
    if raw:
        out.append("pgbench's p50 / p99 without the correction, same median rounds: " + "; ".join(raw) + ".")
    out.append("")

sizes = sorted(rows)
if len(sizes) > 1:
    small, large = sizes[0], sizes[-1]
    out.append(f"#### {large:,} against {small:,} posts")
    out.append("")
    out.append("| read | ratio at small | ratio at large | small / large (target ≤ 1.5) |")
    out.append("|---|---:|---:|---|")
    for key, _, label, _ in READS:
        a, b = ratios.get((small, key)), ratios.get((large, key))
        if a and b:
            k = a / b
            out.append(f"| {label} | {a:.2f} | {b:.2f} | {k:.2f} **{'met' if k <= 1.5 else 'not met'}** |")
    out.append("")
print("\n".join(out))
