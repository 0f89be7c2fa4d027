"""The repair: at given frames, KAM's music estimate, a soft mask, and the removed signal.

The music at a frame is a statistic (``Settings.repair_statistic``) of the mixture's magnitudes
over the frames whose NMF music estimate is nearest to it in each of several kernels
(:func:`music_estimate`): every kernel compares log-compressed NMF music estimates over some
temporal context, and the repair has one for each pair of a compression
(``Settings.repair_compress``) and a context (``Settings.repair_context_ms``), with
``repair_k`` neighbours in each (:func:`repair_kernels`). The automatic path
(:func:`cleantake.locate.locate_events`) and spans marked by the user go through the same
:func:`repair`. The location makes its own estimates with one kernel (``Analysis.Fm``,
``context_ms``, ``k``) and the median; the repair reuses them only where its settings make the
same ones (see ``benchmarks/REPAIR.md`` for why they differ).

With two or more channels (``Settings.stereo_model`` "auto", the default, "spatial" or
"diffuse") the removed part is a multichannel Wiener estimate (:func:`spatial_interference`):
the music at a repaired frame has the recording's own spatial covariance in each frequency bin,
scaled by KAM's power there, and each event's interference comes from one direction (a steering
vector per event), so a cough panned left is taken from where it is and the music elsewhere in
the image stays; an event whose channels are little coherent (heard with a hall's reverberation)
also has a diffuse part, with "auto" when its measured share is at least
``DIFFUSE_SHARE["auto"]``. With ``"mask"``, or one channel, one soft mask from the channels'
mean magnitude is applied to every channel.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from . import kam as _kam
from .analysis import Analysis
from .errors import ParameterError
from .masking import apply_strength, dilate, frame_weights, segments, soft_mask
from .settings import Settings
from .spectral import ANALYSIS_FMAX_HZ, StftConfig, bands_to_bins, istft, istft_columns

__all__ = ["MusicEstimate", "repair_kernels", "music_estimate", "repair_music_estimate", "synthesize",
           "spatial_interference", "repair", "DIFFUSE_SHARE"]

#: The measured diffuse share (:func:`spatial_interference`) from which an event's
#: interference gets a diffuse part, per ``Settings.stereo_model``: never with "spatial",
#: always with "diffuse"; with "auto" only for events whose channels are that little coherent.
#: The "auto" level was chosen on the train part of the grouped folds (REPAIR.md, session 22).
DIFFUSE_SHARE: dict[str, float | None] = {"spatial": None, "diffuse": 0.0, "auto": 0.3}


@dataclass
class MusicEstimate:
    """KAM's music estimate at some frames.

    Attributes
    ----------
    frames : np.ndarray [shape=(n,)], int, increasing
        The frames.
    S : np.ndarray [shape=(F, n)], float32
        Music magnitude at them (never above the mixture's ``V``).
    M : np.ndarray [shape=(F, n)], float32 in [0, 1], or None
        Soft music mask ``soft_mask(S, V - S)`` (None when not asked for).
    power : np.ndarray [shape=(F, n)], float32, optional
        Mean over the same neighbours of the mixture's power summed over channels (made when
        asked for: the spatial repair's music power).
    """

    frames: np.ndarray
    S: np.ndarray
    M: np.ndarray | None
    power: np.ndarray | None = None

    def merge(self, other: "MusicEstimate") -> "MusicEstimate":
        """Both estimates, in frame order (``other`` must not repeat a frame of this one;
        ``M`` and ``power`` are kept only when both have them)."""
        q = np.concatenate([self.frames, other.frames])
        order = np.argsort(q, kind="stable")
        power = (np.concatenate([self.power, other.power], axis=1)[:, order]
                 if self.power is not None and other.power is not None else None)
        M = (np.concatenate([self.M, other.M], axis=1)[:, order]
             if self.M is not None and other.M is not None else None)
        return MusicEstimate(q[order], np.concatenate([self.S, other.S], axis=1)[:, order], M, power)


def repair_kernels(ana: Analysis, settings: Settings) -> list[tuple[np.ndarray, int]]:
    """The repair's kernels: what each compares, and over how much context.

    One kernel for each compression ``c`` of ``Settings.repair_compress`` (outer) and each
    context of ``Settings.repair_context_ms`` (inner): the features ``log1p(L_m / (c m))`` of the
    NMF music estimate ``ana.L_m`` (``m`` its mean; ``ana.Fm`` itself where ``c`` is 0.1, the
    analysis's compression), compared over that context on both sides.

    Returns
    -------
    list of (np.ndarray [shape=(B, T)] float32, int >= 0)
        Features and context in frames, ``len(repair_compress) * len(repair_context_ms)`` of them;
        kernels with the same compression share one features array.
    """
    s = settings
    mean = float(ana.L_m.mean())
    contexts = [s.frames(ms, ana.cfg) for ms in s.repair_context_ms]
    out = []
    for c in s.repair_compress:
        F = ana.Fm if c == 0.1 else _kam.context_features(ana.L_m, context=0, compress=mean * c + 1e-12)
        out.extend((F, ctx) for ctx in contexts)
    return out


def music_estimate(ana: Analysis, frames: np.ndarray, *, settings: Settings,
                   exclude: np.ndarray | None = None, features: np.ndarray | None = None,
                   statistic: str = "median", with_power: bool = False,
                   kernels: list[tuple[np.ndarray, int]] | None = None, k: int | None = None,
                   min_separation: int = 0, threads: int = 1, with_mask: bool = True) -> MusicEstimate:
    """KAM's music estimate at ``frames``.

    Parameters
    ----------
    ana : Analysis
    frames : np.ndarray [shape=(n,)], int
        Frames to estimate, increasing.
    settings : Settings
        ``k``, ``context_ms`` and ``mask_power`` are used.
    exclude : np.ndarray [shape=(T,)], bool, optional
        Frames never used as neighbours (besides the partial frames at the ends,
        ``ana.partial``, which never are). Made for a kernel of ``context_ms``: for a kernel
        with more context they are widened by the difference on both sides, so that no
        neighbour's context reaches further into them.
    features : np.ndarray [shape=(B, T)], optional
        What the one kernel compares, over ``context_ms`` (default ``ana.Fm``, the
        location's). Not with ``kernels``.
    statistic : {"median", "mean"}
        Of the mixture's magnitudes over the selected frames
        (:func:`cleantake.kam.statistic_over`).
    with_power : bool
        Also the mean over the same frames of the power summed over channels
        (``MusicEstimate.power``).
    kernels : list of (np.ndarray [shape=(B, T)], int), optional
        Several kernels (features and context in frames, as :func:`repair_kernels` makes
        them): the ``k`` nearest frames in each are selected, all of them together (a frame
        selected twice counts twice) make the statistic. Default: one kernel, ``features``
        over ``context_ms``.
    k : int >= 1, optional
        Neighbours per kernel (default ``settings.k``).
    min_separation : int >= 0
        Frames within this many of a frame to estimate are never its neighbours (each kernel
        keeps at least its own context away: its windows never overlap the frame's).
    threads : int >= 1
        Threads for the neighbour search (:func:`cleantake.kam.knn_frames_contexts`).
    with_mask : bool
        Also the soft music mask (``MusicEstimate.M``; None without it): the repair needs
        it, the like finder only the magnitudes.

    Returns
    -------
    MusicEstimate

    Raises
    ------
    ParameterError
        If both ``features`` and ``kernels`` are given.
    """
    s = settings
    ctx = s.counts(ana.cfg).context
    frames = np.asarray(frames, dtype=np.intp)
    if kernels is None:
        kernels = [(ana.Fm if features is None else features, ctx)]
    elif features is not None:
        raise ParameterError("music_estimate takes features or kernels, not both")
    k = s.k if k is None else int(k)
    user = np.zeros(ana.n_frames, bool) if exclude is None else np.asarray(exclude, bool)
    # Kernels on the same features share one search (kam.knn_frames_contexts); the
    # neighbours are laid out kernel by kernel, in the order of ``kernels``.
    found: list[np.ndarray | None] = [None] * len(kernels)
    for F in {id(F): F for F, _ in kernels}.values():
        mine = [i for i, (G, _) in enumerate(kernels) if G is F]
        cs = [kernels[i][1] for i in mine]
        for i, idx in zip(mine, _kam.knn_frames_contexts(
                F, frames, k=k, contexts=cs, min_separations=[max(int(min_separation), kc) for kc in cs],
                excludes=[dilate(user, max(0, kc - ctx)) | ana.partial for kc in cs], threads=threads)):
            found[i] = idx
    idx = np.concatenate(found, axis=1)
    S = np.minimum(_kam.statistic_over(ana.V, idx, statistic), ana.V[:, frames])
    power = None
    if with_power:  # over the neighbours only, so that no array as large as X is made
        used, where = np.unique(idx, return_inverse=True)
        power = _kam.mean_over((np.abs(ana.X[:, :, used]) ** 2).sum(axis=0), where.reshape(idx.shape))
    M = soft_mask(S, ana.V[:, frames] - S, power=s.mask_power) if with_mask else None
    return MusicEstimate(frames, S, M, power)


def repair_music_estimate(ana: Analysis, frames: np.ndarray, *, settings: Settings,
                          kernels: list[tuple[np.ndarray, int]] | None = None, **kwargs) -> MusicEstimate:
    """:func:`music_estimate` as the repair makes it: its kernels (:func:`repair_kernels`,
    or ``kernels`` already made by it), ``repair_k`` neighbours in each and
    ``repair_statistic``. Other keywords (``exclude``, ``with_power``, ``min_separation``,
    ``threads``, ``with_mask``) are passed on."""
    s = settings
    return music_estimate(ana, frames, settings=s, kernels=repair_kernels(ana, s) if kernels is None else kernels,
                          k=s.repair_k, statistic=s.repair_statistic, **kwargs)


def synthesize(X: np.ndarray, M: np.ndarray, cols: np.ndarray, w: np.ndarray, cfg: StftConfig, n_samples: int,
               *, strength: float) -> np.ndarray:
    """Removed part in the time domain: ISTFT of ``(1 - mask) X``.

    Parameters
    ----------
    X : np.ndarray [shape=(C, F, T)], complex
        STFT of the recording.
    M : np.ndarray [shape=(F, len(cols))], float32 in [0, 1]
        Music mask on the frames ``cols``; on every other frame it is 1 (nothing removed),
        and only the frames ``cols`` are transformed back.
    cols : np.ndarray [shape=(n,)], int, increasing
    w : np.ndarray [shape=(n,)]
        Weight of each of those frames in [0, 1] (multiplies what is removed).
    cfg : StftConfig
    n_samples : int
    strength : float in [0, 1]
        :func:`cleantake.masking.apply_strength` of the mask.

    Returns
    -------
    np.ndarray [shape=(C, n_samples)], float64
    """
    R_mask = (1.0 - apply_strength(M, strength)) * w[None, :]
    if cols.size > X.shape[-1] // 2:  # most frames (the baselines): one whole inverse
        R = np.zeros(X.shape, X.dtype)
        R[:, :, cols] = X[:, :, cols] * R_mask[None]
        return istft(R, cfg, n_samples)
    return istft_columns(X[:, :, cols] * R_mask[None], cols, cfg, n_samples)


def _runs(frames: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive values of increasing ``frames`` as (start, stop) index pairs."""
    breaks = np.flatnonzero(np.diff(frames) != 1) + 1
    return list(zip(np.r_[0, breaks].tolist(), np.r_[breaks, frames.size].tolist()))


@functools.lru_cache(maxsize=4)
def _delay_grid(bins: bytes, max_delay_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The delay search's grid of :func:`spatial_interference` for the bins whose frequencies
    (Hz, float64) are ``bins``: the delays ``(n_tau,)`` in seconds, a quarter of a sample at
    44.1 kHz apart (an eighth of the top bin's period), up to ``max_delay_s`` either way, and the
    phase shifts ``(n_bins, n_tau)`` that undo each. The same for every call at one STFT, and
    tens of MB at long windows: made once per STFT (it was a third of the stereo repair's time),
    read-only."""
    f_hz = np.frombuffer(bins, np.float64)
    step = 1.0 / (8.0 * max(float(f_hz[-1]), 1.0))
    taus = step * np.arange(-int(np.ceil(max_delay_s / step)), int(np.ceil(max_delay_s / step)) + 1)
    shifts = np.exp(2j * np.pi * np.outer(f_hz, taus))
    taus.setflags(write=False)
    shifts.setflags(write=False)
    return taus, shifts


def _covariance(X: np.ndarray, reference: np.ndarray, chunk: int) -> np.ndarray:
    """``(F, C, C)`` complex128: each bin's sum of ``x x^H`` over the ``reference`` frames
    (bool, ``(T,)``) of the STFT ``X`` ``(C, F, T)``. Each product's sum over frames is one
    matrix-vector product with the frames' 0/1 weights (float32 arithmetic, as ``X``), ``chunk``
    frames at a time: no copy of the frames taken, a few times faster than a sum of outer
    products."""
    C, F, T = X.shape
    R = np.zeros((F, C, C), np.complex128)
    weights = np.asarray(reference, np.float32)
    for a in range(0, T, chunk):
        w = weights[a:a + chunk]
        if not w.any():
            continue
        xs, wc = X[:, :, a:a + chunk], w.astype(np.complex64)
        for c in range(C):
            R[:, c, c] += np.square(xs[c].real) @ w + np.square(xs[c].imag) @ w
            for d in range(c + 1, C):
                v = (xs[c] * np.conj(xs[d])) @ wc
                R[:, c, d] += v
                R[:, d, c] += np.conj(v)
    return R


def spatial_interference(X: np.ndarray, frames: np.ndarray, music_power: np.ndarray, interference: np.ndarray,
                         reference: np.ndarray, freqs: np.ndarray, *, max_delay_s: float = 0.002,
                         loading: float = 1e-3, chunk: int = 1024, diffuse: float | None = None) -> np.ndarray:
    """Multichannel Wiener estimate of the interference at some frames (local Gaussian model).

    In each bin ``f`` of frame ``t`` the channels' STFT ``x`` is music plus interference, each
    zero-mean Gaussian with covariance ``v_m(f, t) R(f)`` (``R``: the recording's own spatial
    covariance in that bin over the ``reference`` frames, trace 1; ``v_m``: the music's
    power, at most the mixture's) and ``v_i(f, t) d(f) d(f)^H``. The steering vector ``d`` is
    one per run of consecutive frames (an event): each channel's level, delay (up to
    ``max_delay_s``, to a quarter sample; searched at 44.1 kHz over the bins up to 22.05 kHz,
    then refined at the recording's rate) and phase against the channel where the event is
    loudest, fitted to what the mixture has beyond the music over the event (so a source
    panned by level, as in mixing, and one reaching a spaced microphone pair later in one
    channel are both one direction). The interference estimate is ``v_i d d^H (v_m R + v_i d
    d^H + delta I)^-1 x``, solved with the Sherman-Morrison formula on the eigenvectors of ``R``,
    and never larger in a channel's bin than the mixture there.

    With ``diffuse``, the interference's spatial covariance of an event whose measured diffuse
    share ``g`` is at least ``diffuse`` is ``(1 - g) d d^H + g diag(p)``: part of it reaches the
    channels uncorrelated (a hall's reverberation), each channel ``c`` with the power ``p_c`` it
    has beyond the music over the event (in the units of ``|d_c|^2``; so an event heard in one
    channel only is still taken from that channel only). ``g`` is the share of the event that its
    channels' coherence leaves out (``g = 1 - |cross term| / sqrt(power product)`` over the
    event, at the fitted delay): near 0 for a source from one place, 0.3-0.9 for an event heard
    with a hall's reverberation (REPAIR.md, session 22).

    Parameters
    ----------
    X : np.ndarray [shape=(C, F, T)], complex
        STFT of the recording, ``C >= 1`` channels.
    frames : np.ndarray [shape=(n,)], int, increasing
        Frames to estimate.
    music_power : np.ndarray [shape=(F, n)]
        Music power at them, summed over channels (KAM: the neighbours' mean).
    interference : np.ndarray [shape=(F, n)]
        Interference magnitude at them in the channels' mean magnitude (KAM's shortfall,
        as the single-mask repair uses it).
    reference : np.ndarray [shape=(T,)], bool
        Frames that hold music only, whose spatial covariance is the music's (all frames
        if none is).
    freqs : np.ndarray [shape=(F,)]
        Frequency of each bin in Hz.
    max_delay_s : float >= 0
        Longest delay of an event between two channels that is looked for, in seconds (2 ms:
        about 70 cm of path difference).
    loading : float >= 0
        Diagonal loading of the covariance, relative to its mean power per channel.
    chunk : int
        Frames per step of the estimate (four times as many for the spatial covariance), so that the
        temporaries do not grow with the recording or the number of frames repaired.
    diffuse : float in [0, 1] or None
        Model a diffuse part of each event whose measured share ``g`` is at least this (0:
        every event); None (default): one direction only.

    Returns
    -------
    np.ndarray [shape=(C, F, n)], complex64
        The interference's STFT at ``frames`` (nothing outside them), ``|est| <= |X|`` in
        every channel and bin.
    """
    C, n_freq, T = X.shape
    frames = np.asarray(frames, np.intp)
    ref = np.asarray(reference, bool)
    if not ref.any():
        ref = np.ones(T, bool)
    # The music's spatial covariance per bin, trace 1.
    R = _covariance(X, ref, 4 * chunk)
    tr = np.real(np.trace(R, axis1=1, axis2=2))
    silent = tr <= 1e-30
    R[~silent] /= tr[~silent, None, None]
    R[silent] = np.eye(C) / C
    lam, U = np.linalg.eigh(R)  # (F, C), (F, C, C)
    lam = np.maximum(lam, 0.0)

    n = frames.size
    obs = np.empty((n_freq, n))  # the mixture's power summed over channels
    for c0 in range(0, n, chunk):
        xo = X[:, :, frames[c0:c0 + chunk]]
        obs[:, c0:c0 + chunk] = (np.square(xo.real, dtype=np.float64)
                                 + np.square(xo.imag, dtype=np.float64)).sum(axis=0)
    vm = np.minimum(np.asarray(music_power, np.float64), obs)  # never more music than mixture
    I = np.asarray(interference, np.float64)
    f_hz = np.asarray(freqs, np.float64)
    # The delay is searched on a grid of quarter samples at 44.1 kHz over the bins up to
    # 22.05 kHz (at 44.1 kHz: every bin, a quarter of a sample), then, above 44.1 kHz, refined
    # to a quarter of the recording's sample over every bin around the best of the grid: the
    # search would otherwise grow with the rate squared (BENCHMARKS.md 3, session 21).
    nb = max(2, int(np.searchsorted(f_hz, ANALYSIS_FMAX_HZ, side="right")))
    step = 1.0 / (8.0 * max(float(f_hz[nb - 1]), 1.0))
    taus, shifts = _delay_grid(f_hz[:nb].tobytes(), float(max_delay_s))
    fine = 1.0 / (8.0 * max(float(f_hz[-1]), 1.0))
    refine = fine * np.arange(-int(np.ceil(step / fine)), int(np.ceil(step / fine)) + 1) if nb < f_hz.size else None
    runs = _runs(frames)
    D = np.zeros((C, n_freq, len(runs)), np.complex128)  # the steering vector of each run
    gam = np.zeros(len(runs))  # the diffuse share of each run (with ``diffuse``)
    spread = np.zeros((C, len(runs)))  # each channel's power of the diffuse part, as |D|^2 is of the direct
    run_of = np.zeros(n, np.intp)
    for r, (a, b) in enumerate(runs):
        run_of[a:b] = r
        # What the mixture has beyond the music, weighted by the share KAM gives the
        # interference, per bin: its channels' levels and, against the loudest channel, the
        # delay and phase that explain their cross terms best are the event's direction.
        xs, vs = X[:, :, frames[a:b]].astype(np.complex128), vm[:, a:b]
        # (only where the mixture has more than the music: the bins with something to remove)
        wt = I[:, a:b] ** 2 / np.maximum(obs[:, a:b], 1e-30) * (obs[:, a:b] > vs)
        om = -(wt * vs).sum(axis=1)[:, None, None] * R
        for c in range(C):
            wx = wt * xs[c]
            om[:, c, c] += (wx * np.conj(xs[c])).real.sum(axis=1)
            for d in range(c + 1, C):
                v = (wx * np.conj(xs[d])).sum(axis=1)
                om[:, c, d] += v
                om[:, d, c] += np.conj(v)
        excess = np.maximum(np.real(np.einsum("fcc->c", om)), 0.0)
        if not excess.sum() > 0:
            D[:, :, r] = 1.0 / np.sqrt(C)
            continue
        ref = int(np.argmax(excess))
        dv = np.zeros((C, n_freq), np.complex128)
        dv[ref] = 1.0
        coherent = 0.0
        for c in range(C):
            if c != ref:
                # A source from one place makes the cross terms |d_c| |d_ref| times its power,
                # once the delay is undone; what the channels do not share averages out.
                fit = om[:nb, c, ref] @ shifts  # (n_tau,)
                tau = taus[int(np.argmax(np.abs(fit)))]
                if refine is None:
                    best = fit[int(np.argmax(np.abs(fit)))]
                else:
                    near = np.clip(tau + refine, -max_delay_s, max_delay_s)
                    fit = om[:, c, ref] @ np.exp(2j * np.pi * np.outer(f_hz, near))
                    tau = near[int(np.argmax(np.abs(fit)))]
                    best = fit[int(np.argmax(np.abs(fit)))]
                level = min(abs(best) / excess[ref], np.sqrt(excess[c] / excess[ref]))
                dv[c] = level * np.exp(1j * (np.angle(best) - 2 * np.pi * f_hz * tau))
                coherent += excess[c] * min(1.0, abs(best) / max(np.sqrt(excess[c] * excess[ref]), 1e-30))
        norm = (np.abs(dv[:, 0]) ** 2).sum()
        D[:, :, r] = dv / np.sqrt(norm)
        spread[:, r] = excess / excess[ref] / norm  # what each channel has beyond the music, shared or not
        others = excess.sum() - excess[ref]
        if diffuse is not None and C > 1 and others > 0:
            g = 1.0 - coherent / others  # the channels' coherence with the loudest, power-weighted
            gam[r] = g if g >= diffuse else 0.0
    Uh = np.conj(U)  # (F, C, C): Uh[f, c, k] = conj(U[f, c, k])
    Dt = np.einsum("fck,cfr->kfr", Uh, D)  # U^H d of each run
    # Interference power: its channels' mean magnitude is I, so |s| = I / mean |d_c| (with a
    # diffuse share g, channel c's power is (1 - g) |d_c|^2 + g p_c of it, p_c its own excess).
    mag_d = np.abs(D)
    if gam.any():
        mag_d = np.where(gam > 0, np.sqrt((1.0 - gam) * mag_d ** 2 + gam * spread[:, None, :]), mag_d)
    mean_d = np.maximum(mag_d.mean(axis=0), 1e-3)  # (F, n_runs)
    out = np.empty((C, n_freq, n), np.complex64)
    for c0 in range(0, n, chunk):
        sl, rs = slice(c0, c0 + chunk), run_of[c0:c0 + chunk]
        vi = (I[:, sl] / mean_d[:, rs]) ** 2
        vmc = vm[:, sl]
        delta = loading * (vmc + vi) / C + 1e-30
        xc = X[:, :, frames[sl]].astype(np.complex128)
        dt = Dt[:, :, rs]
        inv = 1.0 / (vmc[None] * lam.T[:, :, None] + delta[None])  # (C, F, chunk)
        num = np.zeros(vmc.shape, np.complex128)
        quad = np.zeros(vmc.shape)
        for k in range(C):
            xt = Uh[:, 0, k, None] * xc[0]  # (U^H x)_k
            for c in range(1, C):
                xt += Uh[:, c, k, None] * xc[c]
            xt *= inv[k]
            xt *= np.conj(dt[k])
            num += xt
            quad += (np.square(dt[k].real) + np.square(dt[k].imag)) * inv[k]
        est = D[:, :, rs] * (vi * num / (1.0 + vi * quad))[None]
        g = gam[rs]
        diffuse_cols = np.flatnonzero(g > 0)
        for h0 in range(0, diffuse_cols.size, 256):
            # Sigma = v_m R + v_i ((1 - g) d d^H + g diag(p)) + delta I: the diffuse part reaches
            # each channel uncorrelated, with the power the channel has beyond the music over the
            # event (so an event heard in one channel only is still taken from that channel
            # only); solved per bin.
            h = diffuse_cols[h0:h0 + 256]
            d = np.moveaxis(D[:, :, rs[h]], 0, -1)  # (F, h, C)
            gh = g[h][None, :, None, None]
            A = vi[:, h, None, None] * ((1.0 - gh) * d[..., :, None] * np.conj(d[..., None, :])
                                        + gh * spread[:, rs[h]].T[None, :, :, None] * np.eye(C))
            Sig = vmc[:, h, None, None] * R[:, None] + A + delta[:, h, None, None] * np.eye(C)
            z = np.linalg.solve(Sig, np.moveaxis(xc[:, :, h], 0, -1)[..., None])
            est[:, :, h] = np.moveaxis((A @ z)[..., 0], -1, 0)
        # Never more out of a channel's bin than the mixture has there (where the one-direction
        # model is wrong, a diffuse sound, the estimate could exceed it and add to the music).
        mag = np.abs(est)
        out[:, :, sl] = est * np.minimum(1.0, np.abs(xc) / np.maximum(mag, 1e-30))
    return out


def repair(
    ana: Analysis,
    frames: np.ndarray,
    *,
    settings: Settings,
    weights: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    music: MusicEstimate | None = None,
    marked: np.ndarray | None = None,
) -> np.ndarray:
    """What to remove at ``frames``: KAM's estimate of the interference, synthesised.

    At every frame to repair (``frames`` and the ``ramp_ms`` ramps around them) the music is
    KAM's statistic (``repair_statistic``) of the mixture over the ``repair_k`` nearest frames in
    each of the kernels :func:`repair_kernels` (:func:`music_estimate`); what the mixture has beyond
    it is taken for interference only as far as the NMF model gives each band to the
    interference templates (``Settings.nmf_guard``; released over an event far louder than its
    music estimate, ``Settings.nmf_guard_release_db``); a soft mask of power ``mask_power``,
    blended by ``Settings.strength`` and weighted per frame, is applied to the STFT and the
    removed part is transformed back.

    Parameters
    ----------
    ana : Analysis
    frames : np.ndarray [shape=(T,)], bool
        Frames to repair.
    settings : Settings
    weights : np.ndarray [shape=(T,)], optional
        Weight per frame in [0, 1] of what is removed (default: 1 on ``frames`` with
        raised-cosine ramps of ``ramp_ms`` outside them, :func:`cleantake.masking.frame_weights`).
        Frames with weight 0 are not repaired.
    exclude : np.ndarray [shape=(T,)], bool, optional
        Frames never used as neighbours (default: ``frames`` and ``context_ms`` around them).
    music : MusicEstimate, optional
        Estimates already made (by the location: one kernel on ``Analysis.Fm`` over
        ``context_ms``, ``k`` neighbours, the median); used at the frames they cover, in place
        of new ones with ``exclude``, if the repair's settings make the same ones
        (``repair_compress`` 0.1, ``repair_context_ms`` equal to ``context_ms``, ``repair_k``
        equal to ``k``, ``repair_statistic`` "median"); otherwise every frame is estimated
        anew with ``exclude``.
    marked : np.ndarray [shape=(T,)], bool, optional
        Frames the user marked as interference whose templates were learned from the marks
        (``-i none``): the guard there is ``Settings.nmf_guard_marked`` instead of
        ``nmf_guard``.

    Returns
    -------
    removed : np.ndarray [shape=(C, n_samples)], float64
        Zero wherever no repaired frame's window reaches.
    """
    s = settings
    frames = np.asarray(frames, dtype=bool)
    fc = s.counts(ana.cfg)
    C = ana.X.shape[0]
    w = frame_weights(frames, ramp=fc.ramp) if weights is None else np.asarray(weights, np.float32)
    if not (w > 0).any():
        return np.zeros((C, ana.n_samples))
    if exclude is None:  # the frames and their context on both sides
        exclude = dilate(frames, fc.context)
    kernels = repair_kernels(ana, s)
    spatial = C > 1 and s.stereo_model != "mask"
    as_location = (len(kernels) == 1 and kernels[0][0] is ana.Fm and kernels[0][1] == fc.context
                   and s.repair_k == s.k and s.repair_statistic == "median")
    if music is not None and (spatial or not as_location):
        music = None  # the location's estimates are not the ones these settings make
    if music is None:
        est = repair_music_estimate(ana, np.flatnonzero(w > 0), settings=s, kernels=kernels, exclude=exclude,
                                    with_power=spatial)
    else:
        covered = np.zeros(w.shape, bool)
        covered[music.frames] = True
        more = np.flatnonzero((w > 0) & ~covered)
        # Growth can reach past the frames KAM was first run on (a cough's quieter first
        # burst before its onset): estimate the music there too, with ``exclude``.
        est = music.merge(music_estimate(ana, more, settings=s, exclude=exclude)) if more.size else music
    q = est.frames
    keep = w[q] > 0  # estimated frames inside a repaired span or its ramp
    qk = q[keep]
    Sk = est.S[:, keep]
    shortfall = ana.V[:, qk] - Sk
    if s.nmf_guard > 0:
        # KAM's shortfall (mixture minus the neighbours' statistic) is taken for interference
        # only as far as the NMF model gives that band to the interference templates:
        # a note the neighbours lack, where the music templates explain the sound, stays.
        res = ana.nmf
        L_i = res.W[:, :res.n_fixed] @ res.H[:res.n_fixed][:, qk]
        r_b = L_i / np.maximum(L_i + ana.L_m[:, qk], 1e-12)
        power = np.float32(s.nmf_guard)
        if marked is not None:
            power = np.where(np.asarray(marked, bool)[qk], s.nmf_guard_marked, s.nmf_guard).astype(np.float32)[None]
        if np.isfinite(s.nmf_guard_release_db):
            # an event far louder than the music estimated under it: its excess is interference
            # in every band (read over each run of repaired frames, so that a transient's loudest
            # frame alone does not release the guard)
            above = np.empty(qk.size)
            e_mix = (ana.V[:, qk].astype(np.float64) ** 2).sum(axis=0)
            e_music = (Sk.astype(np.float64) ** 2).sum(axis=0)
            for a, b in np.searchsorted(qk, segments(w > 0)):  # each run of repaired frames, as places in qk
                above[a:b] = 10.0 * np.log10(max(e_mix[a:b].sum(), 1e-30) / max(e_music[a:b].sum(), 1e-30))
            held = np.clip(1.0 - (above - s.nmf_guard_release_db) / s.nmf_guard_release_width_db, 0.0, 1.0)
            power = (power * held.astype(np.float32))[None] if np.ndim(power) == 0 else power * held[None]
        shortfall = shortfall * bands_to_bins(r_b, ana.P) ** power
    if spatial:
        Xi = spatial_interference(ana.X, qk, est.power[:, keep], shortfall, ~(np.asarray(exclude, bool) | ana.partial),
                                  ana.cfg.freqs(), diffuse=DIFFUSE_SHARE.get(s.stereo_model))
        Xi *= (np.float32(s.strength) * w[qk].astype(np.float32))[None, None, :]
        return istft_columns(Xi, qk, ana.cfg, ana.n_samples)
    Mk = est.M[:, keep] if s.nmf_guard <= 0 else soft_mask(Sk, shortfall, power=s.mask_power)
    return synthesize(ana.X, Mk, qk, w[qk], ana.cfg, ana.n_samples, strength=s.strength)
