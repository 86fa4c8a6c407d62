"""The recorder turns per-second slices into windows without losing or double counting requests."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest

from launchdeck.adapters.metrics.local import LocalMetrics
from launchdeck.local.recorder import Recorder


def test_a_window_merges_every_slice_it_covers() -> None:
    rec = Recorder()
    rec.record("stable", 200, 10.0, at=100.2)
    rec.record("stable", 500, 20.0, at=100.9)
    rec.record("stable", 200, 30.0, at=101.5)
    rec.record("stable", 502, 40.0, at=102.0)  # second 102: outside [100, 102)
    rec.record("stable", 404, 50.0, at=101.99)  # a client error is not the version's error

    w = rec.window("stable", 100, 102)

    assert (w.requests, w.errors, w.seconds) == (4, 1, 2)
    assert w.latency.total == 4
    assert w.metric("latency_p50_ms") == pytest.approx(20.0, rel=0.03)
    assert rec.window("stable", 102, 103).errors == 1


def test_consecutive_windows_never_count_a_request_twice() -> None:
    rng = random.Random(3)
    rec = Recorder()
    times = [100 + rng.random() * 20 for _ in range(5000)] + [105.0, 110.0, 113.0]
    for t in times:
        rec.record("canary", 200, 5.0, at=t)
    edges = [99.5, 100.0, 103.3, 105.0, 107.9, 110.0, 113.0, 116.01, 121.0]

    counts = [rec.window("canary", a, b).requests for a, b in zip(edges, edges[1:], strict=False)]

    assert sum(counts) == len(times)
    assert rec.window("canary", 99.5, 121.0).requests == len(times)


def test_share_is_the_versions_part_of_all_requests_in_the_window() -> None:
    rec = Recorder()
    for i in range(80):
        rec.record("stable", 200, 5.0, at=50 + i / 100)
    for i in range(20):
        rec.record("canary", 200, 5.0, at=50 + i / 100)
    rec.record("canary", 200, 5.0, at=60.0)  # outside the window: must not move the share

    assert rec.window("canary", 50, 51).share == pytest.approx(0.2)
    assert rec.window("stable", 50, 51).share == pytest.approx(0.8)


def test_an_empty_window_has_no_share_and_no_metrics() -> None:
    rec = Recorder()
    rec.record("stable", 200, 5.0, at=10.0)

    w = rec.window("canary", 10, 20)

    assert (w.requests, w.share, w.seconds) == (0, 0.0, 10)
    assert w.metric("error_rate") is None


def test_retention_drops_old_slices_but_keeps_totals() -> None:
    rec = Recorder(retention_s=60)
    rec.record("stable", 500, 5.0, at=1000.5)
    rec.record("stable", 200, 5.0, at=1030.5)
    rec.record("stable", 200, 5.0, at=1100.5)  # 1000 is now more than 60 s behind
    rec.record("stable", 200, 5.0, at=1001.0)  # arrives late, already past retention

    assert rec.window("stable", 1000, 1002).requests == 0
    assert rec.retained_seconds("stable") == [1100]
    assert rec.totals("stable") == (4, 1)


def test_recording_from_many_threads_loses_nothing() -> None:
    rec = Recorder()

    def hammer(version: str) -> None:
        for i in range(5000):
            rec.record(version, 500 if i % 10 == 0 else 200, 1.0 + i % 7, at=200 + i / 1000)

    threads = [threading.Thread(target=hammer, args=(v,)) for v in ("stable", "canary") * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert rec.totals("stable") == (10000, 1000)
    assert rec.window("canary", 200, 205).requests == 10000
    assert rec.versions() == ["canary", "stable"]


def test_a_window_that_ends_before_it_starts_is_a_bug() -> None:
    with pytest.raises(ValueError):
        Recorder().window("stable", 10, 5)


def test_local_metrics_observes_the_recorders_windows() -> None:
    rec = Recorder()
    rec.record("canary", 503, 8.0, at=42.5)

    w = asyncio.run(LocalMetrics(rec).observe("canary", 40, 45))

    assert (w.version, w.requests, w.errors, w.share) == ("canary", 1, 1, 1.0)


def test_finer_resolution_gives_windows_with_sub_second_edges() -> None:
    recorder = Recorder(resolution_s=0.1)
    for at in (100.02, 100.15, 100.25, 100.95):
        recorder.record("canary", 200, 10.0, at)
    assert recorder.window("canary", 100.1, 100.3).requests == 2
    assert recorder.window("canary", 100.0, 100.1).requests + recorder.window("canary", 100.1, 101.0).requests == 4
