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

Spans to repair (``clean --events``), to learn from (``--like``) or to keep (``--keep``)
------------------------------------------------------------------------------------------
:func:`read_spans` reads the same three formats as :class:`Span` objects ``(start_s, end_s,
strength)``, checked for what a repair needs: each span has a length, lies inside the
recording, and no two overlap. :func:`parse_span` reads one span typed on the command line
(``12.30-12.95``, ``1:02.5-1:03.1``, ``1:02:03-1:02:04.5``). Conventions:

* **Audacity** ``.txt``: the file exactly as Audacity exports it (*File > Export > Export
  Labels*): ``start<TAB>end<TAB>text`` lines, UTF-8 (other encodings are read too: only
  the times matter), CRLF or LF line ends. Lines that start with ``\\`` are Audacity's
  frequency-range lines (``\\<TAB>low_hz<TAB>high_hz``, written for labels made in the
  spectrogram view); they are ignored, so a span always covers all frequencies. Blank
  lines are skipped; an empty file is no spans. A **strength** is given in the label
  text as ``strength=X`` (``0 <= X <= 1``; e.g. ``cough strength=0.5``); without it the
  strength is 1. A point label (start = end) is refused: it has no length to repair.
  A comma as the decimal mark (``12,5``) is accepted in the time fields.
* ``.json``: as :func:`write_labels` writes it (an ``events`` list of objects with
  ``start_s`` and ``end_s``, or a bare list of such objects), with an optional
  ``strength`` per event.
* ``.csv``: a header with ``start_s`` and ``end_s`` (``label``, ``confidence`` and
  ``strength`` optional), one row per span.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple
from pathlib import Path

from .atomic import atomic_write
from .errors import AudioReadError, AudioWriteError, ParameterError
from .locate import Event

__all__ = [
    "write_labels",
    "read_labels",
    "read_labels_metadata",
    "LABEL_FORMATS",
    "Span",
    "read_spans",
    "parse_span",
    "check_spans",
    "spans_from_arg",
    "write_spans",
    "format_span_label",
    "SPAN_FORMS",
]

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


def _strength_of(ev) -> float:
    """An event's repair strength (1 for events without one: located events are repaired fully)."""
    return float(getattr(ev, "strength", 1.0))


def _with_strength(ev: Event, strength: float) -> Event:
    """``ev`` with ``strength`` when the Event type carries one and it is not 1."""
    if strength == 1.0 or "strength" not in getattr(Event, "__dataclass_fields__", {}):
        return ev
    return Event(ev.start_s, ev.end_s, ev.label, ev.confidence, strength=strength)


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
        if not (0.0 <= _strength_of(ev) <= 1.0):
            raise ParameterError(f"event {i} ({ev.label!r}) has strength {_strength_of(ev)!r}, expected 0..1")
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
        f"{ev.start_s:.6f}\t{ev.end_s:.6f}\t{_clean_label(ev.label)} ({ev.confidence:.2f})"
        + (f" strength={_strength_of(ev):g}" if _strength_of(ev) < 1 else "") + "\n"
        for ev in events
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
                **({"strength": _strength_of(ev)} if _strength_of(ev) < 1 else {}),
            }
            for ev in events
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def _csv_text(events: Sequence[Event]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    # a strength column only when some event is repaired partly (spans given with a strength)
    partial = any(_strength_of(ev) < 1 for ev in events)
    w.writerow(["start_s", "end_s", "label", "confidence"] + (["strength"] if partial else []))
    for ev in events:
        w.writerow([f"{ev.start_s:.6f}", f"{ev.end_s:.6f}", _clean_label(ev.label), f"{ev.confidence:.6f}"]
                   + ([f"{_strength_of(ev):g}"] if partial else []))
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
    return _write_text(path, text)


def _write_text(path: Path, text: str) -> Path:
    """Write ``text`` through a temporary name, so a failed write never leaves a truncated file."""
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


def _event(path: Path, where: str, start, end, label, conf, strength=1.0) -> Event:
    try:
        s, e, c, g = float(start), float(end), float(conf), float(strength)
    except (TypeError, ValueError):
        raise AudioReadError(f"{str(path)!r} {where}: times, confidence and strength must be numbers") from None
    if not (math.isfinite(s) and math.isfinite(e)) or s < 0 or e < s:
        raise AudioReadError(f"{str(path)!r} {where}: invalid span {s} s .. {e} s")
    if not (0.0 <= c <= 1.0):
        raise AudioReadError(f"{str(path)!r} {where}: confidence {c} is outside 0..1")
    if not (0.0 <= g <= 1.0):
        raise AudioReadError(f"{str(path)!r} {where}: strength {g} is outside 0..1")
    return _with_strength(Event(start_s=s, end_s=e, label=str(label), confidence=c), g)


def _parse_audacity(path: Path, text: str) -> list[Event]:
    events = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("\\"):
            continue  # blank line or Audacity spectral-selection continuation line
        parts = line.split("\t")
        if len(parts) < 2:
            raise AudioReadError(f"{str(path)!r} line {lineno}: expected 'start<TAB>end<TAB>label'")
        text_label = parts[2].strip() if len(parts) > 2 else ""
        strengths = list(_STRENGTH.finditer(text_label))
        strength = strengths[-1]["x"] if strengths else 1.0
        text_label = _STRENGTH.sub("", text_label).strip()  # the strength is no part of the class
        m = _AUDACITY_LABEL.match(text_label)
        if m:
            label, conf = m.group("label") or "interference", m.group("conf")
        else:
            # A label typed by hand in Audacity carries no confidence: the user is sure.
            label, conf = text_label or "interference", 1.0
        events.append(_event(path, f"line {lineno}", parts[0], parts[1], label, conf, strength))
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
        events.append(_event(path, f"event {i}", d["start_s"], d["end_s"], d["label"], d.get("confidence", 1.0),
                             d.get("strength", 1.0)))
    meta = {k: doc.get(k) for k in ("input", "sr", "duration_s")}
    return events, meta


def _parse_csv(path: Path, text: str) -> list[Event]:
    reader = csv.DictReader(io.StringIO(text))
    need = {"start_s", "end_s", "label"}
    if reader.fieldnames is None or not need <= set(reader.fieldnames):
        raise AudioReadError(f"{str(path)!r}: CSV header must contain start_s,end_s,label[,confidence]")
    return [
        _event(path, f"row {i}", r["start_s"], r["end_s"], r["label"], r.get("confidence") or 1.0,
               r.get("strength") or 1.0)
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


# ----------------------------------------------------------------------------- spans

#: The forms :func:`parse_span` accepts, as shown in its error messages.
SPAN_FORMS = "START-END in seconds (12.30-12.95), m:ss.s (1:02.5-1:03.1) or h:mm:ss.s (1:02:03-1:02:04.5)"

# Spans may end this far past the recording (rounding in a label editor) and are cut there.
_END_SLACK_S = 1e-3
_STRENGTH = re.compile(r"(?:^|\s)strength\s*=\s*(?P<x>\S*)", re.IGNORECASE)
_CLOCK = re.compile(r"^(?:(?:(?P<h>\d+):)?(?P<m>\d+):)?(?P<s>\d+(?:\.\d*)?|\.\d+)$")


class Span(NamedTuple):
    """One region of a recording, in seconds, with how strongly to repair it.

    A tuple ``(start_s, end_s, strength)``, so it can be given wherever ``(start_s, end_s)``
    or ``(start_s, end_s, strength)`` tuples are taken (``clean(..., events=spans)``).

    Attributes
    ----------
    start_s, end_s : float
        Span in seconds from the start of the recording, ``0 <= start_s < end_s``.
    strength : float
        0 = leave as it is ... 1 = full repair (default).
    """

    start_s: float
    end_s: float
    strength: float = 1.0


def _number(x) -> float:
    """A float from a number or a number string (a decimal comma, as some locales type it, is read)."""
    if isinstance(x, (bool, bytes)) or x is None:
        raise TypeError(x)
    if isinstance(x, str):
        t = x.strip()
        if re.fullmatch(r"[-+]?\d+,\d+", t):
            t = t.replace(",", ".")
        return float(t)
    return float(x)


def _checked_span(where: str, start, end, strength, duration_s: float | None, point_hint: str = "") -> Span:
    """One span from numbers or number strings, checked; ``where`` starts every message."""
    try:
        s, e = _number(start), _number(end)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{where}: start and end must be numbers of seconds, got {start!r} and {end!r}") from None
    try:
        g = _number(strength)
    except (TypeError, ValueError):
        raise ParameterError(f"{where}: strength must be a number from 0 to 1, got {strength!r}") from None
    if not (math.isfinite(s) and math.isfinite(e)):
        raise ParameterError(f"{where}: start and end must be finite, got {s} s and {e} s")
    if s < 0:
        raise ParameterError(f"{where}: starts at {s:.3f} s, before the start of the recording (0 s)")
    if e == s:
        raise ParameterError(
            f"{where}: a point at {s:.3f} s has no length; give it a length (start < end)" + point_hint)
    if e < s:
        raise ParameterError(f"{where}: reversed span {s:.3f} s to {e:.3f} s; the end must come after the start")
    if not (0.0 <= g <= 1.0):
        raise ParameterError(f"{where}: strength {g:g} is outside 0..1 (0 = no change, 1 = full repair)")
    if duration_s is not None:
        if s >= duration_s:
            raise ParameterError(
                f"{where}: starts at {s:.3f} s, at or after the end of the recording ({duration_s:.3f} s)")
        if e > duration_s + _END_SLACK_S:
            raise ParameterError(
                f"{where}: ends at {e:.3f} s, after the end of the recording ({duration_s:.3f} s)")
        e = min(e, float(duration_s))
    return Span(s, e, g)


def _no_overlaps(spans: list[tuple[str, Span]]) -> list[Span]:
    """Sort by start; refuse two spans that share any time (touching ends are allowed)."""
    spans = sorted(spans, key=lambda ws: (ws[1].start_s, ws[1].end_s))
    for (w0, a), (w1, b) in zip(spans, spans[1:]):
        if b.start_s < a.end_s:
            raise ParameterError(
                f"{w1} ({b.start_s:.3f}-{b.end_s:.3f} s) overlaps {w0} ({a.start_s:.3f}-{a.end_s:.3f} s); "
                "spans must not overlap: merge them into one or move an edge")
    return [sp for _, sp in spans]


def _check_duration(duration_s) -> float | None:
    if duration_s is None:
        return None
    d = float(duration_s)
    if not (math.isfinite(d) and d > 0):
        raise ParameterError(f"duration_s must be a positive number of seconds, got {duration_s!r}")
    return d


def check_spans(
    spans: Iterable, *, duration_s: float | None = None, name: str = "span"
) -> list[Span]:
    """Check spans given in Python and return them as sorted :class:`Span` objects.

    Parameters
    ----------
    spans : iterable of (start_s, end_s), (start_s, end_s, strength), Span or Event
        Times in seconds; an :class:`~cleantake.locate.Event` gives its span and its
        strength (1 when it has none).
    duration_s : float, optional
        Length of the recording in seconds: spans must lie inside it (an end up to 1 ms past
        it is cut to it).
    name : str
        What the spans are called in error messages (``"keep"`` gives "keep span 2: ..."; the
        default "span 2: ...").

    Returns
    -------
    list of Span
        Sorted by start time.

    Raises
    ------
    ParameterError
        A span that is not 2 or 3 numbers, has no length, is reversed, lies outside the
        recording, has a strength outside 0..1, or overlaps another.
    """
    d = _check_duration(duration_s)
    out = []
    for i, sp in enumerate(spans, 1):
        where = f"{name} {i}" if name == "span" else f"{name} span {i}"
        if isinstance(sp, Event):
            s, e, g = sp.start_s, sp.end_s, _strength_of(sp)
        else:
            try:
                items = tuple(sp)
            except TypeError:
                raise ParameterError(
                    f"{where}: expected (start_s, end_s) or (start_s, end_s, strength), got {sp!r}") from None
            if len(items) not in (2, 3):
                raise ParameterError(
                    f"{where}: expected (start_s, end_s) or (start_s, end_s, strength), got {sp!r}")
            s, e, g = (*items, 1.0) if len(items) == 2 else items
            if any(isinstance(v, str) for v in (s, e, g)):
                raise ParameterError(f"{where}: start, end and strength must be numbers, got {sp!r}")
        out.append((where, _checked_span(where, s, e, g, d)))
    return _no_overlaps(out)


def _clock_seconds(text: str) -> float:
    m = _CLOCK.match(text.strip())
    if not m:
        raise ValueError(text)
    h, mi, s = int(m["h"] or 0), int(m["m"] or 0), float(m["s"])
    if (m["m"] is not None and s >= 60) or (m["h"] is not None and mi >= 60):
        raise ValueError(text)
    return 3600 * h + 60 * mi + s


def parse_span(text: str, *, duration_s: float | None = None) -> tuple[float, float]:
    """Read one span typed on the command line.

    Parameters
    ----------
    text : str
        ``START-END`` with each time in seconds (``12.30-12.95``), ``m:ss.s``
        (``1:02.5-1:03.1``) or ``h:mm:ss.s`` (``1:02:03-1:02:04.5``); spaces around the
        dash and an en dash (``–``) are accepted.
    duration_s : float, optional
        Length of the recording: the span must lie inside it.

    Returns
    -------
    (start_s, end_s) : tuple of float
        Seconds from the start of the recording, ``start_s < end_s``.

    Raises
    ------
    ParameterError
        Any other form, a reversed or empty span, or one outside the recording; the message
        lists the accepted forms.
    """
    raw = str(text)
    parts = re.split(r"\s*[-–]\s*", raw.strip())
    try:
        if len(parts) != 2:
            raise ValueError(raw)
        start, end = (_clock_seconds(p) for p in parts)
    except ValueError:
        raise ParameterError(f"cannot read the span {raw!r}; use {SPAN_FORMS}") from None
    sp = _checked_span(f"span {raw!r}", start, end, 1.0, _check_duration(duration_s))
    return sp.start_s, sp.end_s


def _read_span_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ParameterError(f"label file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise ParameterError(f"label file {str(path)!r} is a folder, not a file") from None
    except OSError as exc:
        raise ParameterError(f"cannot read label file {str(path)!r}: {exc.strerror or exc}") from None
    if b"\0" in raw[:4096]:
        raise ParameterError(f"{str(path)!r} is not a text label file (it holds binary data)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # An exporter writing the label text in a legacy encoding: only the times matter here.
        return raw.decode("latin-1")


def _spans_audacity(path: Path, text: str, d: float | None) -> list[tuple[str, Span]]:
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip(" ").startswith("\\"):
            continue  # blank line, or Audacity's frequency-range line "\<TAB>low<TAB>high"
        parts = line.split("\t", 2) if "\t" in line else line.split(None, 2)
        where = f"{str(path)!r} line {lineno}"
        if len(parts) < 2:
            raise ParameterError(
                f"{where}: expected 'start<TAB>end<TAB>label' (an Audacity label track), got {line.strip()[:60]!r}")
        label = parts[2] if len(parts) > 2 else ""
        ms = list(_STRENGTH.finditer(label))
        strength = ms[-1]["x"] if ms else 1.0
        out.append((f"line {lineno}", _checked_span(where, parts[0], parts[1], strength, d,
                                                      ", e.g. drag the label's edges apart in Audacity")))
    return out


def _spans_json(path: Path, text: str, d: float | None) -> list[tuple[str, Span]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{str(path)!r} is not valid JSON: {exc}") from None
    if isinstance(doc, dict):
        doc = doc.get("events")
    if not isinstance(doc, list):
        raise ParameterError(f"{str(path)!r}: expected an 'events' list of {{\"start_s\", \"end_s\"}} objects")
    out = []
    for i, ev in enumerate(doc):
        where = f"{str(path)!r} event {i}"
        if not isinstance(ev, dict) or not {"start_s", "end_s"} <= ev.keys():
            raise ParameterError(f"{where}: needs start_s and end_s (seconds)")
        for k in ("start_s", "end_s", "strength"):
            if k in ev and (isinstance(ev[k], bool) or not isinstance(ev[k], (int, float))):
                raise ParameterError(f"{where}: {k} must be a number, got {ev[k]!r}")
        out.append((f"event {i}", _checked_span(where, ev["start_s"], ev["end_s"], ev.get("strength", 1.0), d)))
    return out


def _spans_csv(path: Path, text: str, d: float | None) -> list[tuple[str, Span]]:
    try:
        reader = csv.DictReader(io.StringIO(text))
        fields = reader.fieldnames
    except csv.Error as exc:
        raise ParameterError(f"{str(path)!r} is not valid CSV: {exc}") from None
    if fields is None:
        return []  # empty file: no spans
    if not {"start_s", "end_s"} <= {f.strip() for f in fields}:
        raise ParameterError(
            f"{str(path)!r}: the CSV header must name start_s and end_s (label, confidence, strength optional), "
            f"got {','.join(fields)!r}")
    out = []
    try:
        for r in reader:
            r = {(k or "").strip(): v for k, v in r.items()}
            lineno = reader.line_num
            if all(not (v or "").strip() for v in r.values() if isinstance(v, str)):
                continue
            where = f"{str(path)!r} line {lineno}"
            strength = (r.get("strength") or "").strip() or 1.0
            out.append((f"line {lineno}", _checked_span(where, r.get("start_s"), r.get("end_s"), strength, d)))
    except csv.Error as exc:
        raise ParameterError(f"{str(path)!r} is not valid CSV: {exc}") from None
    return out


def read_spans(path: str | os.PathLike, *, duration_s: float | None = None) -> list[Span]:
    """Read spans to repair, learn from or keep from a label file.

    Parameters
    ----------
    path : str or path-like
        ``.txt``/``.labels`` (an Audacity label track as Audacity exports it, frequency-range
        lines included), ``.json`` or ``.csv`` (as :func:`write_labels` writes them); see the
        module notes for the optional strength in each.
    duration_s : float, optional
        Length of the recording in seconds: spans must lie inside it.

    Returns
    -------
    list of Span
        Sorted by start time; empty for a file with no labels.

    Raises
    ------
    ParameterError
        A missing, unreadable or malformed file, or a span that has no length (an Audacity
        point label), is reversed, lies outside the recording, has a strength outside 0..1 or
        overlaps another; the message names the line (``.txt``, ``.csv``) or event index
        (``.json``) and gives times in seconds.
    """
    path = Path(path)
    fmt = _format_of(path)
    d = _check_duration(duration_s)
    text = _read_span_text(path)
    if fmt == "audacity":
        spans = _spans_audacity(path, text, d)
    elif fmt == "json":
        spans = _spans_json(path, text, d)
    else:
        spans = _spans_csv(path, text, d)
    try:
        return _no_overlaps(spans)
    except ParameterError as exc:
        raise ParameterError(f"{str(path)!r}: {exc}") from None


def spans_from_arg(text: str | os.PathLike, *, duration_s: float | None = None) -> list[Span]:
    """Spans from one command-line value: a span (see :func:`parse_span`) or a label file.

    A value that ends in a label-file extension (:data:`LABEL_FORMATS`) or names an existing
    file is read with :func:`read_spans`; anything else is parsed as one span.
    """
    s = os.fspath(text)
    p = Path(s)
    if p.suffix.lower() in LABEL_FORMATS or p.is_file():
        return read_spans(p, duration_s=duration_s)
    start, end = parse_span(s, duration_s=duration_s)
    return [Span(start, end, 1.0)]


def format_span_label(label: str, strength: float) -> str:
    """Audacity label text carrying a strength, as :func:`read_spans` reads it: ``"cough strength=0.5"``.

    Strength 1 (the default) is left out.
    """
    label = _STRENGTH.sub("", _clean_label(label)).strip()
    g = float(strength)
    if not (0.0 <= g <= 1.0):
        raise ParameterError(f"strength {g!r} is outside 0..1")
    if g >= 1.0:
        return label or "interference"
    return f"{label} strength={g:g}".strip()


def write_spans(path: str | os.PathLike, spans: Iterable, *, labels: Sequence[str] | None = None,
                duration_s: float | None = None) -> Path:
    """Write spans (with strengths) to a label file that :func:`read_spans` reads back.

    Parameters
    ----------
    path : str or path-like
        ``.txt`` (Audacity, strength in the label text as ``strength=X``), ``.json`` or
        ``.csv`` (a ``strength`` field / column).
    spans : iterable of (start_s, end_s[, strength]) or Span
        Checked as by :func:`check_spans`.
    labels : sequence of str, optional
        A label per span (default ``"interference"``).
    duration_s : float, optional
        Length of the recording: spans must lie inside it.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    fmt = _format_of(path)
    spans = list(spans)
    labs = list(labels) if labels is not None else ["interference"] * len(spans)
    if len(labs) != len(spans):
        raise ParameterError(f"{len(labs)} labels for {len(spans)} spans")
    order = sorted(range(len(spans)), key=lambda i: tuple(spans[i])[:2])
    checked = check_spans([spans[i] for i in order], duration_s=duration_s)
    labs = [_clean_label(labs[i]) for i in order]
    if fmt == "audacity":
        text = "".join(f"{sp.start_s:.6f}\t{sp.end_s:.6f}\t{format_span_label(lab, sp.strength)}\n"
                       for sp, lab in zip(checked, labs))
    elif fmt == "json":
        text = json.dumps({"format": _FORMAT_NAME, "version": _FORMAT_VERSION,
                           "duration_s": None if duration_s is None else float(duration_s),
                           "events": [{"start_s": sp.start_s, "end_s": sp.end_s, "label": lab,
                                       "strength": sp.strength} for sp, lab in zip(checked, labs)]},
                          indent=2) + "\n"
    else:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["start_s", "end_s", "label", "strength"])
        for sp, lab in zip(checked, labs):
            w.writerow([f"{sp.start_s:.6f}", f"{sp.end_s:.6f}", lab, f"{sp.strength:g}"])
        text = buf.getvalue()
    return _write_text(path, text)
