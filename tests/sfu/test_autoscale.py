"""The autoscaling decision (sfu/autoscale.py), with explicit `now`."""

import pytest

from sfu.autoscale import HOLD, SCALE_DOWN, SCALE_UP, Autoscaler, WorkerLoad


def scaler(**options):
    settings = dict(min_workers=1, max_workers=3, high_water=0.7, low_water=0.3)
    settings.update(up_after=30, down_after=300)
    settings.update(options)
    return Autoscaler(**settings)


def pool(*cpus, draining=()):
    return [
        WorkerLoad(f"h-{i + 1}", cpu, participants=10 * i, draining=f"h-{i + 1}" in draining)
        for i, cpu in enumerate(cpus)
    ]


def test_scale_up_after_the_pool_stays_hot():
    autoscaler = scaler()
    hot = pool(0.9, 0.8)
    assert autoscaler.decide(0, hot, ["h-1", "h-2"]).action == HOLD
    assert autoscaler.decide(29, hot, ["h-1", "h-2"]).action == HOLD
    assert autoscaler.decide(30, hot, ["h-1", "h-2"]).action == SCALE_UP
    # The next worker needs another full period above the mark.
    assert autoscaler.decide(31, hot, ["h-1", "h-2", "h-3"]).action == HOLD


def test_a_dip_resets_the_hot_period():
    autoscaler = scaler()
    autoscaler.decide(0, pool(0.9, 0.9), ["h-1", "h-2"])
    autoscaler.decide(20, pool(0.5, 0.5), ["h-1", "h-2"])
    assert autoscaler.decide(40, pool(0.9, 0.9), ["h-1", "h-2"]).action == HOLD
    assert autoscaler.decide(70, pool(0.9, 0.9), ["h-1", "h-2"]).action == SCALE_UP


def test_never_above_max_on_this_host():
    autoscaler = scaler(max_workers=2)
    autoscaler.decide(0, pool(0.95, 0.95), ["h-1", "h-2"])
    decision = autoscaler.decide(100, pool(0.95, 0.95), ["h-1", "h-2"])
    assert decision.action == HOLD and "maximum" in decision.reason


def test_scale_down_drains_the_least_loaded_own_worker():
    autoscaler = scaler()
    # Another host's worker (x-1) is the quietest of all, but only ours are candidates.
    quiet = [
        WorkerLoad("x-1", 0.0, 0),
        WorkerLoad("h-1", 0.2, 12),
        WorkerLoad("h-2", 0.1, 3),
    ]
    assert autoscaler.decide(0, quiet, ["h-1", "h-2"]).action == HOLD
    assert autoscaler.decide(299, quiet, ["h-1", "h-2"]).action == HOLD
    decision = autoscaler.decide(300, quiet, ["h-1", "h-2"])
    assert (decision.action, decision.worker_id) == (SCALE_DOWN, "h-2")


def test_never_below_min():
    autoscaler = scaler(min_workers=2)
    autoscaler.decide(0, pool(0.0, 0.0), ["h-1", "h-2"])
    decision = autoscaler.decide(1000, pool(0.0, 0.0), ["h-1", "h-2"])
    assert decision.action == HOLD and "minimum" in decision.reason


def test_no_scale_down_that_would_overload_the_rest():
    autoscaler = scaler(low_water=0.5, high_water=0.6)
    loads = pool(0.45, 0.45)  # 0.9 on one worker would be above the high-water mark
    autoscaler.decide(0, loads, ["h-1", "h-2"])
    assert autoscaler.decide(1000, loads, ["h-1", "h-2"]).action == HOLD


def test_draining_workers_are_left_out_of_the_average():
    autoscaler = scaler(up_after=0)
    # h-2 is draining at 0.0: the serving pool is h-1 alone, at 0.9.
    loads = pool(0.9, 0.0, draining={"h-2"})
    assert autoscaler.decide(0, loads, ["h-1"]).action == SCALE_UP


def test_empty_pool_holds():
    assert scaler(up_after=0, down_after=0).decide(0, [], ["h-1"]).action == HOLD


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError):
        Autoscaler(min_workers=3, max_workers=2)
    with pytest.raises(ValueError):
        Autoscaler(min_workers=1, max_workers=2, low_water=0.8, high_water=0.7)
