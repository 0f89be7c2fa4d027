"""The analysis of one recording: STFT, band-pooled semi-supervised NMF and what the later
stages read from it (:func:`analyse`, :class:`Analysis`); the same recording at another STFT,
starting from a first analysis's NMF (:func:`reanalyse`).

Every channel shares one analysis: the mean magnitude over channels. The NMF works on
log-frequency bands (``Settings.n_bands``); the masks of the repair use every bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from . import kam as _kam
from .dictionaries import Dictionary
from .errors import ParameterError
from .nmf import NMFResult, beta_divergence_frames, interference_share, semi_nmf
from .settings import Settings
from .spectral import ANALYSIS_FMAX_HZ, StftConfig, band_matrix, bands_to_bins, stft

__all__ = ["BandTemplates", "band_templates", "spectrogram", "dc_offset", "Analysis", "analyse", "reanalyse"]


@dataclass(frozen=True)
class BandTemplates:
    """A dictionary's templates on the grids of one STFT.

    Attributes
    ----------
    W : np.ndarray [shape=(n_freq, rank)], float32
        Templates on the STFT's bins (columns sum to one).
    P : np.ndarray [shape=(n_bands, n_freq)], float32
        Band pooling matrix (:func:`cleantake.spectral.band_matrix`).
    Wb : np.ndarray [shape=(n_bands, rank)], float32
        Templates pooled to bands, columns normalised to sum to one.
    labels : tuple of str, length rank
        Interference class of every template (``Dictionary.labels``), so that activations
        can be summed per class.
    """

    W: np.ndarray
    P: np.ndarray
    Wb: np.ndarray
    labels: tuple


def band_templates(dictionary: Dictionary, cfg: StftConfig, n_bands: int) -> BandTemplates:
    """The templates of ``dictionary`` for the STFT ``cfg`` with ``n_bands`` bands (at most
    ``cfg.n_freq``) up to :data:`cleantake.spectral.ANALYSIS_FMAX_HZ`."""
    W = dictionary.templates_for(cfg)
    P = band_matrix(cfg, min(n_bands, cfg.n_freq), fmax=ANALYSIS_FMAX_HZ)
    Wb = P @ W
    Wb /= np.maximum(Wb.sum(axis=0, keepdims=True), 1e-12)
    return BandTemplates(W, P, Wb.astype(np.float32), tuple(dictionary.labels))


def spectrogram(x: np.ndarray, cfg: StftConfig, *, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """STFT of every channel minus its DC offset, and the mean magnitude over channels.

    Each channel's constant offset (:func:`dc_offset`) is taken out before the transform, so
    that it never reaches the analysis, the location or what is removed (``cleaned = input -
    removed`` keeps it). A drift much slower than a window is not taken out. (Taking each
    frame's windowed mean out of the magnitudes instead was tried: it also took the music's
    content below about 40 Hz out of what the masks are computed from, and the repair of given
    spans lost 1.5 dB; BENCHMARKS.md section 0.)

    Parameters
    ----------
    x : np.ndarray [shape=(n_channels, n_samples)], float64
    cfg : StftConfig
    threads : int
        FFT workers.

    Returns
    -------
    X : np.ndarray [shape=(n_channels, n_freq, n_frames)], complex
        STFT of ``x`` minus its offset.
    V : np.ndarray [shape=(n_freq, n_frames)], float
        Mean over channels of ``|X|``.
    """
    # Each channel contiguous (a copy of a transposed (n_samples, n_channels) view): the offset
    # and the framing then read memory in order, several times faster.
    x = np.ascontiguousarray(x, np.float64)
    X = stft(x, cfg, workers=threads, offset=dc_offset(x, cfg))
    return X, np.abs(X).mean(axis=0)


def dc_offset(x: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """Constant offset of each channel: the median of the means of hop-long stretches.

    The median, so that a brief lopsided sound (a door's thump) does not count as offset.

    Parameters
    ----------
    x : np.ndarray [shape=(n_channels, n_samples)]
    cfg : StftConfig

    Returns
    -------
    np.ndarray [shape=(n_channels,)], float64
    """
    hop = cfg.hop_length
    n = (x.shape[-1] // hop) * hop
    if n == 0:
        return np.zeros(x.shape[0]) if x.shape[-1] == 0 else x.mean(axis=-1)
    return np.median(x[:, :n].reshape(x.shape[0], -1, hop).mean(axis=-1), axis=-1)


@dataclass
class Analysis:
    """Everything the location and the repair read about one recording.

    Frames are the STFT's (``cfg.frame_times``); ``C`` channels, ``F`` bins, ``B`` bands,
    ``T`` frames. Magnitudes are in the recording's own scale.

    Attributes
    ----------
    sr : int
        Sample rate in Hz.
    n_samples : int
        Length of the recording in samples.
    cfg : StftConfig
    X : np.ndarray [shape=(C, F, T)], complex
        STFT of every channel.
    V : np.ndarray [shape=(F, T)]
        Mean magnitude over channels.
    P : np.ndarray [shape=(B, F)], float32
        Band pooling matrix.
    Wb : np.ndarray [shape=(B, rank)], float32
        Interference templates pooled to bands.
    labels : tuple of str, length rank
        Class of every interference template (the first ``rank`` rows of ``nmf.H``).
    beta : float
        β of the divergence of the NMF (the dictionary's).
    Vb : np.ndarray [shape=(B, T)], float32
        ``P @ V``: what the NMF models.
    nmf : NMFResult
        Joint fit of ``Vb``: the fixed interference templates first, then
        ``Settings.music_rank`` music templates learned from the recording.
    L_i, L_m : np.ndarray [shape=(B, T)], float32
        NMF models of the interference and of the music.
    gain : np.ndarray [shape=(T,)], float32
        Necessity gain: how much worse (β-divergence per unit of magnitude) the music
        templates alone explain each frame than the joint model.
    share : np.ndarray [shape=(T,)], float32 in [0, 1]
        Interference share of the model per frame (:func:`cleantake.nmf.interference_share`).
    level_i : np.ndarray [shape=(T,)]
        Interference model's magnitude summed over bands.
    ref : float
        99th percentile over frames of ``Vb`` summed over bands (the level reference of
        ``Settings.floor_db``).
    partial : np.ndarray [shape=(T,)], bool
        Frames whose window reaches past either end of the recording.
    inner : np.ndarray [shape=(T,)], bool
        Frames whose window lies at least ``Settings.edge_ms`` inside both ends.
    Fm : np.ndarray [shape=(B, T)], float32
        Features of the kNN searches: compressed band magnitudes of the NMF music estimate
        (:func:`cleantake.kam.context_features` of ``L_m``).
    """

    sr: int
    n_samples: int
    cfg: StftConfig
    X: np.ndarray
    V: np.ndarray
    P: np.ndarray
    Wb: np.ndarray
    labels: tuple
    beta: float
    Vb: np.ndarray
    nmf: NMFResult
    L_i: np.ndarray
    L_m: np.ndarray
    gain: np.ndarray
    share: np.ndarray
    level_i: np.ndarray
    ref: float
    partial: np.ndarray
    inner: np.ndarray
    Fm: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.V.shape[1])

    def class_activations(self) -> dict[str, np.ndarray]:
        """Activation of the interference templates summed per class.

        Returns
        -------
        dict of str to np.ndarray [shape=(T,)]
            For every class of the dictionary, in column order, the sum over its templates of
            their activations in the joint fit (templates sum to one, so this is the class's
            modelled magnitude summed over bands).
        """
        H = self.nmf.H[: self.nmf.n_fixed]
        labels = np.asarray(self.labels)
        return {c: H[labels == c].sum(axis=0) for c in dict.fromkeys(self.labels)}


def analyse(
    x: np.ndarray,
    sr: int,
    *,
    dictionary: Dictionary,
    settings: Settings,
    threads: int | None = None,
    templates: BandTemplates | None = None,
    stft_pair: tuple[np.ndarray, np.ndarray] | None = None,
) -> Analysis:
    """Analyse one recording: STFT, NMF with the interference templates, necessity gains.

    Parameters
    ----------
    x : np.ndarray [shape=(n_channels, n_samples)], float64
        The recording, channels first, at least one analysis window long.
    sr : int
        Sample rate in Hz.
    dictionary : Dictionary
        Interference templates.
    settings : Settings
    threads : int, optional
        Threads of the FFTs and the NMF (default 1). The result does not depend on it; it
        does depend (in the last bits) on BLAS's own threads, which :class:`Cleaner` limits
        to one (``threadpoolctl.threadpool_limits(1, user_api="blas")`` to match it).
    templates : BandTemplates, optional
        ``band_templates(dictionary, cfg, settings.n_bands)``, if already computed.
    stft_pair : (X, V), optional
        :func:`spectrogram` of ``x`` at ``settings.stft_config(sr)``, if already computed.

    Returns
    -------
    Analysis
    """
    s = settings
    threads = 1 if threads is None else threads
    cfg = s.stft_config(sr)
    X, V = spectrogram(x, cfg, threads=threads) if stft_pair is None else stft_pair
    if X.shape[0] != x.shape[0] or V.shape != (cfg.n_freq, cfg.n_frames(x.shape[1])):
        raise ParameterError(f"the STFT given has shape {V.shape} for {X.shape[0]} channels; this recording's is "
                             f"{(cfg.n_freq, cfg.n_frames(x.shape[1]))} for {x.shape[0]}")
    t = templates if templates is not None else band_templates(dictionary, cfg, s.n_bands)
    Vb = t.P @ V
    res = semi_nmf(Vb, t.Wb, n_free=s.music_rank, n_iter=s.n_iter, beta=dictionary.beta, threads=threads)
    L_i, L_m = res.fixed_part, res.free_part
    # How much worse is each frame explained without the interference templates? Refit
    # the activations of the music templates alone and compare per-frame divergences:
    # frames the music templates explain as well on their own are not interference,
    # however much of them the joint fit happened to give to the interference templates.
    alone = semi_nmf(Vb, res.W[:, res.n_fixed:], n_free=0, n_iter=max(10, s.n_iter // 3),
                     beta=dictionary.beta, tol=0, threads=threads)
    d_joint = beta_divergence_frames(Vb, L_i + L_m, dictionary.beta)
    d_alone = beta_divergence_frames(Vb, alone.W @ alone.H, dictionary.beta)
    gain = (d_alone - d_joint) / np.maximum(Vb.sum(axis=0, dtype=np.float64), 1e-12)
    return _assemble(x, sr, cfg, s, X, V, t, float(dictionary.beta), Vb, res, gain.astype(np.float32))


def _assemble(x, sr, cfg, s, X, V, t, beta, Vb, res, gain) -> Analysis:
    """The :class:`Analysis` of the STFT ``X``, ``V`` and the NMF ``res`` on the bands of ``t``."""
    L_i, L_m = res.fixed_part, res.free_part
    # Recordings often start or end in the middle of a sound (a cut), which looks like
    # nothing else in the recording: frames whose window reaches past an end are partial
    # (attenuated copies), frames within edge_ms of an end are not inner.
    n_frames, n = V.shape[1], x.shape[1]
    centres = (np.arange(n_frames) + cfg.first_frame) * cfg.hop_length
    half = cfg.win_length // 2
    edge = s.counts(cfg).edge
    return Analysis(
        sr=int(sr),
        n_samples=n,
        cfg=cfg,
        X=X,
        V=V,
        P=t.P,
        Wb=t.Wb,
        labels=t.labels,
        beta=beta,
        Vb=Vb,
        nmf=res,
        L_i=L_i,
        L_m=L_m,
        gain=gain,
        share=interference_share(L_i, L_m),
        level_i=L_i.sum(axis=0),
        ref=float(np.percentile(Vb.sum(axis=0), 99)),
        partial=(centres - half < 0) | (centres + half > n),
        inner=(centres - half >= edge) & (centres + half <= n - edge),
        Fm=_kam.context_features(L_m, context=0, compress=float(L_m.mean()) * 0.1 + 1e-12),
    )


def _frame_weights(src: StftConfig, n_src: int, dst: StftConfig, n_dst: int) -> sparse.csc_array:
    """``(n_src, n_dst)`` sparse weights: column ``j`` the Hann window of ``dst``'s frame ``j``
    at the centres of ``src``'s frames, summing to one (the nearest ``src`` frame alone where
    the window holds none)."""
    c_src = (np.arange(n_src) + src.first_frame) * float(src.hop_length)
    c_dst = (np.arange(n_dst) + dst.first_frame) * float(dst.hop_length)
    half = dst.win_length / 2.0
    lo = np.searchsorted(c_src, c_dst - half, side="right")
    hi = np.searchsorted(c_src, c_dst + half, side="left")
    right = np.minimum(np.searchsorted(c_src, c_dst), n_src - 1)
    left = np.maximum(right - 1, 0)
    nearest = np.where(np.abs(c_src[left] - c_dst) <= np.abs(c_src[right] - c_dst), left, right)
    none = hi <= lo
    lo, hi = np.where(none, nearest, lo), np.where(none, nearest + 1, hi)
    counts = hi - lo
    cols = np.repeat(np.arange(n_dst), counts)
    rows = np.repeat(lo, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    w = 0.5 + 0.5 * np.cos(2.0 * np.pi * (c_src[rows] - c_dst[cols]) / dst.win_length)
    w = np.where(np.repeat(none, counts), 1.0, np.maximum(w, 1e-6))
    w /= np.bincount(cols, weights=w, minlength=n_dst)[cols]
    return sparse.csc_array((w.astype(np.float32), (rows, cols)), shape=(n_src, n_dst))


def reanalyse(base: Analysis, x: np.ndarray, settings: Settings, *, templates: BandTemplates,
              n_iter: int = 0, threads: int | None = None) -> Analysis:
    """The analysis of the same recording at another STFT, with the NMF of ``base`` carried
    over as the start of a short fit instead of a new one from scratch.

    The STFT is computed anew (``settings``' window and hop). The NMF starts from ``base``'s:
    its music templates spread to its bins, read at the new bins and pooled to the new bands
    (columns summing to one), the interference templates the dictionary's on the new bands
    (``templates``), and every activation of a new frame the mean of ``base``'s activations
    over that frame's Hann window, scaled to the new spectrogram; ``n_iter`` iterations of
    :func:`cleantake.nmf.semi_nmf` (music templates free) then fit it to the new bands. The
    necessity gain is carried over the same way (not refitted). At 92 and 184 ms, 20
    iterations from this start fit the bands about as well as :func:`analyse`'s 60 from a
    random one, for a fraction of the time; the repair of given spans with them measured as
    good as with new analyses on the train parts and 0.1-0.16 dB below them held out, where
    20 iterations from a random start, or the carried model with no iteration, measured
    0.26-0.48 dB below them on the train parts (``benchmarks/REPAIR.md``, session 35).

    Parameters
    ----------
    base : Analysis
        Of the same recording ``x``, made by :func:`analyse`.
    x : np.ndarray [shape=(n_channels, n_samples)], float64
        The recording, at least one window of ``settings`` long.
    settings : Settings
        Of the new STFT (``n_bands`` as ``base``'s).
    templates : BandTemplates
        ``band_templates(dictionary, settings.stft_config(sr), settings.n_bands)`` of the
        dictionary ``base`` was made with.
    n_iter : int >= 0
        Iterations of the fit on the new bands; 0: the carried model as it is.
    threads : int, optional
        Threads of the FFTs and the NMF (default 1).

    Returns
    -------
    Analysis
        ``nmf.n_iter`` is ``n_iter``; ``nmf.objective`` is empty.
    """
    if n_iter < 0:
        raise ParameterError(f"n_iter must be at least 0, got {n_iter}")
    s = settings
    cfg = s.stft_config(base.sr)
    X, V = spectrogram(x, cfg, threads=1 if threads is None else threads)
    t = templates
    res = base.nmf
    k = res.n_fixed
    A = _frame_weights(base.cfg, base.n_frames, cfg, V.shape[1])
    H = np.ascontiguousarray((A.T @ res.H.T).T, dtype=np.float32)
    # The music templates on the new bins (a band is the mean of the bins it pools, so each
    # bin gets the mean of the bands that pool it), then pooled to the new bands.
    on_bins = bands_to_bins(res.W[:, k:], base.P)
    f_old, f_new = base.cfg.freqs(), cfg.freqs()
    W_m = t.P @ np.stack([np.interp(f_new, f_old, on_bins[:, r]) for r in range(on_bins.shape[1])], axis=1) \
        if on_bins.shape[1] else np.zeros((t.P.shape[0], 0))
    W_m = (W_m / np.maximum(W_m.sum(axis=0, keepdims=True), 1e-12)).astype(np.float32)
    W = np.concatenate([t.Wb, W_m], axis=1).astype(np.float32)
    Vb = t.P @ V
    # The carried activations brought to the new STFT's scale (a longer window's magnitudes
    # are larger).
    H *= np.float32(Vb.sum(dtype=np.float64) / max(float((W @ H).sum(dtype=np.float64)), 1e-12))
    if n_iter > 0:
        # Music templates and every activation refitted on the new bands and frames.
        fit = semi_nmf(Vb, t.Wb, n_free=W_m.shape[1], W_free_init=W_m, H_init=H, n_iter=n_iter, beta=base.beta,
                       tol=0, threads=1 if threads is None else threads)
        W, H = fit.W, fit.H
    carried = NMFResult(W=W, H=H, n_fixed=k, n_iter=n_iter, objective=[])
    gain = (A.T @ base.gain).astype(np.float32)
    return _assemble(x, base.sr, cfg, s, X, V, t, base.beta, Vb, carried, gain)
