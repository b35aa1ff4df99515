"""The final's speed probe: measured again, the fastest kept, when it reads slower than the
search's own measurement of the same config (a busier machine, not the config)."""

from __future__ import annotations

import pytest

from autocnn.fit.final_training import REPROBES, measure_speed
from autocnn.fit.probe import Probe


def scripted(readings: list[float]):
    """A probe that answers ``readings`` in turn and records each call's threads."""
    calls: list[int] = []

    def probe(config, images, *, threads, steps):
        calls.append(threads)
        return Probe(readings[len(calls) - 1], seconds=0.1)

    return probe, calls


@pytest.mark.parametrize(
    ("readings", "searched", "expected", "probes"),
    [
        ([900.0], 600.0, 900.0, 1),  # faster than one search worker: as expected, once
        ([900.0], None, 900.0, 1),  # no search measurement (an older fit, a Ray search): once
        ([300.0, 900.0], 600.0, 900.0, 2),  # a load that ended: the second probe stands
        ([300.0, 500.0, 400.0], 600.0, 500.0, 1 + REPROBES),  # still busy: the fastest
    ],
)
def test_a_slow_probe_is_measured_again_and_the_fastest_kept(readings, searched, expected, probes):
    probe, calls = scripted(readings)
    said: list[str] = []
    speed = measure_speed({}, None, 2, searched, log=said.append, probe=probe)
    assert speed == expected
    assert calls == [2] * probes  # every probe with the final's threads
    assert bool(said) == (probes > 1)  # the user is told when the machine looked busier
    if speed < (searched or 0):
        assert "still busier" in said[-1] and f"{expected:.0f} img/s" in said[-1]
