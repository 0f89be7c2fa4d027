"""The command line as one whole: options that mean the same in every subcommand, ``inspect``,
and what a new user hit in the first hour (issue 18), each with the case that showed it."""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import cleantake
from cleantake import cli
from cleantake.atomic import ABANDONED_AFTER_S, STALE_AFTER_S, StaleTempWarning, stale_temp_files
from cleantake.cli import options
from cleantake.progress import Progress
from cleantake.errors import AudioWriteError, MissingDependencyError
from cleantake.files import clean_file, locate_file, preflight
from cleantake.io import AtomicAudioWriter, probe, read_channel_mask
from cleantake.labels import read_labels
from cleantake.locate import Event
from cleantake.pipeline import CleanResult
from conftest import files_in, sha, two_tones

SR = 16000


def run(argv, capsys) -> tuple[int, str, str]:
    """Run the CLI as the console script does; argparse's own errors count as their exit code."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


class Remover:
    """Stand-in cleaner: removes every sample with ``|x| > 0.5`` (fast, exact, local); its
    candidates for review are :attr:`candidates` (none unless a test sets them)."""

    candidates: list = []

    def __init__(self, interference="any", **kw):
        self.interference = interference
        self.calls = []

    def clean(self, audio, sr, *, progress=None, events=None, keep=None):
        self.calls.append({"n": audio.shape[0], "events": events, "keep": keep})
        x = np.asarray(audio, dtype=np.float64)
        hot = np.abs(x.reshape(x.shape[0], -1)).max(axis=1) > 0.5
        removed = np.where(hot.reshape((-1,) + (1,) * (x.ndim - 1)), x, 0.0)
        idx = np.flatnonzero(hot)
        ev = [Event(idx[0] / sr, (idx[-1] + 1) / sr, "burst", 0.9)] if idx.size else []
        if progress:
            progress(1.0)
        return CleanResult(x - removed, removed, ev, sr, {"seconds": {}}, list(self.candidates))

    def locate(self, audio, sr, *, progress=None, keep=None, return_candidates=False):
        self.calls.append({"n": audio.shape[0], "keep": keep})
        res = self.clean(audio, sr, progress=progress)
        return (res.events, res.candidates) if return_candidates else res.events


@pytest.fixture
def take(tmp_path) -> Path:
    x = two_tones(2.0, SR)
    x[SR: SR + 400] = 0.8
    p = tmp_path / "take.wav"
    sf.write(p, x, SR, subtype="PCM_16")
    return p


@pytest.fixture
def fake(monkeypatch):
    """The CLI's cleaner replaced by :class:`Remover`; returns the instances made."""
    made = []

    def make(*a, **k):
        made.append(Remover(*a, **k))
        return made[-1]

    monkeypatch.setattr(options, "Cleaner", make)
    return made


def _must_not_clean(monkeypatch):
    def boom(self, *a, **k):
        raise AssertionError("the recording was processed before the options were checked")

    monkeypatch.setattr(Remover, "clean", boom)
    monkeypatch.setattr(cleantake.Cleaner, "clean", boom)


# ------------------------------------------------------------------- one command line


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_option_of_every_subcommand_has_help():
    for name, p in _subparsers(cli.build_parser()).items():
        for a in p._actions:
            if not isinstance(a, argparse._HelpAction):
                assert a.help, f"cleantake {name} {'/'.join(a.option_strings) or a.dest} has no help"


def test_shared_options_mean_the_same_everywhere():
    subs = _subparsers(cli.build_parser())
    for name in ("clean", "batch"):
        p = subs[name]
        for flag in ("-y", "--overwrite", "--yes"):  # both spellings, one meaning
            assert getattr(p.parse_args(_minimal(name) + [flag]), "overwrite") is True
        assert p.parse_args(_minimal(name)).jobs is None
        with pytest.raises(SystemExit):
            p.parse_args(_minimal(name) + ["-j", "0"])
        with pytest.raises(SystemExit):
            p.parse_args(_minimal(name) + ["-j", "257"])
        helps = {a.dest: a.help for a in p._actions}
        assert "at most 4" in helps["jobs"] and "1 to 256" in helps["jobs"]
    for name in ("clean", "batch", "inspect"):
        a = next(a for a in subs[name]._actions if a.dest == "interference")
        assert a.option_strings == ["-i", "--interference"] and a.default == "any"


def _minimal(name):
    return {"clean": ["in.wav", "-o", "out.wav"], "batch": ["in", "-o", "out"]}[name]


def test_jobs_refused_alike_by_clean_and_batch(tmp_path, take, capsys):
    errs = []
    for argv in (["clean", take, "-o", tmp_path / "o.wav", "-j", "0"], ["batch", tmp_path, "-o", tmp_path / "o", "-j", "0"]):
        code, _, err = run(argv, capsys)
        assert code == 2
        errs.append(err.strip().splitlines()[-1].split("error: ")[-1])
    assert errs[0] == errs[1] and "1 to 256" in errs[0]


def test_every_help_page_renders():
    parser = cli.build_parser()
    assert "clean" in parser.format_help()
    for name, p in _subparsers(parser).items():
        assert name in p.format_help()  # a stray % in a help text would raise here


def test_modules_import_in_one_direction():
    """No import cycles: a module below never imports one above (checked on the sources)."""
    order = ["errors", "atomic", "optional", "threads", "progress", "spectral", "nmf", "kam", "masking",
             "settings", "dictionaries", "analysis", "detector", "repair", "locate", "labels", "like",
             "baselines", "io", "streaming", "pipeline", "report", "files", "corpus", "scores", "peers", "evaluate",
             "batch", "cli"]
    src = Path(cleantake.__file__).parent
    modules = {p.stem for p in src.glob("*.py")} | {p.parent.name for p in src.glob("*/__init__.py")}
    assert modules - {"__init__", "__main__"} <= set(order), f"not placed: {sorted(modules - set(order))}"
    for i, name in enumerate(order):
        path = src / f"{name}.py" if (src / f"{name}.py").exists() else src / name / "__init__.py"
        paths = [path] if path.name != "__init__.py" else sorted(path.parent.glob("*.py"))
        text = "\n".join(p.read_text() for p in paths)
        imported = set(re.findall(r"^\s*from \.+(\w+) import", text, re.M))
        above = imported & set(order[i + 1:])
        assert not above, f"{name} imports {sorted(above)}, which are above it"


# ------------------------------------------------------------------- inspect


def test_clean_says_when_the_output_is_the_input_file_and_when_its_sample_format_changes(tmp_path, fake, capsys):
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, 0.1 * two_tones(2.0, SR), SR, subtype="FLOAT")
    code, out, _ = run(["clean", quiet, "-o", tmp_path / "o.wav"], capsys)
    assert code == 0 and "0 interference events removed" in out and "(a copy of the input file)" in out
    assert (tmp_path / "o.wav").read_bytes() == quiet.read_bytes() and "sample format" not in out
    code, out, _ = run(["clean", quiet, "-o", tmp_path / "o.flac"], capsys)
    assert code == 0 and "copy" not in out
    assert "sample format FLOAT -> PCM_24 (the closest a .flac file holds; choose with --subtype)" in out
    assert sf.info(str(tmp_path / "o.flac")).subtype == "PCM_24"
    code, out, _ = run(["clean", quiet, "-o", tmp_path / "o16.wav", "--subtype", "PCM_16"], capsys)
    assert code == 0 and "sample format FLOAT -> PCM_16\n" in out


def test_inspect_prints_table_and_writes_labels_and_report(tmp_path, take, fake, capsys):
    pytest.importorskip("matplotlib")
    code, out, err = run(["inspect", take, "-i", "cough", "--labels", tmp_path / "ev.txt",
                          "--report", tmp_path / "rep", "-q"], capsys)
    assert code == 0, err
    assert fake[0].interference == "cough" and fake[0].calls[0]["n"] == 2 * SR
    lines = out.splitlines()
    assert lines[0].split() == ["#", "start", "s", "end", "s", "dur", "s", "at", "class", "conf"]
    assert "1 event in take.wav" in out
    assert [(round(e.start_s, 3), e.label) for e in read_labels(tmp_path / "ev.txt")] == [(1.0, "burst")]
    assert (tmp_path / "rep" / "take.html").is_file() and f"report: {tmp_path / 'rep' / 'take.html'}" in out
    assert sorted(p.name for p in tmp_path.glob("*.wav")) == ["take.wav"]  # no audio written


def test_candidates_go_to_their_own_label_file_never_to_the_events(tmp_path, take, fake, capsys, monkeypatch):
    cand = Event(0.25, 0.4, "unknown", 0.31)
    monkeypatch.setattr(Remover, "candidates", [cand])
    code, out, err = run(["inspect", take, "--labels", tmp_path / "ev.txt", "--candidates", tmp_path / "c.txt"],
                         capsys)
    assert code == 0, err
    assert [(e.start_s, e.end_s, e.confidence) for e in read_labels(tmp_path / "c.txt")] == [(0.25, 0.4, 0.31)]
    assert [e.label for e in read_labels(tmp_path / "ev.txt")] == ["burst"]
    assert f"written to {tmp_path / 'c.txt'}" in out
    assert "1 candidate the detector was less sure of, not repaired (confidence 0.31):" in out
    code, out, err = run(["clean", take, "-o", tmp_path / "o.wav", "--candidates", tmp_path / "c.json"], capsys)
    assert code == 0, err
    assert [e.confidence for e in read_labels(tmp_path / "c.json")] == [0.31]
    monkeypatch.setattr(Remover, "candidates", [cand, Event(0.5, 0.6, "unknown", 0.42)])
    code, out, err = run(["inspect", take], capsys)
    assert code == 0 and "2 candidates the detector was less sure of, not repaired (confidence 0.31-0.42)" in out
    # the same file twice, or an unknown extension: refused before any work
    code, _, err = run(["clean", take, "-o", tmp_path / "o2.wav", "--labels", tmp_path / "x.txt",
                        "--candidates", tmp_path / "x.txt"], capsys)
    assert code == 2 and "different files" in err and not (tmp_path / "o2.wav").exists()
    code, _, err = run(["inspect", take, "--candidates", tmp_path / "c.doc"], capsys)
    assert code == 2 and ".txt" in err


def test_inspect_refuses_bad_label_extension_before_reading(tmp_path, capsys):
    code, _, err = run(["inspect", tmp_path / "missing.wav", "--labels", tmp_path / "ev.doc"], capsys)
    assert code == 2 and re.search(r"\.csv, \.json, \.labels, \.txt", err), err


def test_inspect_keeps_existing_labels_without_overwrite(tmp_path, take, fake, capsys):
    (tmp_path / "ev.txt").write_text("mine")
    code, _, err = run(["inspect", take, "--labels", tmp_path / "ev.txt"], capsys)
    assert code == 2 and "already exists" in err and (tmp_path / "ev.txt").read_text() == "mine"
    code, _, err = run(["inspect", take, "--labels", tmp_path / "ev.txt", "-y"], capsys)
    assert code == 0, err
    assert (tmp_path / "ev.txt").read_text() != "mine"


@pytest.mark.slow
def test_inspect_end_to_end_with_the_real_locator(tmp_path, capsys):
    """Real read_audio + Cleaner.locate: a loud noise burst in a tone is listed, labelled and reported."""
    pytest.importorskip("matplotlib")
    sr = 44100
    t = np.arange(4 * sr) / sr
    x = (0.2 * np.sin(2 * np.pi * 330 * t))[:, None]
    x[2 * sr: 2 * sr + 4000, 0] += np.random.default_rng(0).normal(0, 0.3, 4000)
    wav = tmp_path / "burst.wav"
    sf.write(wav, np.clip(x, -1, 1), sr, subtype="PCM_24")
    code, out, err = run(["inspect", wav, "--labels", tmp_path / "ev.csv", "--report", tmp_path / "rep"], capsys)
    assert code == 0, err
    labels = read_labels(tmp_path / "ev.csv")
    n = len(labels)
    assert f"{n} event{'s' if n != 1 else ''} in burst.wav" in out
    assert any(e.start_s <= 2.09 and e.end_s >= 2.0 for e in labels), labels
    text = (tmp_path / "rep" / "burst.html").read_text()
    assert len(re.findall(r'<tr id="row-', text)) == n
    assert sorted(p.name for p in tmp_path.iterdir()) == ["burst.wav", "ev.csv", "rep"]


# ------------------------------------------------------------------- spans in blocks


def test_given_events_and_kept_spans_reach_each_block_in_block_time(tmp_path):
    x = two_tones(25.0, SR, 1)
    p = tmp_path / "long.wav"
    sf.write(p, x, SR, subtype="PCM_16")
    c = Remover()
    spans = [(3.0, 4.0), (9.0, 13.0, 0.5), Event(20.0, 21.0, "door", 0.7, 0.25)]
    clean_file(p, tmp_path / "o.wav", cleaner=c, events=spans, keep=[(0.5, 1.0)], block_s=10.0,
               overlap_s=2.0, workers=1)
    assert len(c.calls) == 3  # blocks start at 0, 8 and 15 s (the last one extended to a full block)
    starts = [0.0, 8.0, 15.0]
    for start, call in zip(starts, c.calls):
        end = start + call["n"] / SR
        want = [(max(a, start) - start, min(b, end) - start) for a, b, *_ in
                [(s.start_s, s.end_s) if isinstance(s, Event) else s for s in spans] if a < end and b > start]
        got = [(e.start_s, e.end_s) if isinstance(e, Event) else e[:2] for e in call["events"]]
        assert np.allclose(got, want) and len(got) == len(want)
        for e in call["events"]:  # the kind given is kept: a strength stays, an Event stays an Event
            assert isinstance(e, Event) or len(e) in (2, 3)
    assert np.allclose(c.calls[1]["events"][0], (1.0, 5.0, 0.5))
    assert c.calls[2]["events"][-1] == Event(5.0, 6.0, "door", 0.7, 0.25)  # its strength kept
    assert c.calls[0]["keep"] == [(0.5, 1.0)] and c.calls[1]["keep"] == c.calls[2]["keep"] == []


def test_no_spans_means_nothing_passed(tmp_path, take):
    c = Remover()
    clean_file(take, tmp_path / "o.wav", cleaner=c)
    assert c.calls[0]["events"] is None and c.calls[0]["keep"] is None


def test_real_cleaner_takes_spans_through_clean_file(tmp_path, take):
    import inspect

    if "events" not in inspect.signature(cleantake.Cleaner.clean).parameters:
        pytest.skip("Cleaner.clean has no events= yet (the method's branch adds it)")
    clean_file(take, tmp_path / "o.wav", cleaner=cleantake.Cleaner("any"), events=[(0.9, 1.2)])
    x, _ = sf.read(take, always_2d=True)
    y, _ = sf.read(tmp_path / "o.wav", always_2d=True)
    changed = np.flatnonzero(np.any(x != y, axis=1)) / SR
    assert changed.size and changed.min() > 0.7 and changed.max() < 1.4  # only around the span given


# ------------------------------------------------------------------- issue 18, 1: MP3 in


@pytest.mark.parametrize("ext,container", [(".wav", "WAV"), (".flac", "FLAC"), (".aiff", "AIFF")])
def test_mp3_in_lossless_out_is_pcm16(tmp_path, fake, capsys, ext, container):
    mp3 = tmp_path / "take.mp3"
    try:
        sf.write(mp3, 0.3 * two_tones(1.0, 44100), 44100, format="MP3")
    except (sf.SoundFileError, RuntimeError, TypeError):
        pytest.skip("this libsndfile cannot write MP3")
    out = tmp_path / f"take{ext}"
    plan = preflight(mp3, out)
    assert plan.output_format == (container, "PCM_16")  # decided before the work
    code, _, err = run(["clean", mp3, "-o", out, "-q"], capsys)
    assert code == 0, err
    info = sf.info(out)
    assert info.subtype == "PCM_16" and info.samplerate == 44100 and info.channels == 2


def test_write_failure_never_names_the_hidden_temp_file(tmp_path):
    out = tmp_path / "take.wav"
    # libsndfile accepts this pair on paper and fails when opening the file
    with pytest.raises(AudioWriteError) as err:
        with AtomicAudioWriter(out, samplerate=44100, channels=2, format="WAV", subtype="MPEG_LAYER_III") as w:
            w.write(np.zeros((10, 2)))
    assert ".part" not in str(err.value) and "take.wav" in str(err.value)
    assert files_in(tmp_path) == []


# ------------------------------------------------------------------- 2: optional parts first


def test_batch_without_dask_refused_before_anything_is_created(tmp_path, take, fake, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    out = tmp_path / "out"
    code, _, err = run(["batch", tmp_path, "-o", out], capsys)
    assert code == 2, err
    assert "pip install 'cleantake[batch]'" in err and "Traceback" not in err
    assert not out.exists()


def test_report_without_matplotlib_refused_before_anything_is_written(tmp_path, take, fake, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    _must_not_clean(monkeypatch)
    code, _, err = run(["clean", take, "-o", tmp_path / "o.wav", "--report", tmp_path / "rep"], capsys)
    assert code == 2 and "pip install 'cleantake[report]'" in err
    assert files_in(tmp_path) == ["take.wav"]
    with pytest.raises(MissingDependencyError):
        locate_file(take, cleaner=Remover(), report_dir=tmp_path / "rep")


# ------------------------------------------------------------------- 3: outputs checked first


@pytest.mark.parametrize("extra,needle", [
    (["--labels", "{d}/out.lab"], ".lab"),
    (["--report", "{d}/take.wav"], "is a file, not a folder"),
    (["--report", "{d}/take.wav/sub"], "is a file, not a folder"),
    (["--removed", "{d}/o.wav"], "different files"),
])
def test_output_options_refused_before_the_input_is_read(tmp_path, take, fake, capsys, monkeypatch, extra, needle):
    _must_not_clean(monkeypatch)
    import cleantake.files

    def no_read(*a, **k):
        raise AssertionError("the input was read before the options were checked")

    monkeypatch.setattr(cleantake.files, "read_audio", no_read)
    before = sha(take)
    code, _, err = run(["clean", take, "-o", tmp_path / "o.wav"] + [a.format(d=tmp_path) for a in extra], capsys)
    assert code == 2 and needle in err, err
    assert files_in(tmp_path) == ["take.wav"] and sha(take) == before


def test_folder_that_is_a_file_is_the_same_error_everywhere(tmp_path, take):
    from cleantake.batch import run_batch
    from cleantake.report import write_index

    pytest.importorskip("matplotlib")
    f = tmp_path / "f"
    f.write_text("x")
    errors = []
    for call in (lambda: clean_file(take, tmp_path / "o.wav", cleaner=Remover(), report_dir=f),
                 lambda: write_index(f, []),
                 lambda: run_batch(tmp_path, f, cleaner=Remover(), progress=False)):
        with pytest.raises(AudioWriteError, match="is a file, not a folder") as e:
            call()
        errors.append(type(e.value))
    assert len(set(errors)) == 1


# ------------------------------------------------------------------- 4: channel layout


def _wavex(path: Path, channels: int, subtype: str, mask: int | None) -> Path:
    x = 0.1 * np.sin(np.outer(np.arange(SR), np.arange(1, channels + 1)) * 0.01)
    sf.write(path, x, SR, format="WAVEX", subtype=subtype)
    if mask is not None:  # set the mask by hand: fmt chunk at 12, mask 20 bytes into its body
        raw = bytearray(path.read_bytes())
        assert raw[12:16] == b"fmt " and raw[20:22] == b"\xfe\xff"
        raw[40:44] = mask.to_bytes(4, "little")
        path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("channels,subtype,mask", [(6, "PCM_16", 0x3F), (6, "PCM_24", 0x60F), (2, "PCM_24", None),
                                                   (4, "PCM_16", 0x33)])
def test_wavex_layout_kept(tmp_path, channels, subtype, mask):
    src = _wavex(tmp_path / "in.wav", channels, subtype, mask)
    want = read_channel_mask(src)
    assert sf.info(src).format == "WAVEX" and want is not None
    out = tmp_path / "out.wav"
    clean_file(src, out, cleaner=Remover(), removed_path=tmp_path / "rem.wav")
    for f in (out, tmp_path / "rem.wav"):
        info = sf.info(f)
        assert (info.format, info.subtype, info.channels) == ("WAVEX", subtype, channels)
        head = f.read_bytes()[:64]
        assert head[20:22] == b"\xfe\xff" and int.from_bytes(head[40:44], "little") == want
    assert probe(out).channel_mask == want


def test_plain_wav_stays_plain(tmp_path, take):
    clean_file(take, tmp_path / "o.wav", cleaner=Remover())
    assert sf.info(tmp_path / "o.wav").format == "WAV" and read_channel_mask(tmp_path / "o.wav") is None


TAGS = {"title": "Take 3 — Ünïcode", "artist": "Quartet", "date": "2026-12-01", "comment": "live, row 4"}


def _tagged(path: Path, subtype: str) -> Path:
    x = two_tones(2.0, SR)
    x[SR: SR + 400] = 0.8
    with sf.SoundFile(path, "w", SR, 2, subtype) as f:  # the fixture written by soundfile itself
        for name, value in TAGS.items():
            setattr(f, name, value)
        f.write(x)
    return path


@pytest.mark.parametrize("src_name, out_name", [("in.flac", "out.flac"), ("in.flac", "out.wav"),
                                                ("in.wav", "out.flac"), ("in.wav", "out.wav")])
def test_text_tags_kept_in_cleaned_and_removed(tmp_path, src_name, out_name):
    src = _tagged(tmp_path / src_name, "PCM_24")
    assert dict(probe(src).tags) == TAGS
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a format that holds them warns of nothing
        clean_file(src, tmp_path / out_name, cleaner=Remover(), removed_path=tmp_path / ("rem_" + out_name))
    for f in (tmp_path / out_name, tmp_path / ("rem_" + out_name)):
        meta = sf.SoundFile(f).copy_metadata()
        assert {k: meta.get(k) for k in TAGS} == TAGS


def test_tags_a_format_cannot_hold_are_named_and_the_audio_is_written(tmp_path):
    src = _tagged(tmp_path / "in.flac", "PCM_16")
    with pytest.warns(cleantake.io.TagsWarning) as rec:
        clean_file(src, tmp_path / "out.w64", cleaner=Remover())
    text = str(rec[0].message)
    assert "out.w64" in text and all(k in text for k in TAGS)
    assert sf.info(tmp_path / "out.w64").frames == sf.info(src).frames


def _riff(path: Path) -> list[tuple[bytes, bytes]]:
    """Top-level chunks of a RIFF or RF64 WAVE file, as (id, payload) (the test's own parser;
    in RF64 the overall and the data sizes are the ds64 chunk's, checked against the file)."""
    b = path.read_bytes()
    assert b[:4] in (b"RIFF", b"RF64") and b[8:12] == b"WAVE"
    rf64 = b[:4] == b"RF64"
    if rf64:
        assert b[4:8] == b"\xff" * 4 and b[12:16] == b"ds64"
        assert int.from_bytes(b[20:28], "little") == len(b) - 8
        data_size = int.from_bytes(b[28:36], "little")
    else:
        assert int.from_bytes(b[4:8], "little") == len(b) - 8
    out, i = [], 12
    while i + 8 <= len(b):
        size = int.from_bytes(b[i + 4:i + 8], "little")
        if rf64 and b[i:i + 4] == b"data" and size == 0xFFFFFFFF:
            size = data_size
        out.append((b[i:i + 4], b[i + 8:i + 8 + size]))
        i += 8 + size + (size & 1)
    assert i == len(b)
    return out


def _chunk(cid: bytes, payload: bytes) -> bytes:
    return cid + len(payload).to_bytes(4, "little") + payload + b"\0" * (len(payload) & 1)


BWF = [(b"bext", b"Take 3, scene 12".ljust(256, b"\0") + b"Recorder".ljust(32, b"\0") + b"\0" * 32
        + b"2026-12-0114:03:22" + (14 * 3600 * 48000).to_bytes(8, "little") + b"\0" * 256 + b"A=PCM,F=48000"),
       (b"iXML", b'<?xml version="1.0"?><BWFXML><SCENE>12</SCENE><TAKE>3</TAKE></BWFXML>')]
CUES = [(b"cue ", (1).to_bytes(4, "little") + (1).to_bytes(4, "little") + (24000).to_bytes(4, "little")
         + b"data" + bytes(8) + (24000).to_bytes(4, "little")),
        (b"LIST", b"adtl" + _chunk(b"labl", (1).to_bytes(4, "little") + b"cough?\0"))]


def _bwf(path: Path) -> Path:
    """A broadcast WAV as a field recorder writes it: bext and iXML before the audio, cues after."""
    x = two_tones(2.0, SR)
    x[SR: SR + 400] = 0.8
    plain = path.with_suffix(".plain.wav")
    sf.write(plain, x, SR, subtype="PCM_24")
    chunks = dict(_riff(plain))
    body = (b"WAVE" + _chunk(b"fmt ", chunks[b"fmt "]) + b"".join(_chunk(c, p) for c, p in BWF)
            + _chunk(b"data", chunks[b"data"]) + b"".join(_chunk(c, p) for c, p in CUES))
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
    return path


def test_broadcast_wav_chunks_kept_in_wav_outputs(tmp_path):
    src = _bwf(tmp_path / "take.wav")
    assert sf.info(src).frames == 2 * SR
    clean_file(src, tmp_path / "out.wav", cleaner=Remover(), removed_path=tmp_path / "rem.wav")
    for f in (tmp_path / "out.wav", tmp_path / "rem.wav"):
        chunks = _riff(f)
        assert [c for c in chunks if c[0] in (b"bext", b"iXML", b"cue ") or c[0] == b"LIST" and c[1][:4] == b"adtl"] \
            == BWF + CUES
        assert sf.info(f).frames == 2 * SR
    np.testing.assert_array_equal(sf.read(tmp_path / "out.wav")[0] + sf.read(tmp_path / "rem.wav")[0],
                                  sf.read(src)[0])


def test_broadcast_wav_chunks_kept_in_rf64_outputs(tmp_path):
    # The path a WAV output past 4 GB takes (RF64, its sizes in ds64), on a small file.
    src = _bwf(tmp_path / "take.wav")
    clean_file(src, tmp_path / "out.rf64", cleaner=Remover(), removed_path=tmp_path / "rem.rf64")
    for f in (tmp_path / "out.rf64", tmp_path / "rem.rf64"):
        chunks = _riff(f)
        assert chunks[0][0] == b"ds64"
        assert [c for c in chunks if c[0] in (b"bext", b"iXML", b"cue ") or c[0] == b"LIST" and c[1][:4] == b"adtl"] \
            == BWF + CUES
        info = sf.info(f)
        assert (info.format, info.subtype, info.frames) == ("RF64", "PCM_24", 2 * SR)
    np.testing.assert_array_equal(sf.read(tmp_path / "out.rf64")[0] + sf.read(tmp_path / "rem.rf64")[0],
                                  sf.read(src)[0])


def test_broadcast_wav_chunks_a_flac_output_cannot_hold_are_named(tmp_path):
    src = _bwf(tmp_path / "take.wav")
    with pytest.warns(cleantake.io.TagsWarning, match=r"broadcast-WAV \(bext\), iXML, cue points, cue labels"):
        clean_file(src, tmp_path / "out.flac", cleaner=Remover())
    assert sf.info(tmp_path / "out.flac").frames == 2 * SR


def test_untagged_input_gives_untagged_output_and_no_warning(tmp_path, take):
    assert probe(take).tags == ()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clean_file(take, tmp_path / "o.w64", cleaner=Remover())


# ------------------------------------------------------------------- 7: progress


class _Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def test_progress_without_a_terminal_prints_a_line_every_ten_seconds():
    now = [0.0]
    s = _Stream(tty=False)
    p = Progress("take.wav", stream=s, clock=lambda: now[0])
    for t, f in [(1, 0.01), (5, 0.05), (10, 0.1), (15, 0.3), (21, 0.4), (25, 0.5), (31, 0.6), (32, 1.0)]:
        now[0] = t
        p(f)
    p.close()
    lines = s.getvalue().splitlines()
    assert lines == ["cleantake: take.wav: 10% (0:10 elapsed, ~1:30 left)",
                     "cleantake: take.wav: 40% (0:21 elapsed, ~0:31 left)",
                     "cleantake: take.wav: 60% (0:31 elapsed, ~0:21 left)"]


def test_progress_on_a_terminal_shows_the_time_left():
    s = _Stream(tty=True)
    p = Progress("take.wav", stream=s)
    for f in (0.1, 0.2, 0.3):
        time.sleep(0.15)  # tqdm redraws at most every 0.1 s
        p(f)
    text = s.getvalue()
    p.close()
    assert "take.wav" in text and "left" in text and re.search(r"\d\d:\d\d left", text), text


def test_quiet_progress_prints_nothing():
    s = _Stream(tty=False)
    now = [0.0]
    p = Progress("x", quiet=True, stream=s, clock=lambda: now[0])
    now[0] = 100
    p(0.5)
    assert s.getvalue() == ""


# ------------------------------------------------------------------- 8: stale temporary files


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temp_files_of_a_killed_run_are_removed_and_reported(tmp_path, take):
    out = tmp_path / "o.wav"
    old = time.time() - 2 * STALE_AFTER_S
    dead, alive = _dead_pid(), os.getpid()
    stale = tmp_path / f".o.wav.cleantake-{dead}-abcd1234.part"
    running = tmp_path / f".o.wav.cleantake-{alive}-abcd1234.part"     # a live writer's
    fresh = tmp_path / f".o.wav.cleantake-{dead}-fresh123.part"        # touched recently
    abandoned = tmp_path / f".o.wav.cleantake-{alive}-zzzz9999.part"   # untouched for a day
    other = tmp_path / ".o.wav.someone-else.part"                      # not ours
    for f in (stale, running, fresh, abandoned, other):
        f.write_bytes(b"x" * 1000)
    for f in (stale, running, other):
        os.utime(f, (old, old))
    os.utime(abandoned, (time.time() - ABANDONED_AFTER_S - 60,) * 2)
    assert stale_temp_files(out) == sorted([stale, abandoned])
    with pytest.warns(StaleTempWarning, match="killed") as caught:
        clean_file(take, out, cleaner=Remover())
    text = " ".join(str(w.message) for w in caught)
    assert "removed 2 temporary file(s)" in text and stale.name in text and abandoned.name in text
    assert files_in(tmp_path) == sorted([".o.wav.someone-else.part", fresh.name, running.name, "o.wav", "take.wav"])


@pytest.mark.slow
def test_stale_temp_files_are_reported_by_the_command_line(tmp_path, take):
    # In a real process: pytest would otherwise record the warning before the CLI prints it.
    f = tmp_path / f".o.wav.cleantake-{_dead_pid()}-abcd1234.part"
    f.write_bytes(b"")
    os.utime(f, (time.time() - 2 * STALE_AFTER_S,) * 2)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    r = subprocess.run([sys.executable, "-m", "cleantake", "clean", str(take), "-o", str(tmp_path / "o.wav"),
                        "-q", "--method", "kam"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("cleantake: warning: removed 1 temporary file(s)") and f.name in r.stderr
    assert not f.exists()


# ------------------------------------------------------------------- 10: small things


def test_every_extension_io_reads_is_found_by_batch():
    from cleantake import batch
    from cleantake.io import AUDIO_EXTENSIONS

    assert {e.lstrip(".") for e in AUDIO_EXTENSIONS} == set(batch.AUDIO_EXTENSIONS)
    assert {"opus", "au", "aifc", "wave", "oga", "snd"} <= batch.AUDIO_EXTENSIONS


def test_batch_index_wraps_long_error_messages(tmp_path):
    from cleantake.report import write_index

    long = "x" * 2000
    page = write_index(tmp_path, [{"name": "a.wav", "status": "failed", "error": long}]).read_text()
    cell = re.search(r'<td class="l bad">(.*?)</td>', page, re.S).group(1)
    assert long in cell and "overflow-wrap:anywhere" in cell


def test_ci_runs_the_readme_test_command():
    text = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert ".venv/bin/python -m pytest -q -rs" in text


# --------------------------------------------------------------------------------------------
# The user marks the recording: --events and --keep (issue 16)
# --------------------------------------------------------------------------------------------
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "organ_cough.flac"


def _inside(spans, n, sr):
    m = np.zeros(n, bool)
    for s, e in spans:
        m[int(np.floor(s * sr)):int(np.ceil(e * sr))] = True
    return m


def test_clean_events_repairs_exactly_the_spans_of_an_audacity_track(tmp_path, capsys):
    # a label track as Audacity exports it: CRLF, a frequency-range line, a strength in a label
    track = tmp_path / "marks.txt"
    track.write_bytes(b"2.10\t2.75\tcough\r\n\\\t120.5\t4000\r\n7.30\t7.80\tcough strength=0.5\r\n")
    code, out, err = run(["clean", EXAMPLE, "-o", tmp_path / "out.flac", "--events", track, "-q"], capsys)
    assert code == 0, err
    x, sr = sf.read(EXAMPLE)
    y, _ = sf.read(tmp_path / "out.flac")
    inside = _inside([(2.10, 2.75), (7.30, 7.80)], len(x), sr)
    assert np.array_equal(x[~inside], y[~inside])
    weak = _inside([(7.30, 7.80)], len(x), sr)
    assert np.abs(x - y)[inside & ~weak].max() > np.abs(x - y)[weak].max() > 0


@pytest.mark.parametrize("args,match", [
    (["--events", "7.5-9.5"], "after the end of the recording"),
    (["--events", "3-2"], "reversed"),
    (["--events", "1-2", "--events", "1.5-3"], "overlap"),
    (["--events", "1-2", "--method", "nmf"], "proposed method only"),
    (["--like", "2.1-2.7", "--method", "nmf"], r"like= \(--like\) works with the proposed method only"),
    (["--keep", "nonsense"], "START-END"),
])
def test_bad_spans_are_refused_in_seconds_and_nothing_is_written(tmp_path, capsys, args, match):
    code, out, err = run(["clean", EXAMPLE, "-o", tmp_path / "out.flac", *args], capsys)
    assert code == 2
    assert re.search(match, err), err
    assert files_in(tmp_path) == []


def test_keep_leaves_a_located_event_untouched(tmp_path, capsys):
    code, out, err = run(["inspect", EXAMPLE, "--labels", tmp_path / "found.json", "-q"], capsys)
    assert code == 0, err
    found = read_labels(tmp_path / "found.json")
    assert len(found) >= 2  # the example's two coughs
    first = found[0]
    code, out, err = run(["clean", EXAMPLE, "-o", tmp_path / "out.flac", "-q",
                          "--keep", f"{first.start_s:.3f}-{first.end_s:.3f}"], capsys)
    assert code == 0, err
    x, sr = sf.read(EXAMPLE)
    y, _ = sf.read(tmp_path / "out.flac")
    kept = _inside([(first.start_s, first.end_s)], len(x), sr)
    assert np.array_equal(x[kept], y[kept])
    assert not np.array_equal(x[~kept], y[~kept])  # the other cough is still removed
    code, out, err = run(["inspect", EXAMPLE, "--keep", f"{first.start_s:.3f}-{first.end_s:.3f}", "-q"], capsys)
    assert code == 0 and f"{len(found) - 1} event" in out


def test_clean_report_records_the_run_and_the_given_spans(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    code, out, err = run(["clean", EXAMPLE, "-o", tmp_path / "out.flac", "--events", "2.1-2.7",
                          "--strength", "0.5", "--report", tmp_path / "rep"], capsys)
    assert code == 0, err
    report = next((tmp_path / "rep").glob("*.html"))
    assert f"report: {report}" in out  # says where the report went
    run_table = re.search(r'<section id="run">.*?</section>', report.read_text(), flags=re.S).group(0)
    for needle in ("proposed", "<code>any</code>", "0.5 (partial removal)", "out.flac", "the given spans",
                   "mask_power"):
        assert needle in run_table, needle


def test_like_with_none_removes_the_marked_example_and_none_alone_is_refused(tmp_path, capsys):
    code, out, err = run(["clean", EXAMPLE, "-o", tmp_path / "out.flac", "-i", "none", "--like", "2.11-2.73",
                          "--labels", tmp_path / "ev.json", "-q"], capsys)
    assert code == 0, err
    x, sr = sf.read(EXAMPLE)
    y, _ = sf.read(tmp_path / "out.flac")
    found = read_labels(tmp_path / "ev.json")
    assert any(e.start_s <= 2.2 and e.end_s >= 2.6 for e in found)  # the marked cough itself
    # Nothing changes beyond the repair's reach from the events: the longest window it is
    # repaired at (184 ms: what --like finds is repaired as given spans are) and its ramp.
    reach = int((0.184 + 0.035) * sr) + 1
    touched = np.zeros(len(x), bool)
    for e in found:
        touched[max(0, int(e.start_s * sr) - reach):int(e.end_s * sr) + reach] = True
    assert np.array_equal(x[~touched], y[~touched]) and not np.array_equal(x, y)
    code, out, err = run(["clean", EXAMPLE, "-o", tmp_path / "none.flac", "-i", "none"], capsys)
    assert code == 2 and "-i none needs --like or --events" in err
    assert not (tmp_path / "none.flac").exists()


def test_like_examples_too_far_apart_on_a_long_recording_are_refused_before_cleaning(tmp_path, capsys, monkeypatch):
    """On a recording cleaned in blocks the examples are learned from the 120 s around them:
    examples further apart are refused in seconds, exit code 2, nothing written."""
    long = tmp_path / "long.wav"
    sf.write(long, np.zeros((8000 * 250, 1)), 8000, subtype="PCM_16")  # 250 s: more than two 60-s blocks
    _must_not_clean(monkeypatch)
    code, out, err = run(["clean", long, "-o", tmp_path / "out.wav", "--like", "10-11", "--like", "200-201"],
                         capsys)
    assert code == 2 and "within 120 s" in err and "10.000 s to 201.000 s" in err
    assert files_in(tmp_path) == ["long.wav"]


def test_stereo_option_chooses_the_stereo_model(tmp_path, capsys):
    """`--stereo mask` gives both channels one mask; `spatial` takes a burst in the left
    channel from the left only, and so does the default (`auto`: a burst from one place has no
    diffuse part). A bad value is refused with the choices, exit code 2."""
    from test_pipeline import SR, _mixture

    y, x, (t0, t1) = _mixture()
    src = tmp_path / "in.wav"
    sf.write(src, np.stack([y, 0.7 * x], axis=1), SR, subtype="FLOAT")
    span = f"{t0 - 0.02:.3f}-{t1 + 0.02:.3f}"
    changed, outs = {}, {}
    for model in ("spatial", "mask", None):
        out = tmp_path / f"{model}.wav"
        code, _, err = run(["clean", src, "-o", out, "--events", span, "-q"] + (["--stereo", model] if model else []),
                           capsys)
        assert code == 0, err
        outs[model] = sf.read(out)[0]
        changed[model] = np.sum((outs[model][:, 1] - 0.7 * x) ** 2)
    assert changed["spatial"] < 0.05 * changed["mask"] and changed["mask"] > 0
    assert changed[None] < 0.05 * changed["mask"]
    code, _, err = run(["clean", src, "-o", tmp_path / "bad.wav", "--stereo", "wide"], capsys)
    assert code == 2 and "spatial" in err and "mask" in err and not (tmp_path / "bad.wav").exists()


def test_channel_confidence_finds_a_quiet_burst_in_one_channel(tmp_path, capsys):
    """`--channel-confidence 0.7` also locates each channel alone: a quiet burst in the left
    channel only, which the default misses, is found and listed; a value outside 0-1 is
    refused, exit code 2, nothing written."""
    from test_pipeline import SR, _mixture

    y, x, (t0, t1) = _mixture()
    src = tmp_path / "in.wav"
    sf.write(src, np.stack([x + 0.2 * (y - x), x], axis=1), SR, subtype="FLOAT")
    found = {}
    for extra in ([], ["--channel-confidence", "0.7"]):
        labels = tmp_path / f"labels{len(extra)}.txt"
        code, _, err = run(["clean", src, "-o", tmp_path / f"out{len(extra)}.wav", "--labels", labels, "-q"] + extra,
                           capsys)
        assert code == 0, err
        spans = [tuple(map(float, line.split("\t")[:2])) for line in labels.read_text().splitlines() if line]
        found[len(extra)] = any(a < t1 and b > t0 for a, b in spans)
    assert found == {0: False, 2: True}
    code, _, err = run(["clean", src, "-o", tmp_path / "bad.wav", "--channel-confidence", "1.5"], capsys)
    assert code == 2 and "channel-confidence" in err and not (tmp_path / "bad.wav").exists()


def test_resolutions_choose_which_events_are_repaired_at_three_windows(tmp_path, capsys):
    """`--resolutions all` repairs the located events as `Cleaner(located_windows_ms=(92, 184))`
    does, `--resolutions spans` as `Cleaner(located_windows_ms=())`, `--resolutions one` the
    given spans as `Cleaner(span_windows_ms=())` and the located events at one too; the
    default is the library's default; another value is refused, exit code 2, nothing written."""
    from test_pipeline import SR, _mixture

    y, _, (t0, t1) = _mixture()
    src = tmp_path / "in.wav"
    sf.write(src, y, SR, subtype="FLOAT")
    x, _ = sf.read(src)

    def removed(extra):
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}.wav"
        code, _, err = run(["clean", src, "-o", out, "-q", "--clip", "float"] + extra, capsys)
        assert code == 0, err
        return x - sf.read(out)[0]

    span = [f"{t0:.3f}-{t1:.3f}"]
    ref = {
        "all": cleantake.Cleaner("any", located_windows_ms=(92.0, 184.0)).clean(x, SR).removed,
        "default": cleantake.Cleaner("any").clean(x, SR).removed,
        "spans": cleantake.Cleaner("any", located_windows_ms=()).clean(x, SR).removed,
        "one": cleantake.Cleaner("any", span_windows_ms=()).clean(x, SR, events=[(float(f"{t0:.3f}"),
                                                                                   float(f"{t1:.3f}"))]).removed,
        "one_located": cleantake.Cleaner("any", located_windows_ms=()).clean(x, SR).removed,
    }
    got = {"all": removed(["--resolutions", "all"]), "default": removed([]),
           "spans": removed(["--resolutions", "spans"]),
           "one": removed(["--resolutions", "one", "--events", span[0]]),
           "one_located": removed(["--resolutions", "one"])}
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=0, atol=1e-6)
    assert not np.allclose(ref["all"], ref["default"], atol=1e-4)
    assert not np.allclose(ref["default"], ref["spans"], atol=1e-4)
    code, _, err = run(["clean", src, "-o", tmp_path / "bad.wav", "--resolutions", "many"], capsys)
    assert code == 2 and "resolutions" in err and not (tmp_path / "bad.wav").exists()


def test_trim_spans_trims_the_events_spans_and_needs_them(tmp_path, capsys):
    """`--trim-spans` with `--events` is `Cleaner(trim_spans=True)`; without `--events` it is
    refused (exit code 2, nothing written)."""
    from test_pipeline import SR, _mixture

    y, _, (t0, t1) = _mixture()
    src = tmp_path / "in.wav"
    sf.write(src, y, SR, subtype="FLOAT")
    x, _ = sf.read(src)
    span = (round(t0 - 0.5, 3), round(t1 + 0.5, 3))
    out = tmp_path / "out.wav"
    code, _, err = run(["clean", src, "-o", out, "-q", "--clip", "float", "--events", f"{span[0]}-{span[1]}",
                        "--trim-spans"], capsys)
    assert code == 0, err
    want = cleantake.Cleaner("any", trim_spans=True).clean(x, SR, events=[span]).removed
    np.testing.assert_allclose(x - sf.read(out)[0], want, rtol=0, atol=1e-6)
    assert not np.allclose(want, cleantake.Cleaner("any").clean(x, SR, events=[span]).removed, atol=1e-4)
    code, _, err = run(["clean", src, "-o", tmp_path / "bad.wav", "--trim-spans"], capsys)
    assert code == 2 and "--trim-spans" in err and "--events" in err and not (tmp_path / "bad.wav").exists()
    # A single-class preset locates with the stack, not the detector: refused, not ignored.
    code, _, err = run(["clean", src, "-o", tmp_path / "bad.wav", "-i", "cough", "--events",
                        f"{span[0]}-{span[1]}", "--trim-spans"], capsys)
    assert code == 2 and "-i any" in err and not (tmp_path / "bad.wav").exists()


def test_learn_a_dictionary_and_a_like_model_and_use_each_where_it_belongs(tmp_path, capsys):
    """``cleantake learn FILES --name`` writes a dictionary for ``-i``; ``cleantake learn REC
    --like SPAN`` a like model for ``clean/inspect --like-model``, which finds the marked
    sound in another recording; each file refused where the other belongs, and the options
    of one mode refused in the other (exit code 2, nothing written)."""
    from conftest import burst, organ

    b = burst(SR)
    sf.write(tmp_path / "knocks.wav", np.concatenate([b, np.zeros(SR // 4), b]), SR)
    code, out, _ = run(["learn", tmp_path / "knocks.wav", "--name", "knock", "--rank", 4,
                        "-o", tmp_path / "knock.npz"], capsys)
    assert code == 0 and "learned 4 templates of 'knock'" in out
    x1, x2 = organ(8.0, SR, seed=1), 0.6 * organ(10.0, SR, seed=2)
    x1[int(2.0 * SR):int(2.0 * SR) + b.size] += b
    for t in (3.0, 7.5):
        x2[int(t * SR):int(t * SR) + b.size] += 0.6 * b
    sf.write(tmp_path / "take1.wav", x1, SR, subtype="PCM_24")
    sf.write(tmp_path / "take2.wav", x2, SR, subtype="PCM_24")
    code, out, _ = run(["learn", tmp_path / "take1.wav", "--like", "2.0-2.3", "-o", tmp_path / "m.npz"], capsys)
    assert code == 0 and "from take1.wav 2.000-2.300 s" in out and "--like-model" in out
    code, out, _ = run(["clean", tmp_path / "take2.wav", "-o", tmp_path / "c2.wav", "-i", "none",
                        "--like-model", tmp_path / "m.npz", "--labels", tmp_path / "c2.txt"], capsys)
    assert code == 0 and "2 interference events removed" in out
    assert "looked for the example learned from take1.wav 2.000-2.300 s" in out
    found = [(e.start_s, e.end_s) for e in read_labels(tmp_path / "c2.txt")]
    assert len(found) == 2 and found[0][0] < 3.1 < found[0][1] and found[1][0] < 7.6 < found[1][1]
    code, out, _ = run(["inspect", tmp_path / "take2.wav", "-i", "none", "--like-model", tmp_path / "m.npz"],
                       capsys)
    assert code == 0 and "2 events in take2.wav" in out
    # examples from two recordings, looked for together
    code, _, _ = run(["learn", tmp_path / "take2.wav", "--like", "7.5-7.8", "-o", tmp_path / "m2.npz"], capsys)
    assert code == 0
    code, out, _ = run(["inspect", tmp_path / "take1.wav", "-i", "none", "--like-model", tmp_path / "m.npz",
                        "--like-model", tmp_path / "m2.npz"], capsys)
    assert code == 0 and "learned from take1.wav 2.000-2.300 s; take2.wav 7.500-7.800 s" in out
    assert "1 event in take1.wav" in out
    # an event of this recording marked too: looked for together with the model
    code, out, _ = run(["inspect", tmp_path / "take2.wav", "-i", "none", "--like", "3.0-3.3",
                        "--like-model", tmp_path / "m.npz"], capsys)
    assert code == 0 and "2 events in take2.wav" in out
    refusals = [
        (["clean", tmp_path / "take2.wav", "-o", tmp_path / "x.wav", "-i", tmp_path / "m.npz"],
         "a like model .*give it to --like-model"),
        (["clean", tmp_path / "take2.wav", "-o", tmp_path / "x.wav", "--like-model", tmp_path / "knock.npz"],
         "an interference dictionary, not a like model"),
        (["clean", tmp_path / "take2.wav", "-o", tmp_path / "x.wav", "--like-model", tmp_path / "m.npz",
          "--events", "3.0-3.3"], "give one or the other"),
        (["clean", tmp_path / "take2.wav", "-o", tmp_path / "x.wav", "--like-model", tmp_path / "m.npz",
          "--method", "nmf"], r"like_model= \(--like-model\) works with the proposed method only"),
        (["learn", tmp_path / "take1.wav", tmp_path / "take2.wav", "--like", "2.0-2.3", "-o", tmp_path / "x.npz"],
         "exactly one input file"),
        (["learn", tmp_path / "take1.wav", "--like", "2.0-2.3", "--name", "knock", "-o", tmp_path / "x.npz"],
         "--name is for learning a dictionary"),
        (["learn", tmp_path / "take1.wav", "--like", "9.0-9.3", "-o", tmp_path / "x.npz"],
         "like span 1: starts at 9.000 s, at or after the end of the recording"),
        (["learn", tmp_path / "knocks.wav", "-o", tmp_path / "x.npz"], "needs --name"),
        (["learn", tmp_path / "knocks.wav", "--name", "k", "--keep", "0.1-0.2", "-o", tmp_path / "x.npz"],
         "--keep marks music near a --like example"),
        (["learn", tmp_path / "take1.wav", "--like", "2.0-2.3", "-o", tmp_path / "m.npz"], "already exists"),
    ]
    for argv, message in refusals:
        code, _, err = run(argv, capsys)
        assert code == 2 and re.search(message, err), (argv, err)
    assert not (tmp_path / "x.wav").exists() and not (tmp_path / "x.npz").exists()
