"""The worker's garbage-collector settings (sfu/gc_tuning.py)."""

from __future__ import annotations

import gc
import logging

from sfu import gc_tuning
from sfu.gc_tuning import PauseWatch


def test_full_collections_are_rare_only_while_a_big_room_is_hosted():
    before = gc.get_threshold()
    thresholds = gc_tuning.Thresholds()
    room, other = object(), object()
    try:
        thresholds.room_size_changed(room, gc_tuning.BIG_ROOM + 1)
        assert gc.get_threshold() == before  # inert until the worker enables it
        thresholds.enabled = True
        thresholds.room_size_changed(room, gc_tuning.BIG_ROOM + 1)
        assert gc.get_threshold() == gc_tuning.BIG_ROOM_THRESHOLDS
        assert gc_tuning.BIG_ROOM_THRESHOLDS[:2] == before[:2]  # young generations as CPython's
        assert gc_tuning.BIG_ROOM_THRESHOLDS[2] >= 1000 * before[2]  # full ones much rarer
        thresholds.room_size_changed(other, 3)
        assert gc.get_threshold() == gc_tuning.BIG_ROOM_THRESHOLDS  # one big room is enough
        thresholds.room_size_changed(room, gc_tuning.BIG_ROOM)
        assert gc.get_threshold() == before  # no big room left: CPython's thresholds again
    finally:
        gc.set_threshold(*before)


def test_configure_watches_pauses():
    before = gc.get_threshold()
    enabled = gc_tuning.THRESHOLDS.enabled
    watch = gc_tuning.configure()
    try:
        assert gc_tuning.THRESHOLDS.enabled
        gc.collect(0)
        assert watch.collections[0] >= 1
    finally:
        gc.callbacks.remove(watch)
        gc_tuning.THRESHOLDS.enabled = enabled
        gc.set_threshold(*before)


def test_long_pauses_are_logged_and_summarized(caplog):
    now = [0.0]
    watch = PauseWatch(clock=lambda: now[0])

    def collection(generation: int, seconds: float) -> None:
        watch("start", {"generation": generation})
        now[0] += seconds
        watch("stop", {"generation": generation})

    with caplog.at_level(logging.WARNING, logger="sfu.gc_tuning"):
        collection(0, 0.002)
        assert caplog.records == []
        collection(2, 0.4)
        assert len(caplog.records) == 1
        assert "400 ms" in caplog.text and "generation 2" in caplog.text
        collection(1, 0.2)  # within the log interval: kept for the next line
        assert len(caplog.records) == 1
        now[0] += gc_tuning.LOG_INTERVAL_SECONDS
        collection(2, 0.3)
        assert len(caplog.records) == 2
        assert "2 garbage collection pause(s)" in caplog.records[1].getMessage()
    assert watch.collections == [1, 1, 2]
    assert round(sum(watch.seconds), 3) == 0.902
