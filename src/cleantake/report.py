"""Self-contained HTML reports: see and hear what cleantake located and removed.

A report is one ``.html`` file with everything embedded (PNG images and WAV excerpts as
base64 ``data:`` URIs, inline CSS, no scripts, no network access needed):

* a log-frequency spectrogram of the input, the cleaned output and the removed part, on one
  colour scale, with every located event marked (span, number, class, confidence);
* a table of events (start, end, duration, class, confidence);
* for the most confident events, a close-up spectrogram and audio players for the input,
  cleaned and removed excerpt (the event plus :data:`SNIPPET_CONTEXT_S` seconds either side),
  so the user can compare by ear.

Size bound
----------
The overview spectrogram has at most :data:`MAX_COLUMNS` time columns whatever the length
of the recording (columns average the power of all STFT frames they cover), so it stays
below ~1 MB. Excerpts are 16-bit WAV at the input sample rate (mono or stereo as the input;
more than two channels are downmixed to mono), at most :data:`MAX_SNIPPET_S` seconds each,
for at most :data:`MAX_SNIPPETS` events chosen by confidence and within a raw audio budget
of :data:`AUDIO_BUDGET_BYTES` (24 MB, 32 MB once base64-encoded). Each close-up image is
~30-70 kB. A report is therefore always below ~40 MB; a 30-s stereo take with 3 events is
about 6 MB. Every event stays in the table even when it gets no excerpt.

A batch index (:func:`write_index`) links the reports of many files with their event counts.

matplotlib is needed (``pip install 'cleantake[report]'``); it is imported only when a
report is drawn, and only through its object-oriented Agg API (no pyplot, no global backend
change), so reports can be drawn from worker threads.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .atomic import atomic_write, prepare_folder
from .optional import require
from .errors import ParameterError
from .locate import Event

__all__ = [
    "write_report",
    "write_index",
    "report_filename",
    "format_clock",
    "MAX_COLUMNS",
    "MAX_SNIPPETS",
    "MAX_SNIPPET_S",
    "SNIPPET_CONTEXT_S",
    "AUDIO_BUDGET_BYTES",
]

#: Most time columns of the overview spectrogram (longer recordings are averaged down).
MAX_COLUMNS = 1200
#: Most events that get close-up images and audio excerpts (the most confident ones).
MAX_SNIPPETS = 50
#: Longest excerpt in seconds.
MAX_SNIPPET_S = 6.0
#: Seconds of context played before and after each event.
SNIPPET_CONTEXT_S = 1.0
#: Raw bytes of 16-bit WAV all excerpts together may take (base64 adds a third).
AUDIO_BUDGET_BYTES = 24_000_000

_N_BANDS = 160
_FMIN_HZ = 30.0
_DYN_RANGE_DB = 90.0
_CMAP = "magma"
_MAX_LABELLED_EVENTS = 40
_FRAME_CHUNK = 4096
_HZ_TICKS = (31.5, 63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000)


# ----------------------------------------------------------------------------- helpers


def _require_matplotlib():
    """matplotlib's OO API (Figure, FigureCanvasAgg), or MissingDependencyError with the hint."""
    figure = require("matplotlib.figure", extra="report")
    agg = require("matplotlib.backends.backend_agg", extra="report")
    return figure.Figure, agg.FigureCanvasAgg


def _as_2d(x, name: str):
    """View as (n_samples, n_channels) float without copying float32/float64 input; check finiteness.

    A :class:`cleantake.io.FileSamples` (a file read on demand) is returned as it is: its
    reads already refuse NaN or infinite samples.
    """
    from .io import FileSamples

    if isinstance(x, FileSamples):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ParameterError(f"{name} must have shape (n_samples,) or (n_samples, n_channels), got {arr.shape}")
    step = 1 << 20  # check in blocks: no full-size temporary for hour-long input
    for i in range(0, arr.shape[0], step):
        if not np.isfinite(arr[i : i + step]).all():
            bad = i + int(np.flatnonzero(~np.isfinite(arr[i : i + step]).all(axis=1))[0])
            raise ParameterError(f"{name} contains NaN or infinite samples (first at {bad} samples)")
    return arr


def format_clock(t: float) -> str:
    """Seconds as ``m:ss.sss`` or ``h:mm:ss.sss`` (e.g. ``75.5`` -> ``"1:15.500"``)."""
    t = max(0.0, float(t))
    ms = int(round(t * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s = rem / 1000
    return f"{h}:{m:02d}:{s:06.3f}" if h else f"{m}:{s:06.3f}"


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    return s[:120] or "report"


def report_filename(name: str | os.PathLike) -> str:
    """File name of the report for an input given by its path relative to the batch root.

    ``"take1.wav"`` -> ``"take1.html"``; ``"live/day 2/take1.flac"`` -> ``"live_day_2_take1.html"``
    (folders joined with ``_``, characters other than letters, digits, ``.``, ``-``, ``_`` replaced),
    so the reports of ``a/take.wav`` and ``b/take.wav`` can share one folder. Names that differ
    only in the extension (``take.wav``, ``take.flac``) or in ``/`` versus ``_`` still map to the
    same file; a caller with such inputs passes its own ``filename`` to :func:`write_report`.
    """
    p = Path(name)
    parts = [*p.parent.parts, p.stem] if p.parent != Path(".") else [p.stem]
    parts = [q for q in parts if q not in ("/", "\\", "..", ".") and not q.endswith(":\\")]
    return _slug("_".join(parts)) + ".html"


def _prepare_dir(out_dir) -> Path:
    return prepare_folder(out_dir, "report folder")


# ----------------------------------------------------------------------------- spectrogram


def _band_matrix(sr: int, n_fft: int, n_bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights (n_bands, n_bins) averaging rFFT bins into log-spaced bands, and band edges in Hz."""
    fmax = sr / 2
    fmin = min(_FMIN_HZ, fmax / 8)
    edges = np.geomspace(fmin, fmax, n_bands + 1)
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    W = np.zeros((n_bands, freqs.size))
    for b in range(n_bands):
        lo, hi = edges[b], edges[b + 1]
        inside = (freqs >= lo) & (freqs < hi)
        if inside.any():
            W[b, inside] = 1.0
        else:  # band narrower than a bin: interpolate between the two neighbouring bins
            fc = math.sqrt(lo * hi) * n_fft / sr
            k = min(int(fc), freqs.size - 2)
            frac = fc - k
            W[b, k], W[b, k + 1] = 1 - frac, frac
    W /= W.sum(axis=1, keepdims=True)
    return W.astype(np.float32), edges


def _mono_segment(x: np.ndarray, a: int, b: int) -> np.ndarray:
    """Mono float32 samples ``a .. b-1`` of ``x`` (n, C); indices outside are mirrored (reflect padding)."""
    n = x.shape[0]
    if a >= 0 and b <= n:
        seg = x[a:b]
    else:
        idx = np.abs(np.arange(a, b))
        if n > 1:
            idx = np.where(idx >= n, 2 * (n - 1) - idx, idx)
            idx = np.clip(idx, 0, n - 1)  # signals shorter than the padding: repeat the edge
        else:
            idx = np.zeros_like(idx)
        seg = x[idx]
    return (seg.mean(axis=1) if seg.shape[1] > 1 else seg[:, 0]).astype(np.float32)


def _band_spectrogram(x: np.ndarray, sr: int, *, max_cols: int, n_bands: int = _N_BANDS):
    """Power in log-frequency bands over time, averaged down to at most ``max_cols`` columns.

    Works through the signal in blocks of STFT frames, so memory stays at a few tens of MB
    whatever the length of the recording.

    Parameters
    ----------
    x : ndarray, shape (n_samples, n_channels)
        Signal; channels are averaged (mono downmix).
    sr : int
        Sample rate in Hz.
    max_cols : int
        Most time columns to return.
    n_bands : int
        Number of log-spaced frequency bands from 30 Hz to ``sr / 2``.

    Returns
    -------
    P : ndarray, shape (n_bands, n_cols), float32
        Mean power per band and column; column ``k`` covers ``[k, k + 1) * n_samples / n_cols``.
    f_edges : ndarray, shape (n_bands + 1,)
        Band edges in Hz (log-spaced).
    """
    n = x.shape[0]
    n_fft = max(256, 2 ** int(round(math.log2(0.046 * sr))))
    hop = n_fft // 4 if n <= 600 * sr else n_fft // 2  # Hann at 50 % overlap still covers every sample
    pad = n_fft // 2  # frame f covers samples f*hop - pad .. f*hop + pad, centred on f*hop
    n_frames = 1 + n // hop
    # columns at least one hop wide, so none is empty
    n_cols = int(max(1, min(max_cols, n // hop)))
    # frame f goes to the column that holds its centre
    col_of = np.minimum((np.arange(n_frames) * hop * n_cols) // max(n, 1), n_cols - 1)
    W, edges = _band_matrix(sr, n_fft, n_bands)
    win = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    acc = np.zeros((n_cols, n_bands), dtype=np.float64)
    for f0 in range(0, n_frames, _FRAME_CHUNK):
        f1 = min(n_frames, f0 + _FRAME_CHUNK)
        # mirrored at both ends, so an abrupt start or end does not show as a broadband click
        seg = _mono_segment(x, f0 * hop - pad, (f1 - 1) * hop + pad)
        fr = np.lib.stride_tricks.sliding_window_view(seg, n_fft)[::hop] * win
        spec = np.fft.rfft(fr, axis=1)
        power = (spec.real**2 + spec.imag**2).astype(np.float32)
        bands = power @ W.T  # (chunk, n_bands)
        cols = col_of[f0:f1]  # non-decreasing: sum runs of equal columns
        starts = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])
        acc[cols[starts]] += np.add.reduceat(bands, starts, axis=0)
    counts = np.bincount(col_of, minlength=n_cols)[:, None]
    P = (acc / np.maximum(counts, 1)).T.astype(np.float32)
    return P, edges


def _to_db(P: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(P, 1e-20))


def _style_freq_axis(ax, edges: np.ndarray) -> None:
    lo, hi = math.log10(edges[0]), math.log10(edges[-1])
    ticks = [f for f in _HZ_TICKS if edges[0] <= f <= edges[-1]]
    ax.set_yticks([math.log10(f) for f in ticks])
    ax.set_yticklabels([(f"{f / 1000:g}k" if f >= 1000 else f"{f:g}") for f in ticks])
    ax.set_ylim(lo, hi)
    ax.set_ylabel("frequency (Hz)")


def _png(fig, canvas_cls) -> tuple[str, int, int]:
    canvas = canvas_cls(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    w, h = canvas.get_width_height()
    return base64.b64encode(buf.getvalue()).decode("ascii"), int(w), int(h)


def _panels(audio, cleaned, removed):
    out = [("input", audio)]
    if cleaned is not None:
        out.append(("cleaned output", cleaned))
    if removed is not None:
        out.append(("removed part", removed))
    return out


def _overview_png(panels, sr: int, events: Sequence[Event], duration: float) -> tuple[str, int, int]:
    Figure, Canvas = _require_matplotlib()
    specs = [(name, *_band_spectrogram(x, sr, max_cols=MAX_COLUMNS)) for name, x in panels]
    ref = float(_to_db(specs[0][1]).max())  # 0 dB = loudest band/column of the input
    n = len(specs)
    fig_w, fig_h = 12.0, 0.9 + 2.3 * n
    fig = Figure(figsize=(fig_w, fig_h), dpi=100)
    # fixed margins in inches (a layout engine would double the drawing time)
    left, right, bottom, top = 0.8 / fig_w, 1 - 1.25 / fig_w, 0.55 / fig_h, 1 - 0.3 / fig_h
    fig.subplots_adjust(left=left, right=right, bottom=bottom, top=top, hspace=0.28)
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    im = None
    label_events = len(events) <= _MAX_LABELLED_EVENTS
    min_width = duration / 600  # keep very short events visible on long recordings
    for k, (ax, (name, P, edges)) in enumerate(zip(axes, specs)):
        extent = (0.0, duration, math.log10(edges[0]), math.log10(edges[-1]))
        im = ax.imshow(_to_db(P) - ref, origin="lower", aspect="auto", extent=extent, cmap=_CMAP,
                       vmin=-_DYN_RANGE_DB, vmax=0.0, interpolation="nearest")
        _style_freq_axis(ax, edges)
        ax.set_title(name, loc="left", fontsize=10)
        for i, ev in enumerate(events, 1):
            s, e = ev.start_s, max(ev.end_s, ev.start_s + min_width)
            if not label_events:
                # many events: a marker lane along the top edge keeps the spectrogram visible
                ax.axvspan(s, e, ymin=0.95, ymax=1.0, facecolor="#39d0ff", edgecolor="none")
                continue
            # outline only: the spectrogram under the event stays as it is
            ax.axvspan(s, e, facecolor="none", edgecolor="#39d0ff", linewidth=0.9)
            if k == 0:
                ax.text(s, extent[3], f" {i} {ev.label} {ev.confidence:.2f}", color="white", fontsize=7,
                        va="top", ha="left", rotation=90, clip_on=True,
                        bbox=dict(facecolor="black", alpha=0.45, pad=1, linewidth=0))
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(0, duration)
    cax = fig.add_axes((right + 0.15 / fig_w, bottom, 0.18 / fig_w, top - bottom))
    cb = fig.colorbar(im, cax=cax)
    cb.set_label("level (dB re input peak)")
    return _png(fig, Canvas)


class _CloseupPainter:
    """Draws the close-up spectrograms of one excerpt after another on one reused figure.

    Building a matplotlib figure (fonts, layout) costs far more than drawing it, so the figure,
    axes, colour bar and markers are made once and only the image data, extent and marker
    positions change per event.
    """

    def __init__(self, names: Sequence[str]):
        Figure, self._canvas_cls = _require_matplotlib()
        n = len(names)
        self.fig = Figure(figsize=(3.4 * n + 1.1, 2.4), dpi=80)
        left, right = 0.75 / (3.4 * n + 1.1), 1 - 0.9 / (3.4 * n + 1.1)
        self.fig.subplots_adjust(left=left, right=right, bottom=0.2, top=0.88, wspace=0.08)
        self.axes = self.fig.subplots(1, n, sharey=True, squeeze=False)[0]
        self.ims, self.marks = [], []
        for k, (ax, name) in enumerate(zip(self.axes, names)):
            im = ax.imshow(np.zeros((2, 2)), origin="lower", aspect="auto", cmap=_CMAP,
                           vmin=-_DYN_RANGE_DB, vmax=0.0, interpolation="nearest")
            self.ims.append(im)
            self.marks.append([ax.axvline(0, color="#39d0ff", linestyle="--", linewidth=1.0) for _ in range(2)])
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("time (s)", fontsize=8)
            ax.tick_params(labelsize=7)
        cax = self.fig.add_axes((right + 0.012, 0.2, 0.012, 0.68))
        cb = self.fig.colorbar(self.ims[0], cax=cax)
        cb.set_label("dB re input peak", fontsize=8)
        cb.ax.tick_params(labelsize=7)
        self._canvas_cls(self.fig)

    def paint(self, panels, sr: int, a: int, b: int, ev: Event) -> tuple[str, int, int]:
        specs = [_band_spectrogram(x[a:b], sr, max_cols=320, n_bands=96) for _, x in panels]
        ref = float(_to_db(specs[0][0]).max())
        t0, t1 = a / sr, b / sr
        for k, (ax, im, marks, (P, edges)) in enumerate(zip(self.axes, self.ims, self.marks, specs)):
            extent = (t0, t1, math.log10(edges[0]), math.log10(edges[-1]))
            im.set_data(_to_db(P) - ref)
            im.set_extent(extent)
            ax.set_xlim(t0, t1)
            for line, t in zip(marks, (ev.start_s, ev.end_s)):
                line.set_xdata([t, t])
            if k == 0:
                _style_freq_axis(ax, edges)
        return _png(self.fig, self._canvas_cls)


# ----------------------------------------------------------------------------- audio


def _wav_b64(x: np.ndarray, sr: int) -> str:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1.0, 1.0), sr, format="WAV", subtype="PCM_16")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _snippet_span(ev: Event, sr: int, n: int) -> tuple[int, int]:
    a = max(0.0, ev.start_s - SNIPPET_CONTEXT_S)
    b = min(ev.end_s + SNIPPET_CONTEXT_S, a + MAX_SNIPPET_S)
    ia, ib = int(round(a * sr)), min(n, int(round(b * sr)))
    if ib - ia < 2:  # event at the very end: take the last bit of the recording
        ia = max(0, ib - int(sr * SNIPPET_CONTEXT_S))
    return ia, ib


def _choose_snippets(events: Sequence[Event], sr: int, n: int, n_out_ch: int, n_versions: int) -> list[int]:
    """Indices of events that get excerpts: most confident first, within count and size budgets."""
    order = sorted(range(len(events)), key=lambda i: (-events[i].confidence, events[i].start_s))
    chosen, used = [], 0
    for i in order:
        if len(chosen) >= MAX_SNIPPETS:
            break
        a, b = _snippet_span(events[i], sr, n)
        cost = (b - a) * n_out_ch * 2 * n_versions
        if used + cost > AUDIO_BUDGET_BYTES:
            continue
        chosen.append(i)
        used += cost
    return sorted(chosen)


# ----------------------------------------------------------------------------- HTML

_CSS = """
:root{--fg:#1d1f23;--muted:#5d6470;--line:#d9dde3;--acc:#0b7bbf;--bg:#fff;--card:#f6f8fa}
*{box-sizing:border-box}body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--fg);background:var(--bg);margin:0 auto;max-width:1280px;padding:16px 24px 40px}
h1{font-size:22px;margin:8px 0 4px;word-break:break-all}h2{font-size:18px;margin:28px 0 8px;
border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:0 0 6px}
.meta{color:var(--muted);margin:0}img{max-width:100%;height:auto;display:block}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;width:100%}
th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th{background:var(--card);position:sticky;top:0}td.l,th.l{text-align:left}
.bar{display:inline-block;height:8px;background:var(--acc);vertical-align:middle;margin-left:6px;border-radius:2px}
article{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:12px;margin:12px 0}
.players{display:flex;flex-wrap:wrap;gap:12px;margin-top:8px}.players figure{margin:0}
.players figcaption{font-size:13px;color:var(--muted)}audio{width:300px}
.note{color:var(--muted);font-size:13px}a{color:var(--acc)}
td.ok{color:#18794e}td.bad{color:#b42318}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("cleantake")
    except Exception:
        return "dev"


def _footer() -> str:
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f'<p class="note">Made by cleantake {html.escape(_version())} on {now}.</p>'


def _class_summary(events: Sequence[Event]) -> str:
    counts: dict[str, int] = {}
    for ev in events:
        counts[ev.label] = counts.get(ev.label, 0) + 1
    return ", ".join(f"{html.escape(k)} × {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def write_report(
    out_dir: str | os.PathLike,
    audio: np.ndarray,
    sr: int,
    *,
    cleaned: np.ndarray | None,
    removed: np.ndarray | None,
    events: Iterable[Event],
    title: str,
    source_path: str | os.PathLike | None = None,
    filename: str | None = None,
) -> Path:
    """Write a self-contained HTML report of located (and removed) interference.

    Parameters
    ----------
    out_dir : str or path-like
        Folder to write into (created if missing).
    audio : ndarray, shape (n_samples, n_channels) or (n_samples,), or FileSamples
        The input recording, float, nominal range [-1, 1]; a :class:`cleantake.io.FileSamples`
        reads a long file piece by piece instead (memory then stays at tens of MB).
    sr : int
        Sample rate in Hz.
    cleaned, removed : ndarray or FileSamples, same shape as ``audio``, or None
        Cleaned output and removed part; None when only locating (``inspect``), in which
        case only the input is shown and played.
    events : iterable of Event
        Located events, times in seconds.
    title : str
        Heading of the page (e.g. the input file name).
    source_path : str or path-like, optional
        Input file, shown in the header; its stem names the report file.
    filename : str, optional
        Report file name inside ``out_dir`` (default: ``<source stem or title>.html``).

    Returns
    -------
    Path
        The written ``.html`` file.

    Raises
    ------
    ParameterError
        Mismatched shapes, bad sample rate, non-finite samples or invalid events.
    AudioWriteError
        The folder or file cannot be written.
    CleantakeError
        matplotlib is not installed.
    """
    _require_matplotlib()
    x = _as_2d(audio, "audio")
    if not (isinstance(sr, (int, np.integer)) and sr > 0):
        raise ParameterError(f"sample rate must be a positive integer in Hz, got {sr!r}")
    sr = int(sr)
    c = None if cleaned is None else _as_2d(cleaned, "cleaned")
    r = None if removed is None else _as_2d(removed, "removed")
    for name, arr in (("cleaned", c), ("removed", r)):
        if arr is not None and arr.shape != x.shape:
            raise ParameterError(f"{name} has shape {arr.shape} but audio has shape {x.shape}")
    n, n_ch = x.shape
    duration = n / sr
    evs = sorted(events, key=lambda e: (e.start_s, e.end_s))
    for i, ev in enumerate(evs, 1):
        if not isinstance(ev, Event):
            raise ParameterError(f"event {i} is a {type(ev).__name__}, expected cleantake.locate.Event")
        if not (0 <= ev.start_s <= ev.end_s) or not math.isfinite(ev.end_s):
            raise ParameterError(f"event {i} ({ev.label}) has an invalid span {ev.start_s} s .. {ev.end_s} s")
        if ev.start_s > duration + 1e-6:
            raise ParameterError(
                f"event {i} ({ev.label}) starts at {ev.start_s:.3f} s, after the end of the recording "
                f"({duration:.3f} s)"
            )
    out = _prepare_dir(out_dir)
    name = filename or report_filename(Path(source_path).name if source_path is not None else title)
    path = out / name

    panels = _panels(x, c, r)
    ov_b64, ov_w, ov_h = _overview_png(panels, sr, evs, duration)

    # excerpts: input layout kept for mono/stereo, downmixed to mono beyond two channels
    def out_ch(arr: np.ndarray) -> np.ndarray:
        return arr if arr.shape[1] <= 2 else arr.mean(axis=1, keepdims=True)

    n_out_ch = min(n_ch, 2) if n_ch <= 2 else 1
    chosen = _choose_snippets(evs, sr, n, n_out_ch, len(panels))

    parts = [f"<header>\n<h1>{html.escape(title)}</h1>"]
    meta = []
    if source_path is not None:
        meta.append(f"source <code>{html.escape(str(source_path))}</code>")
    meta.append(f"duration {format_clock(duration)} ({duration:.3f} s)")
    meta.append(f"{sr} Hz, {n_ch} channel{'s' if n_ch != 1 else ''}")
    meta.append(f"{len(evs)} event{'s' if len(evs) != 1 else ''}" + (f" ({_class_summary(evs)})" if evs else ""))
    if c is None:
        meta.append("located only (no audio was changed)")
    parts.append(f'<p class="meta">{" · ".join(meta)}</p>\n</header>')

    parts.append('<section id="overview">\n<h2>Spectrograms</h2>')
    names = ", ".join(p[0] for p in panels)
    parts.append(
        f'<p class="note">{html.escape(names)}; log frequency, one colour scale (dB re the input peak); '
        + ("located events outlined and numbered as in the table." if len(evs) <= _MAX_LABELLED_EVENTS
           else "located events marked along the top edge of each panel (too many to outline).")
        + "</p>"
    )
    parts.append(
        f'<img id="overview-img" src="data:image/png;base64,{ov_b64}" width="{ov_w}" height="{ov_h}" '
        f'alt="Spectrograms of {html.escape(names)} with located events marked">\n</section>'
    )

    parts.append('<section id="events">\n<h2>Events</h2>')
    if not evs:
        parts.append('<p>No interference was located.</p>')
    else:
        rows = []
        chosen_set = set(chosen)
        for i, ev in enumerate(evs, 1):
            listen = f'<a href="#ev-{i}">listen</a>' if (i - 1) in chosen_set else "—"
            rows.append(
                f'<tr id="row-{i}"><td>{i}</td><td>{ev.start_s:.3f}</td><td>{ev.end_s:.3f}</td>'
                f"<td>{ev.end_s - ev.start_s:.3f}</td><td>{format_clock(ev.start_s)}</td>"
                f'<td class="l">{html.escape(ev.label)}</td>'
                f'<td>{ev.confidence:.2f}<span class="bar" style="width:{40 * ev.confidence:.0f}px"></span></td>'
                f'<td class="l">{listen}</td></tr>'
            )
        parts.append(
            '<table id="events-table">\n<thead><tr><th>#</th><th>start (s)</th><th>end (s)</th>'
            '<th>duration (s)</th><th>at</th><th class="l">class</th><th>confidence</th><th class="l">audio</th>'
            "</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
        )
        if len(chosen) < len(evs):
            parts.append(
                f'<p class="note">Excerpts are included for the {len(chosen)} most confident of {len(evs)} events '
                f"(at most {MAX_SNIPPETS}, {AUDIO_BUDGET_BYTES // 1_000_000} MB of audio) to keep this file small.</p>"
            )
    parts.append("</section>")

    if chosen:
        painter = _CloseupPainter([p[0] for p in panels])
        parts.append('<section id="listen">\n<h2>Listen</h2>')
        parts.append(
            f'<p class="note">Each excerpt is the event with {SNIPPET_CONTEXT_S:g} s before and after '
            f"(at most {MAX_SNIPPET_S:g} s), 16-bit WAV at {sr} Hz. The versions of one event share one gain, "
            "so they can be compared by ear.</p>"
        )
        for i in chosen:
            ev = evs[i]
            a, b = _snippet_span(ev, sr, n)
            segs = [(label, out_ch(arr[a:b])) for label, arr in panels]
            peak = max(float(np.max(np.abs(s))) for _, s in segs)
            gain = min(1.0, 0.99 / peak) if peak > 0 else 1.0
            img_b64, w, h = painter.paint(panels, sr, a, b, ev)
            gain_note = f", scaled by {20 * math.log10(gain):.1f} dB to avoid clipping" if gain < 1.0 else ""
            players = "".join(
                f'<figure><figcaption>{html.escape(label)}</figcaption>'
                f'<audio controls preload="metadata" src="data:audio/wav;base64,{_wav_b64(s * gain, sr)}"></audio>'
                "</figure>"
                for label, s in segs
            )
            parts.append(
                f'<article id="ev-{i + 1}">\n<h3>#{i + 1} {html.escape(ev.label)} ({ev.confidence:.2f}) at '
                f"{ev.start_s:.3f}–{ev.end_s:.3f} s</h3>\n"
                f'<p class="note">excerpt {a / sr:.3f}–{b / sr:.3f} s{gain_note}; dashed lines mark the event.</p>\n'
                f'<img src="data:image/png;base64,{img_b64}" width="{w}" height="{h}" '
                f'alt="Close-up spectrograms of event {i + 1}">\n'
                f'<div class="players">{players}</div>\n</article>'
            )
        parts.append("</section>")
    parts.append(f"<footer>{_footer()}</footer>")
    atomic_write(path, _page(f"cleantake report – {title}", "\n".join(parts)))
    return path


def write_index(
    out_dir: str | os.PathLike, entries: Iterable[Mapping], *, title: str = "cleantake batch report"
) -> Path:
    """Write ``index.html`` linking the per-file reports of a batch.

    Parameters
    ----------
    out_dir : str or path-like
        Folder of the reports (created if missing); ``index.html`` is written there.
    entries : iterable of mapping
        One per input file, with keys ``name`` (str), ``report`` (path of its report relative
        to ``out_dir``, or None when there is none), ``n_events`` (int or None),
        ``duration_s`` (float or None), ``status`` (e.g. ``"ok"`` or ``"failed"``) and
        optionally ``error`` (message shown for failures).
    title : str, optional
        Page heading.

    Returns
    -------
    Path
        The written ``index.html``.
    """
    out = _prepare_dir(out_dir)
    rows, total_events, n_ok, n_files = [], 0, 0, 0
    for k, e in enumerate(entries):
        if "name" not in e:
            raise ParameterError(f"index entry {k} has no 'name'")
        n_files += 1
        name = html.escape(str(e["name"]))
        report = e.get("report")
        link = f'<a href="{html.escape(Path(report).as_posix(), quote=True)}">{name}</a>' if report else name
        n_ev = e.get("n_events")
        total_events += int(n_ev or 0)
        dur = e.get("duration_s")
        status = str(e.get("status", "ok"))
        ok = status.lower() in ("ok", "done", "cleaned", "located", "skipped")
        n_ok += ok
        err = e.get("error")
        status_html = html.escape(status) + (f": {html.escape(str(err))}" if err else "")
        # long error messages (paths, reasons) wrap inside the cell instead of widening the page
        status_html = f'<span style="overflow-wrap:anywhere;white-space:normal">{status_html}</span>'
        rows.append(
            f'<tr><td class="l">{link}</td><td>{"—" if dur is None else format_clock(dur)}</td>'
            f'<td>{"—" if n_ev is None else int(n_ev)}</td>'
            f'<td class="l {"ok" if ok else "bad"}">{status_html}</td></tr>'
        )
    body = [
        f"<header><h1>{html.escape(title)}</h1>",
        f'<p class="meta">{n_files} file{"s" if n_files != 1 else ""}, {n_ok} ok, '
        f"{n_files - n_ok} not; {total_events} event{'s' if total_events != 1 else ''} in total</p></header>",
        '<table id="index-table"><thead><tr><th class="l">file</th><th>duration</th><th>events</th>'
        '<th class="l">status</th></tr></thead><tbody>',
        "\n".join(rows),
        "</tbody></table>",
        f"<footer>{_footer()}</footer>",
    ]
    path = out / "index.html"
    atomic_write(path, _page(title, "\n".join(body)))
    return path
