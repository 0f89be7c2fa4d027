"""Block processing of long files (``cleantake.files.clean_file`` with short blocks): joins
equal to whole-file processing, bounded memory, never truncated, ``cleaned + removed ==
input`` in the written files."""

import dataclasses
import re
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import cleantake
import cleantake.io
from conftest import burst, organ
from cleantake.errors import ParameterError
from cleantake.locate import Event
from cleantake.pipeline import CleanResult
from cleantake.files import clean_file, locate_file
from cleantake.streaming import join_removed, merge_events

SR = 8000


class LocalCleaner:
    """Stand-in cleaner whose result at a sample depends only on samples within ``reach``:
    it removes every stretch where ``|x| > 0.5`` (bursts), widened by ``reach`` samples.

    For such a cleaner block processing can and must give exactly the whole-file result,
    as long as every event lies inside one block away from its edges. This isolates the
    join machinery from the method's dependence on context.
    """

    reach = 40

    def __init__(self, threshold=0.5):
        self.calls = []
        self.threshold = threshold

    def clean(self, audio, sr, *, progress=None):
        x = np.asarray(audio, dtype=np.float64)
        x2 = x if x.ndim == 2 else x[:, None]
        self.calls.append(x2.shape[0])
        hot = np.abs(x2).max(axis=1) > self.threshold
        # Widen by reach on both sides (a local operation).
        k = np.convolve(hot.astype(float), np.ones(2 * self.reach + 1), mode="same") > 0
        removed = np.where(k[:, None], x2, 0.0)
        d = np.diff(np.concatenate([[0], k.astype(np.int8), [0]]))
        starts, stops = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        events = [Event(round(a / sr, 6), round(b / sr, 6), "burst", 0.9) for a, b in zip(starts, stops)]
        if progress:
            progress(1.0)
        shape = x.shape
        return CleanResult(x - removed.reshape(shape), removed.reshape(shape), events, sr, {"seconds": {}})


def _signal(n, channels=1, bursts=(), seed=0):
    """Quiet noise (|x| < 0.5) with loud bursts ``(start_s, length_s)``, on the 16-bit grid."""
    rng = np.random.default_rng(seed)
    x = 0.1 * np.sin(2 * np.pi * 220 * np.arange(n) / SR)[:, None] + 0.05 * rng.standard_normal((n, channels))
    for t, length in bursts:
        a, b = int(t * SR), int((t + length) * SR)
        x[a:b] = 0.8 * np.sign(rng.standard_normal((b - a, channels))) * rng.uniform(0.7, 1, (b - a, channels))
    return np.round(np.clip(x, -1, 1 - 2**-15) * 32768) / 32768


def _write(tmp_path, x, name="in.wav", subtype="PCM_16"):
    p = tmp_path / name
    sf.write(p, x, SR, subtype=subtype)
    return p


def _clean(input_path, output_path, *, stats=None, **kw):
    """``clean_file`` (blocks as given); returns the events and the FileResult."""
    res = clean_file(input_path, output_path, **kw)
    if stats is not None:
        stats.update(res.stats)
    return res.events, res


# -- joins: exact with a local cleaner ------------------------------------------------------

BLOCK, OVERLAP = 8.0, 2.0  # blocks start every 6 s (the last one is moved to end at the end)


@pytest.mark.parametrize("channels", [1, 2])
def test_local_cleaner_blocks_equal_whole_file(tmp_path, channels):
    bursts = [
        (7.9, 0.3),    # across the end of block 0 (a block boundary)
        (12.95, 0.1),  # on the middle of the second overlap, where the join would be
        (16.0, 0.4),   # inside block 2
        (16.9, 4.0),   # covers the whole last overlap [17.3, 20): the cross-fade path
    ]
    x = _signal(int(25.3 * SR), channels, bursts)  # 25.3 s: not a whole number of blocks
    p = _write(tmp_path, x)
    xin, _ = sf.read(p, always_2d=True)
    whole = LocalCleaner().clean(xin, SR)
    c = LocalCleaner()
    stats = {}
    events, info = _clean(p, tmp_path / "out.wav", cleaner=c, removed_path=tmp_path / "rem.wav",
                                         block_s=BLOCK, overlap_s=OVERLAP, stats=stats)
    assert len(c.calls) == stats["blocks"] >= 4
    assert max(c.calls) == int(BLOCK * SR)  # never more than one block at a time
    assert min(c.calls) == int(BLOCK * SR)  # the short last block is extended to a full one
    assert stats["crossfaded_joins"] == 1
    y, _ = sf.read(tmp_path / "out.wav", always_2d=True)
    r, _ = sf.read(tmp_path / "rem.wav", always_2d=True)
    assert y.shape == xin.shape and round(info.duration_s * SR) == xin.shape[0]
    # Exact away from the cross-faded overlap; there the two blocks agree, so equal up to rounding
    # of the cross-fade arithmetic (far below the 16-bit step of 3e-5).
    np.testing.assert_allclose(y, whole.cleaned, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(y + r, xin)
    got = [t for e in events for t in (e.start_s, e.end_s)]
    assert got == pytest.approx([t for e in whole.events for t in (e.start_s, e.end_s)], abs=1.5 / SR)


def test_join_at_common_zero_nearest_centre():
    ra = np.zeros((100, 1))
    rb = np.zeros((100, 1))
    ra[40:55] = 1.0   # block A removed something just before the centre
    rb[45:70] = 2.0   # block B removed something over the centre
    joined, cut, faded = join_removed(ra, rb)
    assert not faded and cut == 39  # nearest sample to 50 where both are zero
    np.testing.assert_array_equal(joined[:cut], ra[:cut])
    np.testing.assert_array_equal(joined[cut:], rb[cut:])


def test_crossfade_weights_sum_to_one():
    ra = np.ones((64, 2))
    rb = np.ones((64, 2))
    joined, cut, faded = join_removed(ra, rb)
    assert faded and cut == 32
    np.testing.assert_allclose(joined, 1.0, atol=1e-12)
    joined, _, _ = join_removed(ra, 0 * rb + 3.0)
    assert np.all(np.diff(joined[:, 0]) > 0)  # monotone ramp from A to B
    assert joined[0, 0] == pytest.approx(1.0, abs=0.01) and joined[-1, 0] == pytest.approx(3.0, abs=0.01)


def test_events_seen_by_both_blocks_merged_once():
    a = [Event(1.0, 2.0, "cough", 0.5), Event(7.5, 8.0, "door", 0.4)]   # block A ends at 8 s
    b = [Event(6.0, 9.0, "door", 0.8), Event(10.0, 11.0, "drop", 0.7)]  # block B starts at 6 s
    out = merge_events(a, b, join_s=7.0)
    assert out == [Event(1.0, 2.0, "cough", 0.5), Event(6.0, 9.0, "door", 0.8), Event(10.0, 11.0, "drop", 0.7)]
    # An event of B entirely before the join is A's business; an event of A after it is B's.
    assert merge_events([Event(7.2, 7.4, "x", 1)], [Event(6.1, 6.5, "y", 1)], join_s=7.0) == []


# -- never truncated; cleaned + removed == input in the files --------------------------------

@pytest.mark.parametrize("seconds", [3.0, 8.0, 8.0 + 1 / SR, 14.0 - 1 / SR, 20.0 + 7 / SR, 33.3])
@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
def test_length_kept_and_parts_sum_exactly(tmp_path, seconds, subtype):
    x = _signal(int(round(seconds * SR)), 2, [(1.0, 0.2), (seconds - 0.5, 0.3)])
    p = _write(tmp_path, x, subtype=subtype)
    xin, _ = sf.read(p, always_2d=True)
    fracs = []
    events, info = _clean(p, tmp_path / "out.flac", cleaner=LocalCleaner(),
                                        removed_path=tmp_path / "rem.wav", block_s=BLOCK, overlap_s=OVERLAP,
                                        progress=fracs.append)
    y, _ = sf.read(tmp_path / "out.flac", always_2d=True)
    r, _ = sf.read(tmp_path / "rem.wav", always_2d=True)
    assert y.shape == r.shape == xin.shape
    assert sf.info(tmp_path / "out.flac").subtype == subtype
    np.testing.assert_array_equal(y + r, xin)
    assert np.all(np.diff(fracs) >= 0) and fracs[-1] == 1.0 and fracs[0] < 1.0
    assert len(events) == 2


def test_clipping_removed_part_is_what_the_file_lacks(tmp_path):
    # A float input beyond full scale written as PCM_16: the writer clips the cleaned part and
    # the removed part holds the difference, so the two files still sum to the input.
    x = _signal(int(20 * SR), 1)
    x[3 * SR: 3 * SR + 50, 0] = 1.25
    x[15 * SR: 15 * SR + 50, 0] = -1.5
    p = _write(tmp_path, x, subtype="FLOAT")
    xin, _ = sf.read(p, always_2d=True)
    with pytest.warns(cleantake.io.ClippingWarning, match="100 sample"):
        _clean(p, tmp_path / "out.wav", cleaner=LocalCleaner(threshold=2.0),
                             removed_path=tmp_path / "rem.wav", subtype="PCM_16", block_s=BLOCK, overlap_s=OVERLAP)
    y, _ = sf.read(tmp_path / "out.wav", always_2d=True)
    r, _ = sf.read(tmp_path / "rem.wav", always_2d=True)
    assert y.max() == 1 - 2**-15 and y.min() == -1.0
    assert r[3 * SR, 0] == 1.25 - (1 - 2**-15) and np.count_nonzero(r) == 100
    np.testing.assert_array_equal(y + r, xin)


def test_outputs_checked_before_any_work(tmp_path):
    p = _write(tmp_path, _signal(int(20 * SR)))
    (tmp_path / "out.wav").write_bytes(b"keep me")
    c = LocalCleaner()
    with pytest.raises(cleantake.AudioWriteError, match="already exists"):
        _clean(p, tmp_path / "out.wav", cleaner=c, block_s=BLOCK, overlap_s=OVERLAP)
    with pytest.raises(ParameterError, match="valid subtypes"):
        _clean(p, tmp_path / "o2.wav", cleaner=c, subtype="VORBIS", block_s=BLOCK, overlap_s=OVERLAP)
    with pytest.raises(ParameterError, match="overlap"):
        _clean(p, tmp_path / "o3.wav", cleaner=c, block_s=4.0, overlap_s=2.0)
    assert c.calls == [] and (tmp_path / "out.wav").read_bytes() == b"keep me"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["in.wav", "out.wav"]


def test_failure_in_a_late_block_leaves_no_output(tmp_path):
    p = _write(tmp_path, _signal(int(30 * SR)))

    class Failing(LocalCleaner):
        def clean(self, audio, sr, *, progress=None):
            if len(self.calls) == 2:
                raise KeyboardInterrupt
            return super().clean(audio, sr, progress=progress)

    with pytest.raises(KeyboardInterrupt):
        _clean(p, tmp_path / "out.wav", cleaner=Failing(), removed_path=tmp_path / "rem.wav",
                             block_s=BLOCK, overlap_s=OVERLAP)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["in.wav"]


# -- memory bounded independently of the length ----------------------------------------------

def _peak_bytes(tmp_path, seconds, cleaner, block_s, overlap_s, tag, workers=1):
    p = _write(tmp_path, _signal(int(seconds * SR), 2, [(2.0, 0.2)]), name=f"in{tag}.wav")
    tracemalloc.start()
    try:
        _clean(p, tmp_path / f"out{tag}.wav", cleaner=cleaner, removed_path=tmp_path / f"r{tag}.wav",
                             block_s=block_s, overlap_s=overlap_s, workers=workers)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_memory_does_not_grow_with_length(tmp_path):
    # 40 s and 800 s: the whole 800-s input alone (float64, stereo) would be 102 MB, and keeping
    # the whole output would add 92 MB to the long run's peak.
    whole_input = 800 * SR * 2 * 8
    block = BLOCK * SR * 2 * 8
    # With two workers the peak depends on the threads' timing (whether a finished block is
    # written before or after the next one is read; three blocks in flight, one read ahead), and
    # the 40-s file meets fewer orders than the 800-s one: one 40-s run peaked 3.5 blocks below a
    # 400-s one on CI. The short reference is the highest of three runs (the spread of that
    # maximum is under 1.2 blocks over 16 measured pairs); three blocks are allowed over it,
    # which is not a growth with the length.
    for workers, bound in ((1, whole_input / 6), (2, whole_input / 4)):
        short = max(_peak_bytes(tmp_path, 40, LocalCleaner(), BLOCK, OVERLAP, f"a{workers}{k}", workers)
                    for k in range(3))
        long = _peak_bytes(tmp_path, 800, LocalCleaner(), BLOCK, OVERLAP, f"b{workers}", workers)
        assert long < short + 3 * block, (workers, short, long)
        assert long < bound


@pytest.mark.slow
def test_memory_bounded_with_the_real_method(tmp_path):
    c = cleantake.Cleaner("any")
    short = _peak_bytes(tmp_path, 14, c, 6.0, 1.5, "a")  # 3 blocks
    long = _peak_bytes(tmp_path, 32, c, 6.0, 1.5, "b")   # 7 blocks
    assert long < 1.15 * short + 200_000


# -- the real method: joins as good as whole-file processing ---------------------------------

def _sdr(ref, est):
    return 10 * np.log10(np.sum(ref**2) / max(np.sum((ref - est) ** 2), 1e-30))


@pytest.mark.slow
def test_real_method_joins_match_whole_file(tmp_path):
    """Bursts across a block boundary, on the middle of an overlap and inside a block.

    Block processing is not bit-identical to whole-file processing: each block fits its own
    NMF music model and searches its k nearest frames among its own frames (the join itself
    is exact: see the local-cleaner test above). The method is that sensitive to context
    anyway: measured on this signal (default settings of 25 Nov 2026), processing the whole
    file minus its first second changes the output over the common part to an SDR of
    48.9 dB (36.3 dB around the most affected burst), and 8-s blocks give 43.4 dB (32.9 dB
    around the most affected burst), while the whole-file output itself is at 28.0 dB from
    the true music; with the earlier defaults (rank 24, k 12) these were 41.6, 29.6, 36.1,
    23.8 and 28.1 dB. Hence the tolerance, with margin for such changes: every
    burst found both ways, the energy removed around each burst within 10 %, the streamed
    output within 30 dB SDR of the whole-file output (a difference of 0.1 % of its energy)
    and at least 6 dB below the method's own error (a quarter of it).
    """
    sr = 16000
    music = organ(20.5, sr)
    x = music.copy()
    rng = np.random.default_rng(3)
    bursts = [6.5 + 1.4, 12.8, 16.3]  # across the end of block 0, mid second overlap, inside block 2
    for t in bursts:
        n = int(0.3 * sr)
        x[int(t * sr): int(t * sr) + n] += rng.standard_normal(n) * np.exp(-np.arange(n) / (0.06 * sr)) * 0.3
    p = tmp_path / "in.wav"
    sf.write(p, x, sr, subtype="PCM_24")
    xin, _ = sf.read(p)
    c = cleantake.Cleaner("any")
    whole = c.clean(xin, sr)
    events, _ = _clean(p, tmp_path / "out.wav", cleaner=c, removed_path=tmp_path / "rem.wav",
                                     block_s=8.0, overlap_s=2.0, subtype="FLOAT")
    y, _ = sf.read(tmp_path / "out.wav", dtype="float64")
    r, _ = sf.read(tmp_path / "rem.wav", dtype="float64")
    for t in bursts:
        assert any(e.start_s < t + 0.3 and e.end_s > t for e in events), (t, events)
        assert any(e.start_s < t + 0.3 and e.end_s > t for e in whole.events), (t, whole.events)
        a, b = int((t - 0.2) * sr), int((t + 0.5) * sr)
        e_whole, e_stream = np.sum(whole.removed[a:b] ** 2), np.sum(r[a:b] ** 2)
        assert abs(e_stream - e_whole) < 0.1 * e_whole
    method_error = _sdr(music, whole.cleaned)
    join_error = _sdr(whole.cleaned, y)
    assert join_error > max(30.0, method_error + 6), (join_error, method_error)


def _organ_with_bursts(tmp_path, seconds, onsets_s, seed):
    """A stereo 24-bit file at 16 kHz: an organ with 0.3-s noise bursts at ``onsets_s``."""
    sr = 16000
    x = organ(seconds, sr)
    rng = np.random.default_rng(seed)
    for t in onsets_s:
        n = int(0.3 * sr)
        x[int(t * sr): int(t * sr) + n] += rng.standard_normal(n) * np.exp(-np.arange(n) / (0.06 * sr)) * 0.3
    p = tmp_path / "in.wav"
    sf.write(p, np.stack([x, 0.8 * x], axis=1), sr, subtype="PCM_24")
    return p


@pytest.mark.slow
def test_parallel_blocks_give_the_same_output(tmp_path):
    """Blocks cleaned in parallel threads are joined in order: the files are byte-identical to
    one-at-a-time cleaning (the method itself runs with single-threaded BLAS)."""
    p = _organ_with_bursts(tmp_path, 14.0, (3.0, 7.2, 11.5), seed=5)
    c = cleantake.Cleaner("any")
    got = []
    for workers in (1, 3):
        fractions = []
        events, _ = _clean(p, tmp_path / f"out{workers}.wav", cleaner=c,
                                         removed_path=tmp_path / f"rem{workers}.wav", block_s=5.0, overlap_s=1.5,
                                         workers=workers, progress=fractions.append)
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        got.append(([e.to_dict() for e in events], (tmp_path / f"out{workers}.wav").read_bytes(),
                    (tmp_path / f"rem{workers}.wav").read_bytes()))
    assert got[0][0], "the bursts should be found"
    assert got[0] == got[1]


def test_a_slow_block_does_not_keep_a_free_worker_waiting(tmp_path):
    """Blocks are joined in order, but a worker that has finished does not wait for the join:
    with two workers, the third block starts while the first is still being cleaned (here the
    first waits until the third has started), and the files are as one worker writes them."""
    import threading

    class Slow(LocalCleaner):
        def __init__(self, head):
            super().__init__()
            self.head = head  # the recording's first samples: the first block starts with them
            self.started, self.lock = 0, threading.Lock()
            self.third_started = threading.Event()
            self.waited = []

        def clean(self, audio, sr, *, progress=None):
            with self.lock:
                self.started += 1
                if self.started == 3:
                    self.third_started.set()
            if np.array_equal(np.asarray(audio)[:len(self.head)], self.head):
                self.waited.append(self.third_started.wait(timeout=20))
            return super().clean(audio, sr, progress=progress)

    x = _signal(int(30 * SR), 2, bursts=[(3.0, 0.2), (14.0, 0.3), (25.0, 0.2)])
    p = _write(tmp_path, x)
    slow = Slow(x[:800])
    _clean(p, tmp_path / "a.wav", cleaner=slow, removed_path=tmp_path / "ra.wav", block_s=BLOCK, overlap_s=OVERLAP,
           workers=2)
    assert slow.waited == [True]
    _clean(p, tmp_path / "b.wav", cleaner=LocalCleaner(), removed_path=tmp_path / "rb.wav", block_s=BLOCK,
           overlap_s=OVERLAP, workers=1)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert (tmp_path / "ra.wav").read_bytes() == (tmp_path / "rb.wav").read_bytes()


@pytest.mark.parametrize("workers", [0, -1, 1.5, "2"])
def test_bad_worker_count_refused(tmp_path, workers):
    p = _write(tmp_path, _signal(int(20 * SR)))
    with pytest.raises(ParameterError, match="workers"):
        _clean(p, tmp_path / "out.wav", cleaner=LocalCleaner(), block_s=BLOCK, overlap_s=OVERLAP,
                             workers=workers)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["in.wav"]


# -- reports of long files: drawn from the written files, read back piece by piece ----------

@pytest.mark.slow
@pytest.mark.parametrize("with_removed", [False, True])
def test_long_file_with_report_is_cleaned_in_blocks_and_reported_as_written(tmp_path, monkeypatch, with_removed):
    import re

    import cleantake.files
    from cleantake.report import write_report

    pytest.importorskip("matplotlib")
    x = _signal(25 * SR, channels=2, bursts=[(6.0, 0.3), (17.0, 0.2)])
    p = _write(tmp_path, x, "take.flac", subtype="PCM_16")
    seen = []
    rem = tmp_path / "rem.flac" if with_removed else None
    with monkeypatch.context() as m:
        for module in (cleantake.io, cleantake.files):
            m.setattr(module, "read_audio", _count_whole_reads(cleantake.io.read_audio, 25 * SR))
        # 25 s is "long" for 10-s blocks
        res = clean_file(p, tmp_path / "out.flac", cleaner=LocalCleaner(), removed_path=rem,
                         report_dir=tmp_path / "rep", progress=seen.append, block_s=10.0)
    assert res.stats["blocks"] > 1 and res.report_output is not None and len(res.events) == 2
    assert seen[-1] == 1.0 and all(a <= b for a, b in zip(seen, seen[1:]))
    # The same report drawn from the files held in memory.
    x_in = sf.read(p, always_2d=True)[0]
    out = sf.read(tmp_path / "out.flac", always_2d=True)[0]
    ref = write_report(tmp_path / "ref", x_in, SR, cleaned=out, removed=x_in - out, events=res.events,
                       title=p.name, source_path=p, filename=res.report_output.name)

    def body(path):
        # the Run table records the run (clean_file's outputs, this test's reference has none)
        text = re.sub(r'<section id="run">.*?</section>', "", path.read_text(), flags=re.S)
        return re.sub(r"on \d{4}-\d\d-\d\d \d\d:\d\d UTC", "", text)

    assert body(res.report_output) == body(ref)


def _count_whole_reads(read_audio, n):
    def read(path, *, start_s=None, stop_s=None):
        if start_s is None and stop_s is None:
            raise AssertionError(f"{path} was read whole")
        return read_audio(path, start_s=start_s, stop_s=stop_s)
    return read


def test_long_file_is_located_in_blocks_as_the_whole_file(tmp_path, monkeypatch):
    import cleantake.files
    from cleantake.labels import read_labels

    pytest.importorskip("matplotlib")

    class Locator(LocalCleaner):
        """Events: the loud bursts; candidates for review: the quieter ones (|x| > 0.42)."""

        def locate(self, audio, sr, *, progress=None, return_candidates=False):
            events = self.clean(audio, sr, progress=progress).events
            if not return_candidates:
                return events
            quiet = LocalCleaner(threshold=0.42).clean(audio, sr).events
            return events, [dataclasses.replace(e, confidence=0.3) for e in quiet
                            if not any(e.start_s < f.end_s and f.start_s < e.end_s for f in events)]

    # Bursts inside blocks, across a block edge and in the middle of an overlap.
    x = _signal(25 * SR, channels=1, bursts=[(3.0, 0.2), (9.9, 0.3), (13.0, 0.1), (21.0, 0.4)])
    # Quieter bursts (candidates), one of them across a block edge (blocks of 10 s, 2 s overlap).
    for t, length in ((6.0, 0.2), (16.0, 0.3), (17.9, 0.2)):
        a, b = int(t * SR), int((t + length) * SR)
        x[a:b] = 0.46 * np.sign(x[a:b] + 1e-9)
    p = _write(tmp_path, x, "long.wav")
    whole, whole_cands = Locator().locate(x, SR, return_candidates=True)
    assert len(whole_cands) == 3
    for module in (cleantake.io, cleantake.files):
        monkeypatch.setattr(module, "read_audio", _count_whole_reads(cleantake.io.read_audio, 25 * SR))
    locator = Locator()
    res = locate_file(p, cleaner=locator, labels_path=tmp_path / "ev.json", report_dir=tmp_path / "rep",
                      block_s=10.0)
    assert max(locator.calls) == 10 * SR
    got = read_labels(tmp_path / "ev.json")
    assert [t for e in got for t in (e.start_s, e.end_s)] == pytest.approx(
        [t for e in whole for t in (e.start_s, e.end_s)], abs=1e-5)
    assert len(whole) == 4 and len(res.events) == 4
    # The candidates are joined across blocks as the events are, and stay out of the labels.
    assert [t for e in res.candidates for t in (e.start_s, e.end_s)] == pytest.approx(
        [t for e in whole_cands for t in (e.start_s, e.end_s)], abs=1e-5)
    assert len(got) == 4
    assert res.report_output == tmp_path / "rep" / "long.html" and res.report_output.is_file()
    page = res.report_output.read_text()
    assert len(re.findall(r'<tr id="row-c\d+" class="candidate rejected"', page)) == 3


def test_blocks_located_in_parallel_give_what_one_worker_gives(tmp_path):
    """``inspect`` locates the blocks of a long file in threads: the same events and candidates
    as one block at a time, with the real method; progress never goes back and ends at 1."""
    p = _organ_with_bursts(tmp_path, 26.0, (3.0, 9.6, 15.2, 21.5), seed=7)
    c = cleantake.Cleaner("any")
    got = []
    for workers in (1, 3):
        fractions = []
        res = locate_file(p, cleaner=c, block_s=6.0, overlap_s=1.5, workers=workers, progress=fractions.append)
        assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
        got.append(([e.to_dict() for e in res.events], [e.to_dict() for e in res.candidates]))
    assert got[0][0], "the bursts should be found"
    assert got[0] == got[1]
    with pytest.raises(ParameterError, match="worker"):
        locate_file(p, cleaner=c, block_s=6.0, overlap_s=1.5, workers=0)


# -- the API in blocks: Cleaner.clean on a long array is clean_file on the same samples -------

def _mix_with_coughs(corpus, onsets_s=(4.2, 11.5, 17.0)):
    """A 20-s stereo training mix of the corpus with a training cough panned in at each onset."""
    music, sr = sf.read(corpus / "music" / "train_mixes" / "train_mix_001.flac", always_2d=True)
    cough, csr = sf.read(corpus / "interference" / "train" / "cough" / "cough_001.flac", always_2d=True)
    assert csr == sr
    cough = cough.mean(axis=1)
    y = music.copy()
    for i, t in enumerate(onsets_s):
        a = int(t * sr)
        n = min(cough.size, y.shape[0] - a)
        pan = np.array([np.cos(0.3 + 0.4 * i), np.sin(0.3 + 0.4 * i)]) * np.sqrt(2)
        y[a:a + n] += cough[:n, None] * pan * 2 * np.sqrt(np.mean(music**2) / np.mean(cough**2))
    return y.astype(np.float32).astype(np.float64), sr


def test_a_long_array_is_cleaned_by_the_api_as_its_file_is(tmp_path, corpus):
    """``Cleaner.clean`` on an array longer than two blocks cleans it in the blocks the
    command line uses on the same samples in a file: the same events, candidates and cleaned
    samples; ``locate`` finds the same events; ``block_s=None`` is one analysis of the whole."""
    y, sr = _mix_with_coughs(corpus)
    p = tmp_path / "take.wav"
    sf.write(p, y, sr, subtype="FLOAT")
    cleaner = cleantake.Cleaner("any")
    kw = {"block_s": 8.0, "overlap_s": 2.0}
    seen = []
    api = cleaner.clean(y, sr, progress=seen.append, **kw)
    assert api.stats["blocks"] == 3 and "n_frames" not in api.stats
    assert seen[-1] == 1.0 and all(a <= b for a, b in zip(seen, seen[1:]))
    res = clean_file(p, tmp_path / "out.wav", cleaner=cleaner, workers=1, **kw)
    assert res.stats["blocks"] == 3 and len(api.events) >= 2
    assert api.events == res.events and api.candidates == res.candidates
    out, _ = sf.read(tmp_path / "out.wav", always_2d=True, dtype="float32")
    assert np.array_equal(out, api.cleaned.astype(np.float32))
    # Away from the events (beyond the reach of their repair) the samples are the input's.
    away = np.ones(y.shape[0], bool)
    reach = cleaner.settings.reach_s(sr)
    for e in api.events:
        away[max(0, int((e.start_s - reach) * sr)):int((e.end_s + reach) * sr)] = False
    assert np.array_equal(api.cleaned[away], y[away]) and not np.array_equal(api.cleaned, y)
    found, cands = cleaner.locate(y, sr, return_candidates=True, **kw)
    assert found == api.events and cands == api.candidates
    whole = cleaner.clean(y, sr, block_s=None)
    assert "blocks" not in whole.stats and whole.stats["n_frames"] > 0


def test_a_short_array_is_one_analysis_and_bad_blocks_are_refused():
    x = organ(3.0, SR)
    a = cleantake.Cleaner("any").clean(x, SR)
    b = cleantake.Cleaner("any").clean(x, SR, block_s=None)
    assert np.array_equal(a.removed, b.removed) and "blocks" not in a.stats
    for bad in ({"block_s": 4.0, "overlap_s": 2.0}, {"block_s": float("nan")}, {"overlap_s": 0.0}):
        with pytest.raises(ParameterError, match="block_s|overlap_s"):
            cleantake.clean(x, SR, **bad)


def test_the_blocks_of_a_file_are_analysed_whole_whatever_the_block_length(tmp_path):
    """``clean_file`` hands a Cleaner its blocks to analyse whole: a 50-s file with 30-s blocks
    is one block, cleaned as ``Cleaner.clean(block_s=None)`` does, not cut again into the
    API's default blocks."""
    x = organ(50.0, SR, seed=2)
    for t in (7.3, 21.1, 33.6, 44.2):
        b = burst(SR, seed=int(t))
        x[int(t * SR):int(t * SR) + b.size] += b
    x = x.astype(np.float32).astype(np.float64)
    p = tmp_path / "take.wav"
    sf.write(p, x, SR, subtype="FLOAT")
    cleaner = cleantake.Cleaner("any")
    whole = cleaner.clean(x, SR, block_s=None)
    cut = cleaner.clean(x, SR)  # the API's own 20-s blocks
    assert cut.stats["blocks"] > 1 and not np.array_equal(whole.cleaned, cut.cleaned)
    res = clean_file(p, tmp_path / "out.wav", cleaner=cleaner, block_s=30.0)
    out, _ = sf.read(tmp_path / "out.wav", dtype="float32")
    assert res.stats["blocks"] == 1 and res.events == whole.events
    assert np.array_equal(out, whole.cleaned.astype(np.float32))
    assert locate_file(p, cleaner=cleaner, block_s=30.0).events == whole.events


def test_the_join_of_located_events_is_where_clean_would_join():
    from cleantake.streaming import join_like_clean

    sr = 1000
    # Overlap 48-52 s; the later block alone holds an event ending just after the middle:
    # clean cuts after its reach (the earlier block's nothing up to there), so the event is not
    # the later block's, as inspect must then say too.
    ev = [Event(48.2, 50.04, "x", 0.9)]
    j = join_like_clean([], ev, start=48 * sr, n_overlap=4 * sr, sr=sr, reach_s=0.18)
    assert j == pytest.approx(50.04 + 0.18 + 1 / sr, abs=2 / sr)
    assert merge_events([], ev, join_s=j) == []
    # No reach known: the middle; events everywhere: the middle (a cross-fade).
    assert join_like_clean([], ev, start=48 * sr, n_overlap=4 * sr, sr=sr, reach_s=None) == 50.0
    wide = [Event(47.0, 53.0, "x", 0.9)]
    assert join_like_clean(wide, [], start=48 * sr, n_overlap=4 * sr, sr=sr, reach_s=0.18) == 50.0


@pytest.mark.slow
def test_inspect_lists_the_events_clean_keeps_where_a_block_join_falls_on_one(tmp_path):
    """Two corpus mixes spliced 50 s into a file: the splice sounds like an event to the later
    20-s block only, in the middle of its overlap with the earlier one. inspect and clean must
    agree on it (they did not until session 59: inspect joined at the middle, clean where
    neither block removed anything)."""
    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "music" / "mixes"
    if not corpus.is_dir():
        pytest.skip("no corpus")
    parts = [sf.read(corpus / f"mix_00{i}.flac") for i in (2, 3, 4)]
    sr = parts[0][1]
    x = np.concatenate([parts[0][0][10 * sr:], parts[1][0], parts[2][0]])  # splices at 20 s and 50 s
    p = tmp_path / "in.wav"
    sf.write(p, x, sr, subtype="PCM_16")
    c = cleantake.Cleaner("any")
    located = locate_file(p, cleaner=c, block_s=20.0, overlap_s=4.0)
    cleaned = clean_file(p, tmp_path / "out.wav", cleaner=c, block_s=20.0, overlap_s=4.0)
    assert [(e.start_s, e.end_s) for e in located.events] == [(e.start_s, e.end_s) for e in cleaned.events]
    assert [(e.start_s, e.end_s) for e in located.candidates] == [(e.start_s, e.end_s) for e in cleaned.candidates]
