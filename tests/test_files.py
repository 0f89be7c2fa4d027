"""From a file to a file (``cleantake.files``) and the helpers every writer shares
(``cleantake.atomic``, ``cleantake.optional``, ``cleantake.threads``)."""

from __future__ import annotations

import os
import re
import sys

import numpy as np
import pytest
import soundfile as sf

import cleantake
from cleantake.atomic import atomic_file, atomic_write, commit, discard, discard_unfinished, make_temp, prepare_folder
from cleantake.errors import AudioWriteError, DictionaryError, MissingDependencyError, ParameterError
from cleantake.files import clean_file, locate_file, preflight
from cleantake.io import on_output_grid
from cleantake.optional import require
from cleantake.threads import MAX_JOBS, check_jobs, default_jobs, usable_cpus
from conftest import burst, files_in, organ

SR = 16000


@pytest.fixture
def mixture(tmp_path):
    x = organ(6.0, SR)
    b = burst(SR)
    x[int(3.1 * SR): int(3.1 * SR) + b.size] += b
    y = np.stack([x, 0.7 * x], axis=1)
    p = tmp_path / "mix.wav"
    sf.write(p, y, SR, subtype="PCM_24")
    return p


def test_short_file_is_one_block_and_equals_the_method_in_memory(tmp_path, mixture):
    c = cleantake.Cleaner("any")
    x, _ = sf.read(mixture, always_2d=True)
    want = c.clean(x, SR)
    res = clean_file(mixture, tmp_path / "o.wav", cleaner=c, removed_path=tmp_path / "r.wav")
    assert res.stats["blocks"] == 1 and res.stats["crossfaded_joins"] == 0
    y, _ = sf.read(tmp_path / "o.wav", always_2d=True)
    r, _ = sf.read(tmp_path / "r.wav", always_2d=True)
    np.testing.assert_array_equal(y, on_output_grid(want.cleaned, "PCM_24"))
    np.testing.assert_array_equal(y + r, x)  # exact on the 24-bit grid
    got = [t for e in res.events for t in (e.start_s, e.end_s)]
    assert got == pytest.approx([t for e in want.events for t in (e.start_s, e.end_s)], abs=1e-6)
    assert res.duration_s == pytest.approx(6.0) and (res.sr, res.channels) == (SR, 2)


def test_locate_file_finds_what_clean_file_removes(tmp_path, mixture):
    c = cleantake.Cleaner("any")
    seen = []
    located = locate_file(mixture, cleaner=c, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and any(0 < f < 1 for f in seen)
    cleaned = clean_file(mixture, tmp_path / "o.wav", cleaner=c)
    assert located.events and located.output is None
    assert [(e.start_s, e.end_s) for e in located.events] == [(e.start_s, e.end_s) for e in cleaned.events]
    assert any(e.start_s < 3.4 and e.end_s > 3.1 for e in located.events)


def test_preflight_checks_everything_before_reading(tmp_path, mixture):
    plan = preflight(mixture, tmp_path / "o.flac", removed_path=tmp_path / "r.wav", workers=2)
    assert plan.output_format == ("FLAC", "PCM_24") and plan.removed_format == ("WAV", "PCM_24")
    assert plan.info.frames == 6 * SR and plan.workers == 2
    with pytest.raises(ParameterError, match="workers"):
        preflight(mixture, tmp_path / "o.wav", workers=0)
    with pytest.raises(ParameterError, match="block_s"):
        clean_file(mixture, tmp_path / "o.wav", cleaner=None, block_s=4.0, overlap_s=2.0)
    assert files_in(tmp_path) == ["mix.wav"]


@pytest.mark.parametrize("ext,subtype", [("ogg", "VORBIS"), ("flac", "PCM_16"), ("wav", "FLOAT")])
def test_nothing_removed_gives_the_input_file_itself_and_a_lossy_one_is_not_encoded_again(tmp_path, ext, subtype):
    x = organ(4.0, SR)
    src = tmp_path / f"in.{ext}"
    sf.write(src, np.stack([x, 0.8 * x], axis=1), SR, subtype=subtype)
    res = clean_file(src, tmp_path / f"o.{ext}", cleaner=cleantake.Cleaner("any"), removed_path=tmp_path / "r.wav")
    assert res.events == []
    assert (tmp_path / f"o.{ext}").read_bytes() == src.read_bytes()
    assert not np.any(sf.read(tmp_path / "r.wav")[0])
    # another container holds the same samples, encoded anew
    clean_file(src, tmp_path / "o.aiff", cleaner=cleantake.Cleaner("any"))
    assert sf.info(str(tmp_path / "o.aiff")).format == "AIFF"
    # anything removed: the lossy input is encoded again, and only then
    clean_file(src, tmp_path / f"e.{ext}", cleaner=cleantake.Cleaner("any"), events=[(1.0, 1.5)])
    assert (tmp_path / f"e.{ext}").read_bytes() != src.read_bytes()
    y, _ = sf.read(tmp_path / f"e.{ext}", always_2d=True)
    assert y.shape == (4 * SR, 2)


@pytest.mark.parametrize("block_s", [None, 2.0])
def test_a_lossy_input_decoded_past_full_scale_with_nothing_removed_is_copied_whole(tmp_path, block_s):
    # A square wave near full scale: Vorbis decodes it about 2 dB past full scale.
    t = np.arange(4 * SR) / SR
    x = 0.99 * np.sign(np.sin(2 * np.pi * 220 * t))
    src = tmp_path / "in.ogg"
    sf.write(src, np.stack([x, 0.9 * x], axis=1), SR, subtype="VORBIS")
    assert np.abs(sf.read(src)[0]).max() > 1.1
    c = cleantake.Cleaner("any")
    kw = {} if block_s is None else {"block_s": block_s, "overlap_s": 0.5}
    # --clip error: nothing is clipped in a copy, so nothing is refused
    res = clean_file(src, tmp_path / "o.ogg", cleaner=c, removed_path=tmp_path / "r.wav", clip="error", **kw)
    assert res.events == [] and res.copied
    assert (tmp_path / "o.ogg").read_bytes() == src.read_bytes()
    # the copy keeps every input sample, so the removed part is silence, not the overshoot
    removed, _ = sf.read(tmp_path / "r.wav")
    assert removed.shape == (4 * SR, 2) and not np.any(removed)
    # something removed: the output is encoded anew, and --clip error refuses it whole
    with pytest.raises(AudioWriteError, match="exceeds full scale at 0.0"):
        clean_file(src, tmp_path / "e.ogg", cleaner=c, events=[(3.0, 3.5)], removed_path=tmp_path / "e.wav",
                   clip="error", **kw)
    assert not (tmp_path / "e.ogg").exists() and not (tmp_path / "e.wav").exists()
    assert sorted(files_in(tmp_path)) == ["in.ogg", "o.ogg", "r.wav"]


def test_nothing_removed_keeps_chunks_libsndfile_does_not_read(tmp_path):
    x = organ(3.0, SR)
    plain = tmp_path / "plain.wav"
    sf.write(plain, x, SR, subtype="PCM_16")
    raw = plain.read_bytes()
    extra = b"smpl" + (8).to_bytes(4, "little") + bytes(range(8))
    src = tmp_path / "in.wav"
    src.write_bytes(raw[:4] + (len(raw) - 8 + len(extra)).to_bytes(4, "little") + raw[8:] + extra)
    clean_file(src, tmp_path / "o.wav", cleaner=cleantake.Cleaner("any"))
    assert (tmp_path / "o.wav").read_bytes() == src.read_bytes()


class _Rewrites:
    """A cleaner that, while it cleans, replaces its input file with other audio (another
    program saving over it), then cleans as the real one does."""

    def __init__(self, path, other):
        self.path, self.other, self.real = path, other, cleantake.Cleaner("any")

    def clean(self, audio, sr, **kw):
        sf.write(self.path, self.other, sr, subtype="PCM_16")
        return self.real.clean(audio, sr, **kw)


def test_an_input_changed_while_cleaned_is_not_copied_the_samples_read_are_written(tmp_path):
    x = 0.5 * organ(3.0, SR)
    src = tmp_path / "in.wav"
    sf.write(src, x, SR, subtype="PCM_16")
    want, _ = sf.read(src)
    res = clean_file(src, tmp_path / "o.wav", cleaner=_Rewrites(src, 0.5 * x))
    assert res.events == [] and not res.copied
    np.testing.assert_array_equal(sf.read(tmp_path / "o.wav")[0], want)


# ------------------------------------------------------------------- atomic writes


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    f = tmp_path / "a.json"
    atomic_write(f, "one")
    assert f.read_text() == "one"
    with pytest.raises(RuntimeError):
        with atomic_file(f) as fh:
            fh.write("two, half written")
            raise RuntimeError("crash")
    assert f.read_text() == "one" and files_in(tmp_path) == ["a.json"]
    with pytest.raises(AudioWriteError, match="already exists"):
        atomic_write(f, "three", overwrite=False)
    atomic_write(f, b"\x00\x01")
    assert f.read_bytes() == b"\x00\x01"
    with pytest.raises(DictionaryError, match="cannot write dictionary to"):
        atomic_write(tmp_path / "missing" / "d.npz", b"", error=DictionaryError, what="dictionary")


def test_temp_files_are_hidden_beside_the_output_and_name_their_process(tmp_path):
    t = make_temp(tmp_path / "take.wav")
    assert t.parent == tmp_path
    assert re.fullmatch(rf"\.take\.wav\.cleantake-{os.getpid()}-[a-z0-9_]{{8}}\.part", t.name)
    discard(t)


def test_temp_files_left_by_an_interrupt_are_removed_by_discard_unfinished(tmp_path):
    kept = make_temp(tmp_path / "kept.txt")
    commit(kept, tmp_path / "kept.txt")
    lost = make_temp(tmp_path / "lost.txt")  # as if Ctrl-C landed before the writer's try
    assert discard_unfinished() == [lost]
    assert files_in(tmp_path) == ["kept.txt"] and discard_unfinished() == []


def test_every_writer_uses_the_one_helper(tmp_path):
    """Labels, dictionaries, reports and audio all leave only the final file (same temp naming)."""
    from cleantake.dictionaries import learn_dictionary, save_dictionary
    from cleantake.io import write_audio
    from cleantake.labels import write_labels
    from cleantake.locate import Event

    write_labels(tmp_path / "ev.txt", [Event(0.1, 0.2, "x", 0.5)])
    write_audio(tmp_path / "a.wav", np.zeros((100, 1)), SR)
    d = learn_dictionary([burst(SR)], SR, name="knock", rank=2)
    save_dictionary(d, tmp_path / "d.npz")
    assert files_in(tmp_path) == ["a.wav", "d.npz", "ev.txt"]


def test_prepare_folder_refuses_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(AudioWriteError, match="is a file, not a folder"):
        prepare_folder(tmp_path / "f")
    assert prepare_folder(tmp_path / "new" / "deep").is_dir()


# ------------------------------------------------------------------- optional parts, threads


def test_missing_optional_package_says_which_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'cleantake\[batch\]'"):
        require("distributed", extra="batch")
    assert require("numpy", extra="batch") is np


@pytest.mark.parametrize("bad", [0, -1, MAX_JOBS + 1, 1.5, "2", True, None])
def test_jobs_checked_in_one_place(bad):
    with pytest.raises(ParameterError, match=f"1 to {MAX_JOBS}"):
        check_jobs(bad)


def test_default_jobs_is_the_usable_cpus_at_most_four():
    assert check_jobs(MAX_JOBS) == MAX_JOBS and default_jobs() == min(4, usable_cpus())
