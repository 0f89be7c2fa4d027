"""Diagnosis (issue 16 item 3): can a model learned per time-frequency bin beat the repair's
kNN mean as the estimate of the music inside a known span?

For every mixture of the chosen ``train``-part recipes (as ``benchmarks/repair.py``: true spans,
the analysis of ``Cleaner("any")``), each bin of every frame the repair touches gets 14
features, all in log magnitude relative to the mixture there: the mixture's level and
frequency; the mean, median, min and max over the 8 nearest frames of the repair's kernel
(``Fm_c1``, 46-ms context) and the nearest one alone; the mean of the 4 nearest (today's
estimate); the NMF music and interference models in that bin; the mean of the 4 frames just
before and just after the span's exclusion zone; the frame's position in its span and the
span's length. The target is the true music's log magnitude relative to the mixture's (capped
at +0.5). Gradient-boosted regression trees (scikit-learn, 200 trees of 31 leaves, sample
weight the mixture magnitude to the power ``--weight-power``) are fitted on the bins of one
fold and predict the other's (grouped by fold, both ways); the predicted music magnitude
replaces the kNN mean in the repair's mask (with and without the NMF guard). Plain NSDR as
``repair.py``, against the library's repair (``new``) on the same mixtures.

Usage (session 9, 2026-12-02; ``--cache`` as repair.py's, the analyses are reused)::

    PYTHONPATH=src python benchmarks/repair_learned.py --folds 0 2 --every 7 --cache /tmp/repair_cache \\
        --weight-power 1
"""

from __future__ import annotations

import argparse
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import repair as RB  # noqa: E402

from cleantake import Cleaner, kam  # noqa: E402
from cleantake.corpus import build_mixture, cv_recipes  # noqa: E402
from cleantake.masking import frame_weights, soft_mask  # noqa: E402
from cleantake.repair import repair, synthesize  # noqa: E402
from cleantake.spectral import bands_to_bins, stft  # noqa: E402

K = 8  # neighbours whose statistics are features


def _analysis(corpus: str, entry: dict, cache: str | None):
    path = None if cache is None else Path(cache) / f"{entry['id']}.pkl"
    if path is not None and path.exists():
        with open(path, "rb") as fh:
            return pickle.load(fh)
    y, _, _, sr = build_mixture(corpus, entry)
    ana = Cleaner("any").analyse(y.T, sr)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            pickle.dump(ana, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return ana


def features(ana, frames: np.ndarray, s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(repaired frames q, their weights, per-bin features (F, len(q), 14))."""
    fc = s.counts(ana.cfg)
    ctx = fc.context
    w = frame_weights(frames, ramp=fc.ramp)
    q = np.flatnonzero(w > 0)
    exclude = (np.convolve(frames, np.ones(2 * ctx + 1), mode="same") > 0) | ana.partial
    F = RB._features(ana, "Fm_c1", frames, ctx)
    idx = kam.knn_frames(F, q, k=K, context=ctx, exclude=exclude, min_separation=ctx)
    V = ana.V.astype(np.float64)
    Vq = V[:, q]
    G = V[:, idx]  # (F, n, K)
    ref = V.mean() + 1e-12

    def L(A):
        return np.log(A / ref + 1e-4)

    res = ana.nmf
    L_i = res.W[:, :res.n_fixed] @ res.H[:res.n_fixed][:, q]
    Lm, Li = bands_to_bins(ana.L_m[:, q], ana.P), bands_to_bins(L_i, ana.P)
    pre, post = np.empty_like(Vq), np.empty_like(Vq)
    pos, length = np.empty(q.size), np.empty(q.size)
    T = V.shape[1]
    br = np.flatnonzero(np.diff(q) != 1) + 1
    for a, b in zip(np.r_[0, br], np.r_[br, q.size]):
        t0, t1 = q[a], q[b - 1]
        pa = np.arange(max(0, t0 - ctx - 4), max(1, t0 - ctx))
        pb = np.arange(min(T - 1, t1 + ctx + 1), min(T, t1 + ctx + 5))
        pre[:, a:b] = V[:, pa].mean(axis=1, keepdims=True)
        post[:, a:b] = V[:, pb].mean(axis=1, keepdims=True)
        pos[a:b], length[a:b] = np.linspace(0, 1, b - a), b - a
    lv = L(Vq)
    X = np.stack([lv, L(G[:, :, :4].mean(axis=2)) - lv, L(G.mean(axis=2)) - lv, L(np.median(G[:, :, :4], axis=2)) - lv,
                  L(G.min(axis=2)) - lv, L(G.max(axis=2)) - lv, L(Lm) - lv, L(Li) - lv, L(pre) - lv, L(post) - lv,
                  np.broadcast_to(np.log(np.arange(V.shape[0]) + 1.0)[:, None], Vq.shape),
                  np.broadcast_to(pos, Vq.shape), np.broadcast_to(np.log(length), Vq.shape), L(G[:, :, 0]) - lv],
                 axis=-1)
    return q, w, X.astype(np.float32)


def _job(args):
    corpus, entry, cache = args
    RB.one_blas_thread()
    y, m, _, sr = build_mixture(corpus, entry)
    ana = _analysis(corpus, entry, cache)
    s = Cleaner("any").settings
    frames = RB.span_frames(RB.true_spans(corpus, entry, sr), ana.cfg, ana.n_frames)
    q, _, X = features(ana, frames, s)
    Mt = np.abs(stft(m.T, ana.cfg, workers=1)[:, :, q]).mean(axis=0)
    ref = ana.V.mean() + 1e-12
    tgt = np.minimum(np.log(Mt / ref + 1e-4) - np.log(ana.V[:, q] / ref + 1e-4), 0.5)
    return {"entry": entry, "X": X, "tgt": tgt.astype(np.float32), "Vq": ana.V[:, q]}


def main(argv=None) -> int:
    from sklearn.ensemble import HistGradientBoostingRegressor

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--folds", type=int, nargs=2, default=[0, 2])
    ap.add_argument("--every", type=int, default=7)
    ap.add_argument("--cache")
    ap.add_argument("--weight-power", type=float, default=1.0)
    ap.add_argument("--samples", type=int, default=400000, help="bins drawn to fit each model")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    entries = [e for f in args.folds for e in cv_recipes(args.corpus, f, part="train", sets=("stems",))[::args.every]]
    with ProcessPoolExecutor(args.jobs) as ex:
        rows = list(ex.map(_job, [(args.corpus, e, args.cache) for e in entries]))
    s = Cleaner("any").settings
    rng = np.random.default_rng(0)
    out: dict[str, list] = {"new": [], "learned": [], "learned, no guard": []}
    levels = []
    for test in args.folds:
        train = [r for r in rows if r["entry"]["fold"] != test]
        per = args.samples // len(train)
        Xs, ts, ws = [], [], []
        for r in train:
            X, t, v = r["X"].reshape(-1, r["X"].shape[-1]), r["tgt"].ravel(), r["Vq"].ravel()
            i = rng.choice(X.shape[0], min(per, X.shape[0]), replace=False)
            Xs.append(X[i]), ts.append(t[i]), ws.append((v[i] / v.mean()) ** args.weight_power)
        model = HistGradientBoostingRegressor(max_iter=200, max_leaf_nodes=31, random_state=0)
        model.fit(np.concatenate(Xs), np.concatenate(ts), sample_weight=np.concatenate(ws))
        for r in (r for r in rows if r["entry"]["fold"] == test):
            e = r["entry"]
            y, mu, _, sr = build_mixture(args.corpus, e)
            ana = _analysis(args.corpus, e, args.cache)
            spans = RB.true_spans(args.corpus, e, sr)
            frames = RB.span_frames(spans, ana.cfg, ana.n_frames)
            fc = s.counts(ana.cfg)
            sm = RB.span_mask(spans, ana.n_samples, sr, fc.span_fade)
            q, w, _ = features(ana, frames, s)
            Vq = r["Vq"]
            pred = model.predict(r["X"].reshape(-1, r["X"].shape[-1])).reshape(Vq.shape)
            S = np.minimum(Vq * np.exp(np.minimum(pred, 0)), Vq).astype(np.float32)
            res = ana.nmf
            L_i = res.W[:, :res.n_fixed] @ res.H[:res.n_fixed][:, q]
            guard = bands_to_bins(L_i / np.maximum(L_i + ana.L_m[:, q], 1e-12), ana.P) ** s.nmf_guard
            base = RB._sdr(mu, y)
            rems = {"new": repair(ana, frames, settings=s),
                    "learned": synthesize(ana.X, soft_mask(S, (Vq - S) * guard, power=s.mask_power), q, w[q], ana.cfg,
                                          ana.n_samples, strength=1.0),
                    "learned, no guard": synthesize(ana.X, soft_mask(S, Vq - S, power=s.mask_power), q, w[q], ana.cfg,
                                                    ana.n_samples, strength=1.0)}
            for name, rem in rems.items():
                out[name].append(RB._sdr(mu, (y.T - rem * sm[None]).T) - base)
            levels.append(e["level_db"])
    lv = np.array(levels)
    print(f"{len(rows)} mixtures (train part of folds {args.folds}, every {args.every}); plain NSDR (dB), "
          f"each fold predicted by a model fitted on the other")
    print(f"{'':20s}{'+0':>8s}{'-3':>8s}{'-6':>8s}{'mean':>8s}")
    for name, v in out.items():
        a = np.array(v)
        print(f"{name:20s}" + "".join(f"{a[lv == L].mean():8.2f}" for L in (0, -3, -6)) + f"{a.mean():8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
