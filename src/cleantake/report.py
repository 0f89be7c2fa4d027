"""Self-contained HTML reports: see and hear what cleantake located and removed.

A report is one ``.html`` file with everything embedded (PNG images and audio excerpts as
base64 ``data:`` URIs, inline CSS and a little inline JavaScript, no network access needed):

* a *Run* table: method, dictionary, strength, settings, input and output files, cleantake
  version and date (from ``run_info``), so a report can be audited later; a method that
  processes every sample (``nmf``, ``kam``) is said to have processed the whole recording;
* a log-frequency spectrogram of the input, the cleaned output and the removed part, on one
  colour scale, with every located event marked (span, number, class, confidence);
* a table of events (start, end, duration, class, confidence) with review controls: an
  *accept* checkbox and a *strength* per event, and a button that downloads the accepted
  events as an Audacity label track (``strength=X`` in the label text) that
  ``clean --events`` (:func:`cleantake.labels.read_spans`) takes; it works offline, from
  the file, with no server; the *candidates* the detector was less sure of (not repaired)
  are listed too, unticked, so that the user can accept the real ones;
* for the most confident events, a close-up spectrogram and audio players for the input,
  cleaned and removed excerpt (the event plus :data:`SNIPPET_CONTEXT_S` seconds either side),
  so the user can compare by ear.

Size and cost bound
-------------------
The overview spectrogram has at most :data:`MAX_COLUMNS` time columns whatever the length
of the recording (columns average the power of all STFT frames they cover) and is stored as
a 256-colour PNG of ~0.2 MB. Excerpts are MP3 (about 128 kbit/s for stereo; 16-bit FLAC when
libsndfile has no MP3 encoder) at the input rate or the nearest rate MP3 has, mono or stereo
as the input (more channels are downmixed to mono), at most :data:`MAX_SNIPPET_S` seconds
each, for at most :data:`MAX_SNIPPETS` events chosen by confidence within
:data:`AUDIO_BUDGET_BYTES` (2 MB, 2.7 MB once base64-encoded); each close-up image is
~30-50 kB. A report is therefore below ~3.5 MB plus ~0.6 kB per event in the table, whatever
the length of the recording; every event stays in the table (and can be reviewed) even when
it gets no excerpt. The cost is one pass over the recording for the overview (a removed
part given as input minus cleaned reuses their samples) plus a bounded amount per excerpt
(MP3 encoding, ~0.25 s of CPU per event for 44.1-kHz stereo). Measured on a 10-min stereo
FLAC with 33 events, drawn from the files as ``clean --report`` does: 2.5 MB and 9-10 s of
CPU, where WAV excerpts and a figure drawn per excerpt took 33.7 MB and 13.7 s.

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
from collections.abc import Collection, Iterable, Mapping, Sequence
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
MAX_SNIPPETS = 12
#: Longest excerpt in seconds.
MAX_SNIPPET_S = 6.0
#: Seconds of context played before and after each event.
SNIPPET_CONTEXT_S = 1.0
#: Bytes of encoded (MP3) audio all excerpts together may take (base64 adds a third).
AUDIO_BUDGET_BYTES = 2_000_000

_N_BANDS = 160
_FMIN_HZ = 30.0
_DYN_RANGE_DB = 90.0
_CMAP = "magma"
_MAX_LABELLED_EVENTS = 40
_FRAME_CHUNK = 4096
_FINE_HOP_MAX_S = 120.0
_CLOSEUP_BANDS = 96
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
    return _mono(_segment(x, a, b))


def _segment(x: np.ndarray, a: int, b: int) -> np.ndarray:
    """Samples ``a .. b-1`` of ``x`` (n, C), all channels; indices outside are mirrored (reflect padding)."""
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
    return seg


def _mono(seg: np.ndarray) -> np.ndarray:
    """Mono float32 downmix (channel mean) of ``seg`` (n, C)."""
    if seg.shape[1] == 1:
        return seg[:, 0].astype(np.float32)
    # a matrix-vector product: far faster than mean(axis=1) over a short last axis
    return (seg @ np.full(seg.shape[1], 1.0 / seg.shape[1], dtype=seg.dtype)).astype(np.float32)


def _spectrogram_nfft(sr: int) -> int:
    """FFT length of the report's spectrograms: a power of two near 46 ms, at least 256."""
    return max(256, 2 ** int(round(math.log2(0.046 * sr))))


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
    (P,), edges = _band_spectrograms([x], sr, max_cols=max_cols, n_bands=n_bands)
    return P, edges


def _band_spectrograms(xs: Sequence, sr: int, *, max_cols: int, n_bands: int = _N_BANDS,
                       differences: Mapping[int, tuple[int, int]] | None = None):
    """:func:`_band_spectrogram` of several signals of one length in one pass over them.

    ``differences`` maps an index ``k`` of ``xs`` to ``(i, j)``: signal ``k`` is ``xs[i] -
    xs[j]``, computed from their samples already read (``xs[k]`` is not read), so a removed
    part given as input minus cleaned output costs no further reading of the files.
    Returns the list of ``P`` arrays and the band edges.
    """
    import scipy.fft

    differences = dict(differences or {})
    needed = {i for pair in differences.values() for i in pair}
    n = xs[0].shape[0]
    n_fft = _spectrogram_nfft(sr)
    # Hann at 50 % overlap still weighs every sample equally; 75 % only for short excerpts
    hop = n_fft // 4 if n <= _FINE_HOP_MAX_S * sr else n_fft // 2
    pad = n_fft // 2  # frame f covers samples f*hop - pad .. f*hop + pad, centred on f*hop
    n_frames = 1 + n // hop
    # columns at least one hop wide, so none is empty
    n_cols = int(max(1, min(max_cols, n // hop)))
    # frame f goes to the column that holds its centre
    col_of = np.minimum((np.arange(n_frames) * hop * n_cols) // max(n, 1), n_cols - 1)
    W, edges = _band_matrix(sr, n_fft, n_bands)
    win = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    accs = [np.zeros((n_cols, n_bands), dtype=np.float64) for _ in xs]
    for f0 in range(0, n_frames, _FRAME_CHUNK):
        f1 = min(n_frames, f0 + _FRAME_CHUNK)
        cols = col_of[f0:f1]  # non-decreasing: sum runs of equal columns
        starts = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])
        raw: dict[int, np.ndarray] = {}  # all channels, kept for the differences only
        for k, x in enumerate(xs):
            if k in differences:
                i, j = differences[k]
                seg = _mono(raw[i] - raw[j])  # as the difference read from the files would be
            else:
                # mirrored at both ends, so an abrupt start or end does not show as a broadband click
                full = _segment(x, f0 * hop - pad, (f1 - 1) * hop + pad)
                if k in needed:
                    raw[k] = full
                seg = _mono(full)
                del full
            fr = np.lib.stride_tricks.sliding_window_view(seg, n_fft)[::hop] * win
            spec = scipy.fft.rfft(fr, axis=1, workers=1)  # float32 in, complex64 out
            bands = (spec.real**2 + spec.imag**2) @ W.T  # (chunk, n_bands)
            accs[k][cols[starts]] += np.add.reduceat(bands, starts, axis=0)
    counts = np.maximum(np.bincount(col_of, minlength=n_cols)[:, None], 1)
    return [(acc / counts).T.astype(np.float32) for acc in accs], edges


def _differences(panels) -> dict[int, tuple[int, int]]:
    """Panels that are another panel minus a third read from the same files: ``{k: (i, j)}``.

    The pipeline gives the removed part of a long file as
    ``FileSamples(input, minus=cleaned)``; it is then computed from the input and cleaned
    samples already read instead of reading both files again.
    """
    from .io import FileSamples

    out = {}
    arrays = [arr for _, arr in panels]
    for k, r in enumerate(arrays):
        if not (isinstance(r, FileSamples) and r.minus is not None):
            continue
        for i, x in enumerate(arrays[:k]):
            for j, c in enumerate(arrays[:k]):
                if (i != j and c is r.minus and isinstance(x, FileSamples) and x.minus is None
                        and x.shape == r.shape and Path(x.info.path).resolve() == Path(r.info.path).resolve()):
                    out[k] = (i, j)
    return out


def _to_db(P: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(P, 1e-20))


def _style_freq_axis(ax, edges: np.ndarray) -> None:
    lo, hi = math.log10(edges[0]), math.log10(edges[-1])
    ticks = [f for f in _HZ_TICKS if edges[0] <= f <= edges[-1]]
    ax.set_yticks([math.log10(f) for f in ticks])
    ax.set_yticklabels([(f"{f / 1000:g}k" if f >= 1000 else f"{f:g}") for f in ticks])
    ax.set_ylim(lo, hi)
    ax.set_ylabel("frequency (Hz)")


def _png_rgb(rgb: np.ndarray) -> tuple[str, int, int]:
    """An RGB image (h, w, 3) uint8 as a 256-colour PNG (base64), width and height in pixels.

    The colour map has 256 entries, so a palette image loses next to nothing and is about a
    third of the size of an RGB PNG.
    """
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(rgb)).quantize(
        colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6)
    h, w = rgb.shape[:2]
    return base64.b64encode(buf.getvalue()).decode("ascii"), int(w), int(h)


def _png(fig, canvas_cls) -> tuple[str, int, int]:
    """The figure drawn and encoded by :func:`_png_rgb`."""
    canvas = canvas_cls(fig)
    canvas.draw()
    return _png_rgb(np.asarray(canvas.buffer_rgba())[..., :3])


def _panels(audio, cleaned, removed):
    out = [("input", audio)]
    if cleaned is not None:
        out.append(("cleaned output", cleaned))
    if removed is not None:
        out.append(("removed part", removed))
    return out


#: Colour of the candidates for review in the overview (events are outlined in light blue).
_CANDIDATE_COLOUR = "#ffb000"


def _overview_png(panels, sr: int, events: Sequence[Event], duration: float,
                  candidates: Sequence[Event] = ()) -> tuple[str, int, int]:
    Figure, Canvas = _require_matplotlib()
    Ps, edges = _band_spectrograms([x for _, x in panels], sr, max_cols=MAX_COLUMNS,
                                   differences=_differences(panels))
    specs = [(name, P, edges) for (name, _), P in zip(panels, Ps)]
    ref = float(_to_db(specs[0][1]).max())  # 0 dB = loudest band/column of the input
    n = len(specs)
    fig_w, fig_h = 12.0, 0.9 + 2.3 * n
    fig = Figure(figsize=(fig_w, fig_h), dpi=100)
    # fixed margins in inches (a layout engine would double the drawing time)
    left, right, bottom, top = 0.8 / fig_w, 1 - 1.25 / fig_w, 0.55 / fig_h, 1 - 0.3 / fig_h
    fig.subplots_adjust(left=left, right=right, bottom=bottom, top=top, hspace=0.28)
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    im = None
    label_events = len(events) + len(candidates) <= _MAX_LABELLED_EVENTS
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
        for i, ev in enumerate(candidates, 1):  # not repaired: dashed, in another colour
            s, e = ev.start_s, max(ev.end_s, ev.start_s + min_width)
            if not label_events:
                ax.axvspan(s, e, ymin=0.0, ymax=0.05, facecolor=_CANDIDATE_COLOUR, edgecolor="none")
                continue
            ax.axvspan(s, e, facecolor="none", edgecolor=_CANDIDATE_COLOUR, linewidth=0.9, linestyle="--")
            if k == 0:
                ax.text(s, extent[2], f" c{i} {ev.confidence:.2f}", color="white", fontsize=7,
                        va="bottom", ha="left", rotation=90, clip_on=True,
                        bbox=dict(facecolor="black", alpha=0.45, pad=1, linewidth=0))
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(0, duration)
    cax = fig.add_axes((right + 0.15 / fig_w, bottom, 0.18 / fig_w, top - bottom))
    cb = fig.colorbar(im, cax=cax)
    cb.set_label("level (dB re input peak)")
    return _png(fig, Canvas)


class _CloseupPainter:
    """Draws the close-up spectrograms of one excerpt after another on one reused figure.

    Drawing text (titles, ticks, colour bar) costs far more than drawing the images, so the
    figure is drawn once without its images and kept as a background; each excerpt then
    only draws its three images, event markers and the axes' frames over a copy of it
    (blitting), about a fifth of the cost of a full draw. The time axis therefore has no
    numbers (it differs per excerpt): the caption gives the excerpt's times, and dashed
    lines mark the event. The frequency axis, titles and colour scale are the same for
    every excerpt of one recording.
    """

    def __init__(self, names: Sequence[str], sr: int):
        Figure, canvas_cls = _require_matplotlib()
        n = len(names)
        self.n_fft, self.sr = _spectrogram_nfft(sr), sr
        _, edges = _band_matrix(sr, self.n_fft, _CLOSEUP_BANDS)
        self.fig = Figure(figsize=(3.4 * n + 1.1, 2.25), dpi=80)
        left, right = 0.75 / (3.4 * n + 1.1), 1 - 0.9 / (3.4 * n + 1.1)
        self.fig.subplots_adjust(left=left, right=right, bottom=0.1, top=0.86, wspace=0.08)
        self.axes = self.fig.subplots(1, n, sharey=True, squeeze=False)[0]
        self.ims, self.marks = [], []
        extent = (0.0, 1.0, math.log10(edges[0]), math.log10(edges[-1]))
        for ax, name in zip(self.axes, names):
            im = ax.imshow(np.zeros((2, 2)), origin="lower", aspect="auto", cmap=_CMAP, extent=extent,
                           vmin=-_DYN_RANGE_DB, vmax=0.0, interpolation="nearest")
            self.ims.append(im)
            self.marks.append([ax.axvline(0, color="#39d0ff", linestyle="--", linewidth=1.0) for _ in range(2)])
            ax.set_title(name, fontsize=9)
            ax.set_xlim(0.0, 1.0)
            ax.set_xticks([])
            ax.tick_params(labelsize=7)
        _style_freq_axis(self.axes[0], edges)
        self.axes[0].yaxis.label.set_fontsize(8)
        cax = self.fig.add_axes((right + 0.012, 0.1, 0.012, 0.76))
        cb = self.fig.colorbar(self.ims[0], cax=cax)
        cb.set_label("dB re input peak", fontsize=8)
        cb.ax.tick_params(labelsize=7)
        self.canvas = canvas_cls(self.fig)
        moving = [*self.ims, *(m for pair in self.marks for m in pair)]
        for art in moving:
            art.set_visible(False)
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)
        for art in moving:
            art.set_visible(True)

    def paint(self, segs, a: int, b: int, ev: Event) -> tuple[str, int, int]:
        """Close-ups of the excerpt ``a .. b`` (samples) given as ``[(name, samples (b - a, C)), ...]``.

        Returns the PNG (base64), its width and height in pixels.
        """
        specs = [_band_spectrogram(x, self.sr, max_cols=320, n_bands=_CLOSEUP_BANDS)[0] for _, x in segs]
        ref = float(_to_db(specs[0]).max())
        t0, t1 = a / self.sr, b / self.sr
        self.canvas.restore_region(self.background)
        for ax, im, marks, P in zip(self.axes, self.ims, self.marks, specs):
            im.set_data(_to_db(P) - ref)
            ax.draw_artist(im)
            for line, t in zip(marks, (ev.start_s, ev.end_s)):
                x = min(1.0, max(0.0, (t - t0) / max(t1 - t0, 1e-9)))
                line.set_xdata([x, x])
                ax.draw_artist(line)
            for spine in ax.spines.values():
                ax.draw_artist(spine)
        return _png_rgb(np.asarray(self.canvas.buffer_rgba())[..., :3])


# ----------------------------------------------------------------------------- audio


_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
#: libsndfile's MP3 compression level: 0.6 is about 128 kbit/s for stereo.
_MP3_LEVEL = 0.6


def _excerpt_rate(sr: int) -> int:
    """Sample rate of the excerpts: ``sr`` when MP3 has it, else the nearest MP3 rate above (48 kHz at most)."""
    if sr in _MP3_RATES:
        return sr
    if sr > 48000:
        return 44100 if sr % 44100 == 0 else 48000
    return next(r for r in _MP3_RATES if r >= sr)


def _encode_excerpt(x: np.ndarray, sr: int) -> tuple[bytes, str]:
    """``x`` (n, C) in [-1, 1] as MP3 bytes (every browser plays it), or 16-bit FLAC when
    libsndfile has no MP3 encoder; returns the bytes and their MIME type."""
    import soundfile as sf

    x = np.clip(x, -1.0, 1.0)
    if "MP3" in sf.available_formats():
        rate = _excerpt_rate(sr)
        y = x
        if rate != sr:
            import soxr

            y = np.clip(soxr.resample(x, sr, rate), -1.0, 1.0)
        buf = io.BytesIO()
        try:
            sf.write(buf, y, rate, format="MP3", subtype="MPEG_LAYER_III", compression_level=_MP3_LEVEL)
            return buf.getvalue(), "audio/mpeg"
        except (sf.LibsndfileError, RuntimeError, TypeError):
            pass  # an MP3 encoder that refuses these settings: lossless instead
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="FLAC", subtype="PCM_16")
    return buf.getvalue(), "audio/flac"


def _snippet_span(ev: Event, sr: int, n: int) -> tuple[int, int]:
    a = max(0.0, ev.start_s - SNIPPET_CONTEXT_S)
    b = min(ev.end_s + SNIPPET_CONTEXT_S, a + MAX_SNIPPET_S)
    ia, ib = int(round(a * sr)), min(n, int(round(b * sr)))
    if ib - ia < 2:  # event at the very end: take the last bit of the recording
        ia = max(0, ib - int(sr * SNIPPET_CONTEXT_S))
    return ia, ib


def _excerpts(events: Sequence[Event], panels, sr: int, n: int, rank: Sequence | None = None,
              input_only: Collection[int] = ()) -> dict[int, dict]:
    """Audio excerpts of the most confident events, within :data:`MAX_SNIPPETS` and :data:`AUDIO_BUDGET_BYTES`.

    ``rank`` (optional): one sort key per event, lowest first (default: most confident first).
    ``input_only``: indices of events excerpted from the input alone (candidates for review:
    nothing was removed there, so the other versions would repeat it or be silent).
    Returns ``{event index: {"a", "b", "gain", "segs": [(name, samples)], "audio": [(bytes, mime)]}}``;
    the versions of one event share one gain (at most unity) that keeps them below full scale.
    Mono and stereo keep their channels; more channels are downmixed to mono.
    """
    order = sorted(range(len(events)), key=(lambda i: (-events[i].confidence, events[i].start_s)) if rank is None
                   else rank.__getitem__)
    differences = _differences(panels)
    out, used, misses = {}, 0, 0
    for i in order:
        if len(out) >= MAX_SNIPPETS or misses >= 8:
            break
        a, b = _snippet_span(events[i], sr, n)
        full: list[np.ndarray] = []
        shown = panels[:1] if i in input_only else panels
        for k, (_, arr) in enumerate(shown):
            if k in differences:
                plus, minus = differences[k]
                full.append(full[plus] - full[minus])
            else:
                full.append(np.asarray(arr[a:b], dtype=np.float64))
        segs = [(name, x if x.shape[1] <= 2 else x.mean(axis=1, keepdims=True))
                for (name, _), x in zip(shown, full)]
        peak = max(float(np.max(np.abs(x))) for _, x in segs)
        gain = min(1.0, 0.99 / peak) if peak > 0 else 1.0
        enc = [_encode_excerpt(x * gain, sr) for _, x in segs]
        cost = sum(len(data) for data, _ in enc)
        if used + cost > AUDIO_BUDGET_BYTES:
            misses += 1  # a shorter excerpt may still fit; give up after a few that do not
            continue
        used += cost
        out[i] = {"a": a, "b": b, "gain": gain, "segs": segs, "audio": enc}
    return dict(sorted(out.items()))


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
#run-table{width:auto}#run-table th{position:static;background:none;vertical-align:top}
#run-table td{white-space:normal}.settings{display:flex;flex-wrap:wrap;gap:2px 18px;font-size:13px}
tr.candidate td:nth-child(2){color:#b26b00;font-weight:600}tr.rejected td{opacity:.45}tr.rejected td:first-child{opacity:1}input.strength{width:5em}
#review{margin:10px 0}#review button{font:inherit;padding:4px 12px;cursor:pointer}
.whole{background:#fff4d6;border:1px solid #e9c46a;border-radius:4px;padding:6px 10px}
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
    except Exception:  # not installed (run from a source tree)
        return "unknown"


def _footer() -> str:
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f'<p class="note">Made by cleantake {html.escape(_version())} on {now}.</p>'


_RUN_KEYS = ("method", "interference", "strength", "settings", "input", "outputs", "events_from", "command",
             "whole_recording")
#: Methods that process every sample of the recording, not only located events.
WHOLE_RECORDING_METHODS = ("nmf", "kam")


def _run_info(run_info: Mapping | None, source_path) -> dict:
    """``run_info`` checked, with defaults (input, whole_recording) filled in."""
    info = dict(run_info or {})
    unknown = sorted(set(info) - set(_RUN_KEYS))
    if unknown:
        raise ParameterError(f"run_info has unknown keys {', '.join(unknown)}; allowed: {', '.join(_RUN_KEYS)}")
    g = info.get("strength")
    if g is not None:
        try:
            g = float(g)
        except (TypeError, ValueError):
            raise ParameterError(f"run_info strength must be a number from 0 to 1, got {g!r}") from None
        if not 0.0 <= g <= 1.0:
            raise ParameterError(f"run_info strength must be from 0 to 1, got {g!r}")
        info["strength"] = g
    if info.get("settings") is not None and not isinstance(info["settings"], Mapping):
        raise ParameterError("run_info settings must be a mapping of setting name to value")
    outputs = info.get("outputs")
    if isinstance(outputs, (str, os.PathLike)):
        outputs = [outputs]
    info["outputs"] = [str(o) for o in (outputs or []) if o is not None]
    if info.get("input") is None and source_path is not None:
        info["input"] = str(source_path)
    if info.get("whole_recording") is None:
        info["whole_recording"] = str(info.get("method", "")).lower() in WHOLE_RECORDING_METHODS
    info["whole_recording"] = bool(info["whole_recording"])
    return info


def _value_text(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_value_text(x) for x in v)
    return str(v)


def _run_section(info: Mapping, changed: bool, report_path: Path) -> str:
    """The *Run* table: what was run, with which settings, by which version, when, on what."""
    rows = []

    def row(key: str, value: str) -> None:
        rows.append(f'<tr><th class="l">{html.escape(key)}</th><td class="l">{value}</td></tr>')

    if info.get("method") is not None:
        row("method", html.escape(str(info["method"]))
            + (" (the whole recording was processed)" if info["whole_recording"] and changed else ""))
    if info.get("interference") is not None:
        row("dictionary", f"<code>{html.escape(str(info['interference']))}</code>")
    if info.get("strength") is not None:
        row("strength", f"{info['strength']:g}" + (" (partial removal)" if info["strength"] < 1 else ""))
    if info.get("events_from") is not None:
        row("events", f"repaired the spans of <code>{html.escape(str(info['events_from']))}</code> "
                      "(no automatic location)")
    if info.get("settings"):
        cells = "".join(f'<span><code>{html.escape(str(k))}</code> = {html.escape(_value_text(v))}</span>'
                        for k, v in info["settings"].items())
        row("settings", f'<div class="settings">{cells}</div>')
    if info.get("input") is not None:
        row("input", f"<code>{html.escape(str(info['input']))}</code>")
    outputs = [f"<code>{html.escape(o)}</code>" for o in info["outputs"]]
    if not outputs and not changed:
        outputs.append("no audio (located only)")
    outputs.append(f"<code>{html.escape(report_path.name)}</code> (this report)")
    row("outputs", "<br>".join(outputs))
    if info.get("command") is not None:
        row("command", f"<code>{html.escape(str(info['command']))}</code>")
    row("cleantake", html.escape(_version()))
    row("date", "written on " + _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    return ('<section id="run">\n<h2>Run</h2>\n<table id="run-table">\n' + "\n".join(rows)
            + "\n</table>\n</section>")


def _clean_label_text(label: str) -> str:
    # Tabs and line breaks would break the Audacity line structure of a downloaded label file.
    return re.sub(r"[\t\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+", " ", str(label)).strip() or "interference"


def _review_bar(info: Mapping, source_path, title: str, n_candidates: int = 0) -> str:
    stem = Path(str(source_path)).stem if source_path is not None else Path(title).stem
    name = _slug(stem) + ".events.txt"
    src = Path(str(source_path)).name if source_path is not None else "INPUT"
    return (
        '<div id="review">'
        f'<button type="button" id="download-events" data-filename="{html.escape(name, quote=True)}">'
        "Download accepted events</button> "
        '<span id="accept-count"></span>'
        f'<p class="note">Untick the events to leave alone and set each one&#39;s strength (0 = no change, '
        f"1 = full repair), then download them as an Audacity label track <code>{html.escape(name)}</code> "
        "(strength in the label text as <code>strength=X</code>) and repair exactly those: "
        f"<code>cleantake clean {html.escape(src)} -o OUT --events {html.escape(name)}</code>. "
        "The track can also be opened and edited in Audacity (File &gt; Import &gt; Labels)."
        + ((" The candidate c1 was not repaired: the detector was less sure of it. Listen, and tick it if it is "
            "interference." if n_candidates == 1 else
            f" The {n_candidates} candidates (c1, ...) were not repaired: the detector was less sure of them. "
            "Listen, and tick those that are interference.") if n_candidates else "")
        + "</p></div>"
    )


# The review controls: plain JavaScript, no network; the file is made in the page (Blob) and
# saved through a temporary <a download> link. The line format is the one labels.read_spans reads.
_REVIEW_JS = """(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("#events-table tbody tr"));
  var button = document.getElementById("download-events");
  var count = document.getElementById("accept-count");
  function accepted(r) { return r.querySelector("input.accept").checked; }
  function strength(r) {
    var v = parseFloat(r.querySelector("input.strength").value);
    return isFinite(v) ? Math.min(1, Math.max(0, v)) : 1;
  }
  function update() {
    var n = rows.filter(accepted).length;
    count.textContent = n + " of " + rows.length + " events accepted";
  }
  function labelText(r) {
    var g = strength(r), t = r.getAttribute("data-label");
    return g < 1 ? t + " strength=" + String(Math.round(g * 10000) / 10000) : t;
  }
  function text() {
    return rows.filter(accepted).map(function (r) {
      return r.getAttribute("data-start") + "\\t" + r.getAttribute("data-end") + "\\t" + labelText(r) + "\\n";
    }).join("");
  }
  rows.forEach(function (r) {
    r.querySelector("input.accept").addEventListener("change", function () {
      r.classList.toggle("rejected", !accepted(r));
      update();
    });
    var s = r.querySelector("input.strength");
    s.addEventListener("change", function () { s.value = String(strength(r)); });
  });
  button.addEventListener("click", function () {
    var url = URL.createObjectURL(new Blob([text()], {type: "text/plain"}));
    var a = document.createElement("a");
    a.href = url;
    a.download = button.getAttribute("data-filename");
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(url); a.remove(); }, 1000);
  });
  update();
})();
"""


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
    run_info: Mapping | None = None,
    candidates: Iterable[Event] = (),
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
    run_info : mapping, optional
        What was run, recorded in the report's *Run* table so it can be audited. Every key is
        optional: ``method`` (str, e.g. ``"proposed"``, ``"nmf"``, ``"kam"``), ``interference``
        (dictionary name or file), ``strength`` (float in [0, 1]; also the default strength
        of the review controls), ``settings`` (mapping of setting name to value, shown as a
        compact table), ``input`` (input file path; default ``source_path``), ``outputs``
        (sequence of every file written: cleaned, removed, labels), ``events_from`` (the
        label file whose spans were repaired, for ``clean --events``), ``command`` (the
        command line) and ``whole_recording`` (bool: every sample was processed, not only
        the events; default True for methods ``"nmf"`` and ``"kam"``). The cleantake
        version and the date are always recorded.
    candidates : iterable of Event, optional
        Candidates for review (``CleanResult.candidates``): events the detector was less
        sure of, not repaired. They are listed in the table as ``c1``, ``c2``, ... with their
        accept box unticked (the user ticks the real ones and downloads them with the
        events), outlined dashed in the overview, and the most confident of them get up to a
        third of the excerpts (a candidate has to be heard to be accepted).

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
    cands = sorted(candidates, key=lambda e: (e.start_s, e.end_s))
    for what, group in (("event", evs), ("candidate", cands)):
        for i, ev in enumerate(group, 1):
            if not isinstance(ev, Event):
                raise ParameterError(f"{what} {i} is a {type(ev).__name__}, expected cleantake.locate.Event")
            if not (0 <= ev.start_s <= ev.end_s) or not math.isfinite(ev.end_s):
                raise ParameterError(f"{what} {i} ({ev.label}) has an invalid span {ev.start_s} s .. {ev.end_s} s")
            if ev.start_s > duration + 1e-6:
                raise ParameterError(
                    f"{what} {i} ({ev.label}) starts at {ev.start_s:.3f} s, after the end of the recording "
                    f"({duration:.3f} s)"
                )
    # One table row per event ("1", "2", ...) and per candidate ("c1", ...), in time order.
    items = sorted([(str(i), ev, False) for i, ev in enumerate(evs, 1)]
                   + [(f"c{i}", ev, True) for i, ev in enumerate(cands, 1)],
                   key=lambda t: (t[1].start_s, t[1].end_s, t[2]))
    info = _run_info(run_info, source_path)  # checked before anything is created
    out = _prepare_dir(out_dir)
    name = filename or report_filename(Path(source_path).name if source_path is not None else title)
    path = out / name

    panels = _panels(x, c, r)
    ov_b64, ov_w, ov_h = _overview_png(panels, sr, evs, duration, cands)

    # Excerpts, most confident first: up to a third of them are kept for the candidates (a
    # reviewer has to hear a candidate to accept it), the rest for the events.
    reserve = min(MAX_SNIPPETS // 3, len(cands))
    by_conf = sorted(range(len(items)), key=lambda j: (items[j][2], -items[j][1].confidence, items[j][1].start_s))
    ev_idx, cand_idx = [j for j in by_conf if not items[j][2]], [j for j in by_conf if items[j][2]]
    first = ev_idx[:MAX_SNIPPETS - reserve] + cand_idx[:reserve]
    order = first + [j for j in ev_idx + cand_idx if j not in set(first)]
    tier = {j: pos for pos, j in enumerate(order)}
    chosen = _excerpts([ev for _, ev, _ in items], panels, sr, n, rank=[tier[j] for j in range(len(items))],
                       input_only={j for j in range(len(items)) if items[j][2]})

    whole = info["whole_recording"]
    parts = [f"<header>\n<h1>{html.escape(title)}</h1>"]
    meta = []
    if source_path is not None:
        meta.append(f"source <code>{html.escape(str(source_path))}</code>")
    meta.append(f"duration {format_clock(duration)} ({duration:.3f} s)")
    meta.append(f"{sr} Hz, {n_ch} channel{'s' if n_ch != 1 else ''}")
    meta.append(f"{len(evs)} event{'s' if len(evs) != 1 else ''}" + (f" ({_class_summary(evs)})" if evs else ""))
    if cands:
        meta.append(f"{len(cands)} candidate{'s' if len(cands) != 1 else ''} for review (not repaired)")
    if c is None:
        meta.append("located only (no audio was changed)")
    elif whole:
        meta.append("<strong>the whole recording was processed</strong>"
                    + (f" (method {html.escape(str(info['method']))})" if info.get("method") else ""))
    if c is not None and info.get("strength") is not None and info["strength"] < 1:
        meta.append(f"strength {info['strength']:g} (partial removal: part of each event is kept)")
    parts.append(f'<p class="meta">{" · ".join(meta)}</p>\n</header>')
    parts.append(_run_section(info, c is not None, path))

    parts.append('<section id="overview">\n<h2>Spectrograms</h2>')
    names = ", ".join(p[0] for p in panels)
    parts.append(
        f'<p class="note">{html.escape(names)}; log frequency, one colour scale (dB re the input peak); '
        + ("located events outlined and numbered as in the table" if len(items) <= _MAX_LABELLED_EVENTS
           else "located events marked along the top edge of each panel (too many to outline)")
        + ("; candidates for review (not repaired) dashed in orange, labelled c1, c2 and so on" if cands
           and len(items) <= _MAX_LABELLED_EVENTS else "; candidates for review (not repaired) along the "
           "bottom edge in orange" if cands else "") + ".</p>"
    )
    parts.append(
        f'<img id="overview-img" src="data:image/png;base64,{ov_b64}" width="{ov_w}" height="{ov_h}" '
        f'alt="Spectrograms of {html.escape(names)} with located events marked">\n</section>'
    )

    parts.append('<section id="events">\n<h2>Events</h2>')
    if whole and c is not None:
        parts.append(
            '<p class="whole">The whole recording was processed'
            + (f" by method <code>{html.escape(str(info['method']))}</code>" if info.get("method") else "")
            + ": every sample may have changed, not only "
            + ("the events below." if evs else "at located events (none were located or used).")
            + "</p>")
    if not items:
        if not (whole and c is not None):
            parts.append('<p>No interference was located.</p>')
    else:
        rows = []
        chosen_set = set(chosen)
        g_run = info.get("strength")
        g_run = 1.0 if g_run is None else g_run
        for j, (i, ev, cand) in enumerate(items):
            # the strength this event was repaired with: the run's, times the span's own if given
            g0 = g_run * float(getattr(ev, "strength", 1.0))
            listen = f'<a href="#ev-{i}">listen</a>' if j in chosen_set else "—"
            label = f"{_clean_label_text(ev.label)} ({ev.confidence:.2f})"
            what = "candidate" if cand else "event"
            rows.append(
                f'<tr id="row-{i}" class="{"candidate rejected" if cand else "event"}" '
                f'data-start="{ev.start_s:.6f}" data-end="{ev.end_s:.6f}" '
                f'data-label="{html.escape(label, quote=True)}">'
                f'<td><input type="checkbox" class="accept"{"" if cand else " checked"} '
                f'aria-label="accept {what} {i}"></td>'
                f'<td>{i}</td><td>{ev.start_s:.3f}</td><td>{ev.end_s:.3f}</td>'
                f"<td>{ev.end_s - ev.start_s:.3f}</td><td>{format_clock(ev.start_s)}</td>"
                f'<td class="l">{html.escape(ev.label)}{" (candidate, not repaired)" if cand else ""}</td>'
                f'<td>{ev.confidence:.2f}<span class="bar" style="width:{40 * ev.confidence:.0f}px"></span></td>'
                f'<td><input type="number" class="strength" min="0" max="1" step="0.05" value="{g0:.4g}" '
                f'aria-label="strength of {what} {i}"></td>'
                f'<td class="l">{listen}</td></tr>'
            )
        parts.append(
            '<table id="events-table">\n<thead><tr><th title="accept: include in the downloaded label file">'
            "accept</th><th>#</th><th>start (s)</th><th>end (s)</th>"
            '<th>duration (s)</th><th>at</th><th class="l">class</th><th>confidence</th>'
            '<th title="0 = no change, 1 = full repair">strength</th><th class="l">audio</th>'
            "</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
        )
        parts.append(_review_bar(info, source_path, title, len(cands)))
        if len(chosen) < len(items):
            which = (f"the {len(chosen)} most confident of {len(evs)} events" if not cands else
                     f"{len(chosen)} of the {len(evs)} events and {len(cands)} candidates, the most confident of "
                     f"each (up to {MAX_SNIPPETS // 3} excerpts kept for candidates)")
            parts.append(
                f'<p class="note">Excerpts are included for {which} '
                f"(at most {MAX_SNIPPETS}, {AUDIO_BUDGET_BYTES / 1e6:g} MB of audio) to keep this file small.</p>"
            )
    parts.append("</section>")

    if chosen:
        painter = _CloseupPainter([p[0] for p in panels], sr)
        painter_input = None  # for the candidates' excerpts (the input alone), made when needed
        parts.append('<section id="listen">\n<h2>Listen</h2>')
        parts.append(
            f'<p class="note">Each excerpt is the event with {SNIPPET_CONTEXT_S:g} s before and after '
            f"(at most {MAX_SNIPPET_S:g} s), compressed (MP3, about 128 kbit/s for stereo). "
            "The versions of one event share one gain, "
            "so they can be compared by ear.</p>"
        )
        for j, ex in chosen.items():
            tag, ev, cand = items[j]
            a, b, gain = ex["a"], ex["b"], ex["gain"]
            if cand and len(panels) > 1:
                painter_input = painter_input or _CloseupPainter([panels[0][0]], sr)
                img_b64, w, h = painter_input.paint(ex["segs"], a, b, ev)
            else:
                img_b64, w, h = painter.paint(ex["segs"], a, b, ev)
            gain_note = f", scaled by {20 * math.log10(gain):.1f} dB to avoid clipping" if gain < 1.0 else ""
            players = "".join(
                f'<figure><figcaption>{html.escape(label)}</figcaption>'
                f'<audio controls preload="metadata" src="data:{mime};base64,'
                f'{base64.b64encode(data).decode("ascii")}"></audio></figure>'
                for (label, _), (data, mime) in zip(ex["segs"], ex["audio"])
            )
            parts.append(
                f'<article id="ev-{tag}">\n<h3>#{tag} {html.escape(ev.label)} ({ev.confidence:.2f}) at '
                f"{ev.start_s:.3f}–{ev.end_s:.3f} s{' (candidate, not repaired)' if cand else ''}</h3>\n"
                f'<p class="note">excerpt {a / sr:.3f}–{b / sr:.3f} s (left to right edge of each close-up)'
                f"{gain_note}; dashed lines mark the event"
                f"{' (the input alone: nothing was removed there)' if cand else ''}.</p>\n"
                f'<img src="data:image/png;base64,{img_b64}" width="{w}" height="{h}" '
                f'alt="Close-up spectrograms of {"candidate" if cand else "event"} {tag}">\n'
                f'<div class="players">{players}</div>\n</article>'
            )
            ex.clear()  # free the excerpt's samples
        parts.append("</section>")
    parts.append(f"<footer>{_footer()}</footer>")
    if items:
        parts.append(f"<script>\n{_REVIEW_JS}</script>")
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
        optionally ``n_candidates`` (candidates for review, int or None),
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
    rows, total_events, total_candidates, n_ok, n_files = [], 0, 0, 0, 0
    for k, e in enumerate(entries):
        if "name" not in e:
            raise ParameterError(f"index entry {k} has no 'name'")
        n_files += 1
        name = html.escape(str(e["name"]))
        report = e.get("report")
        link = f'<a href="{html.escape(Path(report).as_posix(), quote=True)}">{name}</a>' if report else name
        n_ev = e.get("n_events")
        total_events += int(n_ev or 0)
        n_cand = e.get("n_candidates")
        total_candidates += int(n_cand or 0)
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
            f'<td>{"—" if n_ev is None else int(n_ev)}</td><td>{"—" if n_cand is None else int(n_cand)}</td>'
            f'<td class="l {"ok" if ok else "bad"}">{status_html}</td></tr>'
        )
    cand_note = (f", {total_candidates} candidate{'s' if total_candidates != 1 else ''} for review"
                 if total_candidates else "")
    body = [
        f"<header><h1>{html.escape(title)}</h1>",
        f'<p class="meta">{n_files} file{"s" if n_files != 1 else ""}, {n_ok} ok, '
        f"{n_files - n_ok} not; {total_events} event{'s' if total_events != 1 else ''} in total{cand_note}"
        "</p></header>",
        '<table id="index-table"><thead><tr><th class="l">file</th><th>duration</th><th>events</th>'
        '<th title="candidates for review: not repaired, listed unticked in the file\'s report">candidates</th>'
        '<th class="l">status</th></tr></thead><tbody>',
        "\n".join(rows),
        "</tbody></table>",
        f"<footer>{_footer()}</footer>",
    ]
    path = out / "index.html"
    atomic_write(path, _page(title, "\n".join(body)))
    return path
