"""How many simulated, recorded calls one process keeps in real time, and what they cost.

    python bench/bench_telephony.py [--budget-s 110] [--window-s 4] [--tick-s 0.1]

Ramps the number of concurrent answered, recorded calls (doubling, then bisecting between
the last level that kept up and the first that did not). Each tick encodes every call's
audio since the previous tick; a level keeps up when, over the measuring window, the
95th-percentile tick used at most 90 % of the tick interval and at most 5 % of ticks
overran (an overrun is caught up by the next tick; steady overruns mean the switch is
falling behind real time). Calls are answered spread over the first second, and measuring starts
once the answering burst (LAME's per-call set-up, ~0.5 ms) has settled. CPU cost is process CPU time (time.process_time, all
threads: scheduler, event relay, file writes) per minute of recorded call. Stops by itself
within the time budget.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.telephony.driver import SwitchEvent  # noqa: E402
from services.telephony.simulated import SimulatedSwitch  # noqa: E402
from storage.recordings import RecordingStore  # noqa: E402


class CountingSink:
    def __init__(self) -> None:
        self.count = 0
        self.ready = 0
        self._lock = threading.Lock()

    def handle(self, event: SwitchEvent) -> None:
        with self._lock:
            self.count += 1
            if event.kind == "recording.ready":
                self.ready += 1


@dataclass
class Level:
    calls: int
    kept_up: bool
    p95_tick_s: float
    max_tick_s: float
    late_ticks: int
    ticks: int
    cpu_s_per_call_minute: float
    rss_mb: float
    close_s: float


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return float("nan")


def run_level(calls: int, window_s: float, tick_s: float, folder: str | None) -> Level:
    root = Path(tempfile.mkdtemp(prefix="bench-telephony-", dir=folder))
    try:
        sink = CountingSink()
        switch = SimulatedSwitch(RecordingStore(root), sink, playback_channels=0, tick_s=tick_s)
        for i in range(calls):
            switch.place_call(extension=str(1000 + i), number="+15551230000", direction="inbound",
                              ani="+442079460000", did="+15551230000", answer_after_s=(i % 10) / 10,
                              duration_s=None)
        settle_until = time.monotonic() + 6.0
        time.sleep(1.2)  # every call answered
        while time.monotonic() < settle_until:
            recent = switch.stats().recent_busy_s[-3:]
            if len(recent) == 3 and max(recent) < tick_s:
                break
            time.sleep(tick_s)
        switch.reset_stats()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        time.sleep(window_s)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        stats = switch.stats()
        memory = rss_mb()
        began = time.perf_counter()
        switch.close()  # ends every call: flushes and commits every recording
        close_s = time.perf_counter() - began
        assert sink.ready == calls, f"{sink.ready} of {calls} recordings committed"
    finally:
        shutil.rmtree(root, ignore_errors=True)
    busy = sorted(stats.recent_busy_s) or [0.0]
    p95 = busy[min(len(busy) - 1, int(0.95 * len(busy)))]
    kept_up = p95 < 0.9 * tick_s and stats.late_ticks <= 0.05 * max(1, stats.ticks)
    return Level(calls=calls, kept_up=kept_up, p95_tick_s=p95,
                 max_tick_s=stats.max_busy_s, late_ticks=stats.late_ticks, ticks=stats.ticks,
                 cpu_s_per_call_minute=cpu / (calls * wall / 60), rss_mb=memory, close_s=close_s)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-s", type=float, default=90.0, help="stop ramping after this long")
    parser.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                        help="where the recordings go (default: RAM, so ending thousands of calls "
                             "at each level's close does not wait on disk fsyncs)")
    parser.add_argument("--window-s", type=float, default=4.0, help="measuring window per level")
    parser.add_argument("--tick-s", type=float, default=0.1, help="scheduler tick")
    parser.add_argument("--start", type=int, default=50, help="first concurrency level")
    args = parser.parse_args()

    deadline = time.monotonic() + args.budget_s
    per_level_guess = args.window_s + 5.0
    print(f"simulated switch, one process, tick {args.tick_s * 1000:.0f} ms, {args.window_s:.0f} s per level, "
          f"{os.cpu_count()} CPUs, {SimulatedSwitch.default_workers()} audio workers, "
          f"load average {os.getloadavg()[0]:.2f} (other processes skew the figures)")
    print(f"{'calls':>6} {'kept up':>8} {'p95 tick':>9} {'max tick':>9} {'late':>5} "
          f"{'CPU s/call-min':>15} {'RSS MB':>7} {'close s':>8}")
    levels: list[Level] = []
    good, bad = 0, None
    calls = args.start
    while time.monotonic() + per_level_guess < deadline:
        began = time.monotonic()
        level = run_level(calls, args.window_s, args.tick_s, args.dir)
        per_level_guess = max(per_level_guess, (time.monotonic() - began) * 1.3)
        levels.append(level)
        print(f"{level.calls:>6} {'yes' if level.kept_up else 'no':>8} {level.p95_tick_s * 1000:>7.1f}ms "
              f"{level.max_tick_s * 1000:>7.1f}ms {level.late_ticks:>5} {level.cpu_s_per_call_minute:>15.4f} "
              f"{level.rss_mb:>7.0f} {level.close_s:>8.2f}", flush=True)
        if level.kept_up:
            good = max(good, calls)
        else:
            bad = calls if bad is None else min(bad, calls)
        if bad is None:
            calls *= 2
        elif bad - good <= max(25, good // 10):
            break
        else:
            calls = (good + bad) // 2
    kept = [level for level in levels if level.kept_up]
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    print()
    if kept:
        best = max(kept, key=lambda level: level.calls)
        print(f"max concurrent recorded calls kept in real time: {best.calls}"
              + ("" if bad is not None else " (budget ran out before the switch fell behind)"))
        print(f"CPU per call-minute at that load: {best.cpu_s_per_call_minute:.4f} s "
              f"({best.cpu_s_per_call_minute / 60 * 100:.3f}% of one core per call)")
        print(f"memory at that load: {best.rss_mb:.0f} MB RSS ({best.rss_mb / best.calls * 1024:.0f} KB per call)")
        cpu = sorted(level.cpu_s_per_call_minute for level in kept)[len(kept) // 2]
        print(f"CPU ceiling (median cost, nothing else running): {60 / cpu:.0f} calls per fully used core, "
              f"{60 / cpu * SimulatedSwitch.default_workers():.0f} with {SimulatedSwitch.default_workers()} "
              f"audio workers (LAME releases the GIL)")
    else:
        print(f"the switch fell behind already at {args.start} calls")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
