"""Write and read located interference events as label files.

Three formats, chosen by the file extension:

``.txt`` (or ``.labels``)
    Audacity label track: one ``start<TAB>end<TAB>label`` line per event, times in seconds
    with 6 decimals, label ``"cough (0.87)"`` (class and confidence). Import it in Audacity
    with *File > Import > Labels* to see the events over the waveform.
``.json``
    ``{"format": "cleantake-labels", "version": 1, "input": ..., "sr": ..., "duration_s": ...,
    "events": [{"start_s", "end_s", "label", "confidence"}, ...]}`` with full float precision.
``.csv``
    Header ``start_s,end_s,label,confidence``, one row per event.

Events are written sorted by start time. :func:`read_labels` reads any of the three back
into :class:`~cleantake.locate.Event` objects, so label files can be edited by hand (for
example in Audacity) and read again.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from .atomic import atomic_write
from .errors import AudioReadError, AudioWriteError, ParameterError
from .locate import Event

__all__ = ["write_labels", "read_labels", "read_labels_metadata", "LABEL_FORMATS"]

#: Accepted extensions and the format each selects.
LABEL_FORMATS = {".txt": "audacity", ".labels": "audacity", ".json": "json", ".csv": "csv"}

_FORMAT_NAME = "cleantake-labels"
_FORMAT_VERSION = 1
# "cough (0.87)" -> ("cough", "0.87"); the class name may itself contain spaces or brackets.
_BREAKS = re.compile(r"[\t\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+")
_AUDACITY_LABEL = re.compile(r"^(?P<label>.*?)\s*\((?P<conf>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\)\s*$")


def _format_of(path: Path) -> str:
    fmt = LABEL_FORMATS.get(path.suffix.lower())
    if fmt is None:
        choices = ", ".join(sorted(LABEL_FORMATS))
        raise ParameterError(
            f"cannot tell the label format of {str(path)!r} from its extension "
            f"{path.suffix or '(none)'!r}; use one of {choices} "
            "(.txt = Audacity label track)"
        )
    return fmt


def _checked_events(events: Iterable[Event], duration_s: float | None) -> list[Event]:
    out = []
    for i, ev in enumerate(events):
        if not isinstance(ev, Event):
            raise ParameterError(f"event {i} is a {type(ev).__name__}, expected cleantake.locate.Event")
        if not (math.isfinite(ev.start_s) and math.isfinite(ev.end_s)) or ev.start_s < 0 or ev.end_s < ev.start_s:
            raise ParameterError(
                f"event {i} ({ev.label!r}) has an invalid span {ev.start_s!r} s .. {ev.end_s!r} s; "
                "need 0 <= start <= end"
            )
        if not (0.0 <= ev.confidence <= 1.0):
            raise ParameterError(f"event {i} ({ev.label!r}) has confidence {ev.confidence!r}, expected 0..1")
        if duration_s is not None and ev.start_s > duration_s + 1e-6:
            raise ParameterError(
                f"event {i} ({ev.label!r}) starts at {ev.start_s:.3f} s, after the end of the "
                f"recording ({duration_s:.3f} s)"
            )
        out.append(ev)
    return sorted(out, key=lambda e: (e.start_s, e.end_s))


def _clean_label(label: str) -> str:
    # Tabs and line breaks would break the Audacity line structure (and the CSV row).
    return _BREAKS.sub(" ", str(label)).strip() or "interference"


def _audacity_text(events: Sequence[Event]) -> str:
    lines = [
        f"{ev.start_s:.6f}\t{ev.end_s:.6f}\t{_clean_label(ev.label)} ({ev.confidence:.2f})\n" for ev in events
    ]
    return "".join(lines)


def _json_text(events: Sequence[Event], duration_s: float | None, source: str | None, sr: int | None) -> str:
    doc = {
        "format": _FORMAT_NAME,
        "version": _FORMAT_VERSION,
        "input": source,
        "sr": int(sr) if sr is not None else None,
        "duration_s": float(duration_s) if duration_s is not None else None,
        "events": [
            {
                "start_s": float(ev.start_s),
                "end_s": float(ev.end_s),
                "label": str(ev.label),
                "confidence": float(ev.confidence),
            }
            for ev in events
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def _csv_text(events: Sequence[Event]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["start_s", "end_s", "label", "confidence"])
    for ev in events:
        w.writerow([f"{ev.start_s:.6f}", f"{ev.end_s:.6f}", _clean_label(ev.label), f"{ev.confidence:.6f}"])
    return buf.getvalue()


def write_labels(
    path: str | os.PathLike,
    events: Iterable[Event],
    *,
    duration_s: float | None = None,
    source: str | os.PathLike | None = None,
    sr: int | None = None,
) -> Path:
    """Write located events to a label file whose format follows the extension.

    Parameters
    ----------
    path : str or path-like
        Output file; ``.txt``/``.labels`` (Audacity label track), ``.json`` or ``.csv``.
        An existing file is replaced (the file is written to a temporary name first, so a
        failed write never leaves a truncated label file).
    events : iterable of Event
        Located events; written sorted by start time.
    duration_s : float, optional
        Length of the recording in seconds (stored in JSON; used to reject events that start
        after the end).
    source : str or path-like, optional
        The input recording the events belong to (stored in JSON as ``input``).
    sr : int, optional
        Sample rate of the input in Hz (stored in JSON).

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ParameterError
        Unknown extension or an invalid event (negative/reversed span, confidence outside 0..1).
    AudioWriteError
        The file cannot be written (missing folder, no permission, disk full).
    """
    path = Path(path)
    fmt = _format_of(path)
    evs = _checked_events(events, duration_s)
    if fmt == "audacity":
        text = _audacity_text(evs)
    elif fmt == "json":
        text = _json_text(evs, duration_s, None if source is None else str(source), sr)
    else:
        text = _csv_text(evs)
    if not path.parent.is_dir():
        raise AudioWriteError(f"cannot write labels to {str(path)!r}: folder {str(path.parent)!r} does not exist")
    return atomic_write(path, text, what="labels", newline="")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AudioReadError(f"label file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AudioReadError(f"cannot read label file {str(path)!r}: {exc}") from exc


def _event(path: Path, where: str, start, end, label, conf) -> Event:
    try:
        s, e, c = float(start), float(end), float(conf)
    except (TypeError, ValueError):
        raise AudioReadError(f"{str(path)!r} {where}: times and confidence must be numbers") from None
    if not (math.isfinite(s) and math.isfinite(e)) or s < 0 or e < s:
        raise AudioReadError(f"{str(path)!r} {where}: invalid span {s} s .. {e} s")
    if not (0.0 <= c <= 1.0):
        raise AudioReadError(f"{str(path)!r} {where}: confidence {c} is outside 0..1")
    return Event(start_s=s, end_s=e, label=str(label), confidence=c)


def _parse_audacity(path: Path, text: str) -> list[Event]:
    events = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("\\"):
            continue  # blank line or Audacity spectral-selection continuation line
        parts = line.split("\t")
        if len(parts) < 2:
            raise AudioReadError(f"{str(path)!r} line {lineno}: expected 'start<TAB>end<TAB>label'")
        text_label = parts[2].strip() if len(parts) > 2 else ""
        m = _AUDACITY_LABEL.match(text_label)
        if m:
            label, conf = m.group("label") or "interference", m.group("conf")
        else:
            # A label typed by hand in Audacity carries no confidence: the user is sure.
            label, conf = text_label or "interference", 1.0
        events.append(_event(path, f"line {lineno}", parts[0], parts[1], label, conf))
    return events


def _parse_json(path: Path, text: str) -> tuple[list[Event], dict]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AudioReadError(f"{str(path)!r} is not valid JSON: {exc}") from None
    if isinstance(doc, list):
        doc = {"events": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        raise AudioReadError(f"{str(path)!r} has no 'events' list")
    events = []
    for i, d in enumerate(doc["events"]):
        if not isinstance(d, dict) or not {"start_s", "end_s", "label"} <= d.keys():
            raise AudioReadError(f"{str(path)!r} event {i}: needs start_s, end_s and label")
        events.append(_event(path, f"event {i}", d["start_s"], d["end_s"], d["label"], d.get("confidence", 1.0)))
    meta = {k: doc.get(k) for k in ("input", "sr", "duration_s")}
    return events, meta


def _parse_csv(path: Path, text: str) -> list[Event]:
    reader = csv.DictReader(io.StringIO(text))
    need = {"start_s", "end_s", "label"}
    if reader.fieldnames is None or not need <= set(reader.fieldnames):
        raise AudioReadError(f"{str(path)!r}: CSV header must contain start_s,end_s,label[,confidence]")
    return [
        _event(path, f"row {i}", r["start_s"], r["end_s"], r["label"], r.get("confidence") or 1.0)
        for i, r in enumerate(reader, 2)
    ]


def read_labels(path: str | os.PathLike) -> list[Event]:
    """Read events back from a label file written by :func:`write_labels` (or edited by hand).

    Parameters
    ----------
    path : str or path-like
        ``.txt``/``.labels`` (Audacity), ``.json`` or ``.csv``.

    Returns
    -------
    list of Event
        Sorted by start time. Audacity labels without a ``(confidence)`` suffix, and CSV/JSON
        rows without a confidence, get confidence 1.0. Audacity files keep 6 decimals of time
        and 2 of confidence.

    Raises
    ------
    ParameterError
        Unknown extension.
    AudioReadError
        Missing or malformed file.
    """
    path = Path(path)
    fmt = _format_of(path)
    text = _read_text(path)
    if fmt == "audacity":
        events = _parse_audacity(path, text)
    elif fmt == "json":
        events, _ = _parse_json(path, text)
    else:
        events = _parse_csv(path, text)
    return sorted(events, key=lambda e: (e.start_s, e.end_s))


def read_labels_metadata(path: str | os.PathLike) -> dict:
    """Metadata ``{"input", "sr", "duration_s"}`` stored in a ``.json`` label file (values may be None)."""
    path = Path(path)
    if _format_of(path) != "json":
        raise ParameterError(f"only .json label files carry metadata, not {str(path)!r}")
    return _parse_json(path, _read_text(path))[1]
