"""The timer thread: immediate first pull, interval, back-off, recovery, immediate stop, silence."""

from __future__ import annotations

import threading
import time
from itertools import pairwise

import pytest

from ipy_storage import scheduler
from ipy_storage.scheduler import Watcher, backoff_delay
from tests.helpers import wait_until


@pytest.mark.parametrize(
    ("interval", "failures", "expected"),
    [
        (1, 0, 1),
        (1, 1, 2),
        (1, 3, 8),
        (1, 4, 10),  # capped at ten times the interval
        (1, 10_000, 10),  # no overflow after a long outage
        (120, 3, 600),  # capped at ten minutes
        (3600, 2, 3600),  # never shorter than the interval itself
    ],
)
def test_backoff_doubles_and_is_capped(interval, failures, expected):
    assert backoff_delay(interval, failures) == expected


class Recorder:
    """A pull that records when it ran and fails while ``failing`` is set."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.failures = 0
        self.failing = False
        self.changes = 0

    def pull(self) -> None:
        self.times.append(time.monotonic())
        if self.failing:
            self.failures += 1
            raise RuntimeError("source is gone")
        self.failures = 0

    def on_change(self) -> None:
        self.changes += 1

    def watcher(self, interval: float) -> Watcher:
        return Watcher("demo", interval, self.pull, lambda: self.failures, self.on_change)


def test_first_pull_is_immediate_then_every_interval():
    recorder = Recorder()
    watcher = recorder.watcher(0.1)
    started = time.monotonic()
    watcher.start()
    try:
        assert wait_until(lambda: len(recorder.times) >= 3)
    finally:
        watcher.stop()
        watcher.join(5)
    assert recorder.times[0] - started < 0.5
    assert all(b - a >= 0.09 for a, b in pairwise(recorder.times))
    assert recorder.changes >= 3  # next_pull moved before each wait


def test_failures_back_off_and_the_timer_recovers():
    recorder = Recorder()
    recorder.failing = True
    watcher = recorder.watcher(0.05)
    watcher.start()
    try:
        assert wait_until(lambda: recorder.failures >= 3)
        gaps = [b - a for a, b in pairwise(recorder.times)]
        assert gaps[1] >= 0.19  # 0.05 doubled twice after two failures
        recorder.failing = False
        assert wait_until(lambda: recorder.failures == 0 and len(recorder.times) >= 6)
        assert watcher.running
    finally:
        watcher.stop()
        watcher.join(5)


def test_stop_is_immediate_even_during_a_long_sleep():
    recorder = Recorder()
    watcher = recorder.watcher(3600)
    watcher.start()
    assert wait_until(lambda: len(recorder.times) == 1)
    assert wait_until(lambda: watcher.next_pull is not None)
    watcher.stop()
    watcher.join(1)
    assert not watcher._thread.is_alive()
    assert not watcher.running and watcher.next_pull is None


def test_stop_all_ends_every_timer_thread():
    recorders = [Recorder() for _ in range(3)]
    watchers = [recorder.watcher(3600) for recorder in recorders]
    for watcher in watchers:
        watcher.start()
    assert wait_until(lambda: all(recorder.times for recorder in recorders))
    scheduler.stop_all()
    assert not [t for t in threading.enumerate() if t.name.startswith("ipy-storage-watch")]


def test_the_timer_never_prints(capfd):
    recorder = Recorder()
    recorder.failing = True

    def noisy_listener() -> None:
        raise ValueError("a broken listener")

    watcher = Watcher("demo", 0.01, recorder.pull, lambda: 0, noisy_listener)
    watcher.start()
    assert wait_until(lambda: len(recorder.times) >= 5)
    watcher.stop()
    watcher.join(5)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize("interval", [float("inf"), 1e12, float("nan")])
def test_a_timer_never_dies_on_arithmetic(interval, capfd):
    recorder = Recorder()
    watcher = recorder.watcher(interval)
    watcher.start()
    try:
        assert wait_until(lambda: recorder.times and watcher.next_pull is not None)
        assert watcher.running  # waiting (a year at the most), not dead of an OverflowError
        assert watcher.next_pull.year <= time.localtime().tm_year + 1
    finally:
        watcher.stop()
        watcher.join(5)
    assert not watcher._thread.is_alive()
    assert capfd.readouterr().err == ""


def test_a_failing_failure_count_does_not_kill_the_timer():
    recorder = Recorder()

    def broken_count() -> int:
        raise ZeroDivisionError("count")

    watcher = Watcher("demo", 0.02, recorder.pull, broken_count, recorder.on_change)
    watcher.start()
    try:
        assert wait_until(lambda: len(recorder.times) >= 3) and watcher.running
    finally:
        watcher.stop()
        watcher.join(5)
