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


@pytest.mark.parametrize("item, message", [
    ("music_rank", "expected NAME=VALUE"),
    ("music_rank=", "expected NAME=VALUE"),
    ("no_such=1", "unknown setting"),
    ("music_rank=forty", "takes a whole number"),
    ("music_rank=0", "from 1 to 500"),
    ("locator=nearest", "'auto' or 'learned' or 'stack'"),
])
def test_bad_assignments_say_what_is_allowed(item, message):
    with pytest.raises(ParameterError, match=message):
        parse_assignments([item])
