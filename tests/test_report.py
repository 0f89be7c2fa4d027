"""HTML reports: content, size bounds, the batch index, and rendering in Chromium."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import cleantake
from chromium_cdp import Chromium, find_chromium
from cleantake import report as R
from cleantake.errors import AudioWriteError, CleantakeError, ParameterError
from cleantake.locate import Event

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "out" / "test-artifacts"  # /out/ is gitignored

SR = 16000


def synthetic_take(duration_s=12.0, sr=SR, channels=2, onsets=(2.0, 6.5, 10.0), seed=0):
    """Two tones (music) plus decaying noise bursts (interference); returns audio, music, bursts, events."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * sr)) / sr
    music = np.stack([0.2 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)], axis=1)
    bursts = np.zeros_like(music)
    events = []
    labels = ["cough", "door", "creak", "scream", "drop"]
    for k, s in enumerate(onsets):
        a, n = int(s * sr), int(0.35 * sr)
        n = min(n, len(t) - a)
        env = np.exp(-np.arange(n) / (0.08 * sr))
        bursts[a : a + n] += np.clip(rng.normal(0, 0.15, (n, 1)), -0.7, 0.7) * env[:, None]
        events.append(Event(s, s + n / sr, labels[k % len(labels)], round(0.55 + 0.1 * k, 2)))
    return music + bursts, music, bursts, events


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parse(path: Path) -> list[tuple[str, dict]]:
    p = _Collect()
    p.feed(path.read_text(encoding="utf-8"))
    return p.tags


def audio_of(src: str) -> tuple[np.ndarray, int, str]:
    """Samples (n, C), rate and MIME type of an embedded ``data:audio/...;base64,`` excerpt."""
    m = re.match(r"data:(audio/[a-z0-9.+-]+);base64,", src)
    assert m, src[:40]
    raw = base64.b64decode(src[m.end():])
    data, sr = sf.read(io.BytesIO(raw), dtype="float64", always_2d=True)
    return data, sr, m.group(1)


def snr_db(ref: np.ndarray, x: np.ndarray) -> float:
    n = min(len(ref), len(x))
    return 10 * np.log10(np.sum(ref[:n] ** 2) / max(np.sum((x[:n] - ref[:n]) ** 2), 1e-30))


def envelope(x: np.ndarray, frame: int = 320) -> np.ndarray:
    """RMS level of ``x`` (n, C) in frames of ``frame`` samples (20 ms at 16 kHz)."""
    n = len(x) // frame
    return np.sqrt(np.mean(x[: n * frame].reshape(n, frame, -1) ** 2, axis=(1, 2)))


@pytest.fixture
def lossless_excerpts(monkeypatch):
    """Excerpts as 16-bit FLAC (as when libsndfile has no MP3 encoder), so samples can be compared exactly."""
    real = sf.available_formats
    monkeypatch.setattr(sf, "available_formats", lambda: {k: v for k, v in real().items() if k != "MP3"})


def png_size(src: str) -> tuple[int, int]:
    assert src.startswith("data:image/png;base64,")
    raw = base64.b64decode(src.split(",", 1)[1])
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    audio, music, bursts, events = synthetic_take()
    out = tmp_path_factory.mktemp("rep")
    path = R.write_report(out, audio, SR, cleaned=music, removed=bursts, events=events,
                          title="take <1> & co", source_path="/rec/take1.wav")
    return path, audio, music, bursts, events


# ----------------------------------------------------------------------------- content


def test_report_is_one_self_contained_file(full_report):
    path, *_ = full_report
    assert path.name == "take1.html" and path.is_file()
    assert [p.name for p in path.parent.iterdir()] == ["take1.html"]  # no side files, no temp left
    tags = parse(path)
    refs = [a.get("src") or a.get("href") for _, a in tags if a.get("src") or a.get("href")]
    assert refs, "no embedded media found"
    # everything embedded or an in-page anchor: opens with no network and no other files
    assert all(r.startswith(("data:", "#")) for r in refs), [r[:40] for r in refs if not r.startswith(("data:", "#"))]
    text = path.read_text()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", text, flags=re.S)
    assert len(scripts) == 1 and scripts[0][0] == ""  # inline only
    assert not re.search(r"https?:|fetch\(|XMLHttpRequest|import\(", scripts[0][1])  # nothing from a network


def test_title_and_labels_are_escaped(full_report):
    path, *_ = full_report
    text = path.read_text()
    assert "take &lt;1&gt; &amp; co" in text and "take <1>" not in text


def test_event_table_lists_every_event_with_times(full_report):
    path, _, _, _, events = full_report
    text = path.read_text()
    rows = re.findall(r'<tr id="row-(\d+)"[^>]*>(.*?)</tr>', text)
    assert [int(i) for i, _ in rows] == list(range(1, len(events) + 1))
    for (_, row), ev in zip(rows, events):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)  # accept box first, then # start end ...
        assert float(cells[2]) == pytest.approx(ev.start_s, abs=5e-4)
        assert float(cells[3]) == pytest.approx(ev.end_s, abs=5e-4)
        assert cells[6] == ev.label
        assert cells[7].startswith(f"{ev.confidence:.2f}")


def test_excerpts_are_the_real_audio_around_each_event(full_report):
    """MP3 excerpts: the event with its context, stereo kept, close to the real audio of each version."""
    path, audio, music, bursts, events = full_report
    audios = [a["src"] for t, a in parse(path) if t == "audio"]
    assert len(audios) == 3 * len(events)  # input, cleaned, removed for every event
    for k, ev in enumerate(events):
        (x, sr, mime), (c, _, _), (r, _, _) = (audio_of(s) for s in audios[3 * k : 3 * k + 3])
        assert sr == SR and mime == "audio/mpeg" and x.shape[1] == audio.shape[1]  # stereo kept
        a = int(round((ev.start_s - R.SNIPPET_CONTEXT_S) * SR))
        b = int(round((ev.end_s + R.SNIPPET_CONTEXT_S) * SR))
        assert abs(x.shape[0] - (b - a)) <= 1152  # at most one MP3 frame of padding
        assert c.shape == r.shape == x.shape
        assert snr_db(audio[a:b], x) > 12 and snr_db(music[a:b], c) > 12
        # noise is coded by its spectrum, not its waveform: compare the removed part's level over time
        env_true, env_got = envelope(bursts[a:b]), envelope(r)
        assert np.corrcoef(env_true, env_got)[0, 1] > 0.95
        assert abs(10 * np.log10(np.sum(r**2) / np.sum(bursts[a:b] ** 2))) < 1.5
        # and not the wrong version or the wrong place
        assert snr_db(bursts[a:b], x) < 3 and snr_db(music[a:b], r) < 3
    assert "to avoid clipping" not in path.read_text()


def test_lossless_excerpts_when_there_is_no_mp3_encoder(tmp_path, lossless_excerpts):
    audio, music, bursts, events = synthetic_take()
    path = R.write_report(tmp_path, audio, SR, cleaned=music, removed=bursts, events=events, title="flac")
    audios = [a["src"] for t, a in parse(path) if t == "audio"]
    assert len(audios) == 3 * len(events)
    for k, ev in enumerate(events):
        (x, sr, mime), (c, _, _), (r, _, _) = (audio_of(s) for s in audios[3 * k : 3 * k + 3])
        assert sr == SR and mime == "audio/flac" and x.shape[1] == audio.shape[1]
        a = int(round((ev.start_s - R.SNIPPET_CONTEXT_S) * SR))
        b = int(round((ev.end_s + R.SNIPPET_CONTEXT_S) * SR))
        assert x.shape[0] == b - a
        assert c.shape == r.shape == x.shape
        q = 1.5 / 32768  # 16-bit quantisation (+ rounding)
        assert np.max(np.abs(x - audio[a:b])) <= q  # peak < 1 here: no gain applied
        assert np.max(np.abs(c - music[a:b])) <= q
        assert np.max(np.abs(r - bursts[a:b])) <= q
        assert np.max(np.abs(c + r - x)) <= 3 * q  # what you hear removed is exactly the difference


@pytest.mark.parametrize("sr_in,sr_out", [(96000, 48000), (88200, 44100), (37800, 44100), (44100, 44100)])
def test_excerpt_rates_are_ones_mp3_has(tmp_path, sr_in, sr_out):
    t = np.arange(int(2.5 * sr_in)) / sr_in
    x = 0.3 * np.sin(2 * np.pi * 440 * t)[:, None]
    path = R.write_report(tmp_path, x, sr_in, cleaned=x, removed=0 * x, events=[Event(1.0, 1.5, "drop", 0.9)],
                          title="rate")
    for _, a in parse(path):
        if _ == "audio":
            y, sr, _m = audio_of(a["src"])
            assert sr == sr_out and abs(y.shape[0] - 2.5 * sr_out) <= 1152


def test_images_are_pngs_with_one_overview_and_one_closeup_per_excerpt(full_report):
    path, _, _, _, events = full_report
    imgs = [a for t, a in parse(path) if t == "img"]
    assert len(imgs) == 1 + len(events)
    for a in imgs:
        w, h = png_size(a["src"])
        assert (int(a["width"]), int(a["height"])) == (w, h) and w > 200 and h > 100
        assert a.get("alt")


def test_loud_input_is_scaled_with_one_gain_per_event(tmp_path, lossless_excerpts):
    audio, music, bursts, events = synthetic_take(channels=1)
    audio, music, bursts = audio * 8, music * 8, bursts * 8  # peaks well above full scale
    path = R.write_report(tmp_path, audio, SR, cleaned=music, removed=bursts, events=events[:1], title="loud")
    (x, _, _), (c, _, _), (r, _, _) = (audio_of(a["src"]) for t, a in parse(path) if t == "audio")
    assert x.shape[1] == 1
    assert np.max(np.abs(x)) < 1.0 and np.max(np.abs(x)) > 0.95  # scaled, not clipped
    a = int(round((events[0].start_s - R.SNIPPET_CONTEXT_S) * SR))
    g = np.max(np.abs(x)) / np.max(np.abs(audio[a : a + len(x)]))
    assert np.allclose(c, g * music[a : a + len(x)], atol=2 / 32768)
    assert np.allclose(r, g * bursts[a : a + len(x)], atol=2 / 32768)
    assert re.search(r"scaled by -\d+\.\d dB to avoid clipping", path.read_text())


def test_locate_only_report_has_input_only(tmp_path):
    audio, _, _, events = synthetic_take()
    path = R.write_report(tmp_path, audio, SR, cleaned=None, removed=None, events=events, title="look",
                          filename="look.html")
    tags = parse(path)
    assert path.name == "look.html"
    assert len([1 for t, _ in tags if t == "audio"]) == len(events)
    assert "located only" in path.read_text()


def test_no_events_still_makes_a_report(tmp_path):
    audio, music, _, _ = synthetic_take(onsets=())
    path = R.write_report(tmp_path, audio, SR, cleaned=audio, removed=np.zeros_like(audio), events=[], title="clean")
    text = path.read_text()
    assert "No interference was located" in text
    assert len([1 for t, _ in parse(path) if t == "img"]) == 1


def _many_events(seed: int, n: int, lo: float, hi: float, every_s: float):
    """A minute of noise and ``n`` events every ``every_s`` s with shuffled confidences ``lo..hi``."""
    rng = np.random.default_rng(seed)
    audio = rng.normal(0, 0.05, (SR * 60, 1))
    conf = rng.permutation(np.linspace(lo, hi, n))
    return audio, conf, [Event(1.0 + every_s * k, 1.3 + every_s * k, "drop", float(c)) for k, c in enumerate(conf)]


def test_many_events_get_excerpts_for_the_most_confident_only(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "MAX_SNIPPETS", 4)
    audio, conf, events = _many_events(3, 30, 0.05, 0.95, 2)
    path = R.write_report(tmp_path, audio, SR, cleaned=None, removed=None, events=events, title="many")
    text = path.read_text()
    listened = [int(i) for i in re.findall(r'<article id="ev-(\d+)">', text)]
    top4 = sorted(np.argsort(-conf)[:4] + 1)
    assert listened == list(top4)
    assert len(re.findall(r'<tr id="row-', text)) == 30  # all events stay in the table
    assert "the 4 most confident of 30 events" in text


def test_a_third_of_the_excerpts_is_kept_for_the_candidates(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "MAX_SNIPPETS", 6)
    audio, conf, events = _many_events(4, 12, 0.5, 0.99, 4)
    cconf = [0.3, 0.45, 0.26, 0.4]
    cands = [Event(3.0 + 4 * k, 3.3 + 4 * k, "unknown", c) for k, c in enumerate(cconf)]
    path = R.write_report(tmp_path, audio, SR, cleaned=None, removed=None, events=events, candidates=cands,
                          title="many")
    text = path.read_text()
    listened = re.findall(r'<article id="ev-(c?\d+)">', text)
    assert sorted(i for i in listened if not i.startswith("c")) == sorted(str(i) for i in np.argsort(-conf)[:4] + 1)
    assert sorted(i for i in listened if i.startswith("c")) == ["c2", "c4"]  # the two most confident candidates
    assert len(re.findall(r'<tr id="row-', text)) == 16


def test_a_candidate_is_heard_from_the_input_alone(tmp_path):
    audio, music, bursts, events = synthetic_take()
    cand = Event(events[0].end_s + 0.5, events[0].end_s + 0.8, "unknown", 0.3)
    path = R.write_report(tmp_path, audio, SR, cleaned=music, removed=bursts, events=events[:1], candidates=[cand],
                          title="take")
    text = path.read_text()
    articles = dict(re.findall(r'<article id="ev-(c?\d+)">(.*?)</article>', text, flags=re.S))
    assert set(articles) == {"1", "c1"}
    assert articles["1"].count("<audio") == 3 and articles["c1"].count("<audio") == 1
    assert "the input alone: nothing was removed there" in articles["c1"]


def test_audio_budget_limits_excerpts(tmp_path, monkeypatch):
    audio, music, bursts, events = synthetic_take()
    a, b = (int(round((events[0].start_s + d) * SR)) for d in (-R.SNIPPET_CONTEXT_S, 0.35 + R.SNIPPET_CONTEXT_S))
    per_event = sum(len(R._encode_excerpt(v[a:b], SR)[0]) for v in (audio, music, bursts))
    monkeypatch.setattr(R, "AUDIO_BUDGET_BYTES", int(1.5 * per_event))
    path = R.write_report(tmp_path, audio, SR, cleaned=music, removed=bursts, events=events, title="budget")
    assert len(re.findall(r'<article id="ev-', path.read_text())) == 1


@pytest.mark.slow
def test_ten_minute_stereo_report_stays_small(tmp_path):
    """10 min of 44.1-kHz stereo with 120 events: under 5 MB, excerpts and close-ups for the most confident only."""
    sr, n = 44100, 44100 * 600
    rng = np.random.default_rng(1)
    t = np.arange(n, dtype=np.float32) / sr
    music = np.empty((n, 2), np.float32)
    music[:, 0] = 0.2 * np.sin(2 * np.pi * 220 * t)
    music[:, 1] = 0.2 * np.sin(2 * np.pi * 330 * t)
    del t
    music += rng.standard_normal((n, 2), dtype=np.float32) * np.float32(0.02)
    bursts = np.zeros_like(music)
    events = []
    for k in range(120):
        s = 2.0 + 4.9 * k
        a, m = int(s * sr), int(0.4 * sr)
        bursts[a : a + m] = rng.standard_normal((m, 1), dtype=np.float32) * np.float32(0.2)
        events.append(Event(s, s + 0.4, "cough", float(rng.uniform(0.2, 1))))
    audio = music + bursts
    t0 = time.perf_counter()
    path = R.write_report(tmp_path, audio, sr, cleaned=music, removed=bursts, events=events, title="long")
    took = time.perf_counter() - t0
    size = path.stat().st_size
    tags = parse(path)
    w, h = png_size(next(a["src"] for t, a in tags if t == "img"))
    assert w <= 1300 and h <= 800
    assert len([1 for t, _ in tags if t == "audio"]) == 3 * R.MAX_SNIPPETS
    assert len(re.findall(r'<tr id="row-', path.read_text())) == 120  # every event stays reviewable
    assert size < 5e6, f"{size / 1e6:.1f} MB"
    print(f"10-min stereo report: {size / 1e6:.2f} MB in {took:.1f} s")


# ----------------------------------------------------------------------------- run info (audit)


def run_table(path: Path) -> dict[str, str]:
    """The Run table as {row heading: cell text}."""
    text = path.read_text()
    table = re.search(r'<table id="run-table">(.*?)</table>', text, flags=re.S).group(1)
    rows = re.findall(r'<tr><th class="l">(.*?)</th><td class="l">(.*?)</td></tr>', table, flags=re.S)
    return {k: re.sub(r"<[^>]+>", " ", v) for k, v in rows}


def test_run_table_records_what_was_run(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "_version", lambda: "9.8.7")
    audio, music, bursts, events = synthetic_take()
    info = {"method": "proposed", "interference": "cough", "strength": 0.5,
            "settings": {"n_fft": 4096, "threshold": 0.35, "kernel": "cross"},
            "outputs": ["/out/take1.clean.flac", "/out/take1.removed.flac", "/out/take1.json"],
            "command": "cleantake clean take1.wav -o /out/take1.clean.flac --strength 0.5"}
    path = R.write_report(tmp_path, audio, SR, cleaned=music, removed=bursts, events=events, title="t",
                          source_path="/rec/take1.wav", run_info=info)
    run = run_table(path)
    assert run["method"].strip() == "proposed"
    assert "cough" in run["dictionary"]
    assert run["strength"].startswith("0.5") and "partial" in run["strength"]
    for k, v in info["settings"].items():
        assert re.search(rf"{k}\s*=\s*{v}", run["settings"])
    assert "/rec/take1.wav" in run["input"]
    assert all(o in run["outputs"] for o in info["outputs"])
    assert re.search(re.escape(path.name) + r"\s+\(this report\)", run["outputs"])
    assert "strength 0.5 (partial removal" in path.read_text()
    assert run["cleantake"].strip() == "9.8.7"
    assert re.fullmatch(r"written on \d{4}-\d\d-\d\d \d\d:\d\d UTC", run["date"].strip())
    assert "--strength 0.5" in run["command"]
    assert "whole recording" not in path.read_text()


def test_version_falls_back_to_unknown(monkeypatch):
    import importlib.metadata

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert R._version() == "unknown"


@pytest.mark.parametrize("method", ["kam", "nmf"])
def test_whole_recording_methods_say_so_instead_of_counting_events(tmp_path, method):
    audio, music, bursts, events = synthetic_take()
    for evs in ([], events):
        path = R.write_report(tmp_path, audio, SR, cleaned=music, removed=bursts, events=evs, title=method,
                              filename=f"{method}{len(evs)}.html", run_info={"method": method})
        text = path.read_text()
        assert "the whole recording was processed" in text.lower()
        assert "No interference was located" not in text
        assert "(the whole recording was processed)" in run_table(path)["method"]


def test_events_from_a_label_file_are_recorded(tmp_path):
    audio, music, bursts, events = synthetic_take()
    path = R.write_report(tmp_path, audio, SR, cleaned=music, removed=bursts, events=events, title="given",
                          run_info={"events_from": "/rec/take1.events.txt"})
    assert "/rec/take1.events.txt" in run_table(path)["events"]


def test_locate_only_run_table_says_no_outputs(tmp_path):
    audio, _, _, events = synthetic_take()
    path = R.write_report(tmp_path, audio, SR, cleaned=None, removed=None, events=events, title="look")
    run = run_table(path)
    assert "located only" in run["outputs"] and "cleantake" in run and "date" in run


@pytest.mark.parametrize("info,match", [({"methd": "kam"}, "unknown keys methd"), ({"strength": 1.5}, "0 to 1"),
                                        ({"strength": "x"}, "number"), ({"settings": [1, 2]}, "mapping")])
def test_bad_run_info_is_refused_before_writing(tmp_path, info, match):
    audio, music, bursts, events = synthetic_take(duration_s=3.0, onsets=(1.0,))
    with pytest.raises(ParameterError, match=match):
        R.write_report(tmp_path / "rep", audio, SR, cleaned=music, removed=bursts, events=events, title="bad",
                       run_info=info)
    assert not (tmp_path / "rep").exists()


def test_removed_as_input_minus_cleaned_reads_each_file_once(tmp_path, monkeypatch):
    """The pipeline's removed part of a long file, FileSamples(input, minus=cleaned), costs no extra reads."""
    import cleantake.io as cio
    import cleantake.io.read as cio_read

    audio, music, bursts, events = synthetic_take(duration_s=20.0, onsets=(2.0, 9.0, 15.0))
    sf.write(tmp_path / "in.wav", audio, SR, subtype="FLOAT")
    sf.write(tmp_path / "clean.wav", music, SR, subtype="FLOAT")
    x, c = cio.FileSamples(tmp_path / "in.wav"), cio.FileSamples(tmp_path / "clean.wav")
    r = cio.FileSamples(tmp_path / "in.wav", minus=c)
    calls = []
    real = cio_read.read_audio

    def counting(path, **kw):
        calls.append(Path(path).name)
        return real(path, **kw)

    monkeypatch.setattr(cio_read, "read_audio", counting)
    path = R.write_report(tmp_path / "rep", x, SR, cleaned=c, removed=r, events=events, title="files")
    assert calls.count("in.wav") == calls.count("clean.wav") > 0
    # and the removed part shown and played is the difference
    Ps, _ = R._band_spectrograms([audio, music, None], SR, max_cols=200, differences={2: (0, 1)})
    P_true, _ = R._band_spectrogram(bursts, SR, max_cols=200)
    assert np.allclose(Ps[2], P_true, rtol=1e-3, atol=1e-9 * P_true.max())
    removed_clips = [audio_of(a["src"])[0] for t, a in parse(path) if t == "audio"][2::3]
    assert len(removed_clips) == len(events)
    for clip, ev in zip(removed_clips, events):
        a = int(round((ev.start_s - R.SNIPPET_CONTEXT_S) * SR))
        seg = bursts[a : a + len(clip)]
        assert np.corrcoef(envelope(seg), envelope(clip))[0, 1] > 0.95


# ----------------------------------------------------------------------------- spectrogram


def test_band_spectrogram_puts_a_tone_in_its_band_and_a_click_at_its_time():
    sr = 22050
    t = np.arange(sr * 10) / sr
    x = 0.1 * np.sin(2 * np.pi * 1000 * t)
    x[int(7.55 * sr)] += 1.0
    P, edges = R._band_spectrogram(x[:, None], sr, max_cols=100)
    assert P.shape == (R._N_BANDS, 100) and edges.size == R._N_BANDS + 1
    assert edges[0] == pytest.approx(30.0) and edges[-1] == pytest.approx(sr / 2)
    band = int(np.argmax(P[:, 20]))
    assert edges[band] <= 1000 * 1.03 and edges[band + 1] >= 1000 / 1.03
    hf = P[edges[:-1] > 5000].sum(axis=0)  # the click is broadband; the tone has nothing up there
    assert int(np.argmax(hf)) == 75


def test_band_spectrogram_caps_columns_for_long_input():
    x = np.random.default_rng(0).standard_normal((8000 * 700, 2)).astype(np.float32)
    P, _ = R._band_spectrogram(x, 8000, max_cols=R.MAX_COLUMNS)
    assert P.shape[1] == R.MAX_COLUMNS
    db = 10 * np.log10(P)
    # white noise: flat in frequency (median over time per band), steady in time
    assert np.ptp(np.median(db, axis=1)) < 1.5
    assert db[-1].std() < 1.0 and db[R._N_BANDS // 2].std() < 1.5
    # stereo is downmixed: two independent unit-variance channels average to half the power
    P1, _ = R._band_spectrogram(x[:, :1], 8000, max_cols=R.MAX_COLUMNS)
    assert np.median(db) == pytest.approx(np.median(10 * np.log10(P1)) - 3.0, abs=0.3)


def test_band_spectrogram_of_short_and_tiny_signals():
    for n in (1, 5, 300, 2000):
        P, _ = R._band_spectrogram(np.ones((n, 1)), 8000, max_cols=50)
        assert P.shape[0] == R._N_BANDS and 1 <= P.shape[1] <= 50 and np.all(np.isfinite(P))


# ----------------------------------------------------------------------------- errors


def test_mismatched_shapes_are_refused(tmp_path):
    audio, music, bursts, events = synthetic_take()
    with pytest.raises(ParameterError, match="cleaned has shape"):
        R.write_report(tmp_path, audio, SR, cleaned=music[:-1], removed=bursts, events=events, title="x")
    with pytest.raises(ParameterError, match="after the end"):
        R.write_report(tmp_path, audio, SR, cleaned=None, removed=None,
                       events=[Event(99.0, 99.5, "cough", 0.5)], title="x")
    with pytest.raises(ParameterError, match="sample rate"):
        R.write_report(tmp_path, audio, 0, cleaned=None, removed=None, events=[], title="x")
    assert list(tmp_path.iterdir()) == []


def test_report_folder_that_is_a_file_is_a_write_error(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    audio, *_ = synthetic_take(duration_s=2, onsets=())
    with pytest.raises(AudioWriteError, match="not a folder"):
        R.write_report(f, audio, SR, cleaned=None, removed=None, events=[], title="x")


def test_missing_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    for mod in ("matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, mod, None)
    audio, *_ = synthetic_take(duration_s=2, onsets=())
    with pytest.raises(CleantakeError, match=r"pip install 'cleantake\[report\]'"):
        R.write_report(tmp_path, audio, SR, cleaned=None, removed=None, events=[], title="x")


def test_report_filenames_are_distinct_per_relative_path():
    assert R.report_filename("take1.wav") == "take1.html"
    assert R.report_filename("live/day 2/take1.flac") == "live_day_2_take1.html"
    names = {R.report_filename(p) for p in ["a/take.wav", "b/take.wav", "take.wav", "a/b/take.wav"]}
    assert len(names) == 4
    assert R.report_filename("<script>.wav") == "script.html"
    assert R.report_filename("../../etc/passwd") == "etc_passwd.html"  # never escapes the report folder


# ----------------------------------------------------------------------------- index


def test_index_links_reports_and_counts_events(tmp_path):
    (tmp_path / "a.html").write_text("<p>a</p>")
    entries = [
        {"name": "a.wav", "report": "a.html", "n_events": 3, "n_candidates": 2, "duration_s": 20.0, "status": "ok"},
        {"name": "<b>.wav", "report": None, "n_events": None, "duration_s": None, "status": "failed",
         "error": "not an audio file"},
        {"name": "c.flac", "report": "sub/c.html", "n_events": 0, "duration_s": 3725.5, "status": "ok"},
    ]
    path = R.write_index(tmp_path, entries)
    assert path == tmp_path / "index.html"
    text = path.read_text()
    hrefs = [a["href"] for t, a in parse(path) if t == "a"]
    assert hrefs == ["a.html", "sub/c.html"]
    assert "3 files, 2 ok, 1 not; 3 events in total, 2 candidates for review" in text
    assert "<td>3</td><td>2</td>" in text  # a.wav: its events, then its candidates
    assert "&lt;b&gt;.wav" in text and "failed: not an audio file" in text
    assert "1:02:05.500" in text


# (``inspect`` is tested in test_cli.py)


# ----------------------------------------------------------------------------- browser
# (the DevTools driver is in chromium_cdp.py, shared with test_review.py)


CHECK_PAGE_JS = """
(async () => {
  const imgs = [...document.images].map(i => ({
      ok: i.complete && i.naturalWidth > 0 && i.naturalHeight > 0,
      w: i.getBoundingClientRect().width, h: i.getBoundingClientRect().height}));
  const audios = await Promise.all([...document.querySelectorAll('audio')].map(a => new Promise(res => {
      const done = () => res({ok: a.readyState >= 1 && a.duration > 0, d: a.duration, err: a.error && a.error.code});
      if (a.readyState >= 1) return done();
      a.addEventListener('loadedmetadata', done, {once: true});
      a.addEventListener('error', done, {once: true});
      setTimeout(done, 10000);
      a.load();
  })));
  return {imgs, audios, rows: document.querySelectorAll('#events-table tbody tr').length,
          height: document.documentElement.scrollHeight};
})()
"""



def test_report_renders_in_headless_chromium(chromium, full_report, tmp_path):
    path, _, _, _, events = full_report
    chromium.open(path)
    res = chromium.evaluate(CHECK_PAGE_JS)
    assert chromium.console_errors() == []
    assert len(res["imgs"]) == 1 + len(events)
    assert all(i["ok"] and i["w"] > 100 and i["h"] > 50 for i in res["imgs"]), res["imgs"]
    assert len(res["audios"]) == 3 * len(events)
    for a, ev in zip(res["audios"], [e for e in events for _ in range(3)]):
        assert a["ok"], a
        assert a["d"] == pytest.approx(ev.end_s - ev.start_s + 2 * R.SNIPPET_CONTEXT_S, abs=0.01)
    assert res["rows"] == len(events)
    shot = chromium.screenshot(tmp_path / "report.png", full_page=True)
    from matplotlib.image import imread

    img = imread(shot)
    assert img.shape[0] >= res["height"] - 2 and img.shape[1] >= 1000
    assert img[..., :3].std() > 0.05  # something was drawn, not a blank page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "report.png")


def test_index_renders_in_headless_chromium(chromium, full_report, tmp_path):
    path, *_ = full_report
    idx = R.write_index(path.parent, [
        {"name": "take1.wav", "report": path.name, "n_events": 3, "duration_s": 12.0, "status": "ok"},
        {"name": "bad.wav", "report": None, "n_events": None, "duration_s": None, "status": "failed",
         "error": "not an audio file"}])
    chromium.open(idx)
    links = chromium.evaluate("[...document.links].map(a => a.href)")
    assert chromium.console_errors() == []
    assert links == [path.resolve().as_uri()]
    chromium.open(Path(links[0].removeprefix("file://")))
    assert chromium.evaluate("document.title").endswith("take <1> & co")
    chromium.screenshot(tmp_path / "index.png")


@pytest.mark.corpus
@pytest.mark.slow
def test_real_mixture_report_renders_in_headless_chromium(chromium, tmp_path):
    """A corpus mixture (stem + coughs) cleaned by the real pipeline gives a report that renders."""
    corpus = REPO.parent / "shared" / "corpus"
    if not (corpus / "mixtures.json").is_file():
        pytest.skip("corpus not found at ../shared/corpus")
    y, sr = _build_corpus_mixture(corpus, "stem_022__cough__+0dB")
    y = y[: 10 * sr]
    res = cleantake.clean(y, sr, interference="cough")
    path = R.write_report(tmp_path, y, sr, cleaned=res.cleaned, removed=res.removed, events=res.events,
                          title="stem_022 + cough", source_path="stem_022__cough__+0dB.flac")
    chromium.open(path)
    r = chromium.evaluate(CHECK_PAGE_JS)
    assert chromium.console_errors() == []
    assert r["rows"] == len(res.events)
    assert all(i["ok"] and i["w"] > 100 for i in r["imgs"]) and all(a["ok"] for a in r["audios"])
    assert len(r["audios"]) == 3 * len(res.events)  # 10 s mono: every event fits the audio budget
    chromium.screenshot(tmp_path / "real.png")


def test_chromium_check_catches_a_broken_page(chromium, tmp_path):
    """The browser check is not vacuous: a page with a broken image, bad audio and a JS error fails it."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><img src="data:image/png;base64,AAAA" width="10" height="10">'
                   '<audio src="data:audio/wav;base64,AAAA"></audio><script>console.error("boom")</script>'
                   "</body></html>")
    chromium.open(bad)
    res = chromium.evaluate(CHECK_PAGE_JS)
    assert any("boom" in e for e in chromium.console_errors())
    assert not res["imgs"][0]["ok"]
    assert not res["audios"][0]["ok"]


# ----------------------------------------------------------------------------- README screenshot


def _build_corpus_mixture(corpus: Path, mixture_id: str):
    """Mixture per the corpus README: music + gain * outer(event, pan) at each onset."""
    doc = json.loads((corpus / "mixtures.json").read_text())
    m = next(x for x in doc["mixtures"] if x["id"] == mixture_id)
    music, sr = sf.read(corpus / m["music"], dtype="float64", always_2d=True)
    y = music.copy()
    for ev in m["events"]:
        e, _ = sf.read(corpus / ev["path"], dtype="float64")
        n0 = round(ev["onset_s"] * sr)
        y[n0 : n0 + len(e)] += ev["gain"] * np.outer(e, np.asarray(ev.get("pan", [1.0] * music.shape[1])))
    return y, sr


def make_readme_screenshot(out_png: Path, *, mixture_id: str = "stem_022__cough__+0dB",
                           interference: str = "cough", width: int = 1100) -> Path:
    """Clean a corpus mixture, write its report and save the top of the page as a small PNG.

    Run ``PYTHONPATH=src python tests/test_report.py docs/report-screenshot.png``.
    """
    from PIL import Image

    corpus = REPO.parent / "shared" / "corpus"
    y, sr = _build_corpus_mixture(corpus, mixture_id)
    res = cleantake.clean(y, sr, interference=interference)
    with tempfile.TemporaryDirectory() as tmp:
        page = R.write_report(tmp, y, sr, cleaned=res.cleaned, removed=res.removed, events=res.events,
                              title=f"{mixture_id}.flac", source_path=f"{mixture_id}.flac")
        with Chromium(find_chromium(), width=width, height=1000) as c:
            c.open(page)
            assert c.console_errors() == []
            # header, spectrograms, event table and the first excerpt
            bottom = c.evaluate("(() => { const a = document.querySelector('article') || document.body;"
                                " return Math.ceil(a.getBoundingClientRect().bottom + 12); })()")
            data = c.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                     "clip": {"x": 0, "y": 0, "width": width, "height": bottom,
                                                              "scale": 1}})["data"]
    img = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    img = img.quantize(colors=192, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out_png = Path(out_png)
    img.save(out_png, optimize=True)
    print(f"{out_png}: {img.size[0]}x{img.size[1]} px, {out_png.stat().st_size / 1e3:.0f} kB, "
          f"{len(res.events)} events")
    return out_png


if __name__ == "__main__":
    make_readme_screenshot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/report-screenshot.png"))
