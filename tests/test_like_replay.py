"""benchmarks/like.py --long: the finder replayed on recordings of benchmarks/like_long.py --record
gives the events the library's block path gives (what a choice made on them rests on)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile as sf
from conftest import load_script, organ

import cleantake
from cleantake.files import clean_file

SR = 22050


def _ring(seed: int, length: float = 0.4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(length * SR)) / SR
    env = np.exp(-t / 0.15) * np.minimum(1, t * 400)
    x = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28)) for f in (1870.0, 2730.0, 3810.0))
    return 0.15 * env * (x + 0.3 * rng.standard_normal(t.size))


@pytest.fixture(scope="module")
def long_file(tmp_path_factory):
    """30 s of organ notes with a ring every few seconds, some in the blocks' overlaps."""
    y = organ(30.0, SR, 3)
    spans = []
    for i, t0 in enumerate((2.1, 6.9, 13.3, 19.0, 26.2)):
        b = _ring(i)
        n0 = int(t0 * SR)
        y[n0:n0 + b.size] += b
        spans.append((n0 / SR, (n0 + b.size) / SR))
    path = tmp_path_factory.mktemp("replay") / "long.wav"
    sf.write(path, y, SR, subtype="FLOAT")
    return path, y, spans


@pytest.mark.parametrize("params", [cleantake.LikeParams(),
                                    cleantake.LikeParams(similarity=0.6, grow_similarity=None, min_event_ms=40.0)])
def test_replay_gives_the_block_path_s_events(long_file, tmp_path, params):
    like_long, like = load_script("benchmarks/like_long.py"), load_script("benchmarks/like.py")
    path, y, spans = long_file
    cleaner = cleantake.Cleaner("none", like_params=params)
    with like_long.recording() as rec:
        res = clean_file(path, tmp_path / "out.wav", cleaner=cleaner, like=[spans[0]], workers=1,
                         block_s=8.0, overlap_s=2.0)
    assert res.stats["blocks"] >= 4
    record = like_long.recorded(rec, y, SR, 8.0, 2.0)
    assert len(res.events) >= 2  # something found besides the example
    point = {k: getattr(params, k) for k in like.GRID}
    want = [(e.start_s, e.end_s) for e in res.events]
    assert [(e.start_s, e.end_s) for e in like.long_events(record, point, joins="recorded")] == want
    assert [(e.start_s, e.end_s) for e in like.long_events(record, point)] == want
    # the library is left as it was: a later run is not recorded
    n = len(rec["blocks"])
    assert n == res.stats["blocks"]
    assert cleantake.Cleaner("none").locate(y, SR, like=[spans[0]], block_s=None)
    assert len(rec["blocks"]) == n


def test_replay_of_other_thresholds_is_the_library_s_run_with_them(long_file, tmp_path):
    """Recorded with the default, replayed with a stricter similarity (two copies fewer, so the
    blocks join elsewhere): the events of the library run with it (joins emulated from the events)."""
    like_long, like = load_script("benchmarks/like_long.py"), load_script("benchmarks/like.py")
    path, y, spans = long_file
    with like_long.recording() as rec:
        clean_file(path, tmp_path / "a.wav", cleaner=cleantake.Cleaner("none"), like=[spans[0]], workers=1,
                   block_s=8.0, overlap_s=2.0)
    record = like_long.recorded(rec, y, SR, 8.0, 2.0)
    other = dataclasses.replace(cleantake.LikeParams(), similarity=0.9)
    res = clean_file(path, tmp_path / "b.wav", cleaner=cleantake.Cleaner("none", like_params=other),
                     like=[spans[0]], workers=1, block_s=8.0, overlap_s=2.0)
    point = {k: getattr(other, k) for k in like.GRID}
    got = like.long_events(record, point)
    assert [t for e in got for t in (e.start_s, e.end_s)] == pytest.approx(
        [t for e in res.events for t in (e.start_s, e.end_s)], abs=1e-6)
    default = like.long_events(record, {k: getattr(cleantake.LikeParams(), k) for k in like.GRID})
    assert [(e.start_s, e.end_s) for e in got] != [(e.start_s, e.end_s) for e in default]  # another decision
    assert like.long_events(record, dict(point, prototype="mean")) is None  # scores not recorded
