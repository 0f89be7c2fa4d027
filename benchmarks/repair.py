"""Quality of the repair when the regions are known (issue 16 item 3).

For grouped cross-validation recipes (:func:`cleantake.corpus.cv_recipes`) every mixture is
repaired at its true event spans (each event's onset to onset + its file's length), exactly
what ``Cleaner("any").clean(mixture, sr, events=true_spans)`` does, by several variants of the
repair stage. The analysis (STFT + NMF) is computed once per mixture and shared by every
variant; the spans become frames and the removed signal is faded and cut to the spans as
``Cleaner.clean`` does (``--check`` verifies on the first mixture of every worker that the
``new`` variant equals ``Cleaner("any").clean`` and ``today`` equals it with the settings of
before, :data:`OLD` and a 35-ms fade, bit for bit).

Scores:

* plain SDR improvement (for speed, while choosing): ``NSDR = SDR(music, output) -
  SDR(music, mixture)`` with ``SDR(m, e) = 10 log10(Σ m² / Σ (m - e)²)`` over the whole clip;
* with ``--bss``, BSS Eval NSDR (:func:`cleantake.evaluate.score_many`) for the final table.

Rows ``irm`` (and ``irm-nofade``) are the ceiling: the ideal soft mask
``|M|² / (|M|² + |I|²)`` from the true music and interference STFT magnitudes (mean over
channels, like the method's), applied at the same frames with the same weights (and, for
``irm``, the same fade inside the span edges).

Variants are named in :data:`VARIANTS`: each is the default :class:`cleantake.Settings` with
some fields replaced (``{"settings": {...}}``) and, for ideas not in the library, options of
:func:`variant_removed` (an experimental copy of :func:`cleantake.repair.repair`).

Examples::

    PYTHONPATH=src nice -n 10 python benchmarks/repair.py --part train --folds 0 2 --every 8 \\
        --variants today k8 power1 --out benchmarks/results/repair_train.json
    PYTHONPATH=src nice -n 10 python benchmarks/repair.py --part test --folds 0 1 2 3 4 --every 2 \\
        --variants today chosen --bss --out benchmarks/results/repair_test.json
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import cleantake  # noqa: E402
from cleantake import kam  # noqa: E402
from cleantake.analysis import Analysis  # noqa: E402
from cleantake.corpus import cv_recipes  # noqa: E402
from cleantake.evaluate import build_mixture, score_many  # noqa: E402
from cleantake.masking import frame_weights, soft_mask  # noqa: E402
from cleantake.repair import repair, synthesize  # noqa: E402
from cleantake.settings import Settings  # noqa: E402
from cleantake.spectral import bands_to_bins, stft  # noqa: E402

#: Named variants: ``settings`` replaces fields of the default Settings, the other keys are
#: options of :func:`variant_removed` (None of them: the library's own repair).
#: The repair's settings before this benchmark (the base of every variant without ``"base": "new"``).
OLD = {"repair_compress": 0.1, "repair_statistic": "median", "repair_context_ms": 46.0, "repair_k": 4}
#: The repair chosen in session 8 (one kernel), the library's until session 31: the ``new-*``
#: variants below it changed one setting of it (their names kept from then).
S8 = {"repair_compress": 1.0, "repair_context_ms": 46.0, "repair_k": 4}
VARIANTS: dict[str, dict] = {
    "today": {},
    "new": {"base": "new"},  # the library's defaults (fade: span_fade_ms)
    "exp": {"feat": "Fm"},  # the experimental copy with today's options (must equal today)
    "nofade": {"fade": "none"},
    "fade5ms": {"fade": 0.005},
    "guard0": {"settings": {"nmf_guard": 0.0}},
    "guard1": {"settings": {"nmf_guard": 1.0}},
    "power1": {"settings": {"mask_power": 1.0}},
    "power3": {"settings": {"mask_power": 3.0}},
    "k2": {"settings": {"k": 2}},
    "k8": {"settings": {"k": 8}},
    "k16": {"settings": {"k": 16}},
    "ctx0": {"settings": {"context_ms": 0.0}},
    "ctx92": {"settings": {"context_ms": 92.0}},
    "ctx184": {"settings": {"context_ms": 184.0}},
    "q25": {"stat": 0.25},
    "q40": {"stat": 0.4},
    "mean": {"stat": "mean"},
    "logmean": {"stat": "logmean"},
    "featVb": {"feat": "Vb"},
    "hyb": {"feat": "hyb"},
    "Fm_c0.01": {"feat": "Fm_c0.01"},
    "Fm_c1": {"feat": "Fm_c1"},
    "Fm_lin": {"feat": "Fm_lin"},
    "Fm_b2": {"feat": "Fm_b2"},
    "Fm_b4": {"feat": "Fm_b4"},
    "excl0": {"exclude_ctx": 0.0},
    "excl3": {"exclude_ctx": 3.0},
    "fmed": {"interf": "fmed"},
    "inmf": {"interf": "nmf"},
    "imax": {"interf": "max"},
    "iter1": {"iters": 1},
    "iter3": {"iters": 3},
    "fade2ms": {"fade": 0.002},
    "guard.25": {"settings": {"nmf_guard": 0.25}},
    "guard.75": {"settings": {"nmf_guard": 0.75}},
    "Fm_c10": {"feat": "Fm_c10"},
    "k8mean": {"settings": {"k": 8}, "stat": "mean"},
    "c1": {"settings": {"context_ms": 92.0}, "feat": "Fm_c1", "fade": "none"},
    "c2": {"settings": {"context_ms": 92.0}, "feat": "Fm_c1", "stat": "mean", "fade": "none"},
    "c3": {"settings": {"context_ms": 92.0}, "feat": "Fm_lin", "fade": "none"},
    "fine23": {"fine": (23.0, 5.75), "fade": "none"},
    "fine12": {"fine": (12.0, 3.0), "fade": "none"},
    "c2lr1": {"settings": {"context_ms": 92.0}, "feat": "Fm_c1", "stat": "mean", "fade": "none", "interf": "lr1"},
    "c2lr3": {"settings": {"context_ms": 92.0}, "feat": "Fm_c1", "stat": "mean", "fade": "none", "interf": "lr3"},
    "c2lr6": {"settings": {"context_ms": 92.0}, "feat": "Fm_c1", "stat": "mean", "fade": "none", "interf": "lr6"},
    "c2sm3": {"settings": {"context_ms": 92.0}, "feat": "Fm_c1", "stat": "mean", "fade": "none", "smooth_s": 3},
    "c2g0lr3": {"settings": {"context_ms": 92.0, "nmf_guard": 0.0}, "feat": "Fm_c1", "stat": "mean", "fade": "none",
                "interf": "lr3"},
    "c2fine": {"settings": {"context_ms": 92.0}, "feat": "Fm_c1", "stat": "mean", "fade": "none", "fine": (23.0, 5.75)},
    "c2pow": {"settings": {"context_ms": 92.0}, "feat": "Fm_c1", "stat": "mean", "fade": "none", "mask": "powsub"},
    "c2p1.5": {"settings": {"context_ms": 92.0, "mask_power": 1.5}, "feat": "Fm_c1", "stat": "mean", "fade": "none"},
    "c2k6": {"settings": {"context_ms": 92.0, "k": 6}, "feat": "Fm_c1", "stat": "mean", "fade": "none"},
    "c2ctx46": {"feat": "Fm_c1", "stat": "mean", "fade": "none"},
    "c2ctx69": {"settings": {"context_ms": 69.0}, "feat": "Fm_c1", "stat": "mean", "fade": "none"},
    "c2med": {"settings": {"context_ms": 92.0}, "feat": "Fm_c1", "fade": "none"},
    "d1": {"feat": "Fm_c1", "fade": "none"},
    "s8": {"base": "new", "settings": S8},
    "new-k8": {"base": "new", "settings": {**S8, "repair_k": 8}},
    "new-ctx92": {"base": "new", "settings": {**S8, "context_ms": 92.0, "repair_context_ms": 92.0}},
    "new-guard.25": {"base": "new", "settings": {**S8, "nmf_guard": 0.25}},
    "new-guard.75": {"base": "new", "settings": {**S8, "nmf_guard": 0.75}},
    "new-p3": {"base": "new", "settings": {**S8, "mask_power": 3.0}},
    "new-c3": {"base": "new", "settings": {**S8, "repair_compress": 3.0}},
    "new-ctx69": {"base": "new", "settings": {**S8, "context_ms": 69.0, "repair_context_ms": 69.0}},
    "new-ctx92g.25": {"base": "new", "settings": {**S8, "context_ms": 92.0, "repair_context_ms": 92.0,
                                                   "nmf_guard": 0.25}},
    "new-ctx92c3": {"base": "new", "settings": {**S8, "context_ms": 92.0, "repair_context_ms": 92.0,
                                                 "repair_compress": 3.0}},
    "nx": {"base": "new", "feat": "Fm_c1", "stat": "mean"},  # "s8" through the experimental copy
    "nx-rk": {"base": "new", "feat": "Fm_c1", "stat": "mean", "refit": "kernel"},
    "nx-rg": {"base": "new", "feat": "Fm_c1", "stat": "mean", "refit": "guard"},
    "nx-rb": {"base": "new", "feat": "Fm_c1", "stat": "mean", "refit": "both"},
    "nx-rb0": {"base": "new", "feat": "Fm_c1", "stat": "mean", "refit": "both", "refit_fixed": False},
    "nx-bl.2": {"base": "new", "feat": "Fm_c1", "stat": "mean", "blend": 0.2},
    "nx-bl.4": {"base": "new", "feat": "Fm_c1", "stat": "mean", "blend": 0.4},
    "nx-bf": {"base": "new", "feat": "Fm_c1", "stat": "mean", "split": 1, "tpen": 1e-9},  # brute force, same kernel
    "nx-t0.1": {"base": "new", "feat": "Fm_c1", "stat": "mean", "tpen": 0.1},
    "nx-t0.3": {"base": "new", "feat": "Fm_c1", "stat": "mean", "tpen": 0.3},
    "nx-t1": {"base": "new", "feat": "Fm_c1", "stat": "mean", "tpen": 1.0},
    "nx-s2": {"base": "new", "feat": "Fm_c1", "stat": "mean", "split": 2},
    "nx-s4": {"base": "new", "feat": "Fm_c1", "stat": "mean", "split": 4},
    "nx-s8": {"base": "new", "feat": "Fm_c1", "stat": "mean", "split": 8},
    "nx-perch": {"base": "new", "feat": "Fm_c1", "stat": "mean", "perch": True},
    "nx-bs1": {"base": "new", "feat": "Fm_c1", "stat": "mean", "bias": ("sum", 1.0)},
    "nx-bs.5": {"base": "new", "feat": "Fm_c1", "stat": "mean", "bias": ("sum", 0.5)},
    "nx-bm1": {"base": "new", "feat": "Fm_c1", "stat": "mean", "bias": ("med", 1.0)},
    "nx-bm.5": {"base": "new", "feat": "Fm_c1", "stat": "mean", "bias": ("med", 0.5)},
    "nx-oracle": {"base": "new", "feat": "Fm_c1", "stat": "mean", "oracle": True},  # diagnosis, not a method
    "nx-mdV.1": {"base": "new", "feat": "Fm_c1", "stat": "mean", "missing": ("Vb", 0.1)},
    "nx-mdV.3": {"base": "new", "feat": "Fm_c1", "stat": "mean", "missing": ("Vb", 0.3)},
    "nx-mdV.5": {"base": "new", "feat": "Fm_c1", "stat": "mean", "missing": ("Vb", 0.5)},
    "nx-mdL.1": {"base": "new", "feat": "Fm_c1", "stat": "mean", "missing": ("Lm", 0.1)},
    "nx-mdL.3": {"base": "new", "feat": "Fm_c1", "stat": "mean", "missing": ("Lm", 0.3)},
    "nx-mdL2": {"base": "new", "feat": "Fm_c1", "stat": "mean", "missing": ("Lm", 2.0)},
    "nx-gf.1": {"base": "new", "feat": "Fm_c1", "stat": "mean", "gain": ("frame", 0.1, 0.1)},
    "nx-gf.3": {"base": "new", "feat": "Fm_c1", "stat": "mean", "gain": ("frame", 0.3, 0.1)},
    "nx-gs.1": {"base": "new", "feat": "Fm_c1", "stat": "mean", "gain": ("smooth", 0.1, 0.1)},
    "nx-gs.3": {"base": "new", "feat": "Fm_c1", "stat": "mean", "gain": ("smooth", 0.3, 0.1)},
    "nx-gr.1": {"base": "new", "feat": "Fm_c1", "stat": "mean", "gain": ("run", 0.1, 0.1)},
    "nx-gr.3": {"base": "new", "feat": "Fm_c1", "stat": "mean", "gain": ("run", 0.3, 0.1)},
    "c4": {"settings": {"context_ms": 92.0, "k": 8}, "feat": "Fm_c1", "stat": "mean", "fade": "none"},
    # Frames whose window reaches into a span (centre up to ``widen`` hops outside it) repaired
    # at full weight; the removal is still cut to the span by the sample mask.
    "mk-46-92": {"base": "new", "stat": "mean", "kernels": (("Fm_c1", 46.0), ("Fm_c1", 92.0))},
    "mk-23-46-92": {"base": "new", "stat": "mean", "kernels": (("Fm_c1", 23.0), ("Fm_c1", 46.0), ("Fm_c1", 92.0))},
    "mk-46-92-184": {"base": "new", "stat": "mean", "kernels": (("Fm_c1", 46.0), ("Fm_c1", 92.0), ("Fm_c1", 184.0))},
    "mk-c.1-c1": {"base": "new", "stat": "mean", "kernels": (("Fm_c0.1", 46.0), ("Fm_c1", 46.0))},
    "mk-c1-c10": {"base": "new", "stat": "mean", "kernels": (("Fm_c1", 46.0), ("Fm_c10", 46.0))},
    "mk-4": {"base": "new", "stat": "mean", "kernels": (("Fm_c1", 46.0), ("Fm_c1", 92.0), ("Fm_c10", 46.0),
                                                         ("Fm_c10", 92.0))},
    "mk-6": {"base": "new", "stat": "mean", "kernels": tuple((f, c) for f in ("Fm_c1", "Fm_c10")
                                                             for c in (46.0, 92.0, 184.0))},
    "mk-9": {"base": "new", "stat": "mean", "kernels": tuple((f, c) for f in ("Fm_c1", "Fm_c10", "Fm_lin")
                                                             for c in (46.0, 92.0, 184.0))},
    "mk-6b": {"base": "new", "stat": "mean", "kernels": tuple((f, c) for f in ("Fm_c1", "Fm_c10")
                                                              for c in (23.0, 46.0, 92.0))},
    "mk-8": {"base": "new", "stat": "mean", "kernels": tuple((f, c) for f in ("Fm_c1", "Fm_c10")
                                                             for c in (23.0, 46.0, 92.0, 184.0))},
    "mk-4k2": {"base": "new", "stat": "mean", "settings": {"k": 2},
               "kernels": (("Fm_c1", 46.0), ("Fm_c1", 92.0), ("Fm_c10", 46.0), ("Fm_c10", 92.0))},
    "mk-4k8": {"base": "new", "stat": "mean", "settings": {"k": 8},
               "kernels": (("Fm_c1", 46.0), ("Fm_c1", 92.0), ("Fm_c10", 46.0), ("Fm_c10", 92.0))},
    "mk-4med": {"base": "new", "stat": "median",
                "kernels": (("Fm_c1", 46.0), ("Fm_c1", 92.0), ("Fm_c10", 46.0), ("Fm_c10", 92.0))},
    "mk-6k2": {"base": "new", "stat": "mean", "settings": {"k": 2},
               "kernels": tuple((f, c) for f in ("Fm_c1", "Fm_c10") for c in (46.0, 92.0, 184.0))},
    "mk-8k2": {"base": "new", "stat": "mean", "settings": {"k": 2},
               "kernels": tuple((f, c) for f in ("Fm_c1", "Fm_c10") for c in (23.0, 46.0, 92.0, 184.0))},
    "mk-8k1": {"base": "new", "stat": "mean", "settings": {"k": 1},
               "kernels": tuple((f, c) for f in ("Fm_c1", "Fm_c10") for c in (23.0, 46.0, 92.0, 184.0))},
    "mk-3k3": {"base": "new", "stat": "mean", "settings": {"k": 3},
               "kernels": (("Fm_c1", 46.0), ("Fm_c1", 92.0), ("Fm_c10", 92.0))},
    "mk-10k2": {"base": "new", "stat": "mean", "settings": {"k": 2},
                "kernels": tuple((f, c) for f in ("Fm_c1", "Fm_c10") for c in (23.0, 46.0, 92.0, 184.0, 368.0))},
    "mk-8k3": {"base": "new", "stat": "mean", "settings": {"k": 3},
               "kernels": tuple((f, c) for f in ("Fm_c1", "Fm_c10") for c in (23.0, 46.0, 92.0, 184.0))},
    "mk-12k2": {"base": "new", "stat": "mean", "settings": {"k": 2},
                "kernels": tuple((f, c) for f in ("Fm_c0.3", "Fm_c1", "Fm_c3", "Fm_c10", "Fm_c30")
                                 for c in (23.0, 46.0, 92.0, 184.0))[:12]},
    "mk-8k2med": {"base": "new", "stat": "median", "settings": {"k": 2},
                  "kernels": tuple((f, c) for f in ("Fm_c1", "Fm_c10") for c in (23.0, 46.0, 92.0, 184.0))},
    "mk-8k2b4": {"base": "new", "stat": "mean", "settings": {"k": 2},
                 "kernels": tuple((f, c) for f in ("Fm_c1", "Fm_c10") for c in (23.0, 46.0, 92.0, 184.0))
                 + (("Fm_b4", 46.0), ("Fm_b4", 92.0))},
    "mk-8k2lin": {"base": "new", "stat": "mean", "settings": {"k": 2},
                  "kernels": tuple((f, c) for f in ("Fm_c1", "Fm_c10") for c in (23.0, 46.0, 92.0, 184.0))
                  + (("Fm_lin", 46.0), ("Fm_lin", 92.0))},
    "mk-g.25": {"base": "new", "settings": {"nmf_guard": 0.25}},  # session 31: around the 8 kernels
    "mk-g.75": {"base": "new", "settings": {"nmf_guard": 0.75}},
    "mk-p1.5": {"base": "new", "settings": {"mask_power": 1.5}},
    "mk-p3": {"base": "new", "settings": {"mask_power": 3.0}},
    "nx-k1": {"base": "new", "stat": "mean", "kernels": (("Fm_c1", 46.0),)},  # must equal "s8"
    "new-w1": {"base": "new", "widen": 1},
    "new-w2": {"base": "new", "widen": 2},
    "new-w3": {"base": "new", "widen": 3},
}


def one_blas_thread() -> None:
    """Worker initializer: one BLAS thread per worker process (see benchmarks/sweep.py)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def true_spans(corpus: str, entry: dict, sr: int) -> list[tuple[float, float]]:
    """True event spans of a recipe in seconds: onset to onset + the event file's length."""
    return [(ev["onset_s"], ev["onset_s"] + sf.info(str(Path(corpus) / ev["path"])).frames / sr)
            for ev in entry["events"]]


def span_frames(spans, cfg, n_frames: int) -> np.ndarray:
    """Frames repaired for given spans (as ``Cleaner.clean(events=...)``): centre inside a
    span, plus the frame nearest each span's middle."""
    t = cfg.frame_times(n_frames)
    out = np.zeros(n_frames, bool)
    for a, b in spans:
        out |= (t >= a) & (t < b)
        out[int(np.argmin(np.abs(t - 0.5 * (a + b))))] = True
    return out


def span_mask(spans, n: int, sr: int, fade: int) -> np.ndarray:
    """Sample weights of ``Cleaner.clean(events=...)``: 1 inside each span with raised-cosine
    fades of ``fade`` samples inside its edges, 0 outside."""
    m = np.zeros(n)
    for s0, s1 in spans:
        a, b = int(np.floor(s0 * sr)), min(n, int(np.ceil(s1 * sr)))
        w = np.ones(b - a)
        f = min(fade, (b - a) // 2)
        if f > 0:
            r = 0.5 * (1 - np.cos(np.pi * (np.arange(f) + 1) / (f + 1)))
            w[:f], w[b - a - f:] = r, r[::-1]
        m[a:b] = w
    return m


def _stat(V: np.ndarray, idx: np.ndarray, stat) -> np.ndarray:
    """Statistic of ``V[:, idx]`` over the neighbours: ``"median"``, ``"mean"``, ``"logmean"``
    (geometric mean) or a quantile (float)."""
    if stat == "median":
        return kam.median_over(V, idx)
    G = V[:, idx]  # (F, q, k)
    if stat == "mean":
        return G.mean(axis=2).astype(np.float32)
    if stat == "logmean":  # geometric mean
        return np.exp(np.log(G + 1e-9).mean(axis=2)).astype(np.float32)
    return np.quantile(G, float(stat), axis=2).astype(np.float32)


def _features(ana: Analysis, kind: str, marked: np.ndarray, ctx: int) -> np.ndarray:
    """Per-frame kNN features (``(B, T)``) of a variant."""
    if kind == "Fm":
        return ana.Fm
    if kind.startswith("Fm_c"):  # compression level other than 0.1 x mean
        c = float(kind[4:])
        return kam.context_features(ana.L_m, context=0, compress=float(ana.L_m.mean()) * c + 1e-12)
    if kind == "Fm_lin":
        return (ana.L_m / float(ana.L_m.mean())).astype(np.float32)
    if kind == "Vb":  # classic KAM: the mixture itself
        return kam.context_features(ana.Vb, context=0, compress=float(ana.Vb.mean()) * 0.1 + 1e-12)
    if kind == "hyb":  # the mixture outside the marked frames, the NMF music estimate inside
        cmp = float(ana.Vb.mean()) * 0.1 + 1e-12
        F = kam.context_features(ana.Vb, context=0, compress=cmp)
        G = kam.context_features(ana.L_m, context=0, compress=cmp)
        F = F.copy()
        F[:, marked] = G[:, marked]
        return F
    if kind.startswith("Fm_b"):  # coarser bands: sum groups of adjacent bands
        g = int(kind[4:])
        L = ana.L_m
        B = L.shape[0] // g * g
        Lg = L[:B].reshape(B // g, g, -1).sum(axis=1)
        return kam.context_features(Lg, context=0, compress=float(Lg.mean()) * 0.1 + 1e-12)
    raise ValueError(kind)


def variant_removed(ana: Analysis, frames: np.ndarray, s: Settings, *, feat: str = "Fm", stat="median",
                    exclude_ctx: float = 1.0, interf: str = "shortfall", iters: int = 0,
                    fine: tuple | None = None, smooth_s: int = 0, mask: str = "soft",
                    x: np.ndarray | None = None, tpen: float = 0.0, split: int = 1,
                    missing: tuple | None = None, oracle: bool = False, perch: bool = False,
                    music: np.ndarray | None = None, gain: tuple | None = None, refit: str | None = None,
                    refit_fixed: bool = True, blend: float = 0.0, bias: tuple | None = None,
                    kernels: tuple | None = None) -> np.ndarray:
    """Experimental copy of :func:`cleantake.repair.repair` for given spans, with options.

    Parameters
    ----------
    feat : str
        kNN features (see :func:`_features`).
    stat : "median", "mean", "logmean" or float quantile
    exclude_ctx : float
        Marked frames are excluded from the neighbours with this many times the context on
        both sides.
    interf : str
        Interference estimate before the mask: ``shortfall`` (V - S, today), ``nmf`` (the NMF
        interference model spread to bins, scaled to the shortfall's total), ``fmed``
        (shortfall median-filtered along frequency).
    iters : int
        Extra KAM iterations: the music of marked frames is re-estimated with every frame as a
        candidate neighbour, the marked ones through their current music estimate.
    smooth_s : int
        If > 1, the music estimate is averaged over this many consecutive repaired frames.
    mask : "soft" or "powsub"
        ``soft_mask(S, R)`` (today), or the Wiener gain with the interference power
        ``V² - S²`` (times the guard squared).
    tpen : float
        Time penalty of the kernel: a candidate ``d`` seconds from the query has its distance
        multiplied by ``1 + tpen * min(d, 10)`` (0: none, the library's kernel).
    split : int
        Neighbours chosen separately for this many contiguous groups of bands (each group's
        bins estimated from its own neighbours; 1: one set for the whole spectrum).
    missing : (features, theta), optional
        Missing-data kernel: distances compare only the bands of the query's window where
        the NMF interference model's share is below ``theta``; ``features`` is ``"Vb"`` (the
        mixture's bands, compressed as the repair's features) or ``"Lm"`` (the NMF music
        estimate's).
    perch : bool
        Stereo: the same neighbours for every channel, but each channel's music estimate is
        the statistic of its own magnitudes and gets its own mask (a panned event is taken
        out of the channel it is in).
    oracle : bool
        Diagnosis: the kernel compares the TRUE music's band magnitudes (``music``, the clean
        music ``(C, n)``, compressed as ``Fm_c1``) instead of the NMF estimate: the best any
        choice of neighbours can do with this statistic.
    gain : (scope, theta, min_share), optional
        Level correction of the neighbours' statistic: where the NMF gives a bin less than
        ``theta`` of its band to the interference, the mixture there is taken for the music,
        and the statistic is scaled by the magnitude-weighted median of mixture / statistic
        over those bins, per repaired frame (``scope`` "frame"), per run of consecutive
        repaired frames ("run") or per frame smoothed over 5 frames ("smooth"); no correction
        where those bins hold less than ``min_share`` of the statistic's magnitude.
    refit : {"kernel", "guard", "both"}, optional
        Span-aware NMF (session 13): the music templates are learned again from the frames
        outside the spans (and their context) only, with the interference templates
        (``refit_fixed``) or without them, then every frame's activations are fitted with all
        templates fixed; its music estimate replaces the analysis's in the kernel's features
        (``"kernel"``), its interference share replaces the analysis's in the guard
        (``"guard"``), or both.
    blend : float in [0, 1]
        Geometric blend of the kNN statistic with the NMF's own music estimate in bins (the
        mixture times the band share of the music model): ``S_knn^(1-a) S_nmf^a``.
    bias : (how, alpha), optional
        Session 18: the statistic divided by the recording's own per-bin bias raised to
        ``alpha``, the bias measured with the same kNN at every second frame away from the spans
        (at most 1,500): ``how`` "sum" (sum of the statistic over sum of the mixture) or "med"
        (median of their ratio), kept within 1/4 .. 4.
    kernels : tuple of (features, context_ms), optional
        Session 31: several kernels at once; the statistic is the mean over kernels of each
        kernel's statistic over its own ``k`` neighbours (``features`` as ``feat``; marked frames
        excluded with each kernel's own context).
    fine : (window_ms, hop_ms), optional
        Apply the mask on a finer STFT of ``x`` (the recording, ``(C, n)``): the music
        estimate is mapped to its grid (nearest bin, linear in time, scaled per bin by the
        median ratio of the two spectrograms' magnitudes on unmarked frames) and the mask
        formed there.
    """
    from scipy.ndimage import median_filter

    fc = s.counts(ana.cfg)
    ctx = fc.context
    w = frame_weights(frames, ramp=fc.ramp)
    q = np.flatnonzero(w > 0)
    ex_w = int(round(exclude_ctx * ctx))
    exclude = np.convolve(frames, np.ones(2 * ex_w + 1), mode="same") > 0 if ex_w else frames.copy()
    exclude |= ana.partial
    F = _features(ana, feat, frames, ctx)
    res = ana.nmf
    L_i_all, L_m_all = ana.L_i, ana.L_m
    if refit is not None:
        from cleantake.nmf import semi_nmf

        Wf = res.W[:, :res.n_fixed]
        r1 = semi_nmf(ana.Vb[:, ~exclude], Wf if refit_fixed else None, n_free=s.music_rank, n_iter=s.n_iter,
                      beta=ana.beta)
        Wm = r1.W[:, r1.n_fixed:]
        r2 = semi_nmf(ana.Vb, np.concatenate([Wf, Wm], axis=1), n_free=0, n_iter=s.n_iter, beta=ana.beta)
        L_i2, L_m2 = r2.W[:, :res.n_fixed] @ r2.H[:res.n_fixed], r2.W[:, res.n_fixed:] @ r2.H[res.n_fixed:]
        if refit in ("kernel", "both"):
            F = kam.context_features(L_m2, context=0, compress=float(L_m2.mean()) * 1.0 + 1e-12)
        if refit in ("guard", "both"):
            L_i_all, L_m_all = L_i2, L_m2
    if oracle:
        Mb = ana.P @ np.abs(stft(music, ana.cfg, workers=1)).mean(axis=0)
        F = kam.context_features(Mb, context=0, compress=float(Mb.mean()) + 1e-12)
    V = ana.V
    Vq = V[:, q]
    if missing is not None:
        S = np.minimum(_missing_estimate(ana, q, s.k, ctx, exclude, stat, *missing), Vq)
    elif tpen or split > 1:
        S = np.minimum(_grouped_estimate(ana, F, q, s.k, ctx, exclude, stat, tpen, split), Vq)
    elif kernels is not None:
        acc = np.zeros_like(Vq)
        for kf, kms in kernels:
            kc = s.replace(context_ms=float(kms)).counts(ana.cfg).context
            kw = int(round(exclude_ctx * kc))
            kex = np.convolve(frames, np.ones(2 * kw + 1), mode="same") > 0 if kw else frames.copy()
            kex |= ana.partial
            idx = kam.knn_frames(_features(ana, kf, frames, kc), q, k=s.k, context=kc, exclude=kex,
                                 min_separation=kc)
            acc += _stat(V, idx, stat)
        S = np.minimum(acc / len(kernels), Vq)
    else:
        idx = kam.knn_frames(F, q, k=s.k, context=ctx, exclude=exclude, min_separation=ctx)
        raw = _stat(V, idx, stat)
        if gain is not None:
            raw = raw * _level_gain(ana, q, raw, Vq, *gain)[None, :]
        if bias is not None:  # session 18: the recording's own per-bin bias of the statistic
            how, alpha = bias
            qc = np.flatnonzero(~exclude)[::2][:1500]
            idc = kam.knn_frames(F, qc, k=s.k, context=ctx, exclude=exclude, min_separation=ctx)
            rc, Vc = _stat(V, idc, stat), V[:, qc]
            if how == "sum":
                cf = rc.sum(axis=1) / np.maximum(Vc.sum(axis=1), 1e-12)
            else:
                cf = np.median(rc / np.maximum(Vc, 1e-12), axis=1)
            cf = np.clip(cf, 0.25, 4.0).astype(np.float32)
            raw = raw / cf[:, None] ** alpha
        S = np.minimum(raw, Vq)
    L_i = L_i_all[:, q]
    r_b = L_i / np.maximum(L_i + L_m_all[:, q], 1e-12)
    if blend > 0:
        S_nmf = Vq * bands_to_bins(1.0 - r_b, ana.P)
        S = np.minimum(S ** (1 - blend) * np.maximum(S_nmf, 1e-12) ** blend, Vq).astype(np.float32)
    guard = bands_to_bins(r_b, ana.P) ** s.nmf_guard if s.nmf_guard > 0 else 1.0

    def mask_of(S):
        R = Vq - S
        if interf == "nmf":
            Li = bands_to_bins(L_i, ana.P) * 1.0
            Li *= R.sum(axis=0, keepdims=True) / np.maximum(Li.sum(axis=0, keepdims=True), 1e-12)
            R = Li
        elif interf == "fmed":
            R = median_filter(R, size=(9, 1), mode="nearest")
        elif interf.startswith("lr"):  # low-rank NMF (KL) of the shortfall per run of frames
            r = int(interf[2])
            R = _low_rank(R, q, r)
        elif interf == "max":
            Li = bands_to_bins(L_i, ana.P)
            R = np.minimum(R, Li * 4)
        if mask == "powsub":  # Wiener gain with the interference power V^2 - S^2 (after the guard)
            return np.clip(S**2 / np.maximum(S**2 + (Vq**2 - S**2) * guard**2, 1e-20), 0, 1).astype(np.float32)
        return soft_mask(S, R * guard, power=s.mask_power)

    if smooth_s > 1:
        from scipy.ndimage import uniform_filter1d

        S = np.minimum(uniform_filter1d(S, smooth_s, axis=1, mode="nearest"), Vq)
    M = mask_of(S)
    for _ in range(iters):
        U = V.copy()
        U[:, q] = M * Vq  # current music estimate at the repaired frames
        idx = kam.knn_frames(F, q, k=s.k, context=ctx, exclude=ana.partial, min_separation=ctx)
        S = np.minimum(_stat(U, idx, stat), Vq)
        M = mask_of(S)
    if perch and ana.X.shape[0] > 1:
        outs = []
        for c in range(ana.X.shape[0]):
            A = np.abs(ana.X[c]).astype(np.float32)
            Aq = A[:, q]
            Sc = np.minimum(_stat(A, idx, stat), Aq)
            Mc = soft_mask(Sc, (Aq - Sc) * guard, power=s.mask_power)
            outs.append(synthesize(ana.X[c:c + 1], Mc, q, w[q], ana.cfg, ana.n_samples, strength=s.strength))
        return np.concatenate(outs, axis=0)
    if fine is None:
        return synthesize(ana.X, M, q, w[q], ana.cfg, ana.n_samples, strength=s.strength)
    from cleantake.spectral import StftConfig

    cfg2 = StftConfig(ana.cfg.sr, *fine)
    X2 = stft(x, cfg2, workers=1)
    V2 = np.abs(X2).mean(axis=0)
    t1, t2 = ana.cfg.frame_times(ana.n_frames), cfg2.frame_times(V2.shape[1])
    w2 = np.interp(t2, t1, w).astype(np.float32)
    q2 = np.flatnonzero(w2 > 0)
    ic = np.clip(np.round(cfg2.freqs() / (ana.cfg.sr / ana.cfg.n_fft)).astype(int), 0, V.shape[0] - 1)
    U = V.copy()
    U[:, q] = S
    Gd = np.ones_like(V)
    if s.nmf_guard > 0:
        Gd[:, q] = guard
    lo, hi = max(0, q[0] - 50), min(ana.n_frames, q[-1] + 51)

    def to_fine(A, cols):
        """``A`` (coarse bins x frames) at the fine frames ``cols``: nearest bin, linear in time."""
        A, tt = A[ic, lo:hi], t1[lo:hi]
        j = np.clip(np.searchsorted(tt, t2[cols]) - 1, 0, tt.size - 2)
        a = np.clip((t2[cols] - tt[j]) / (tt[j + 1] - tt[j]), 0, 1)
        return A[:, j] * (1 - a) + A[:, j + 1] * a

    # Per-bin scale between the two spectrograms, from fine frames near the spans left alone.
    out2 = np.flatnonzero((w2 == 0) & (t2 >= t1[lo]) & (t2 <= t1[hi - 1]))
    rho = np.median(V2[:, out2] / np.maximum(to_fine(V, out2), 1e-9), axis=1)[:, None] if out2.size else 1.0
    S2 = np.minimum(to_fine(U, q2) * rho, V2[:, q2])
    M2 = soft_mask(S2, (V2[:, q2] - S2) * to_fine(Gd, q2), power=s.mask_power)
    return synthesize(X2, M2, q2, w2[q2], cfg2, ana.n_samples, strength=s.strength)


def _level_gain(ana: Analysis, q: np.ndarray, raw: np.ndarray, Vq: np.ndarray, scope: str, theta: float,
                min_share: float, limit: float = 4.0) -> np.ndarray:
    """Per-frame scale of the neighbours' statistic ``raw`` (``(F, len(q))``) from the bins the
    NMF gives mostly to the music (see :func:`variant_removed`, ``gain``)."""
    res = ana.nmf
    L_i = res.W[:, :res.n_fixed] @ res.H[:res.n_fixed][:, q]
    r_bin = bands_to_bins(L_i / np.maximum(L_i + ana.L_m[:, q], 1e-12), ana.P)
    ok = (r_bin < theta) & (raw > 0) & (Vq > 0)
    wgt = np.where(ok, raw, 0.0)
    lr = np.log(np.maximum(Vq, 1e-12) / np.maximum(raw, 1e-12))
    share = wgt.sum(axis=0) / np.maximum(raw.sum(axis=0), 1e-12)

    def wmedian(x, w):
        if w.sum() <= 0:
            return 0.0
        o = np.argsort(x)
        c = np.cumsum(w[o])
        return float(x[o][np.searchsorted(c, 0.5 * c[-1])])

    n = q.size
    out = np.zeros(n)
    if scope == "run":
        breaks = np.flatnonzero(np.diff(q) != 1) + 1
        for a, b in zip(np.r_[0, breaks], np.r_[breaks, n]):
            w_run = wgt[:, a:b]
            if w_run.sum() >= min_share * raw[:, a:b].sum():
                out[a:b] = wmedian(lr[:, a:b].ravel(), w_run.ravel())
    else:
        for j in range(n):
            if share[j] >= min_share:
                out[j] = wmedian(lr[:, j], wgt[:, j])
        if scope == "smooth":
            from scipy.ndimage import uniform_filter1d

            out = uniform_filter1d(out, 5, mode="nearest")
    return np.exp(np.clip(out, -np.log(limit), np.log(limit))).astype(np.float32)


def _grouped_estimate(ana: Analysis, F: np.ndarray, q: np.ndarray, k: int, ctx: int, exclude: np.ndarray,
                      stat, tpen: float, split: int) -> np.ndarray:
    """Music estimate at frames ``q`` with a brute-force kernel: a time penalty and/or
    neighbours chosen per group of bands (see :func:`variant_removed`)."""
    B, T = F.shape
    V = ana.V
    edges = np.linspace(0, B, split + 1).round().astype(int)
    band_of_bin = np.argmax(np.asarray(ana.P), axis=0)  # (F,)
    t = np.arange(T)
    dt = np.abs(t[None, :] - q[:, None]) * ana.cfg.frame_seconds
    mult = 1.0 + tpen * np.minimum(dt, 10.0)
    bad = exclude[None, :] | (np.abs(t[None, :] - q[:, None]) <= ctx)
    S = np.empty((V.shape[0], q.size), np.float32)
    for a, b in zip(edges[:-1], edges[1:]):
        G = kam.context_features(F[a:b], context=ctx)
        nrm = np.einsum("ij,ij->j", G, G)
        D = nrm[q][:, None] + nrm[None, :] - 2.0 * (G[:, q].T @ G)
        D = np.maximum(D, 0) * mult
        D[bad] = np.inf
        idx = np.argpartition(D, k - 1, axis=1)[:, :k]
        rows = (band_of_bin >= a) & (band_of_bin < b)
        S[rows] = _stat(V[rows], idx, stat)
    return S


def _missing_estimate(ana: Analysis, q: np.ndarray, k: int, ctx: int, exclude: np.ndarray, stat,
                      features: str, theta: float) -> np.ndarray:
    """Music estimate at ``q`` with the missing-data kernel of :func:`variant_removed`."""
    res = ana.nmf
    L_i = res.W[:, :res.n_fixed] @ res.H[:res.n_fixed]
    r_b = L_i / np.maximum(L_i + ana.L_m, 1e-12)  # (B, T)
    A = ana.Vb if features == "Vb" else ana.L_m
    F = np.log1p(A / (float(A.mean()) + 1e-12)).astype(np.float32)
    B, T = F.shape
    P = np.pad(F, ((0, 0), (ctx, ctx)), mode="edge")
    R = np.pad(r_b, ((0, 0), (ctx, ctx)), mode="edge")
    D = np.zeros((q.size, T), np.float64)
    for j in range(2 * ctx + 1):
        Ft = P[:, j:j + T]  # frame t + j - ctx of every candidate t
        Fq = P[:, q + j]
        Wq = (R[:, q + j] < theta).astype(np.float32)
        D += ((Wq * Fq * Fq).sum(axis=0))[:, None] - 2.0 * ((Wq * Fq).T @ Ft) + Wq.T @ (Ft * Ft)
    t = np.arange(T)
    D[exclude[None, :] | (np.abs(t[None, :] - q[:, None]) <= ctx)] = np.inf
    idx = np.argpartition(D, k - 1, axis=1)[:, :k]
    return _stat(ana.V, idx, stat)


def _low_rank(R: np.ndarray, q: np.ndarray, r: int, n_iter: int = 50) -> np.ndarray:
    """Rank-``r`` KL-NMF fit of ``R`` (``(F, len(q))``, clipped at 0), separately for every
    run of consecutive frames ``q``."""
    R = np.maximum(R, 0).astype(np.float64) + 1e-9
    out = np.empty_like(R)
    breaks = np.flatnonzero(np.diff(q) != 1) + 1
    rng = np.random.default_rng(0)
    for a, b in zip(np.r_[0, breaks], np.r_[breaks, q.size]):
        Y = R[:, a:b]
        W = Y.mean(axis=1, keepdims=True) * (0.5 + rng.random((Y.shape[0], r)))
        H = Y.mean(axis=0, keepdims=True) * (0.5 + rng.random((r, Y.shape[1]))) / max(Y.mean(), 1e-12)
        for _ in range(n_iter):
            WH = W @ H
            H *= (W.T @ (Y / WH)) / np.maximum(W.sum(axis=0)[:, None], 1e-12)
            WH = W @ H
            W *= ((Y / WH) @ H.T) / np.maximum(H.sum(axis=1)[None, :], 1e-12)
        out[:, a:b] = W @ H
    return out.astype(np.float32)


def irm_removed(ana: Analysis, frames: np.ndarray, s: Settings, music: np.ndarray, interference: np.ndarray):
    """The ideal soft mask at the repaired frames (same weights as the repair)."""
    fc = s.counts(ana.cfg)
    w = frame_weights(frames, ramp=fc.ramp)
    q = np.flatnonzero(w > 0)
    Am = np.abs(stft(music, ana.cfg, workers=1)[:, :, q]).mean(axis=0)
    Ai = np.abs(stft(interference, ana.cfg, workers=1)[:, :, q]).mean(axis=0)
    return synthesize(ana.X, soft_mask(Am, Ai, power=2.0), q, w[q], ana.cfg, ana.n_samples, strength=1.0)


def _sdr(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / max(np.sum((ref - est) ** 2), 1e-20)))


_CHECKED = {"done": False}


def _work(job):
    corpus, entry, names, bss, check, cache = job
    y, m, d, sr = build_mixture(corpus, entry)
    x = y.T
    spans = true_spans(corpus, entry, sr)
    cl = cleantake.Cleaner("any")
    t0 = time.perf_counter()
    path = None if cache is None else Path(cache) / f"{entry['id']}.pkl"
    if path is not None and path.exists():
        with open(path, "rb") as fh:
            ana = pickle.load(fh)
    else:
        ana = cl.analyse(x, sr)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as fh:
                pickle.dump(ana, fh, protocol=pickle.HIGHEST_PROTOCOL)
    t_ana = time.perf_counter() - t0
    s0 = cl.settings
    frames = span_frames(spans, ana.cfg, ana.n_frames)
    fade = max(1, s0.counts(ana.cfg).ramp) * ana.cfg.hop_length
    smask = span_mask(spans, ana.n_samples, sr, fade)
    hard = span_mask(spans, ana.n_samples, sr, 0)
    outs, secs = {}, {}
    for name in names:
        t1 = time.perf_counter()
        if name in ("irm", "irm-nofade"):
            rem = irm_removed(ana, frames, s0, m.T, d.T) * (smask if name == "irm" else hard)[None]
        else:
            v = VARIANTS[name]
            new = v.get("base") == "new"
            s = s0.replace(**{**({} if new else OLD), **v.get("settings", {})})
            opts = {k: val for k, val in v.items() if k not in ("settings", "fade", "base", "widen")}
            fr = frames
            if v.get("widen"):
                fr = np.convolve(frames, np.ones(2 * v["widen"] + 1), mode="same") > 0
            if "fine" in opts:
                opts["x"] = x
            if opts.get("oracle"):
                opts["music"] = m.T
            rem = (variant_removed(ana, fr, s, **opts) if opts else repair(ana, fr, settings=s))
            f = v.get("fade", "settings" if new else "ramp")
            sm = (smask if f == "ramp" else hard if f == "none" else
                  span_mask(spans, ana.n_samples, sr, s.counts(ana.cfg).span_fade) if f == "settings" else
                  span_mask(spans, ana.n_samples, sr, int(f * sr)))
            rem = rem * sm[None]
        secs[name] = time.perf_counter() - t1
        outs[name] = (x - rem).T
    if check and not _CHECKED["done"]:
        _CHECKED["done"] = True
        old = cl.with_settings(**OLD, span_fade_ms=1000.0 * fade / sr)
        for name, c in (("new", cl), ("today", old)):
            if name in outs:
                ref = c.clean(y[:, 0] if y.shape[1] == 1 else y, sr, events=spans).cleaned.reshape(y.shape)
                if not np.array_equal(ref, outs[name]):
                    raise AssertionError(f"{entry['id']}: {name!r} differs from Cleaner.clean(events=...)")
    base = _sdr(m, y)
    row = {k: entry.get(k) for k in ("id", "set", "class", "level_db", "fold", "part")}
    row.update(seconds_analysis=t_ana, seconds=secs, nsdr={n: _sdr(m, o) - base for n, o in outs.items()})
    if bss:
        sc = score_many([outs[n] for n in names], m, y)
        row["bss_nsdr"] = {n: r["nsdr"] for n, r in zip(names, sc)}
    return row


def _work_auto(job):
    """The automatic path (location, then repair) with the repair settings of before (:data:`OLD`)
    and the library's: one analysis and one location, two repairs."""
    from cleantake.locate import locate_events

    corpus, entry, bss, check = job
    y, m, d, sr = build_mixture(corpus, entry)
    x = y.T
    cl = cleantake.Cleaner("any")
    old = cl.with_settings(**OLD)
    ana = cl.analyse(x, sr)
    loc = locate_events(ana, settings=cl.settings, dictionary=cl.dictionary)
    outs = {}
    for name, c in (("today", old), ("new", cl)):
        rem = (repair(ana, loc.frames, settings=c.settings, exclude=loc.exclude, music=loc.music)
               if loc.frames.any() else np.zeros_like(x))
        outs[name] = (x - rem).T
    if check and not _CHECKED["done"]:
        _CHECKED["done"] = True
        audio = y[:, 0] if y.shape[1] == 1 else y
        for name, c in (("new", cl), ("today", old)):
            r = c.clean(audio, sr)
            if r.events != loc.events or not np.array_equal(r.cleaned.reshape(y.shape), outs[name]):
                raise AssertionError(f"{entry['id']}: {name!r} differs from Cleaner.clean")
    row = {k: entry.get(k) for k in ("id", "set", "class", "level_db", "fold", "part")}
    row["events"] = len(loc.events)
    if entry["set"] == "clean":
        row["level_db"] = "clean"
        row["nsdr"] = {n: min(_sdr(m, o), 100.0) for n, o in outs.items()}  # SDR against the input
        return row
    base = _sdr(m, y)
    row["nsdr"] = {n: _sdr(m, o) - base for n, o in outs.items()}
    if bss:
        sc = score_many([outs[n] for n in ("today", "new")], m, y)
        row["bss_nsdr"] = {n: r["nsdr"] for n, r in zip(("today", "new"), sc)}
    return row


def _table(rows: list[dict], names: list[str], key: str, by: str) -> list[str]:
    """Mean of ``key`` per variant (rows) and level (columns), for groups ``by``."""
    groups = sorted({(r[by] if by else "all") for r in rows}, key=str)
    lines = []
    levels = sorted({r["level_db"] for r in rows}, reverse=True)
    for g in groups:
        sel = [r for r in rows if (r[by] if by else "all") == g]
        head = f"{(by or 'all') + '=' + str(g):28s}" + "".join(f"{lv:>+8g}" for lv in levels) + f"{'mean':>8s}   n"
        lines.append(head)
        for n in names:
            vals = [np.mean([r[key][n] for r in sel if r["level_db"] == lv] or [np.nan]) for lv in levels]
            allv = np.mean([r[key][n] for r in sel])
            cnt = [sum(1 for r in sel if r["level_db"] == lv) for lv in levels]
            lines.append(f"  {n:26s}" + "".join(f"{v:8.2f}" for v in vals) + f"{allv:8.2f}   {'/'.join(map(str, cnt))}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--part", choices=["train", "test"], default="train")
    ap.add_argument("--folds", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--sets", nargs="+", default=["stems"], choices=["stems", "mixes", "clean"])
    ap.add_argument("--auto", action="store_true",
                    help="the automatic path (no spans given): the repair of before against the new one")
    ap.add_argument("--every", type=int, default=4, help="take every n-th recipe of each fold")
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--variants", nargs="+", default=["today"], help=f"irm, irm-nofade, {', '.join(VARIANTS)}")
    ap.add_argument("--bss", action="store_true", help="also BSS Eval NSDR (slower)")
    ap.add_argument("--check", action="store_true", help="check 'today' against Cleaner.clean(events=...)")
    ap.add_argument("--cache", help="folder to keep the analyses in (pickles, by recipe id) for later runs")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "repair.json"))
    args = ap.parse_args(argv)
    for n in args.variants:
        if n not in VARIANTS and n not in ("irm", "irm-nofade"):
            ap.error(f"unknown variant {n!r}")
    entries = []
    for f in args.folds:
        rec = cv_recipes(args.corpus, f, part=args.part, sets=tuple(args.sets))
        entries += rec[args.offset::args.every]
    t0 = time.perf_counter()
    if args.auto:
        names = ["today", "new"]
        jobs = [(args.corpus, e, args.bss, args.check) for e in entries]
        work = _work_auto
    else:
        names = args.variants
        jobs = [(args.corpus, e, args.variants, args.bss, args.check, args.cache) for e in entries]
        work = _work
    with ProcessPoolExecutor(args.jobs, initializer=one_blas_thread) as ex:
        rows = list(ex.map(work, jobs))
    wall = time.perf_counter() - t0
    lines = [f"{len(rows)} mixtures ({args.part} part of folds {args.folds}, sets {args.sets}, every "
             f"{args.every} from {args.offset}){' automatic path' if args.auto else ''}, {wall:.0f} s wall"]
    if not args.auto:
        lines[0] += f", analysis {np.mean([r['seconds_analysis'] for r in rows]):.1f} s/mixture"
    mixed = [r for r in rows if r["set"] != "clean"]
    keys = [("nsdr", "plain NSDR (dB)")] + ([("bss_nsdr", "BSS Eval NSDR (dB)")] if args.bss else [])
    for key, title in keys:
        lines.append(f"\n== {title}")
        for by in ("", "set", "class", "fold"):
            lines += _table(mixed, names, key, by)
    if args.auto:
        clean = [r for r in rows if r["set"] == "clean"]
        if clean:
            lines.append(f"\nclean set: {len(clean)} clips, {sum(r['events'] > 0 for r in clean)} with an event; "
                         "SDR of the output against the input (dB, 100 = unchanged): " + ", ".join(
                             f"{n} {np.mean([r['nsdr'][n] for r in clean]):.2f}" for n in names))
        lines.append(f"events located: {sum(r['events'] for r in mixed)} in {len(mixed)} mixtures "
                     "(the same for both: one location)")
    else:
        lines.append("\nrepair seconds per mixture: " + ", ".join(
            f"{n} {np.mean([r['seconds'][n] for r in rows]):.2f}" for n in names))
    text = "\n".join(lines)
    print(text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump({"args": vars(args), "variants": {n: VARIANTS.get(n, {}) for n in names}, "table": text,
                   "rows": rows}, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
