"""Settings: command-line assignments (``--set NAME=VALUE`` of the benchmarks and scripts)."""

from __future__ import annotations

import pytest

from cleantake.errors import ParameterError
from cleantake.settings import Settings, parse_assignments


def test_assignments_take_the_type_of_each_field():
    got = parse_assignments(["music_rank=40", "sensitivity=0.7", "locator=stack", "detector=/models/x.npz"])
    assert got == {"music_rank": 40, "sensitivity": 0.7, "locator": "stack", "detector": "/models/x.npz"}
    assert Settings(**got).music_rank == 40
    assert parse_assignments([]) == {}


def test_a_tuple_setting_takes_numbers_separated_by_commas_or_one_number():
    got = parse_assignments(["repair_context_ms=46,92", "repair_compress=1"])
    assert got == {"repair_context_ms": (46.0, 92.0), "repair_compress": (1.0,)}
    assert Settings(repair_compress=0.1).repair_compress == (0.1,)
    assert Settings(repair_context_ms=[23, 46]).repair_context_ms == (23.0, 46.0)


@pytest.mark.parametrize("item, message", [
    ("music_rank", "expected NAME=VALUE"),
    ("music_rank=", "expected NAME=VALUE"),
    ("no_such=1", "unknown setting"),
    ("music_rank=forty", "takes a whole number"),
    ("music_rank=0", "from 1 to 500"),
    ("locator=nearest", "'auto' or 'learned' or 'stack'"),
    ("repair_context_ms=46,long", "numbers separated by commas"),
    ("repair_context_ms=46,-1", "durations from 0 to 2000 ms"),
    ("repair_compress=0", "numbers in \\(0, 1000\\]"),
    ("repair_k=0", "from 1 to 1000"),
    ("trim_spans=yes", "takes true or false"),
])
def test_bad_assignments_say_what_is_allowed(item, message):
    with pytest.raises(ParameterError, match=message):
        parse_assignments([item])


def test_a_switch_takes_true_or_false():
    """A bool setting is read from its word (``bool("false")`` would be True)."""
    assert parse_assignments(["trim_spans=false"]) == {"trim_spans": False}
    assert parse_assignments(["trim_spans=True"]) == {"trim_spans": True}


def test_reach_is_half_the_longest_repair_window_plus_a_hop_and_the_ramp():
    """The output may differ from the input this far from a located event (the tests of the
    repair check it holds): the 46-ms analysis alone about 0.07 s, with the default 184-ms
    window about 0.18 s, at any rate."""
    for sr in (22050, 44100, 96000):
        alone = Settings(located_windows_ms=()).reach_s(sr)
        assert 0.06 < alone < 0.08
        assert 0.17 < Settings().reach_s(sr) < 0.2
        assert Settings(located_windows_ms=(92.0, 184.0)).reach_s(sr) == Settings().reach_s(sr)
        # what like= finds is repaired at span_windows_ms (92 and 184 ms) whatever the located ones
        assert Settings(located_windows_ms=()).reach_s(sr, like=True) == Settings().reach_s(sr)
