"""Review before applying: the report's accept/strength controls, driven in headless Chromium.

The user unticks an event, changes another's strength, downloads the accepted events as an
Audacity label track, and that file is what ``clean --events`` (``read_spans``) takes.
"""

from __future__ import annotations

import inspect
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import cleantake
from cleantake import report as R
from cleantake.labels import Span, read_labels, read_spans
from cleantake.locate import Event

SR = 16000


def take(duration_s: float = 8.0, onsets=(1.5, 4.0, 6.2), seed: int = 3):
    """A chord (music) with decaying noise bursts (interference) at ``onsets``; also returns events."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * SR)) / SR
    music = 0.15 * np.stack([np.sin(2 * np.pi * 262 * t) + np.sin(2 * np.pi * 330 * t),
                             np.sin(2 * np.pi * 392 * t) + np.sin(2 * np.pi * 262 * t)], axis=1)
    bursts = np.zeros_like(music)
    events = []
    for k, s in enumerate(onsets):
        a, n = int(s * SR), int(0.3 * SR)
        env = np.exp(-np.arange(n) / (0.07 * SR))
        bursts[a : a + n] += 0.3 * rng.standard_normal((n, 1)) * env[:, None]
        events.append(Event(s, s + n / SR, ["cough", "door", "creak"][k], round(0.9 - 0.2 * k, 2)))
    return music + bursts, music, bursts, events


class _Rows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []
        self.inputs: list[tuple[int, dict]] = []
        self.run: list[str] = []
        self._in_run = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and a.get("id", "").startswith("row-"):
            self.rows.append(a)
        elif tag == "input" and self.rows:
            self.inputs.append((len(self.rows), a))
        elif tag == "table" and a.get("id") == "run-table":
            self._in_run = True

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_run = False

    def handle_data(self, data):
        if self._in_run and data.strip():
            self.run.append(data.strip())


def parse(path: Path) -> _Rows:
    p = _Rows()
    p.feed(path.read_text(encoding="utf-8"))
    return p


@pytest.fixture(scope="module")
def review_page(tmp_path_factory):
    audio, music, bursts, events = take()
    out = tmp_path_factory.mktemp("review")
    path = R.write_report(out, audio, SR, cleaned=music, removed=bursts, events=events, title="take1.wav",
                          source_path="/rec/take1.wav",
                          run_info={"method": "proposed", "interference": "any", "strength": 1.0,
                                    "outputs": ["/rec/take1.clean.wav"]})
    return path, audio, events


# ----------------------------------------------------------------------------- page content


def test_every_event_has_an_accept_box_and_a_strength(review_page):
    path, _, events = review_page
    page = parse(path)
    assert len(page.rows) == len(events)
    for k, (row, ev) in enumerate(zip(page.rows, events), 1):
        assert float(row["data-start"]) == pytest.approx(ev.start_s, abs=1e-6)
        assert float(row["data-end"]) == pytest.approx(ev.end_s, abs=1e-6)
        assert row["data-label"] == f"{ev.label} ({ev.confidence:.2f})"
        mine = [a for i, a in page.inputs if i == k]
        assert [a["type"] for a in mine] == ["checkbox", "number"]
        assert "checked" in mine[0]
        assert (float(mine[1]["min"]), float(mine[1]["max"]), float(mine[1]["value"])) == (0, 1, 1)
    text = path.read_text()
    assert 'id="download-events"' in text and 'data-filename="take1.events.txt"' in text
    assert "<script>" in text and "http" not in text.split("<script>")[1]  # works offline


def test_default_strength_of_the_controls_is_the_runs(tmp_path):
    audio, music, bursts, events = take()
    path = R.write_report(tmp_path, audio, SR, cleaned=music, removed=bursts, events=events, title="x",
                          run_info={"strength": 0.6})
    assert {float(a["value"]) for _, a in parse(path).inputs if a["type"] == "number"} == {0.6}


def test_no_events_no_review_controls(tmp_path):
    audio, music, _, _ = take()
    path = R.write_report(tmp_path, audio, SR, cleaned=audio, removed=0 * audio, events=[], title="none")
    text = path.read_text()
    assert "download-events" not in text and "<script>" not in text


# ----------------------------------------------------------------------------- in the browser



@pytest.fixture(scope="module")
def downloaded(chromium, review_page, tmp_path_factory):
    """In the page: untick event 2, set event 3's strength to 0.4 and download; the file and the page state."""
    path, _, _ = review_page
    chromium.open(path)
    errors = chromium.console_errors()
    count0 = chromium.evaluate("document.getElementById('accept-count').textContent")
    chromium.click("#row-2 input.accept")
    chromium.type_into("#row-3 input.strength", "0.4")
    state = chromium.evaluate("[...document.querySelectorAll('#events-table tbody tr')].map(r =>"
                              " [r.querySelector('input.accept').checked, r.querySelector('input.strength').value])")
    count1 = chromium.evaluate("document.getElementById('accept-count').textContent")
    downloads = tmp_path_factory.mktemp("downloads")
    chromium.download_into(downloads)
    chromium.click("#download-events")
    name = chromium.wait_download()
    got = downloads / name
    for _ in range(50):  # the file is renamed into place when complete
        if got.is_file():
            break
        time.sleep(0.1)
    errors += chromium.console_errors()
    return {"file": got, "folder": downloads, "state": state, "counts": (count0, count1), "errors": errors}


def test_untick_change_strength_download_and_read_back(downloaded, review_page):
    """The issue's test: untick one event, change one strength, download, check, parse with read_spans."""
    _, audio, events = review_page
    assert downloaded["errors"] == []
    assert downloaded["counts"] == ("3 of 3 events accepted", "2 of 3 events accepted")
    assert downloaded["state"] == [[True, "1"], [False, "1"], [True, "0.4"]]
    got = downloaded["file"]
    assert got.name == "take1.events.txt"
    assert [p.name for p in downloaded["folder"].iterdir()] == [got.name]

    lines = got.read_bytes().decode("utf-8").split("\n")
    e1, e3 = events[0], events[2]
    assert lines == [f"{e1.start_s:.6f}\t{e1.end_s:.6f}\t{e1.label} ({e1.confidence:.2f})",
                     f"{e3.start_s:.6f}\t{e3.end_s:.6f}\t{e3.label} ({e3.confidence:.2f}) strength=0.4",
                     ""]
    spans = read_spans(got, duration_s=audio.shape[0] / SR)
    assert spans == [Span(pytest.approx(e1.start_s, abs=1e-6), pytest.approx(e1.end_s, abs=1e-6), 1.0),
                     Span(pytest.approx(e3.start_s, abs=1e-6), pytest.approx(e3.end_s, abs=1e-6), 0.4)]
    # the same file read as events keeps class and confidence
    assert [(e.label, e.confidence) for e in read_labels(got)] == [(e1.label, e1.confidence),
                                                                   (e3.label, e3.confidence)]


def test_clean_events_with_the_downloaded_file_changes_exactly_those_regions(downloaded, review_page):
    _, audio, events = review_page
    spans = read_spans(downloaded["file"], duration_s=audio.shape[0] / SR)
    _clean_changes_exactly(audio, spans, untouched=events[1])


def test_out_of_range_strength_is_clamped_in_the_page(chromium, review_page):
    path, *_ = review_page
    chromium.open(path)
    chromium.type_into("#row-1 input.strength", "7")
    chromium.type_into("#row-2 input.strength", "-1")
    assert chromium.evaluate("[1, 2].map(k => document.querySelector('#row-' + k + ' input.strength').value)") \
        == ["1", "0"]
    assert chromium.console_errors() == []


def _clean_changes_exactly(audio: np.ndarray, spans: list[Span], untouched: Event) -> None:
    """``clean(..., events=spans)`` changes the spans, by their strength, and not one sample elsewhere."""
    if "events" not in inspect.signature(cleantake.Cleaner.clean).parameters:
        pytest.skip("cleantake.Cleaner.clean takes no events= yet (repair of given spans is not merged)")
    res = cleantake.clean(audio, SR, events=spans)
    out = np.asarray(res.cleaned).reshape(audio.shape)
    t = np.arange(audio.shape[0]) / SR
    inside_any = np.zeros(audio.shape[0], bool)
    change = []
    for sp in spans:
        inside = (t >= sp.start_s) & (t < sp.end_s)
        inside_any |= inside
        change.append(np.linalg.norm(out[inside] - audio[inside]))
        assert np.abs(out[inside] - audio[inside]).max() > 1e-3, f"span {sp} was not changed"
    assert np.array_equal(out[~inside_any], audio[~inside_any]), "samples outside the accepted spans changed"
    left_alone = (t >= untouched.start_s) & (t < untouched.end_s)
    assert np.array_equal(out[left_alone], audio[left_alone]), "the unticked event was changed"
    # the span given strength 0.4 changes less than the same span at full strength
    weak = next(k for k, sp in enumerate(spans) if sp.strength < 1)
    full = cleantake.clean(audio, SR, events=[spans[weak]._replace(strength=1.0)])
    inside = (t >= spans[weak].start_s) & (t < spans[weak].end_s)
    assert 0 < change[weak] < 0.8 * np.linalg.norm(np.asarray(full.cleaned)[inside] - audio[inside])


def test_download_with_nothing_accepted_is_an_empty_track(chromium, review_page, tmp_path):
    path, audio, _ = review_page
    chromium.open(path)
    for k in (1, 2, 3):
        chromium.click(f"#row-{k} input.accept")
    assert chromium.evaluate("document.getElementById('accept-count').textContent") == "0 of 3 events accepted"
    chromium.download_into(tmp_path)
    chromium.click("#download-events")
    name = chromium.wait_download()
    for _ in range(50):
        if (tmp_path / name).is_file():
            break
        time.sleep(0.1)
    assert (tmp_path / name).read_bytes() == b""
    assert read_spans(tmp_path / name, duration_s=audio.shape[0] / SR) == []


def test_run_table_is_shown(review_page):
    path, *_ = review_page
    run = " ".join(parse(path).run)
    assert "proposed" in run and "/rec/take1.clean.wav" in run and re.search(r"\d{4}-\d\d-\d\d", run)


# ----------------------------------------------------------------------------- candidates for review


@pytest.fixture(scope="module")
def candidate_page(tmp_path_factory):
    """Events 1 and 3 of :func:`take` located, event 2 a candidate the detector was less sure of."""
    audio, music, bursts, events = take()
    cand = Event(events[1].start_s, events[1].end_s, "unknown", 0.31)
    out = tmp_path_factory.mktemp("candidates")
    path = R.write_report(out, audio, SR, cleaned=music, removed=bursts, events=[events[0], events[2]],
                          candidates=[cand], title="take2.wav", source_path="/rec/take2.wav")
    return path, audio, events, cand


def test_candidates_are_listed_unticked_in_time_order(candidate_page):
    path, _, events, cand = candidate_page
    page = parse(path)
    assert [r["id"] for r in page.rows] == ["row-1", "row-c1", "row-2"]
    assert [r["class"] for r in page.rows] == ["event", "candidate rejected", "event"]
    assert page.rows[1]["data-label"] == "unknown (0.31)"
    boxes = [a for _, a in page.inputs if a["type"] == "checkbox"]
    assert ["checked" in a for a in boxes] == [True, False, True]
    text = path.read_text()
    assert "1 candidate for review (not repaired)" in text and "The candidate c1 was not repaired" in text


@pytest.fixture(scope="module")
def candidate_download(chromium, candidate_page, tmp_path_factory):
    """In the page: tick the candidate (strength 0.4), untick event 1, download."""
    path, *_ = candidate_page
    chromium.open(path)
    counts = [chromium.evaluate("document.getElementById('accept-count').textContent")]
    chromium.click("#row-c1 input.accept")
    chromium.type_into("#row-c1 input.strength", "0.4")
    chromium.click("#row-1 input.accept")
    counts.append(chromium.evaluate("document.getElementById('accept-count').textContent"))
    classes = chromium.evaluate("[...document.querySelectorAll('#events-table tbody tr')].map(r => r.className)")
    downloads = tmp_path_factory.mktemp("cand_downloads")
    chromium.download_into(downloads)
    chromium.click("#download-events")
    got = downloads / chromium.wait_download()
    for _ in range(50):
        if got.is_file():
            break
        time.sleep(0.1)
    return {"file": got, "counts": counts, "classes": classes, "errors": chromium.console_errors()}


def test_a_ticked_candidate_is_downloaded_and_repaired(candidate_download, candidate_page):
    _, audio, events, cand = candidate_page
    assert candidate_download["errors"] == []
    assert candidate_download["counts"] == ["2 of 3 events accepted", "2 of 3 events accepted"]
    assert candidate_download["classes"] == ["event rejected", "candidate", "event"]
    e3 = events[2]
    assert candidate_download["file"].read_bytes().decode("utf-8").split("\n") == [
        f"{cand.start_s:.6f}\t{cand.end_s:.6f}\tunknown (0.31) strength=0.4",
        f"{e3.start_s:.6f}\t{e3.end_s:.6f}\t{e3.label} ({e3.confidence:.2f})", ""]
    spans = read_spans(candidate_download["file"], duration_s=audio.shape[0] / SR)
    _clean_changes_exactly(audio, spans, untouched=events[0])
