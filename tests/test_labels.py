"""Label files: Audacity / JSON / CSV writing and round trips."""

from __future__ import annotations

import csv
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleantake.errors import AudioReadError, AudioWriteError, CleantakeError, ParameterError
from cleantake.labels import read_labels, read_labels_metadata, write_labels
from cleantake.locate import Event

EVENTS = [
    Event(start_s=7.25, end_s=8.0312345678, label="cough", confidence=0.8712),
    Event(start_s=1.5, end_s=2.25, label="door", confidence=0.5),
]

# Events as the locator can produce them: any class name (spaces, brackets, unicode),
# spans within an hour, confidence in [0, 1].
label_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\t\r\n"),
    min_size=1,
    max_size=20,
).filter(lambda s: s.strip() == s and s)


@st.composite
def events_st(draw):
    n = draw(st.integers(0, 8))
    out = []
    for _ in range(n):
        start = draw(st.floats(0, 3600, allow_nan=False))
        dur = draw(st.floats(0, 10, allow_nan=False))
        out.append(Event(start, start + dur, draw(label_text), draw(st.floats(0, 1))))
    return out


def test_audacity_lines_are_start_tab_end_tab_label_with_confidence(tmp_path):
    p = write_labels(tmp_path / "ev.txt", EVENTS)
    assert p == tmp_path / "ev.txt"
    lines = p.read_text(encoding="utf-8").splitlines()
    # sorted by start, 6 decimals, "class (confidence)"
    assert lines == ["1.500000\t2.250000\tdoor (0.50)", "7.250000\t8.031235\tcough (0.87)"]


def test_json_has_metadata_and_full_precision(tmp_path):
    p = write_labels(tmp_path / "ev.json", EVENTS, duration_s=20.0, source="take1.wav", sr=44100)
    doc = json.loads(p.read_text())
    assert doc["input"] == "take1.wav" and doc["sr"] == 44100 and doc["duration_s"] == 20.0
    assert [e["label"] for e in doc["events"]] == ["door", "cough"]
    assert doc["events"][1] == EVENTS[0].to_dict()
    assert read_labels_metadata(p) == {"input": "take1.wav", "sr": 44100, "duration_s": 20.0}
    assert read_labels(p) == sorted(EVENTS, key=lambda e: e.start_s)


def test_csv_header_and_rows(tmp_path):
    p = write_labels(tmp_path / "ev.csv", EVENTS)
    rows = list(csv.reader(p.read_text().splitlines()))
    assert rows[0] == ["start_s", "end_s", "label", "confidence"]
    assert rows[1][:3] == ["1.500000", "2.250000", "door"]
    assert float(rows[2][3]) == pytest.approx(0.8712)


@settings(max_examples=40, deadline=None)
@given(events=events_st(), ext=st.sampled_from([".txt", ".json", ".csv"]))
def test_round_trip_preserves_events_to_format_precision(tmp_path_factory, events, ext):
    path = tmp_path_factory.mktemp("rt") / f"labels{ext}"
    write_labels(path, events)
    back = read_labels(path)
    # written in exact time order, read back in (rounded) time order: both sorts are stable
    want = sorted(events, key=lambda e: (e.start_s, e.end_s))
    if ext != ".json":
        want = sorted(want, key=lambda e: (round(e.start_s, 6), round(e.end_s, 6)))
    assert len(back) == len(want)
    t_tol = 0 if ext == ".json" else 5e-7
    c_tol = {".json": 0, ".csv": 5e-7, ".txt": 5e-3}[ext]
    for b, w in zip(back, want):
        assert b.label == w.label
        assert abs(b.start_s - w.start_s) <= t_tol
        assert abs(b.end_s - w.end_s) <= t_tol
        assert abs(b.confidence - w.confidence) <= c_tol


def test_hand_edited_audacity_file_is_read(tmp_path):
    # Audacity may add spectral-selection lines ("\\ f_lo f_hi"); hand-typed labels lack a confidence.
    p = tmp_path / "edited.txt"
    p.write_text("3.000000\t3.500000\tdoor slam\n\\\t100.0\t2000.0\n\n1.0\t1.2\tcough (0.9)\n4\t4\t\n")
    evs = read_labels(p)
    assert [(e.start_s, e.label, e.confidence) for e in evs] == [
        (1.0, "cough", 0.9),
        (3.0, "door slam", 1.0),
        (4.0, "interference", 1.0),
    ]


def test_label_with_tab_or_newline_stays_one_line(tmp_path):
    p = write_labels(tmp_path / "x.txt", [Event(0.0, 1.0, "chair\tcreak\nloud", 0.3)])
    assert p.read_text().count("\n") == 1
    assert read_labels(p)[0].label == "chair creak loud"


def test_unknown_extension_lists_choices(tmp_path):
    with pytest.raises(ParameterError, match=r"\.csv.*\.json.*\.txt"):
        write_labels(tmp_path / "ev.xml", EVENTS)
    assert not (tmp_path / "ev.xml").exists()


@pytest.mark.parametrize(
    "bad",
    [Event(2.0, 1.0, "cough", 0.5), Event(-1.0, 1.0, "cough", 0.5), Event(0.0, 1.0, "cough", 1.5),
     Event(float("nan"), 1.0, "cough", 0.5)],
)
def test_invalid_events_are_refused(tmp_path, bad):
    with pytest.raises(ParameterError):
        write_labels(tmp_path / "ev.txt", [bad])


def test_event_after_end_of_recording_is_refused(tmp_path):
    with pytest.raises(ParameterError, match="after the end"):
        write_labels(tmp_path / "ev.json", EVENTS, duration_s=5.0)


def test_missing_folder_is_a_write_error_and_leaves_nothing(tmp_path):
    with pytest.raises(AudioWriteError, match="does not exist"):
        write_labels(tmp_path / "nope" / "ev.txt", EVENTS)


def test_failed_write_keeps_previous_file(tmp_path, monkeypatch):
    p = write_labels(tmp_path / "ev.txt", EVENTS)
    before = p.read_text()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("cleantake.labels.os.replace", boom)
    with pytest.raises(AudioWriteError, match="No space left"):
        write_labels(p, EVENTS[:1])
    assert p.read_text() == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["ev.txt"]


def test_empty_event_list_round_trips(tmp_path):
    for ext in (".txt", ".json", ".csv"):
        p = write_labels(tmp_path / f"e{ext}", [])
        assert read_labels(p) == []


@pytest.mark.parametrize(
    "name,text",
    [("a.txt", "1.0\n"), ("a.txt", "x\t2\tcough\n"), ("a.json", "{"), ("a.json", '{"events": [{"start_s": 1}]}'),
     ("a.csv", "a,b\n1,2\n"), ("a.csv", "start_s,end_s,label,confidence\n1,2,cough,7\n")],
)
def test_malformed_files_raise_read_error(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(AudioReadError):
        read_labels(p)


def test_missing_file_is_a_cleantake_error(tmp_path):
    with pytest.raises(CleantakeError, match="does not exist"):
        read_labels(tmp_path / "none.csv")
