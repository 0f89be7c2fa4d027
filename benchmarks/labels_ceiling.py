"""How well can the corpus's interference classes be told apart on recordings of sources never
heard? An upper bound for issue 15 item 4 (class labels), measured on the isolated clips.

Every interference file of the corpus (``train/`` and ``eval/``, ten classes) is described by
49 numbers computed from its own magnitude spectrogram (cleantake's STFT, 46-ms windows, the
file alone, no music): the mean log spectrum over its active frames in 24 log-spaced bands
(50 Hz-16 kHz, level removed), the spread over time in 6 coarse bands, duration, attack time
and share, decay slope, number and rate of energy peaks, share of active frames, spectral
flatness, centroid and its spread, cepstral pitch strength (mean, max, voiced share), pitch
and its spread. Classifiers (scikit-learn) are fitted on four folds' files and predict the
fifth's (:func:`cleantake.corpus.assign_folds`: grouped by source package or voice, so no
source is on both sides), for each fold in turn. A classifier of events in mixtures sees a
separated estimate, never this clean a signal, so these accuracies bound what it can reach.

Usage::

    PYTHONPATH=src python benchmarks/labels_ceiling.py [--corpus ../shared/corpus] [--out benchmarks/results/labels_ceiling.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cleantake.corpus import CORE_CLASSES, assign_folds, corpus_files  # noqa: E402
from cleantake.spectral import StftConfig, stft  # noqa: E402

N_BANDS = 24
FMIN = 50.0


def _bands(freqs: np.ndarray, fmax: float) -> np.ndarray:
    edges = np.geomspace(FMIN, fmax, N_BANDS + 1)
    P = np.zeros((N_BANDS, freqs.size))
    for j, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        sel = (freqs >= a) & (freqs < b)
        if not sel.any():
            sel = np.abs(freqs - np.sqrt(a * b)) == np.abs(freqs - np.sqrt(a * b)).min()
        P[j, sel] = 1.0
    return P


def describe(X: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """The 49 numbers of one sound from its magnitude spectrogram ``X`` [shape=(F, T)]."""
    X = np.asarray(X, np.float64)
    sr, hop = cfg.sr, cfg.frame_seconds
    freqs = cfg.freqs()
    E = _bands(freqs, min(16000.0, sr / 2 - 1)) @ X**2
    e = E.sum(axis=0)
    peak = e.max() + 1e-30
    edb = 10 * np.log10(e / peak + 1e-12)
    act = edb > -30
    idx = np.flatnonzero(act)
    a, b = idx[0], idx[-1] + 1
    w = e[act] / e[act].sum()
    L = 10 * np.log10(E[:, act] + 1e-12 * peak)
    shape = (L * w).sum(axis=1)
    spread = np.sqrt(((L - shape[:, None]) ** 2 * w).sum(axis=1)).reshape(6, 4).mean(axis=1) / 10
    dur = (b - a) * hop
    ipk = int(np.argmax(e))
    post = np.arange(ipk, b)
    decay = np.polyfit(post * hop, edb[post], 1)[0] / 100 if post.size > 2 else 0.0
    sm = edb[a:b]
    n_peaks = sum(1 for t in range(1, sm.size - 1)
                  if sm[t] == sm[max(0, t - 8):t + 9].max() and sm[t] - sm[max(0, t - 8):t + 9].min() > 6)
    Xa = X[:, act][freqs >= FMIN]
    lx = np.log(Xa + 1e-9 * Xa.max() + 1e-30)
    flat = np.exp(lx.mean(axis=0)) / (Xa.mean(axis=0) + 1e-30)
    cen = (Xa * freqs[freqs >= FMIN, None]).sum(axis=0) / (Xa.sum(axis=0) + 1e-30)
    full = X[:, act]
    ceps = np.fft.irfft(np.log(full + 1e-6 * full.max() + 1e-30), n=cfg.n_fft, axis=0)
    q0, q1 = int(sr / 1000), int(sr / 70)
    seg = ceps[q0:q1]
    cpp = seg.max(axis=0) - np.median(seg, axis=0)
    f0 = np.log2(sr / (np.argmax(seg, axis=0) + q0))
    out = np.concatenate([
        (shape - shape.mean()) / 10, spread,
        [np.log(dur + 1e-3), (ipk - a) * hop / max(dur, 1e-3), np.log((ipk - a) * hop + 1e-3), np.clip(decay, -10, 10),
         n_peaks / max(dur, 0.05) / 10, n_peaks, act[a:b].mean(), np.average(flat, weights=w),
         np.log2(np.average(cen, weights=w) + 1), np.std(np.log2(cen + 1)), np.average(cpp, weights=w), cpp.max(),
         np.mean(cpp > 0.15), np.average(f0, weights=w), np.std(f0)],
    ])
    return np.nan_to_num(out)


def main(argv=None) -> int:
    from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "labels_ceiling.json"))
    args = ap.parse_args(argv)
    corpus = Path(args.corpus)
    files = [f for f in corpus_files(corpus) if f.kind == "interference"]
    folds = assign_folds(corpus)
    cfg = StftConfig(44100)
    X, y, g = [], [], []
    for f in files:
        x, sr = sf.read(str(corpus / f.path), always_2d=True)
        cfg = StftConfig(sr)
        S = np.abs(stft(x.T.mean(axis=0, keepdims=True), cfg, workers=1))[0]
        X.append(describe(S, cfg)), y.append(f.label), g.append(folds[f.path])
    X, y, g = np.array(X), np.array(y), np.array(g)
    models = {
        "logistic regression (C=1, balanced)": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(C=1.0, max_iter=4000, class_weight="balanced")),
        "logistic regression (C=0.1, balanced)": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(C=0.1, max_iter=4000, class_weight="balanced")),
        "extra trees (500, balanced)": lambda: ExtraTreesClassifier(500, random_state=0, class_weight="balanced"),
        "boosted trees (100 x 7 leaves)": lambda: HistGradientBoostingClassifier(max_iter=100, max_leaf_nodes=7,
                                                                                 random_state=0),
    }
    classes = sorted(set(y))
    core = np.isin(y, CORE_CLASSES)
    result = {"n_files": len(y), "per_class_files": {c: int((y == c).sum()) for c in classes}, "models": {}}
    print(f"{len(y)} interference files, {len(classes)} classes; each fold predicted by a model fitted on the others\n")
    print("| model | accuracy, all | accuracy, core classes | " + " | ".join(classes) + " |")
    print("|---" * (3 + len(classes)) + "|")
    for name, make in models.items():
        pred = np.empty_like(y)
        for k in sorted(set(g)):
            pred[g == k] = make().fit(X[g != k], y[g != k]).predict(X[g == k])
        per = {c: float((pred[y == c] == c).mean()) for c in classes}
        acc, acc_core = float((pred == y).mean()), float((pred[core] == y[core]).mean())
        result["models"][name] = {"accuracy": acc, "accuracy_core": acc_core, "per_class": per}
        print(f"| {name} | {100 * acc:.0f} % | {100 * acc_core:.0f} % | "
              + " | ".join(f"{100 * per[c]:.0f} %" for c in classes) + " |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
