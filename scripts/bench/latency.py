"""Latency percentiles of a closed-loop run, computed as wrk 4 computes its own.

wrk 4 corrects its latency histogram for coordinated omission before it
prints percentiles (`stats_correct` in its src/stats.c): with `interval` the
run's time over the requests each connection made, every request that took
n >= 2 x interval also counts as requests of n - interval, n - 2 x interval,
... down to above one interval, the requests that connection would have
sent had it not waited. A single stall of every connection is thereby
counted about (stall / interval) times per connection: with 32 connections
at 4 ms a request, one stall of 200 ms puts the p99 of a 10 s run near
100 ms where the uncorrected p99 stays at 4 ms.

pgbench's per-transaction log (-l) is uncorrected. So that the API's p99
(wrk) and PostgreSQL's (pgbench) are measured alike, scripts/bench/reads.sh
passes pgbench's logs through the same correction, and reports the
uncorrected figures beside them.

Usage: latency.py SECONDS CLIENTS LOG...
Prints: p50 p99 p50_uncorrected p99_uncorrected, as "12.34ms".
"""
import sys
from collections import Counter


def corrected(hist, interval):
    """wrk 4's `stats_correct` over a histogram of microseconds: a new
    histogram with the synthetic requests added. Only measured requests
    spawn synthetic ones (wrk walks upwards and adds below)."""
    out = Counter(hist)
    if interval <= 0:
        return out
    for n, count in hist.items():
        if n < 2 * interval:
            continue
        m = n - interval
        while m > interval:
            out[m] += count
            m -= interval
    return out


def percentile(hist, p):
    """wrk 4's `stats_percentile`: the least value whose cumulative count
    reaches round(p / 100 x count + 0.5)."""
    total = sum(hist.values())
    if total == 0:
        return 0
    # C's round(): halves away from zero (Python's round() goes to even).
    rank = int(p / 100.0 * total + 0.5 + 0.5)
    seen = 0
    for value in sorted(hist):
        seen += hist[value]
        if seen >= rank:
            return value
    return max(hist)


def interval_of(seconds, clients, requests):
    """wrk's interval: the run's microseconds over the requests each
    connection completed (integer division, as wrk)."""
    per_client = requests // clients
    return int(seconds * 1_000_000) // per_client if per_client else 0


def fmt(us):
    return f"{us / 1000:.2f}ms"


def main(argv):
    seconds, clients, logs = float(argv[1]), int(argv[2]), argv[3:]
    hist = Counter()
    for path in logs:
        with open(path) as f:
            for line in f:
                # client_id transaction_no time_us script_no epoch epoch_us
                fields = line.split()
                if len(fields) >= 3:
                    hist[int(fields[2])] += 1
    fixed = corrected(hist, interval_of(seconds, clients, sum(hist.values())))
    print(
        fmt(percentile(fixed, 50)),
        fmt(percentile(fixed, 99)),
        fmt(percentile(hist, 50)),
        fmt(percentile(hist, 99)),
    )


if __name__ == "__main__":
    main(sys.argv)
