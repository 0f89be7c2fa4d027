"""STFT and inverse STFT with sizes given in milliseconds, and frequency-band pooling.

Shapes follow librosa: channels first, time last. A spectrogram has shape
``(..., n_freq, n_frames)``; audio handed to :func:`stft` has shape ``(..., n_samples)``.
Analysis sizes are set in milliseconds so that every sample rate gets the same time and
frequency resolution in seconds and hertz.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import fft as sp_fft

from .errors import ParameterError

__all__ = ["StftConfig", "stft", "istft", "istft_columns", "band_matrix", "ANALYSIS_FMAX_HZ"]

#: Highest frequency (Hz) the analysis looks at: the Nyquist frequency of 44.1 kHz, the rate of
#: every recording the dictionaries and the detector were made from. A 96-kHz recording is
#: analysed on the bands a 44.1-kHz copy of it would have (what lies above goes to the top band
#: with a negligible weight: it is repaired like the top band, but never changes the analysis).
#: Without the limit the bands, the detector's spectral statistics and its profile spread over
#: 22-48 kHz, where music has next to nothing, and half the events at 96 kHz went unfound
#: (BENCHMARKS.md 0a, session 19).
ANALYSIS_FMAX_HZ = 22050.0


@dataclass(frozen=True)
class StftConfig:
    """Analysis sizes of the short-time Fourier transform.

    Parameters
    ----------
    sr : int
        Sample rate in Hz, a whole number from 1,000 to 768,000.
    window_ms : float
        Length of the Hann window in milliseconds (default 46 ms, 2030 samples at 44.1 kHz, rounded up to even).
    hop_ms : float
        Hop between frames in milliseconds; at most half the window (default a quarter).
    """

    sr: int
    window_ms: float = 46.0
    hop_ms: float = 11.5

    def __post_init__(self) -> None:
        if not (isinstance(self.sr, (int, np.integer)) and 1000 <= self.sr <= 768000):
            raise ParameterError(f"sample rate must be a whole number of Hz from 1000 to 768000, got {self.sr!r}")
        if not (5.0 <= self.window_ms <= 500.0):
            raise ParameterError(f"window length must be 5 to 500 ms, got {self.window_ms} ms")
        if not (0.5 <= self.hop_ms <= self.window_ms / 2):
            raise ParameterError(
                f"hop must be 0.5 ms to half the window ({self.window_ms / 2:g} ms), got {self.hop_ms} ms"
            )

    @property
    def win_length(self) -> int:
        """Window length in samples (even)."""
        n = int(round(self.sr * self.window_ms / 1000.0))
        return max(16, n + (n % 2))

    @property
    def hop_length(self) -> int:
        """Hop in samples."""
        return max(1, int(round(self.sr * self.hop_ms / 1000.0)))

    @property
    def n_fft(self) -> int:
        """FFT size: the smallest fast size (:func:`scipy.fft.next_fast_len`) at or above the
        window length, so that bins are about 21.5 Hz apart at every rate (2048 at 44.1 kHz,
        2250 at 48 kHz, 4500 at 96 kHz; a power of two would give 48 and 96 kHz twice as
        many bins, interpolated by the zero padding, and per-bin statistics of another kind)."""
        return int(sp_fft.next_fast_len(self.win_length, real=True))

    @property
    def n_freq(self) -> int:
        """Number of frequency bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def frame_seconds(self) -> float:
        """Hop in seconds."""
        return self.hop_length / self.sr

    def freqs(self) -> np.ndarray:
        """Centre frequency of every bin in Hz, shape ``(n_freq,)``."""
        return np.arange(self.n_freq) * (self.sr / self.n_fft)

    @property
    def first_frame(self) -> int:
        """Index (in hops) of the centre of frame 0; negative: the first frames start before sample 0."""
        return int(_obj(self).p_min)

    def frame_times(self, n_frames: int) -> np.ndarray:
        """Centre time of frames ``0..n_frames-1`` in seconds (may be negative for the first ones)."""
        return (np.arange(n_frames) + self.first_frame) * self.frame_seconds

    def n_frames(self, n_samples: int) -> int:
        """Number of frames :func:`stft` returns for ``n_samples`` samples."""
        sft = _obj(self)
        return int(sft.p_max(n_samples) - sft.p_min)

    def to_dict(self) -> dict:
        return {"sr": int(self.sr), "window_ms": float(self.window_ms), "hop_ms": float(self.hop_ms)}


class _Framing:
    """Where the frames of one STFT configuration lie, and its windows.

    The framing of scipy's ``ShortTimeFFT`` (``fft_mode="onesided"``, no scaling, zero phase
    at the window centre), computed here so that no command waits for ``scipy.signal`` to
    import (about 0.7 s, more than the whole analysis of a short file): frame ``p`` is
    centred on sample ``p * hop``; frames run from :attr:`p_min`, the first whose window
    still reaches sample 0 with a non-zero value, up to :meth:`p_max`, the first whose
    window no longer reaches the last sample. ``tests/test_spectral.py`` checks the frames
    and both transforms against ``ShortTimeFFT``.

    Attributes
    ----------
    win : np.ndarray [shape=(m_num,)], float64
        Periodic Hann window (as ``scipy.signal.windows.hann(m_num, sym=False)``).
    dual_win : np.ndarray [shape=(m_num,)], float64
        Canonical dual window: ``win`` over the sum of the squared windows of all frames
        overlapping a sample (least-squares overlap-add).
    m_num, m_num_mid, hop, mfft : int
        Window length, its centre index, hop and FFT length in samples.
    p_min : int
        Index of the first frame (<= 0).
    """

    def __init__(self, win_length: int, hop_length: int, n_fft: int) -> None:
        m = int(win_length)
        # The periodic Hann window, in the same operations as scipy's general cosine window
        # (bit for bit): a symmetric window one sample longer, its last sample dropped.
        fac = np.linspace(-np.pi, np.pi, m + 1, dtype=np.float64)
        w = np.zeros(m + 1, dtype=np.float64)
        for k, a in enumerate((0.5, 0.5)):
            w += a * np.cos(k * fac)
        self.win = w[:-1]
        self.m_num, self.m_num_mid, self.hop, self.mfft = m, m // 2, int(hop_length), int(n_fft)
        self._w2 = self.win**2
        dd = self._w2.copy()
        for k in range(self.hop, m, self.hop):
            dd[k:] += self._w2[:-k]
            dd[:-k] += self._w2[k:]
        if not np.all(dd >= np.finfo(np.float64).resolution * dd.max()):
            raise ParameterError("this window and hop cannot be inverted (the windows leave gaps)")
        self.dual_win = self.win / dd
        # First frame: move the window left, one hop at a time, until the next step would
        # leave nothing non-zero at or after sample 0.
        n0 = -self.m_num_mid
        for p, start in enumerate(range(n0, n0 - m - 1, -self.hop)):
            nxt = start - self.hop
            if nxt + m <= 0 or not self._w2[nxt:].any():
                self.p_min = -p
                break
        else:  # pragma: no cover - the loop always ends by a break
            raise RuntimeError("no first frame")

    def p_max(self, n: int) -> int:
        """Index after the last frame for ``n`` samples (the first frame whose window, moved
        one more hop right, would leave nothing non-zero before sample ``n``)."""
        n = int(n)
        if n < self.m_num - self.m_num_mid:
            raise ParameterError(f"{n} samples is shorter than half the analysis window "
                                 f"({self.m_num - self.m_num_mid} samples)")
        q1 = n // self.hop
        for q, start in enumerate(range(q1 * self.hop - self.m_num_mid, n + self.m_num, self.hop), start=q1):
            nxt = start + self.hop
            if nxt >= n or not self._w2[: n - nxt].any():
                return q + 1
        raise RuntimeError("no last frame")  # pragma: no cover


@lru_cache(maxsize=16)
def _framing(win_length: int, hop_length: int, n_fft: int) -> _Framing:
    return _Framing(win_length, hop_length, n_fft)


def _obj(cfg: StftConfig) -> _Framing:
    return _framing(cfg.win_length, cfg.hop_length, cfg.n_fft)


def stft(x: np.ndarray, cfg: StftConfig, *, workers: int = -1, offset: np.ndarray | None = None) -> np.ndarray:
    """Complex STFT of ``x`` (float32 arithmetic; the framing of scipy's ``ShortTimeFFT``, see
    :class:`_Framing`).

    Parameters
    ----------
    x : np.ndarray [shape=(..., n_samples)], real
        Audio, time last.
    cfg : StftConfig
        Analysis sizes.
    workers : int
        Threads for the FFTs (scipy.fft's ``workers``; -1: all CPUs).
    offset : np.ndarray [shape=x.shape[:-1]], optional
        A constant taken out of each signal first, in ``x``'s own precision (the STFT of
        ``x - offset[..., None]``, bit for bit, without a copy of ``x`` in that precision).

    Returns
    -------
    X : np.ndarray [shape=(..., n_freq, n_frames)], complex64
        Frame ``t`` is centred on sample ``(t + cfg.first_frame) * cfg.hop_length``; frames
        cover the whole signal, so :func:`istft` with the same length reconstructs ``x``.
    """
    sft = _obj(cfg)
    x = np.asarray(x)
    n = x.shape[-1]
    L, mid, hop = sft.m_num, sft.m_num_mid, sft.hop
    n_frames = int(sft.p_max(n) - sft.p_min)
    left = mid - sft.p_min * hop
    total = left + n
    right = max(0, (n_frames - 1) * hop + L - total)
    # The signal, less its offset, rounded to float32 once, straight into the zero-padded copy.
    xp = np.zeros(x.shape[:-1] + (total + right,), np.float32)
    if offset is None:
        xp[..., left:total] = x
    else:
        np.subtract(x, np.asarray(offset)[..., None], out=xp[..., left:total], casting="same_kind")
    frames = np.lib.stride_tricks.sliding_window_view(xp, L, axis=-1)[..., ::hop, :][..., :n_frames, :]
    # Windowed frames go into a zero-padded FFT buffer rotated by the window centre, so that
    # the centre is at phase zero (ShortTimeFFT's convention) without a pass over the result.
    N, w = sft.mfft, _window32(cfg)
    buf = np.zeros(x.shape[:-1] + (n_frames, N), np.float32)
    np.multiply(frames[..., mid:], w[mid:], out=buf[..., : L - mid])
    np.multiply(frames[..., :mid], w[:mid], out=buf[..., N - mid:])
    X = sp_fft.rfft(buf, axis=-1, workers=workers, overwrite_x=True)
    return np.swapaxes(X, -1, -2).astype(np.complex64, copy=False)


@lru_cache(maxsize=16)
def _window32_cached(sr: int, win_length: int, hop_length: int, n_fft: int) -> np.ndarray:
    return _framing(win_length, hop_length, n_fft).win.astype(np.float32)


def _window32(cfg: StftConfig) -> np.ndarray:
    return _window32_cached(int(cfg.sr), cfg.win_length, cfg.hop_length, cfg.n_fft)


@lru_cache(maxsize=16)
def _phase_cached(sr: int, win_length: int, hop_length: int, n_fft: int) -> np.ndarray:
    sft = _framing(win_length, hop_length, n_fft)
    k = np.arange(sft.mfft // 2 + 1)
    # ShortTimeFFT puts the window centre at phase zero.
    return np.exp(2j * np.pi * k * sft.m_num_mid / sft.mfft).astype(np.complex64)


def _phase(cfg: StftConfig) -> np.ndarray:
    return _phase_cached(int(cfg.sr), cfg.win_length, cfg.hop_length, cfg.n_fft)


def istft(X: np.ndarray, cfg: StftConfig, n_samples: int) -> np.ndarray:
    """Inverse of :func:`stft` (least-squares overlap-add).

    Parameters
    ----------
    X : np.ndarray [shape=(..., n_freq, n_frames)], complex
    cfg : StftConfig
    n_samples : int
        Length of the signal to return.

    Returns
    -------
    x : np.ndarray [shape=(..., n_samples)], float64
    """
    sft = _obj(cfg)
    n_frames = min(X.shape[-1], sft.p_max(n_samples) - sft.p_min)
    lead = X.shape[:-2]
    out = np.zeros(lead + (n_samples,))
    L, mid, hop = sft.m_num, sft.m_num_mid, sft.hop
    r = -(-L // hop)  # hops a window spans
    N, dual = sft.mfft, sft.dual_win
    # Frames in chunks (memory bounded whatever the length): each chunk's windowed frames,
    # cut into hop-long pieces, are added into the output one piece position at a time. The
    # inverse FFT's index 0 is the window centre: its last ``mid`` samples are the window's
    # first ones. Past the window, the pieces' tail stays zero.
    chunk = 512
    buf = np.zeros(lead + (min(chunk, max(n_frames, 1)), r * hop))
    for a in range(0, n_frames, chunk):
        b = min(a + chunk, n_frames)
        m = b - a
        Y = np.swapaxes(X[..., a:b], -1, -2).astype(np.complex128)
        yf = sp_fft.irfft(Y, n=N, axis=-1)  # (..., m, N)
        y = buf[..., :m, :]
        np.multiply(yf[..., N - mid:], dual[:mid], out=y[..., :mid])
        np.multiply(yf[..., :L - mid], dual[mid:], out=y[..., mid:L])
        y = y.reshape(lead + (m, r, hop))
        first = (a + sft.p_min) * hop - mid  # first sample of frame a
        for j in range(r):
            s0 = first + j * hop
            piece = y[..., :, j, :].reshape(lead + (m * hop,))
            lo, hi = max(s0, 0), min(s0 + m * hop, n_samples)
            if hi > lo:
                out[..., lo:hi] += piece[..., lo - s0: hi - s0]
    return out


def istft_columns(X: np.ndarray, cols: np.ndarray, cfg: StftConfig, n_samples: int) -> np.ndarray:
    """:func:`istft` of a spectrogram that is zero outside the frames ``cols``, at their cost only.

    The inverse is a sum of windowed frames, so frames that are zero add nothing: only the
    listed frames are transformed and overlap-added (with the same dual window as
    :func:`istft`). Removing a few seconds of interference from an hour of audio then costs
    milliseconds instead of an inverse transform of the whole hour.

    Parameters
    ----------
    X : np.ndarray [shape=(..., n_freq, n_cols)], complex
        The non-zero frames, in the order of ``cols``.
    cols : np.ndarray [shape=(n_cols,)], int
        Their frame indices (as in :func:`stft`'s output), increasing.
    cfg : StftConfig
    n_samples : int
        Length of the signal to return.

    Returns
    -------
    x : np.ndarray [shape=(..., n_samples)], float64
        Equal (to rounding) to ``istft`` of the full spectrogram with these frames and zeros.
    """
    sft = _obj(cfg)
    cols = np.asarray(cols, dtype=np.int64)
    lead = X.shape[:-2]
    out = np.zeros(lead + (n_samples,))
    if cols.size == 0:
        return out
    if X.shape[-1] != cols.size:
        raise ParameterError(f"{X.shape[-1]} frames given for {cols.size} column indices")
    L, mid, hop = sft.m_num, sft.m_num_mid, sft.hop
    Y = np.swapaxes(X, -1, -2).astype(np.complex128) * np.conj(_phase(cfg).astype(np.complex128))
    y = sp_fft.irfft(Y, n=sft.mfft, axis=-1)[..., :L] * sft.dual_win  # (..., n_cols, L)
    starts = (cols + sft.p_min) * hop - mid  # first sample of every frame
    lo, hi = int(max(starts[0], 0)), int(min(starts[-1] + L, n_samples))
    if hi <= lo:
        return out
    idx = (starts[:, None] + np.arange(L)[None, :]).ravel()
    keep = (idx >= lo) & (idx < hi)
    idx = idx[keep] - lo
    flat = y.reshape((-1,) + y.shape[-2:])
    res = out.reshape(-1, n_samples)
    for c in range(flat.shape[0]):
        res[c, lo:hi] = np.bincount(idx, weights=flat[c].ravel()[keep], minlength=hi - lo)
    return out


def band_matrix(cfg: StftConfig, n_bands: int, *, fmin: float = 40.0, fmax: float | None = None) -> np.ndarray:
    """Non-negative pooling matrix from STFT bins to log-spaced frequency bands.

    Parameters
    ----------
    cfg : StftConfig
    n_bands : int
        Number of bands (at most ``cfg.n_freq``).
    fmin : float
        Lower edge of the first log-spaced band in Hz; bins below it go to band 0.
    fmax : float, optional
        Centre of the top band in Hz (default and at most ``cfg.sr / 2``). Bins above
        ``fmax`` plus one bin belong to the top band alone, each with a millionth of its
        largest weight: pooling all but ignores them, :func:`bands_to_bins` gives them the top
        band's value.

    Returns
    -------
    P : np.ndarray [shape=(n_bands, n_freq)], float32
        Triangular, overlapping bands on a log-frequency axis; every bin has weight
        in at least one band. ``P @ S`` pools a magnitude spectrogram ``S``.
    """
    n_freq = cfg.n_freq
    if not 2 <= n_bands <= n_freq:
        raise ParameterError(f"number of bands must be 2 to {n_freq}, got {n_bands}")
    freqs = cfg.freqs()
    nyquist = cfg.sr / 2.0
    fmax = nyquist if fmax is None else min(float(fmax), nyquist)
    fmin = min(fmin, fmax / 4)
    # Band centres: log-spaced, but never closer than one bin (low bands become linear).
    bin_hz = cfg.sr / cfg.n_fft
    centres = np.geomspace(fmin, fmax, n_bands)
    for i in range(1, n_bands):
        centres[i] = max(centres[i], centres[i - 1] + bin_hz)
    centres = np.minimum(centres, fmax)
    edges = np.concatenate([[0.0], centres, [fmax + bin_hz]])
    P = np.zeros((n_bands, n_freq), dtype=np.float64)
    for b in range(n_bands):
        lo, c, hi = edges[b], edges[b + 1], edges[b + 2]
        up = (freqs - lo) / max(c - lo, 1e-9)
        down = (hi - freqs) / max(hi - c, 1e-9)
        P[b] = np.clip(np.minimum(up, down), 0.0, 1.0)
    P[0, freqs <= edges[1]] = 1.0
    P /= np.maximum(P.sum(axis=1, keepdims=True), 1e-12)
    above = freqs >= edges[-1]
    if above.any():  # only with fmax under the Nyquist frequency
        P[-1, above] = 1e-6 * P[-1].max()
    return P.astype(np.float32)


def bands_to_bins(B: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Spread per-band values back to STFT bins (the transpose of pooling, as an average).

    Parameters
    ----------
    B : np.ndarray [shape=(n_bands, n_frames)]
        Values per band, such as a share in [0, 1].
    P : np.ndarray [shape=(n_bands, n_freq)]
        Pooling matrix from :func:`band_matrix`.

    Returns
    -------
    np.ndarray [shape=(n_freq, n_frames)], float32
        Each bin gets the mean of the bands that pool it, weighted by its weights in them,
        so values in [0, 1] stay in [0, 1] and a constant stays that constant.
    """
    Pt = np.asarray(P, dtype=np.float32).T
    Pt = Pt / np.maximum(Pt.sum(axis=1, keepdims=True), np.float32(1e-12))
    return (Pt @ np.asarray(B, dtype=np.float32)).astype(np.float32)
