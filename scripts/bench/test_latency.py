"""Tests of latency.py: wrk 4's coordinated-omission correction and
percentile, applied to pgbench's per-transaction log. Run by scripts/test.sh
(python3 -m unittest discover -s scripts/bench)."""
import io
import os
import tempfile
import unittest
from collections import Counter
from contextlib import redirect_stdout

import latency


class Correction(unittest.TestCase):
    def test_requests_under_two_intervals_spawn_nothing(self):
        hist = Counter({4000: 500, 7999: 3})
        self.assertEqual(latency.corrected(hist, 4000), hist)

    def test_a_slow_request_counts_once_per_interval_it_held_back(self):
        # 13 ms at a 4 ms interval: also 9 ms and 5 ms, not 1 ms (wrk
        # stops at one interval).
        hist = Counter({4000: 100, 13000: 1})
        self.assertEqual(
            latency.corrected(hist, 4000),
            Counter({4000: 100, 13000: 1, 9000: 1, 5000: 1}),
        )

    def test_synthetic_requests_spawn_none_of_their_own(self):
        # 21 ms and 17 ms at 4 ms: 17 ms spawns 13, 9, 5 once for itself,
        # and 21 ms's synthetic 17 ms spawns nothing more.
        fixed = latency.corrected(Counter({21000: 1, 17000: 1}), 4000)
        self.assertEqual(fixed[17000], 2)
        self.assertEqual(fixed[13000], 2)
        self.assertEqual(fixed[5000], 2)
        self.assertEqual(sum(fixed.values()), 2 + 4 + 3)

    def test_one_stall_of_every_connection_moves_the_p99(self):
        # 32 connections, 10 s at 4 ms a request, one 200 ms stall of all.
        hist = Counter({4000: 80_000 - 32, 200_000: 32})
        interval = latency.interval_of(10, 32, sum(hist.values()))
        self.assertEqual(interval, 4000)
        self.assertEqual(latency.percentile(hist, 99), 4000)
        p99 = latency.percentile(latency.corrected(hist, interval), 99)
        # 48 synthetic requests per connection, 4 ms apart: the top 1 %
        # (about 815 of 81,536) reaches down to about 100 ms.
        self.assertGreater(p99, 90_000)
        self.assertLess(p99, 110_000)


class Percentile(unittest.TestCase):
    def test_rank_is_rounded_as_wrk_rounds(self):
        hist = Counter(range(1, 101))
        # round(0.5 x 100 + 0.5) = 51 (C rounds halves away from zero).
        self.assertEqual(latency.percentile(hist, 50), 51)
        self.assertEqual(latency.percentile(hist, 99), 100)
        self.assertEqual(latency.percentile(Counter(), 99), 0)

    def test_interval_divides_as_wrk_does(self):
        # 10 s over 31 requests a connection (1,000 // 32), in whole µs.
        self.assertEqual(latency.interval_of(10, 32, 1000), 322_580)
        self.assertEqual(latency.interval_of(10, 32, 31), 0)


class Logs(unittest.TestCase):
    def test_reads_pgbench_logs_and_prints_both_accountings(self):
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for client, lines in enumerate(([4000] * 99 + [400_000], [4000] * 100)):
                path = os.path.join(d, f"log.{client}")
                with open(path, "w") as f:
                    for i, us in enumerate(lines):
                        f.write(f"{client} {i} {us} 0 1764936000 {i}\n")
                paths.append(path)
            out = io.StringIO()
            with redirect_stdout(out):
                latency.main(["latency.py", "0.8", "2", *paths])
        # 200 transactions by 2 clients in 0.8 s: an 8 ms interval; the
        # 400 ms one adds 48 (392 ms down to 16 ms), so 248 in all and
        # the 99th percentile's rank is 246: the 47th synthetic one.
        p50, p99, raw50, raw99 = out.getvalue().split()
        self.assertEqual((p50, raw50, raw99), ("4.00ms", "4.00ms", "4.00ms"))
        self.assertEqual(p99, "384.00ms")


if __name__ == "__main__":
    unittest.main()
