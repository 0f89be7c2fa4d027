"""Train the interference detector (``cleantake.detector``) from the corpus, with grouped CV.

Usage::

    python scripts/train_detector.py [--corpus ../shared/corpus] [--jobs 2] [--n-train 40]
        [--n-final 60] [--test-every 8] [--fraction 1] [--cache .cache/detector]
        [--out src/cleantake/presets/detector.npz] [--stage all|features|fit] [--features-version 1|2]
        [--seed 0,1,2,3] [--combine pool|average] [--pool-size N]

The defaults rebuild the shipped model from 1,279 analyses (the 239 held-out recordings and
4 seeds x 260 augmented mixtures: about 35-40 minutes on 2 free cores of the development
machine, the parts' times of sessions 20-21 added up, not one run; then 2 minutes of fitting) and write each fold's model to
``benchmarks/results/detector_folds/`` for ``benchmarks/cv.py``. The shipped model was trained
on version 1 of the features (``--features-version 1``, the default here: the recording's
medians over every frame); the library computes version 2 at run time (over the sounding
frames only, :data:`cleantake.detector.FEATURES_VERSION`), which differs next to digital
silence and, slightly, at every recording's first frame. A model trained on version 2 was measured in session 20 and not shipped
(benchmarks/DETECTOR.md, "Retrained on version-2 features").

Seeds (``--seed 0,1,2,3``, the shipped model's since session 21): each draws its own augmented
mixtures (cached in ``CACHE/seed<s>/train``; seed 0's in ``CACHE/train``; the held-out
recordings in ``CACHE/test`` are shared), and one model is fitted on all of them (``--combine
pool``, with as many negative frames per seed as one seed's fit keeps), or one per seed and
their outputs averaged (``--combine average``: :func:`cleantake.detector.average_models`, the
trees side by side; with ``--pool-size N``, one pooled model per N consecutive seeds, averaged:
``--seed 0,...,11 --combine average --pool-size 4`` averages three runs of the pooled recipe,
measured in session 29 and not shipped); the calibration, threshold and unknown level are then
fitted on that model's held-out events as for one seed. A single seed (``--seed 0``, session 8's recipe, shipped
until session 20) moves false events by a third from one seed to the next
(benchmarks/DETECTOR.md, "Seeds pooled").

What it does (deterministic for ``--seed``; see benchmarks/DETECTOR.md for the numbers):

1. **Dictionaries per fold** (:func:`fold_dictionary`): for fold ``k``, one 12-template
   dictionary per core class learned from that class's interference files (``train/`` and
   ``eval/``) outside fold ``k``, stacked into ``any`` (as ``scripts/build_presets.py``).
2. **Augmented training mixtures** (:func:`training_recipe`): 10-s music excerpts (stems,
   mixes, training mixes) outside fold ``k`` with 0-3 interference events of every class
   (core and extra) outside fold ``k``, each pitch-shifted (resampled), EQ-tilted, sometimes
   reverberated (exponentially decaying noise), at -12 to +6 dB (the corpus's level
   definition) and panned for stereo; a quarter of the excerpts are clean. The shipped model
   is trained on such mixtures drawn from every fold, with the bundled ``any`` dictionary.
3. **Features** (:func:`cleantake.detector.frame_features`) of every mixture, with the fold's
   dictionary, and frame labels from the true interference (positive where its energy is at
   least 15 % of the mixture's, negative where below 1 %, ignored in between).
4. **Held-out test**: ``cleantake.corpus.cv_recipes(corpus, k, part="test")`` of every fold
   (every clean recording, every ``--test-every``-th of the others), analysed with the fold's
   dictionary; also the threshold stack (``locate_events`` with ``locator="stack"``) on the
   same analysis.
5. **Models** compared by leave-fold-out numbers (boosted trees, shipped, exported with
   :func:`export_trees`; MLP; logistic regression); event settings; isotonic calibration of
   event confidence fitted on the other folds' held-out events; the final model trained on
   everything and written to ``--out``.

Training needs scikit-learn (the ``train`` extra); the shipped model is numpy arrays only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from collections import defaultdict
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import fftconvolve

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cleantake.analysis import analyse  # noqa: E402
from cleantake.corpus import CORE_CLASSES, EXTRA_CLASSES, assign_folds, corpus_files, cv_recipes, in_hall  # noqa: E402
from cleantake.corpus import fold_dictionary as corpus_fold_dictionary  # noqa: E402
from cleantake.detector import FEATURES_VERSION, FMIN_HZ, frame_features, network_bands  # noqa: E402
from cleantake.dictionaries import load_dictionary, resolve_dictionary, save_dictionary  # noqa: E402
from cleantake.errors import ParameterError  # noqa: E402
from cleantake.evaluate import build_mixture  # noqa: E402
from cleantake.locate import locate_events  # noqa: E402
from cleantake.pipeline import Cleaner  # noqa: E402
from cleantake.settings import parse_assignments  # noqa: E402
from cleantake.spectral import StftConfig, stft  # noqa: E402

SR = 44100
N_FOLDS = 5
ALL_CLASSES = CORE_CLASSES + EXTRA_CLASSES
EXCERPT_S = 10.0
#: Levels (dB, the corpus's definition) of the augmented mixtures' events: the corpus's -9 to +3
#: and some margin; and, for the seeds of ``--loud-seed``, a cough into a quiet passage.
LEVELS = (-12.0, 6.0)
LOUD_LEVELS = (6.0, 18.0)
POS_RATIO = 0.15  # frame positive: true interference energy >= this share of the mixture's
NEG_RATIO = 0.01  # frame negative: below this share
#: The positive share the models are trained with (``--pos-ratio``); held-out frame AP is
#: always reported with POS_RATIO, so that runs compare.
TRAIN_POS_RATIO = POS_RATIO


# --------------------------------------------------------------------------------------------
# the analysis and today's threshold stack, through the public stages
# --------------------------------------------------------------------------------------------
def analysis_of(x: np.ndarray, sr: int, cleaner: Cleaner):
    """The method's analysis of ``x`` [shape=(n_channels, n_samples)] (:func:`cleantake.analysis.analyse`)."""
    return analyse(x, sr, dictionary=cleaner.dictionary, settings=cleaner.settings, threads=1)


def baseline_segments(cleaner: Cleaner, ana) -> list[tuple[int, int]]:
    """The threshold stack (:func:`cleantake.locate.locate_events` with ``locator="stack"``,
    the default before the detector) on the same analysis: its events as frame spans."""
    loc = locate_events(ana, settings=cleaner.settings.replace(locator="stack"), dictionary=cleaner.dictionary)
    return [(int(a), int(b)) for a, b in loc.segments]


# --------------------------------------------------------------------------------------------
# dictionaries per fold
# --------------------------------------------------------------------------------------------
def fold_dictionary(corpus: Path, k: int | None, cache: Path):
    """The ``any`` dictionary learned without fold ``k``'s interference (None: the bundled one).

    For each core class, ``learn_dictionary(rank=12)`` on the class's interference files
    (``train/`` and ``eval/``) whose fold is not ``k``, stacked with ``combine(parts, "any")``
    (as ``scripts/build_presets.py`` does with ``train/`` only). Cached in ``cache``.
    """
    if k is None:
        return resolve_dictionary("any")
    path = cache / f"dict_fold{k}.npz"
    if path.is_file():
        return load_dictionary(path)
    d = corpus_fold_dictionary(corpus, k, N_FOLDS, rank=12)
    cache.mkdir(parents=True, exist_ok=True)
    save_dictionary(d, path)
    return d


# --------------------------------------------------------------------------------------------
# augmented training mixtures
# --------------------------------------------------------------------------------------------
@lru_cache(maxsize=256)
def _read(path: str) -> np.ndarray:
    x, sr = sf.read(path, dtype="float64", always_2d=True)
    assert sr == SR, path
    x.setflags(write=False)
    return x


def _seed(*parts) -> int:
    return zlib.crc32("|".join(str(p) for p in parts).encode())


def augment(e: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pitch shift (resampling, which also changes the length), EQ tilt, room reverb."""
    import soxr

    if rng.random() < 0.7:
        semis = rng.uniform(-3.0, 3.0)
        e = soxr.resample(e, SR, SR / 2 ** (semis / 12.0))
    if rng.random() < 0.6:
        tilt = rng.uniform(-4.0, 4.0)  # dB per octave around 1 kHz
        E = np.fft.rfft(e)
        f = np.fft.rfftfreq(e.size, 1 / SR)
        g = 10 ** (tilt * np.log2(np.maximum(f, 50.0) / 1000.0) / 20.0)
        e = np.fft.irfft(E * g, n=e.size)
    if rng.random() < 0.4:
        rt60 = rng.uniform(0.2, 1.0)
        n_ir = int(rt60 * SR)
        t = np.arange(n_ir) / SR
        ir = rng.standard_normal(n_ir) * np.exp(-6.9 * t / rt60)
        ir[: int(0.005 * SR)] = 0.0  # pre-delay
        ir /= np.sqrt(np.sum(ir**2)) + 1e-12
        # by FFT (scipy picks it): equal to np.convolve within rounding, and seconds faster per
        # event (session 41; until then np.convolve)
        wet = fftconvolve(e, ir)[: e.size + n_ir // 2]
        dry = np.concatenate([e, np.zeros(wet.size - e.size)])
        mix = rng.uniform(0.2, 0.7)
        e = dry * np.sqrt(1 - mix) + wet * np.sqrt(mix) * np.sqrt(np.sum(e**2) / (np.sum(wet**2) + 1e-20))
    e = e[: int(4.5 * SR)]
    return e / (np.max(np.abs(e)) + 1e-12) * 0.89


def _pools(corpus: Path, k: int | None):
    folds = assign_folds(corpus, N_FOLDS)
    files = corpus_files(corpus)
    out = lambda p: k is None or folds[p] != k  # noqa: E731
    inter = defaultdict(list)
    for f in files:
        if f.kind == "interference" and out(f.path):
            inter[f.label].append(f.path)
    music = {"stem": [], "drums": [], "stereo": []}
    for f in files:
        if f.kind in ("stem", "mix", "train_mix") and out(f.path):
            key = "stereo" if f.kind != "stem" else ("drums" if f.label == "drums" else "stem")
            music[key].append(f.path)
    return {c: sorted(v) for c, v in inter.items()}, {c: sorted(v) for c, v in music.items()}, folds


def training_recipe(corpus: Path, k: int | None, i: int, seed: int, classes=ALL_CLASSES,
                    excerpt_s: float = EXCERPT_S, hall_prob: float = 0.0, levels: tuple[float, float] = LEVELS):
    """Build training mixture ``i`` for the model of fold ``k`` (None: the shipped model).

    The music is an excerpt of ``excerpt_s`` seconds (the whole file when it is shorter). With
    probability ``hall_prob`` an event is also heard from a hall's audience
    (:func:`cleantake.corpus.in_hall`: reverberation time 1-2.5 s, direct-to-reverberant ratio
    -9 to 0 dB, a tail per channel), after its level is set on its dry span; the tail runs past
    that span, up to the excerpt's end. Those draws come from their own generator, so that
    ``hall_prob=0`` gives the mixtures of before, sample for sample. Each event's level is drawn
    from ``levels`` (dB, the corpus's definition); other levels change nothing else of the mixture.

    Returns
    -------
    mixture : np.ndarray [shape=(n_channels, n_samples)]
    events : list of (onset_sample, signal [shape=(n_channels, L)], class)
    meta : dict (music path, event paths, their folds)
    """
    inter, music, folds = _pools(corpus, k)
    rng = np.random.default_rng(_seed(seed, k, i))
    rng_hall = np.random.default_rng(_seed(seed, k, i, "hall"))
    u = rng.random()
    kind = "stereo" if u < 0.3 else ("drums" if u < 0.45 else "stem")
    if not music[kind]:
        kind = "stem"
    mpath = music[kind][int(rng.integers(len(music[kind])))]
    m = _read(str(corpus / mpath))
    L = min(int(excerpt_s * SR), m.shape[0])
    n0 = int(rng.integers(0, m.shape[0] - L + 1))
    m = m[n0:n0 + L].T.copy()  # (C, L)
    n_ch = m.shape[0]
    clean = rng.random() < 0.25
    n_events = 0 if clean else int(rng.integers(1, 4))
    mix = m.copy()
    events, paths = [], []
    clip_rms = float(np.sqrt(np.mean(m**2)) + 1e-20)
    taken: list[tuple[int, int]] = []
    avail = [c for c in classes if inter.get(c)]
    for _ in range(n_events):
        cls = avail[int(rng.integers(len(avail)))]
        p = inter[cls][int(rng.integers(len(inter[cls])))]
        e = augment(_read(str(corpus / p))[:, 0], rng)
        if e.size > L - SR:
            e = e[: L - SR]
        for _try in range(50):
            a = int(rng.integers(int(0.5 * SR), L - int(0.5 * SR) - e.size))
            b = a + e.size
            if any(not (b + SR // 4 <= s0 or s1 + SR // 4 <= a) for s0, s1 in taken):
                continue
            if np.sqrt(np.mean(m[:, a:b] ** 2)) < clip_rms * 0.1:
                continue
            break
        else:
            continue
        if n_ch == 2:
            t = rng.uniform(np.pi / 8, 3 * np.pi / 8)
            w = np.sqrt(2.0) * np.array([np.cos(t), np.sin(t)])
        else:
            w = np.ones(1)
        level = rng.uniform(*levels)
        es = np.outer(w, e)
        gain = np.sqrt(10 ** (level / 10) * np.sum(m[:, a:b] ** 2) / max(np.sum(es**2), 1e-20))
        es = gain * es
        if hall_prob > 0 and rng_hall.random() < hall_prob:
            room = (rng_hall.uniform(1.0, 2.5), rng_hall.uniform(-9.0, 0.0), int(rng_hall.integers(2**31)))
            tail = min(int(room[0] * SR), L - b)
            es = in_hall(np.pad(es, ((0, 0), (0, tail))).T, SR, room[0], room[1], seed=room[2]).T
        mix[:, a:a + es.shape[1]] += es
        taken.append((a, b))
        events.append((a, es, cls))
        paths.append(p)
    meta = {"music": mpath, "music_fold": folds[mpath], "events": paths,
            "event_folds": [folds[p] for p in paths], "classes": [c for _, _, c in events]}
    return mix, events, meta


# --------------------------------------------------------------------------------------------
# ground truth per frame
# --------------------------------------------------------------------------------------------
def frame_truth(mix: np.ndarray, events: list, cfg: StftConfig, V: np.ndarray):
    """Per frame: true interference energy over the mixture's, dominant class; event spans.

    Returns
    -------
    ratio : np.ndarray [shape=(T,)]
    cls : np.ndarray [shape=(T,)], int (index in ALL_CLASSES, -1 where no interference)
    spans : list of (start_frame, end_frame, class_index) of each event's own span
    """
    lo = cfg.freqs() >= FMIN_HZ
    T = V.shape[1]
    e_mix = (V[lo].astype(np.float64) ** 2).sum(axis=0)
    energies = []
    spans = []
    times = cfg.frame_times(T)
    for a, es, c in events:
        sig = np.zeros_like(mix)
        sig[:, a:a + es.shape[1]] = es
        Ei = np.abs(stft(sig, cfg, workers=1)).mean(axis=0)
        energies.append((Ei[lo].astype(np.float64) ** 2).sum(axis=0))
        idx = np.flatnonzero((times >= a / SR) & (times <= (a + es.shape[1]) / SR))
        if idx.size:
            spans.append((int(idx[0]), int(idx[-1]) + 1, ALL_CLASSES.index(c)))
    if not energies:
        return np.zeros(T), np.full(T, -1), spans
    E = np.stack(energies)
    ratio = E.sum(axis=0) / np.maximum(e_mix, 1e-20)
    cls = np.array([ALL_CLASSES.index(c) for _, _, c in events])[np.argmax(E, axis=0)]
    cls = np.where(ratio > NEG_RATIO, cls, -1)
    return ratio, cls, spans


# --------------------------------------------------------------------------------------------
# jobs (one mixture analysed with one dictionary -> features + truth, cached as .npz)
# --------------------------------------------------------------------------------------------
_cleaners: dict = {}


def _cleaner(corpus: Path, k, cache: Path, settings: dict | None = None) -> Cleaner:
    key = (k, json.dumps(settings or {}, sort_keys=True))
    if key not in _cleaners:
        _cleaners[key] = Cleaner(fold_dictionary(corpus, k, cache), **(settings or {}))
    return _cleaners[key]


def test_recording(corpus: Path, entry: dict):
    """The mixture of a corpus recipe (:func:`cleantake.corpus.cv_recipes`) with its events.

    Returns
    -------
    mixture : np.ndarray [shape=(n_channels, n_samples)]
    events : list of (onset_sample, signal [shape=(n_channels, L)], class)
    meta : dict (id, set, class, level, music path)
    """
    mixture, _, _, sr = build_mixture(corpus, entry)
    mix = mixture.T.copy()
    events = []
    for ev in entry["events"]:
        e = _read(str(corpus / ev["path"]))[:, 0]
        w = np.asarray(ev.get("pan", [1.0] * mix.shape[0]))
        a = int(round(float(ev["onset_s"]) * SR))
        events.append((a, float(ev["gain"]) * np.outer(w, e), entry["class"]))
    meta = {"id": entry["id"], "set": entry["set"], "class": entry["class"], "level_db": entry["level_db"],
            "music": entry["music"]}
    return mix, events, meta


def run_job(job: dict) -> str:
    out = Path(job["out"])
    if out.is_file():
        return str(out)
    corpus, cache, k = Path(job["corpus"]), Path(job["cache"]), job["dict_fold"]
    cleaner = _cleaner(corpus, k, cache, job.get("settings"))
    if job["kind"] == "train":
        mix, events, meta = training_recipe(corpus, job["fold"], job["i"], job["seed"],
                                              excerpt_s=job.get("excerpt_s", EXCERPT_S),
                                              hall_prob=job.get("hall_prob", 0.0),
                                              levels=tuple(job.get("levels", LEVELS)))
    else:
        mix, events, meta = test_recording(corpus, job["entry"])
    t0 = time.perf_counter()
    ana = analysis_of(mix, SR, cleaner)
    F = frame_features(ana, version=job.get("features_version", FEATURES_VERSION))
    ratio, cls, spans = frame_truth(mix, events, ana.cfg, ana.V)
    base = baseline_segments(cleaner, ana) if job["kind"] == "test" else []
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, F=F, B=network_bands(ana.V, ana.cfg), ratio=ratio.astype(np.float32), cls=cls.astype(np.int8),
                        inner=ana.inner, spans=np.array(spans, np.int32).reshape(-1, 3),
                        base=np.array(base, np.int32).reshape(-1, 2), meta=json.dumps(meta),
                        seconds=time.perf_counter() - t0)
    os.replace(tmp, out)
    return str(out)


def train_dir(cache: Path, seed: int, loud: bool = False) -> Path:
    """Where the augmented training mixtures of ``seed`` are cached: ``cache/train`` for seed 0
    (the shipped recipe's), ``cache/seed<s>/train`` for the others, ``cache/seed<s>_loud/train``
    for a seed of loud events (``--loud-seed``); the held-out test recordings (``cache/test``)
    do not depend on the seed and are shared."""
    if loud:
        return cache / f"seed{seed}_loud" / "train"
    return cache / "train" if seed == 0 else cache / f"seed{seed}" / "train"


def make_jobs(corpus: Path, cache: Path, n_train: int, n_final: int, test_every: int, seeds: int | list[int],
              fraction: float = 1.0, settings: dict | None = None, excerpt_s: float = EXCERPT_S,
              calib_every: int = 0, loud_seeds: tuple[int, ...] = ()) -> list[dict]:
    """Every analysis of the rebuild: each fold's held-out test recordings (``test_every``),
    the augmented training mixtures of each seed, and with ``calib_every`` > 0 the further
    held-out recordings (every ``calib_every``-th, those not already tested) whose events only
    calibrate the confidence (kind ``calib``: never trained on, not in the tables). The seeds in
    ``loud_seeds`` draw their events' levels from :data:`LOUD_LEVELS` instead of :data:`LEVELS`."""
    jobs = []
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    base = {"corpus": str(corpus), "cache": str(cache), "seed": seeds[0], "settings": settings or {},
            "excerpt_s": excerpt_s}
    for k in range(N_FOLDS):
        tested = set()
        for e in test_subset(corpus, k, test_every):
            tested.add(e["id"])
            jobs.append({**base, "kind": "test", "fold": k, "dict_fold": k, "entry": e,
                         "out": str(cache / "test" / f"f{k}" / f"{e['id']}.npz")})
        for e in (test_subset(corpus, k, calib_every) if calib_every > 0 else []):
            if e["id"] not in tested:
                jobs.append({**base, "kind": "calib", "fold": k, "dict_fold": k, "entry": e,
                             "out": str(cache / "test" / f"f{k}" / f"{e['id']}.npz")})
    for seed in seeds:
        loud = seed in loud_seeds
        tdir = train_dir(cache, seed, loud)
        lv = {"levels": list(LOUD_LEVELS)} if loud else {}
        for i in range(max(n_train, n_final)):
            for k in range(N_FOLDS):
                if i < n_train:
                    jobs.append({**base, **lv, "seed": seed, "kind": "train", "fold": k, "dict_fold": k, "i": i,
                                 "out": str(tdir / f"f{k}" / f"{i:04d}.npz")})
            if i < n_final:
                jobs.append({**base, **lv, "seed": seed, "kind": "train", "fold": None, "dict_fold": None, "i": i,
                             "out": str(tdir / "final" / f"{i:04d}.npz")})
    if fraction < 1.0:  # the first part of each group (each fold's test, each seed's training of each fold, final)
        groups = defaultdict(list)
        for j in jobs:
            groups[(j["kind"], j["fold"], j["seed"] if j["kind"] == "train" else None)].append(j)
        jobs = [j for g in groups.values() for j in g[: int(np.ceil(fraction * len(g)))]]
    return jobs


def test_subset(corpus: Path, k: int, every: int) -> list[dict]:
    """Every clean recording and every ``every``-th of the others of fold ``k``'s test part,
    the sets interleaved (so that any prefix holds some of each)."""
    rec = cv_recipes(corpus, k, part="test")
    keyed = []
    for s in ("clean", "stems", "mixes", "stems_extra"):
        sel = [e for e in rec if e["set"] == s][:: 1 if s == "clean" else every]
        keyed += [((i + 0.5) / len(sel), e) for i, e in enumerate(sel)]
    return [e for _, e in sorted(keyed, key=lambda t: t[0])]


def load_items(paths: list[Path]) -> list[dict]:
    items = []
    for p in paths:
        with np.load(p, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        d["meta"] = json.loads(str(d["meta"]))
        items.append(d)
    return items


# --------------------------------------------------------------------------------------------
# fitting, events, calibration, cross-validated report
# --------------------------------------------------------------------------------------------
#: Event settings (frames of 11.5 ms), fixed in session 7 before looking at held-out numbers
#: (``low`` 0.2 with its calibration refitted was tried in session 10 and lost: BENCHMARKS.md 0f).
EVENT_SETTINGS = {"smooth": 2, "low": 0.3, "high": 0.5, "min_len": 4, "max_gap": 8, "pad": 4}
FOUND_COVER = 0.3


#: The frame detector's boosted trees (``--hgb NAME=VALUE``; the shipped model: these).
HGB = {"max_iter": 200, "learning_rate": 0.1, "max_leaf_nodes": 31}

#: Negative frames kept per fit (all positive frames are kept; the event confidence is
#: calibrated afterwards, so the frame prior does not matter).
MAX_NEGATIVES = 40000


def frame_xy(items: list[dict], seed: int = 0, max_negatives: int = MAX_NEGATIVES):
    """Features, binary target and class target of the labelled frames of ``items``."""
    Xs, ys, cs = [], [], []
    n_neg = sum(int((it["ratio"] < NEG_RATIO).sum()) for it in items)
    rate = min(1.0, max_negatives / max(n_neg, 1))
    rng = np.random.default_rng(seed)
    for it in items:
        r = it["ratio"]
        keep = (r >= TRAIN_POS_RATIO) | ((r < NEG_RATIO) & (rng.random(r.size) < rate))
        Xs.append(it["F"][keep])
        ys.append((r[keep] >= TRAIN_POS_RATIO).astype(np.int8))
        cs.append(it["cls"][keep])
    return np.concatenate(Xs), np.concatenate(ys), np.concatenate(cs)


def fit_models(items: list[dict], kind: str = "mlp", seed: int = 0, class_model: str = "logreg",
               max_negatives: int = MAX_NEGATIVES):
    """Detector and class model on ``items`` -> (scaler mean, scale, det layers, cls layers)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    X, y, c = frame_xy(items, seed, max_negatives)
    mean = X.mean(axis=0)
    scale = X.std(axis=0) + 1e-6
    Z = (X - mean) / scale
    if kind == "logreg":
        det = LogisticRegression(C=1.0, max_iter=500)
        det.fit(Z, y)
        det_layers = ((det.coef_.T.astype(np.float32), det.intercept_.astype(np.float32)),)
    elif kind == "mlp":
        det = MLPClassifier(hidden_layer_sizes=(48, 24), alpha=1e-3, batch_size=512, learning_rate_init=1e-3,
                            max_iter=40, early_stopping=False, random_state=seed)
        det.fit(Z, y)
        det_layers = tuple(zip(det.coefs_, det.intercepts_))
    elif kind == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        det = HistGradientBoostingClassifier(**HGB, random_state=seed)
        det.fit(Z, y)
        det_layers = export_trees(det)  # evaluated in numpy by cleantake.detector
    else:
        raise ValueError(kind)
    pos = y == 1
    # Class model: multinomial logistic regression, strongly regularised. Held-out frame
    # accuracy on the other folds' held-out recordings (fraction 0.21 run): MLP 48 hidden
    # 27 %, MLP 24 hidden alpha 1 25 %, logistic C=0.1 25 %, logistic C=0.01 32 % (chance 10 %).
    if class_model == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        clf = HistGradientBoostingClassifier(max_iter=60, learning_rate=0.1, max_leaf_nodes=15,
                                             l2_regularization=1.0, random_state=seed)
        clf.fit(Z[pos], c[pos])
        if len(clf.classes_) < 3:
            raise ValueError("the tree class model needs training frames of at least three classes")
        cls_layers = export_trees(clf, len(ALL_CLASSES), [int(v) for v in clf.classes_])
        return mean, scale, det_layers, cls_layers
    clf = LogisticRegression(C=0.01, max_iter=300)
    clf.fit(Z[pos], c[pos])
    present = clf.classes_
    W_out = np.zeros((Z.shape[1], len(ALL_CLASSES)), np.float32)
    b_out = np.full(len(ALL_CLASSES), -30.0, np.float32)  # classes absent from training
    if len(present) == 2:  # binary: one logit for the second class
        W_out[:, present[1]] = clf.coef_[0]
        b_out[present[1]] = clf.intercept_[0]
        b_out[present[0]] = 0.0
    else:
        W_out[:, present] = clf.coef_.T
        b_out[present] = clf.intercept_
    cls_layers = ((W_out, b_out),)
    return mean, scale, det_layers, cls_layers


def export_trees(h, n_outputs: int | None = None, columns=None):
    """A fitted ``HistGradientBoostingClassifier`` -> ``cleantake.detector.TreeEnsemble``.

    Binary: one output (the logit of class 1). Multiclass: tree j of an iteration adds to
    column ``columns[j]`` of ``n_outputs`` (classes absent from training keep logit -30).
    """
    from cleantake.detector import TreeEnsemble

    feats, thrs, lefts, rights, vals, roots, outs = [], [], [], [], [], [], []
    offset, depth = 0, 0
    k = h.n_trees_per_iteration_
    columns = list(range(k)) if columns is None else list(columns)
    n_outputs = k if n_outputs is None else n_outputs
    for it in h._predictors:
        for j, pred in enumerate(it):
            nd = pred.nodes
            if nd["is_categorical"].any():
                raise ValueError("categorical splits are not exported")
            n = len(nd)
            leaf = nd["is_leaf"].astype(bool)
            own = np.arange(n)
            feats.append(np.where(leaf, -1, nd["feature_idx"]).astype(np.int32))
            thrs.append(np.where(leaf, 0.0, nd["num_threshold"]).astype(np.float64))
            lefts.append((np.where(leaf, own, nd["left"]) + offset).astype(np.int32))
            rights.append((np.where(leaf, own, nd["right"]) + offset).astype(np.int32))
            vals.append(np.where(leaf, nd["value"], 0.0).astype(np.float64))
            roots.append(offset)
            outs.append(columns[j])
            depth = max(depth, int(nd["depth"].max()))
            offset += n
    base = np.full(n_outputs, -30.0)
    base[columns] = np.ravel(h._baseline_prediction)
    return TreeEnsemble(np.concatenate(feats), np.concatenate(thrs), np.concatenate(lefts), np.concatenate(rights),
                        np.concatenate(vals), np.array(roots, np.int32), np.array(outs, np.int32), base, depth)


def _model(mean, scale, det_layers, cls_layers, calib=(np.array([0.0, 1.0]), np.array([0.0, 1.0])), extra=None):
    from cleantake.detector import FEATURE_NAMES, DetectorModel

    st = {**EVENT_SETTINGS, "threshold": 0.0, "unknown": 0.0, **(extra or {})}
    return DetectorModel(np.asarray(mean, np.float64), np.asarray(scale, np.float64), det_layers, cls_layers,
                         ALL_CLASSES, calib[0], calib[1], st, FEATURE_NAMES)


def fit_detector(by_seed: dict[int, list[dict]], shared: list[dict], kind: str, args):
    """An uncalibrated model from the training items of each seed (``by_seed``) and the items
    every member trains on (``shared``: the other folds' held-out recordings).

    One seed: :func:`fit_models` on its items and ``shared``, as before seeds were combined.
    Several (``--combine``): ``pool``, one model on every seed's items (and as many negative
    frames per seed as one run keeps); ``average``, the seeds taken in consecutive groups of
    ``args.pool_size`` (1: one model per seed), each group pooled, and the groups' models
    averaged into one (:func:`cleantake.detector.average_models`, the members' trees side by
    side).
    """
    from cleantake.detector import average_models

    seeds = sorted(by_seed)

    def pooled(group: list[int]):
        items = [it for s in group for it in by_seed[s]] + shared
        return _model(*fit_models(items, kind, group[0], args.class_model, MAX_NEGATIVES * len(group)))

    if len(seeds) == 1 or args.combine == "pool":
        return pooled(seeds)
    size = getattr(args, "pool_size", 1)
    return average_models([pooled(seeds[i:i + size]) for i in range(0, len(seeds), size)])


def _calibrated(model, calib, extra: dict):
    """``model`` with its event calibration (``fit_calibration``'s) and settings
    (``threshold``, ``unknown``) set."""
    from dataclasses import replace

    mono, stereo = calib[False], calib[True]
    by_kind = {} if stereo is mono else {"stereo_calib_x": np.asarray(stereo[0], np.float64),
                                         "stereo_calib_y": np.asarray(stereo[1], np.float64)}
    return replace(model, calib_x=np.asarray(mono[0], np.float64), calib_y=np.asarray(mono[1], np.float64),
                   settings={**EVENT_SETTINGS, "threshold": 0.0, "unknown": 0.0, **extra}, **by_kind)


def predict(model, it: dict):
    from cleantake.detector import frame_probabilities

    return frame_probabilities(it["F"], model, it.get("B") if model.networks else None,
                               stereo=it.get("stereo", False))


def item_events(model, it: dict) -> list:
    """Uncalibrated events (threshold 0) of a test item with its own truth attached."""
    from cleantake.detector import events_from_probabilities

    p, cp = predict(model, it)
    evs = events_from_probabilities(p, cp, model, threshold=0.0, inner=it["inner"])
    return [(e.start_frame, e.end_frame, e.score, e.class_probs) for e in evs]


def score_item(it: dict, segs: list[tuple[int, int]]) -> dict:
    """Found true events (>= 30 % of the span covered) and real/false detected events."""
    T = it["F"].shape[0]
    det = np.zeros(T, bool)
    for a, b in segs:
        det[a:b] = True
    truth = np.zeros(T, bool)
    for a, b, _ in it["spans"]:
        truth[a:b] = True
    found = [bool(det[a:b].mean() >= FOUND_COVER) for a, b, _ in it["spans"]]
    real = [bool(truth[a:b].any()) for a, b in segs]
    return {"found": found, "real": real}


def isotonic(scores: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Isotonic calibration as interpolation knots (x, y)."""
    from sklearn.isotonic import IsotonicRegression

    if scores.size < 2:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    ir = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, real.astype(float))
    x = np.asarray(ir.X_thresholds_, np.float64)
    y = np.asarray(ir.y_thresholds_, np.float64)
    return x, y


def rows_isotonic(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`isotonic` of every event of ``rows`` (their scores, and whether each is real)."""
    return isotonic(np.array([s for r in rows for s in r["scores"]]), np.array([x for r in rows for x in r["real"]], bool))


def _is_stereo(row: dict) -> bool:
    """Whether a row's recording is read by the stereo networks (set by fit_all)."""
    return bool(row["item"].get("stereo", False))


def fit_calibration(rows: list[dict], how: str = "pooled") -> dict[bool, tuple[np.ndarray, np.ndarray]]:
    """The isotonic calibration of ``rows``' events, by kind of recording: ``{False: mono,
    True: stereo}`` knots. ``how="pooled"``: one calibration of every event, the same object
    for both kinds (until session 57); ``"by-kind"``: one fitted on the events of recordings
    read by the stereo networks alone, another on the rest, since the two kinds are read by
    different networks whose scores need not mean the same."""
    if how == "pooled":
        both = rows_isotonic(rows)
        return {False: both, True: both}
    if how != "by-kind":
        raise ValueError(f"calibration {how!r}: 'pooled' or 'by-kind'")
    return {False: rows_isotonic([r for r in rows if not _is_stereo(r)]),
            True: rows_isotonic([r for r in rows if _is_stereo(r)])}


def choose_threshold(rows: list[dict], target_clean: float = 0.02) -> float:
    """Lowest confidence threshold at which <= target_clean of clean recordings get an event."""
    clean = [r for r in rows if r["set"] == "clean"]
    for t in np.round(np.arange(0.05, 1.0001, 0.05), 2):
        bad = sum(any(c >= t for c in r["conf"]) for r in clean)
        if bad <= target_clean * max(len(clean), 1):
            return float(t)
    return 1.0


def false_alarms(rows: list[dict], threshold: float) -> tuple[float, float]:
    """False events per recording and the share of clean recordings with an event, at a
    confidence threshold (confidences already set)."""
    false = sum(sum(c >= threshold and not ok for c, ok in zip(r["conf"], r["real"])) for r in rows)
    clean = [r for r in rows if r["set"] == "clean"]
    touched = sum(any(c >= threshold for c in r["conf"]) for r in clean)
    return false / max(len(rows), 1), touched / max(len(clean), 1)


def matched_threshold(rows: list[dict], reference: list[dict], ref_threshold: float) -> float:
    """Lowest confidence threshold at which ``rows`` have no more false events per recording
    and no larger share of clean recordings touched than ``reference`` at ``ref_threshold``
    (both on the same recordings, confidences set): as many events found as possible at
    the false-alarm level of the reference."""
    f0, c0 = false_alarms(reference, ref_threshold)
    for t in np.round(np.arange(0.05, 0.99, 0.01), 2):
        f, c = false_alarms(rows, t)
        if f <= f0 and c <= c0:
            return float(t)
    return 0.99


def choose_unknown(rows: list[dict]) -> float:
    """Class probability under which an event is labelled unknown: maximises right minus wrong labels."""
    pairs = [(p, ok) for r in rows for p, ok in r["label_pairs"]]
    best, best_u = -1e9, 0.0
    for u in np.round(np.arange(0.0, 0.951, 0.05), 2):
        v = sum((1 if ok else -1) for p, ok in pairs if p >= u)
        if v > best:
            best, best_u = v, float(u)
    return best_u


def oof_rows(model, items: list[dict]) -> list[dict]:
    """Per test item: its uncalibrated events, their truth and class right/wrong."""
    rows = []
    for it in items:
        evs = item_events(model, it)
        sc = score_item(it, [(a, b) for a, b, _, _ in evs])
        true_cls = it["meta"]["class"]
        pairs = []
        for (a, b, s, cp), real in zip(evs, sc["real"]):
            if real and true_cls:
                j = max(cp, key=cp.get)
                pairs.append((cp[j], j == true_cls))
        rows.append({"set": it["meta"]["set"], "class": true_cls, "scores": [e[2] for e in evs],
                     "real": sc["real"], "evs": evs, "n_true": len(it["spans"]), "item": it,
                     "label_pairs": pairs})
    return rows


def apply_conf(rows: list[dict], calib) -> None:
    """Set each row's event confidences: ``calib`` is knots (x, y) for every row, or
    ``fit_calibration``'s dict by kind of recording."""
    for r in rows:
        x, y = calib[_is_stereo(r)] if isinstance(calib, dict) else calib
        r["conf"] = [float(np.interp(s, x, y)) for s in r["scores"]]


def summarise(rows: list[dict], threshold: float, unknown: float) -> dict:
    """Found/false/class numbers of rows (confidences already set) at a threshold."""
    out = defaultdict(lambda: [0, 0])
    clean_any = clean_n = false_clean = 0
    right = found_total = labelled_unknown = 0
    for r in rows:
        keep = [i for i, c in enumerate(r["conf"]) if c >= threshold]
        segs = [(r["evs"][i][0], r["evs"][i][1]) for i in keep]
        sc = score_item(r["item"], segs)
        if r["set"] == "clean":
            clean_n += 1
            clean_any += bool(keep)
            false_clean += len(keep)
            continue
        key = (r["set"], r["class"])
        out[key][0] += sum(sc["found"])
        out[key][1] += len(sc["found"])
        # Class of each found true event: the detected event covering most of it.
        for (a, b, _), f in zip(r["item"]["spans"], sc["found"]):
            if not f:
                continue
            found_total += 1
            best = max(keep, key=lambda i: min(b, r["evs"][i][1]) - max(a, r["evs"][i][0]))
            cp = r["evs"][best][3]
            j = max(cp, key=cp.get)
            if cp[j] < unknown:
                labelled_unknown += 1
            elif j == r["class"]:
                right += 1
    return {"by": dict(out), "clean_n": clean_n, "clean_any": clean_any, "false_clean": false_clean,
            "right": right, "found_total": found_total, "unknown": labelled_unknown}


def baseline_summary(items: list[dict]) -> dict:
    out = defaultdict(lambda: [0, 0])
    clean_any = clean_n = false_clean = 0
    for it in items:
        segs = [tuple(s) for s in it["base"]]
        sc = score_item(it, segs)
        if it["meta"]["set"] == "clean":
            clean_n += 1
            clean_any += bool(segs)
            false_clean += len(segs)
            continue
        key = (it["meta"]["set"], it["meta"]["class"])
        out[key][0] += sum(sc["found"])
        out[key][1] += len(sc["found"])
    return {"by": dict(out), "clean_n": clean_n, "clean_any": clean_any, "false_clean": false_clean}


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:5.1f} %" if b else "    -  "


def _found(s: dict, sets: tuple, classes=None) -> tuple[int, int]:
    a = b = 0
    for (st, c), (f, n) in s["by"].items():
        if st in sets and (classes is None or c in classes):
            a, b = a + f, b + n
    return a, b


def print_tables(per_fold: dict[int, dict], base: dict[int, dict], label: str) -> None:
    print(f"\n### {label}: events found (>= 30 % of the span covered), false events on clean recordings")
    print("| fold | stems found | mixes found | stems_extra found | clean recordings with a false event | "
          "false events per clean recording | class right (of found) | unknown (of found) |")
    print("|---|---|---|---|---|---|---|---|")
    tot = defaultdict(list)
    for k in sorted(per_fold):
        s = per_fold[k]
        cells = []
        for sets in (("stems",), ("mixes",), ("stems_extra",)):
            f, n = _found(s, sets)
            cells.append(f"{_pct(f, n)} ({f}/{n})")
            tot[sets].append(f / n if n else np.nan)
        ca = f"{_pct(s['clean_any'], s['clean_n'])} ({s['clean_any']}/{s['clean_n']})"
        tot["clean"].append(s["clean_any"] / max(s["clean_n"], 1))
        fpr = s["false_clean"] / max(s["clean_n"], 1)
        tot["fpr"].append(fpr)
        if "right" in s:
            cr = f"{_pct(s['right'], s['found_total'])} ({s['right']}/{s['found_total']})"
            un = _pct(s["unknown"], s["found_total"])
            tot["right"].append(s["right"] / max(s["found_total"], 1))
        else:
            cr = un = "-"
        print(f"| {k} | " + " | ".join(cells) + f" | {ca} | {fpr:.2f} | {cr} | {un} |")
    def m(key):
        v = np.array(tot[key], float)
        return f"{100 * np.nanmean(v):5.1f} % (sd {100 * np.nanstd(v):4.1f})" if v.size else "-"
    print(f"| mean | {m(('stems',))} | {m(('mixes',))} | {m(('stems_extra',))} | {m('clean')} | "
          f"{np.mean(tot['fpr']):.2f} | {m('right') if tot['right'] else '-'} | |")
    print(f"\n{label}: found per class (all folds pooled, stems + mixes + stems_extra)")
    print("| class | found |")
    print("|---|---|")
    for c in ALL_CLASSES:
        f = n = 0
        for s in per_fold.values():
            a, b = _found(s, ("stems", "mixes", "stems_extra"), (c,))
            f, n = f + a, n + b
        print(f"| {c} | {_pct(f, n)} ({f}/{n}) |")


def _event_arrays(rows: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """One value per event of ``rows`` (``key``: "scores" or "conf") and whether it is real."""
    return (np.array([x for r in rows for x in r[key]], np.float64),
            np.array([x for r in rows for x in r["real"]], bool))


def reliability(rows_by_fold: dict[int, list[dict]]) -> None:
    print("\n### Reliability of the event confidence (calibration fitted on the other folds)")
    print("| fold | events with confidence >= 0.9 | of them real | events 0.5-0.9 | of them real | "
          "events < 0.5 | of them real |")
    print("|---|---|---|---|---|---|---|")
    allc, allr = [], []
    for k, rows in sorted(rows_by_fold.items()):
        c, rl = _event_arrays(rows, "conf")
        allc.append(c)
        allr.append(rl)
        cells = []
        for lo, hi in ((0.9, 1.01), (0.5, 0.9), (0.0, 0.5)):
            sel = (c >= lo) & (c < hi)
            cells += [str(int(sel.sum())), _pct(int(rl[sel].sum()), int(sel.sum()))]
        print(f"| {k} | " + " | ".join(cells) + " |")
    c, rl = np.concatenate(allc), np.concatenate(allr)
    print("\n| confidence bin | events | real | mean confidence |")
    print("|---|---|---|---|")
    for lo in np.arange(0.0, 1.0, 0.1):
        sel = (c >= lo) & (c < lo + 0.1 + (1e-9 if lo >= 0.9 else 0))
        mc = f"{c[sel].mean():.2f}" if sel.any() else "-"
        print(f"| {lo:.1f}-{lo + 0.1:.1f} | {int(sel.sum())} | {_pct(int(rl[sel].sum()), int(sel.sum()))} | {mc} |")
    kinds = {kind: [r for rows in rows_by_fold.values() for r in rows if _is_stereo(r) == kind] for kind in (False, True)}
    if kinds[True]:
        print("\n| confidence bin | mono recordings: events | real | stereo recordings: events | real |")
        print("|---|---|---|---|---|")
        arrays = {kind: _event_arrays(rs, "conf") for kind, rs in kinds.items()}
        for lo in np.arange(0.0, 1.0, 0.1):
            cells = []
            for kind in (False, True):
                c, rl = arrays[kind]
                sel = (c >= lo) & (c < lo + 0.1 + (1e-9 if lo >= 0.9 else 0))
                cells += [str(int(sel.sum())), _pct(int(rl[sel].sum()), int(sel.sum()))]
            print(f"| {lo:.1f}-{lo + 0.1:.1f} | " + " | ".join(cells) + " |")


def event_ranking(rows_by_fold: dict[int, list[dict]]) -> None:
    """How well the event score ranks real events above false ones, each fold's events scored
    by its own model (what the confidence threshold then cuts): ROC AUC and average precision."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    print("\n### Event ranking: the events' score, each fold's events by its own model")
    print("| fold | events | real | ROC AUC | average precision |")
    print("|---|---|---|---|---|")

    def row(name, sc: np.ndarray, rl: np.ndarray) -> None:
        ok = 0 < rl.sum() < rl.size  # both kinds of event: the ranking is defined
        auc = f"{roc_auc_score(rl, sc):.3f}" if ok else "-"
        ap = f"{average_precision_score(rl, sc):.3f}" if ok else "-"
        print(f"| {name} | {rl.size} | {_pct(int(rl.sum()), rl.size)} | {auc} | {ap} |")

    per_fold = {k: _event_arrays(rows, "scores") for k, rows in sorted(rows_by_fold.items())}
    for k, (sc, rl) in per_fold.items():
        row(k, sc, rl)
    row("all", np.concatenate([v[0] for v in per_fold.values()]), np.concatenate([v[1] for v in per_fold.values()]))


def frame_ap(model, items) -> float:
    from sklearn.metrics import average_precision_score

    ps, ys = [], []
    for it in items:
        r = it["ratio"]
        keep = (r >= POS_RATIO) | (r < NEG_RATIO)
        ps.append(predict(model, it)[0][keep])
        ys.append(r[keep] >= POS_RATIO)
    return float(average_precision_score(np.concatenate(ys), np.concatenate(ps)))


def networks(dirs: str, option: str = "--network", final: bool = True) -> dict:
    """The networks of ``scripts/train_network.py`` in the comma-separated directories ``dirs``
    (one per training seed): fold k's pool and the shipped one's (None; not with ``final=False``,
    for directories of fold networks alone), in the order given."""
    from cleantake.detector import network_from_arrays

    out: dict = {k: () for k in list(range(N_FOLDS)) + ([None] if final else [])}
    for d in (Path(x) for x in dirs.split(",") if x):
        for k in out:
            path = d / ("final.npz" if k is None else f"fold{k}.npz")
            if not path.is_file():
                raise SystemExit(f"{option} {d}: {path.name} missing (run scripts/train_network.py)")
            with np.load(path) as z:
                out[k] += (network_from_arrays({n: z[n] for n in z.files}),)
    if not out[0]:
        raise SystemExit(f"{option}: no directory given")
    return out


def _stereo(it: dict, corpus: Path) -> bool:
    """Whether a cached analysis is of a recording of two channels or more (its music's).

    The library asks :func:`cleantake.detector.channels_differ` of the analysis instead; on the
    corpus the two agree (none of its 45 two-channel music files is dual mono, checked in
    session 44), and the cached analyses hold no STFT to ask it of."""
    return sf.info(str(corpus / it["meta"]["music"])).channels >= 2


def _trees_conf(rows: list[dict]) -> list[dict]:
    """``rows`` (the trees alone) with confidences from their own isotonic calibration."""
    apply_conf(rows, rows_isotonic(rows))
    return rows


def fit_all(args, jobs: list[dict]) -> None:
    t0 = time.perf_counter()
    missing = [j["out"] for j in jobs if not Path(j["out"]).is_file()]
    if missing:
        raise SystemExit(f"{len(missing)} analyses missing (run --stage features first), e.g. {missing[0]}")

    def items(kind, fold, seed=None):
        return load_items([Path(j["out"]) for j in jobs if j["kind"] == kind and j["fold"] == fold
                           and (seed is None or j["seed"] == seed)])

    seeds = args.seeds
    # train[k][s]: fold k's augmented mixtures of seed s; shared[k]: what every member of
    # fold k trains on besides (the other folds' held-out recordings, with --cross-train).
    train = {k: {s: items("train", k, s) for s in seeds} for k in range(N_FOLDS)}
    test = {k: items("test", k) for k in range(N_FOLDS)}
    calib_only = {k: items("calib", k) for k in range(N_FOLDS)}  # with --calib-every: calibration alone
    final = {s: items("train", None, s) for s in seeds}
    print(f"training mixtures per fold and seed: {[len(train[k][seeds[0]]) for k in range(N_FOLDS)]} "
          f"x {len(seeds)} seed(s) {seeds}, final: {len(final[seeds[0]])}; "
          f"test recordings per fold: {[len(test[k]) for k in range(N_FOLDS)]}"
          + (f", and for the calibration alone: {[len(calib_only[k]) for k in range(N_FOLDS)]}"
             if any(calib_only.values()) else ""))
    shared = {k: [] for k in range(N_FOLDS)}
    shared_final = []
    if args.cross_train:
        # The held-out recordings of the other folds train fold k's model too: none of their
        # sources is in fold k, and their features were computed with a dictionary that had
        # not seen their interference (as fold k's test recordings with fold k's dictionary).
        shared = {k: [it for j in range(N_FOLDS) if j != k for it in test[j]] for k in range(N_FOLDS)}
        shared_final = [it for j in range(N_FOLDS) for it in test[j]]
        print(f"with the other folds' test recordings: "
              f"{[len(train[k][seeds[0]]) + len(shared[k]) for k in range(N_FOLDS)]}, "
              f"final: {len(final[seeds[0]]) + len(shared_final)}")
    kinds = args.models.split(",")
    nets = networks(args.network) if args.network else None
    if nets and any("B" not in it for k in range(N_FOLDS) for it in test[k]):
        raise SystemExit(f"--cache {args.cache} holds analyses without the band spectrogram the network reads "
                         "(made before session 41); run --stage features into a fresh --cache")
    if args.stereo_network and not nets:
        raise SystemExit("--stereo-network needs --network (mono recordings keep the network of --network)")
    snets = networks(args.stereo_network, "--stereo-network") if args.stereo_network else {k: () for k in nets or {}}
    if args.stereo_network:
        # which held-out analyses are of two channels (from their music), so that predict()
        # gives them the stereo network
        for k in range(N_FOLDS):
            for it in test[k] + calib_only[k]:
                it["stereo"] = _stereo(it, args.corpus)
    trees_rows: dict[str, dict[int, list]] = {kd: {} for kd in kinds}  # trees alone (with --network)
    rows: dict[str, dict[int, list]] = {kd: {} for kd in kinds}
    calib_rows: dict[str, dict[int, list]] = {kd: {} for kd in kinds}  # --calib-every's, each by its fold's model
    fitted: dict[str, dict[int, object]] = {kd: {} for kd in kinds}
    print("\n### Frame average precision on the held-out fold (frames >= 15 % interference vs < 1 %)")
    print("| model | " + " | ".join(f"fold {k}" for k in range(N_FOLDS)) + " | mean |")
    print("|---|" + "---|" * (N_FOLDS + 1))
    for kd in kinds:
        aps = []
        for k in range(N_FOLDS):
            model = fitted[kd][k] = fit_detector(train[k], shared[k], kd, args)
            if nets:
                trees_rows[kd][k] = oof_rows(model, test[k])
                model = fitted[kd][k] = replace(model, networks=nets[k], stereo_networks=snets[k])
            aps.append(frame_ap(model, test[k]))
            rows[kd][k] = oof_rows(model, test[k])
            calib_rows[kd][k] = oof_rows(model, calib_only[k])
        print(f"| {kd} | " + " | ".join(f"{a:.3f}" for a in aps) + f" | {np.mean(aps):.3f} |", flush=True)
    print(f"({time.perf_counter() - t0:.0f} s)")
    base = {k: baseline_summary(test[k]) for k in range(N_FOLDS)}
    print_tables(base, base, "The threshold stack (locator='stack', fold dictionary), same recordings")
    chosen = {}
    for kd in kinds:
        per_fold, thr, calibs, matched = {}, {}, {}, {}
        for k in range(N_FOLDS):
            others = [r for j in range(N_FOLDS) if j != k for r in rows[kd][j]]
            calib = fit_calibration(others + [r for j in range(N_FOLDS) if j != k for r in calib_rows[kd][j]],
                                    args.calibration)
            calibs[k] = calib
            apply_conf(others, calib)
            thr[k] = args.threshold if args.threshold >= 0 else choose_threshold(others)
            if nets:
                matched[k] = matched_threshold(others, _trees_conf([r for j in range(N_FOLDS) if j != k
                                                                    for r in trees_rows[kd][j]]), thr[k])
            unk = choose_unknown(others)
            apply_conf(rows[kd][k], calib)
            per_fold[k] = summarise(rows[kd][k], thr[k], unk)
            # fold k's model with its calibration, threshold and unknown level from the other
            # folds only: what benchmarks/cv.py's proposed method judges fold k with (the first
            # model in DIR, every model also in DIR/<model>)
            from cleantake.detector import save_model

            for d in ([args.fold_models] if kd == kinds[0] else []) + [args.fold_models / kd]:
                d.mkdir(parents=True, exist_ok=True)
                save_model(_calibrated(fitted[kd][k], calib, {"threshold": thr[k], "unknown": unk}),
                           d / f"fold{k}.npz")
        # Choosing fold k's threshold set the other folds' confidences with fold k's calibration,
        # which was fitted on their own events: give every fold back its own (out-of-fold) one
        # before the tables below read them (until session 12 folds 0-3 kept fold 4's).
        for k in range(N_FOLDS):
            apply_conf(rows[kd][k], calibs[k])
        print_tables(per_fold, base, f"{kd}: confidence threshold {thr}, unknown level chosen on the other folds")
        if matched:
            print(f"\nWith the network: the lowest threshold at which the other folds' events give no more false events "
                  f"per recording and clean recordings touched than the trees alone at {args.threshold}: {matched}")
        chosen[kd] = per_fold
        if kd == kinds[0]:
            event_ranking(rows[kd])
            reliability(rows[kd])
            print("\n### Trade-off: confidence threshold vs found / clean with a false event (all folds pooled)")
            print("| threshold | stems found | mixes found | stems_extra found | clean with a false event |")
            print("|---|---|---|---|---|")
            for t in (0.1, 0.2, 0.3, 0.5, 0.7, 0.9):
                s = summarise([r for k in range(N_FOLDS) for r in rows[kd][k]], t, 0.0)
                cells = [f"{_pct(*_found(s, (st,)))}" for st in ("stems", "mixes", "stems_extra")]
                print(f"| {t} | " + " | ".join(cells) + f" | {_pct(s['clean_any'], s['clean_n'])} |")
            review_levels(rows[kd], thr)
    kd = kinds[0]
    if args.loco:
        loco(train, shared, test, kd, args, fitted[kd])
    # Shipped model: trained on the final mixtures (bundled dictionary); calibration,
    # threshold and unknown level from every fold's held-out events.
    allrows = [r for k in range(N_FOLDS) for r in rows[kd][k]]
    calib = fit_calibration(allrows + [r for k in range(N_FOLDS) for r in calib_rows[kd][k]], args.calibration)
    apply_conf(allrows, calib)
    thr = args.threshold if args.threshold >= 0 else choose_threshold(allrows)
    if nets:
        print(f"With the network, all folds' events: the trees' false alarms at {thr} are matched from "
              f"{matched_threshold(allrows, _trees_conf([r for k in range(N_FOLDS) for r in trees_rows[kd][k]]), thr)}")
    unk = choose_unknown(allrows)
    model = fit_detector(final, shared_final, kd, args)
    if nets:
        model = replace(model, networks=nets[None], stereo_networks=snets[None])
    model = _calibrated(model, calib, {"threshold": thr, "unknown": unk})
    from cleantake.detector import save_model

    save_model(model, args.out)
    print(f"\nshipped: {kd}, threshold {thr}, unknown below {unk}, {len(calib[False][0])}+{len(calib[True][0])} calibration knots (mono+stereo) -> "
          f"{args.out} ({args.out.stat().st_size / 1e3:.0f} kB); total {time.perf_counter() - t0:.0f} s")


#: Levels tried for ``Settings.review_level`` and the review budget it is chosen under:
#: candidates per minute of clean music (a user listens to each one).
REVIEW_GRID = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45)
REVIEW_BUDGET = 2.0
#: Seconds per analysis frame (11.5-ms hops), for candidates per minute.
FRAME_S = 0.0115


def _review(rows: list[dict], threshold: float, level: float) -> dict:
    """Events found by the events (confidence >= threshold) and by the events and the candidates
    (>= level), and candidates per minute of clean music and of mixtures."""
    out = {"found": 0, "reach": 0, "n": 0, "clean_c": 0, "clean_min": 0.0, "mix_c": 0, "mix_min": 0.0}
    for r in rows:
        ev = [(a, b) for (a, b, _, _), c in zip(r["evs"], r["conf"]) if c >= threshold]
        cand = [(a, b) for (a, b, _, _), c in zip(r["evs"], r["conf"]) if level <= c < threshold]
        minutes = r["item"]["F"].shape[0] * FRAME_S / 60
        if r["set"] == "clean":
            out["clean_c"] += len(cand)
            out["clean_min"] += minutes
            continue
        out["found"] += sum(score_item(r["item"], ev)["found"])
        out["reach"] += sum(score_item(r["item"], ev + cand)["found"])
        out["n"] += r["n_true"]
        out["mix_c"] += len(cand)
        out["mix_min"] += minutes
    return out


def review_levels(rows_by_fold: dict[int, list[dict]], thresholds: dict[int, float]) -> None:
    """The candidates for review (``Settings.review_level``): how many held-out events a user who
    reviews them can reach, and how many candidates per minute that costs; the level chosen per
    fold on the other folds (the lowest within :data:`REVIEW_BUDGET` candidates per minute of
    clean music)."""
    print("\n### Candidates for review: events below the threshold down to a review level (all folds pooled)")
    print("| review level | found by the events | found by the events and candidates | "
          "candidates per minute, clean music | candidates per minute, mixtures |")
    print("|---|---|---|---|---|")
    pooled = [r for k in sorted(rows_by_fold) for r in rows_by_fold[k]]
    thr = max(thresholds.values())  # the same in every fold unless --threshold -1
    for lv in REVIEW_GRID:
        s = _review(pooled, thr, lv)
        print(f"| {lv} | {_pct(s['found'], s['n'])} | {_pct(s['reach'], s['n'])} | "
              f"{s['clean_c'] / max(s['clean_min'], 1e-9):.2f} | {s['mix_c'] / max(s['mix_min'], 1e-9):.2f} |")
    print(f"\nChosen per fold on the other folds (lowest level with <= {REVIEW_BUDGET:g} candidates per minute of "
          "clean music), judged on the fold:")
    print("| fold | level | found by the events | found by the events and candidates | "
          "candidates per minute, clean music | candidates per minute, mixtures |")
    print("|---|---|---|---|---|---|")
    tot = defaultdict(float)
    for k, rows in sorted(rows_by_fold.items()):
        others = [r for j, rs in rows_by_fold.items() if j != k for r in rs]
        ok = [lv for lv in REVIEW_GRID
              if (lambda s: s["clean_c"] / max(s["clean_min"], 1e-9))(_review(others, thresholds[k], lv))
              <= REVIEW_BUDGET]
        lv = min(ok) if ok else thresholds[k]
        s = _review(rows, thresholds[k], lv)
        for key, v in s.items():
            tot[key] += v
        print(f"| {k} | {lv} | {_pct(s['found'], s['n'])} | {_pct(s['reach'], s['n'])} | "
              f"{s['clean_c'] / max(s['clean_min'], 1e-9):.2f} | {s['mix_c'] / max(s['mix_min'], 1e-9):.2f} |")
    print(f"| all | | {_pct(int(tot['found']), int(tot['n']))} | {_pct(int(tot['reach']), int(tot['n']))} | "
          f"{tot['clean_c'] / max(tot['clean_min'], 1e-9):.2f} | {tot['mix_c'] / max(tot['mix_min'], 1e-9):.2f} |")


def loco(train, shared, test, kd, args, fitted: dict | None = None) -> None:
    """Leave one class out: each class of ``--loco`` absent from the whole training.

    For class c, fold k's model is fitted on fold k's training data without any mixture that
    holds c (and, with ``--loco-networks DIR``, reads ``DIR/c/fold{k}.npz``, a network trained
    by ``train_network.py --without c``; ``args.loco_nets``, read by :func:`main` before any
    work); it is calibrated, and its threshold and unknown level
    chosen, on the other folds' held-out recordings of the other classes, each scored by its own
    fold's model (out of fold: until session 52 by fold k's model, which had trained on them),
    and it is judged on fold k's held-out recordings of c. With ``fitted`` (the main fit's
    models, which saw c) the same is done with them on the same recordings, for reference; with
    ``--loco-networks`` that reference reads the networks of ``--network`` on every recording,
    as the left-out models read theirs (no stereo pool: one recipe's network for both); without
    it, both are the trees alone.
    """
    print("\n### Leave one class out: the class absent from training (and its mixtures dropped)")
    loco_nets = getattr(args, "loco_nets", None)
    if loco_nets:
        print(f"(networks: {args.loco_networks}/<class>/fold<k>.npz for every recording; reference: "
              f"{args.network})")
    else:
        print("(the trees alone; --loco-networks DIR leaves the class out of a network too)")
    print("| class | trained on | found (held-out folds) | stems | mixes | stems_extra | mean confidence of its "
          "events | labelled unknown (of found) | labelled with a class (of found) |")
    print("|---|---|---|---|---|---|---|---|---|")

    def judged(rows: dict, c: str) -> str:
        """The table's cells for class ``c`` from each fold's rows (its own model's, every
        held-out recording of the fold)."""
        f = n = unk = other = 0
        per = {st: [0, 0] for st in ("stems", "mixes", "stems_extra")}
        confs: list[float] = []
        for k in range(N_FOLDS):
            others_rows = [r for j in range(N_FOLDS) if j != k for r in rows[j] if r["class"] != c]
            calib = rows_isotonic(others_rows)
            apply_conf(others_rows, calib)
            thr = args.threshold if args.threshold >= 0 else choose_threshold(others_rows)
            u = choose_unknown(others_rows)
            crow = [r for r in rows[k] if r["class"] == c]
            apply_conf(crow, calib)
            confs += [x for r in crow for x, real in zip(r["conf"], r["real"]) if real]
            s = summarise(crow, thr, u)
            for st in per:
                x, y = _found(s, (st,))
                per[st][0] += x
                per[st][1] += y
            a, b = _found(s, ("stems", "mixes", "stems_extra"))
            f, n = f + a, n + b
            unk += s["unknown"]
            other += s["found_total"] - s["unknown"]
        cells = " | ".join(_pct(*per[st]) + f" ({per[st][0]}/{per[st][1]})" if per[st][1] else "-" for st in per)
        return (f"{_pct(f, n)} ({f}/{n}) | {cells} | {np.mean(confs) if confs else float('nan'):.2f} | "
                f"{_pct(unk, f)} | {_pct(other, f)}")

    seen_rows = None
    if fitted is not None:
        # judged as the left-out models are: with one network on every recording, or with none
        # (the main fit's models may hold networks that saw every class); scored once for all classes
        ref_nets = networks(args.network) if loco_nets else None
        seen_rows = {k: oof_rows(replace(fitted[k], networks=ref_nets[k] if ref_nets else (), stereo_networks=()),
                                 test[k]) for k in range(N_FOLDS)}
    for c in args.loco.split(","):
        def without(its):
            return [it for it in its if c not in it["meta"].get("classes", [it["meta"].get("class")])]

        if seen_rows is not None:
            print(f"| {c} | every class | {judged(seen_rows, c)} |", flush=True)
        rows = {}
        for k in range(N_FOLDS):
            model = fit_detector({s: without(its) for s, its in train[k].items()}, without(shared[k]), kd, args)
            if loco_nets:
                model = replace(model, networks=loco_nets[c][k], stereo_networks=())
            rows[k] = oof_rows(model, test[k])
        print(f"| {c} | without {c} | {judged(rows, c)} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache" / "detector")
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "cleantake" / "presets" / "detector.npz")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--n-train", type=int, default=40, help="training mixtures per fold")
    ap.add_argument("--n-final", type=int, default=60, help="training mixtures of the shipped model")
    ap.add_argument("--test-every", type=int, default=8, help="every n-th test recipe (clean: all)")
    ap.add_argument("--calib-every", type=int, default=0, metavar="N",
                    help="also analyse every N-th test recipe not already tested, for the calibration of the "
                    "confidence alone (never trained on, not in the tables); 0 (default): none (session 57)")
    ap.add_argument("--seed", default="0,1,2,3", metavar="S[,S...]",
                    help="seeds of the augmentation and the fits (default 0,1,2,3, the shipped model's since "
                         "session 21; one seed trains one model); several train on every seed's mixtures "
                         "(--combine); seed s's training mixtures are cached in CACHE/train for seed 0, "
                         "CACHE/seed<s>/train otherwise")
    ap.add_argument("--loud-seed", default="", metavar="S[,S...]",
                    help="further seeds whose augmented mixtures have their events at +6 to +18 dB instead of "
                         "-12 to +6 (a cough into a quiet passage, louder than any corpus recipe), cached in "
                         "CACHE/seed<s>_loud/train and trained on with the others (default: none)")
    ap.add_argument("--combine", choices=("pool", "average"), default="pool",
                    help="with several seeds: fit one model on every seed's mixtures (pool, the default and the "
                         "shipped model's) or one per seed and average their outputs (average: their trees "
                         "side by side, so the model grows with the seeds)")
    ap.add_argument("--pool-size", type=int, default=1, metavar="N",
                    help="with --combine average: pool the seeds in consecutive groups of N and average the "
                         "groups' models (default 1: one model per seed); the number of seeds must be a "
                         "multiple of N")
    ap.add_argument("--fraction", type=float, default=1.0,
                    help="use only this first part of every group of analyses (a smaller run)")
    ap.add_argument("--stage", choices=("all", "features", "fit"), default="all")
    ap.add_argument("--fold-models", type=Path, default=ROOT / "benchmarks" / "results" / "detector_folds",
                    metavar="DIR",
                    help="where each fold's model goes (trained without the fold; calibrated on the other "
                         "folds): DIR/foldK.npz, what benchmarks/cv.py judges fold k with (default "
                         "benchmarks/results/detector_folds, git-ignored)")
    ap.add_argument("--class-model", choices=("logreg", "hgb"), default="logreg",
                    help="class model: multinomial logistic regression or gradient-boosted trees")
    ap.add_argument("--models", default="hgb,mlp",
                    help="models compared (the first is shipped): hgb (gradient-boosted trees), mlp, logreg")
    ap.add_argument("--calibration", choices=("pooled", "by-kind"), default="pooled",
                    help="the events' isotonic calibration: one fitted on every recording's events (default), or "
                    "'by-kind', one for the recordings read by the stereo networks and another for the rest "
                    "(needs --stereo-network; session 57)")
    ap.add_argument("--threshold", type=float, default=0.5,
                    help="default confidence threshold of the model (an event at least as likely "
                         "real as not); negative: the lowest that leaves <= 2 %% of the other folds' "
                         "clean recordings with an event")
    ap.add_argument("--stereo-network", default=None, metavar="DIR[,DIR...]",
                    help="with --network: also attach the networks of scripts/train_network.py in DIR "
                    "(fold0..4.npz, final.npz) as stereo networks, used instead of the network on "
                    "two-channel recordings (the shipped model: --augment '' ones); several DIRs (one "
                    "per training seed) are pooled by their mean logit")
    ap.add_argument("--network", default=None, metavar="DIR[,DIR...]",
                    help="attach the networks of scripts/train_network.py in DIR (fold0..4.npz, final.npz) to "
                    "the models, their probability averaged with the trees' (several DIRs, one per "
                    "training seed: pooled by their mean logit; and print, per fold, the lowest "
                    "threshold at which the calibrated events have no more false events per recording and "
                    "clean recordings touched than the trees alone at --threshold, on the same held-out "
                    "recordings; the models keep --threshold)")
    ap.add_argument("--no-cross-train", dest="cross_train", action="store_false",
                    help="train fold k's model on its augmented mixtures only (not also on the other "
                         "folds' test recordings)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="overrides",
                    help="analyse with this cleantake.Settings field changed (repeatable); the model is then "
                         "only meaningful with the same settings (cv.py --set)")
    ap.add_argument("--features-version", type=int, choices=(1, FEATURES_VERSION), default=1,
                    help="definition of the features (cleantake.detector.frame_features' version): 1, the "
                         "shipped model's (default); 2, what the library computes now (medians over the "
                         "sounding frames only)")
    ap.add_argument("--hall-prob", type=float, default=0.0,
                    help="probability that an augmented event is also heard from a hall's audience "
                         "(reverberation 1-2.5 s, mostly reverberant, decorrelated between channels); "
                         "default 0, the shipped recipe")
    ap.add_argument("--excerpt-s", type=float, default=EXCERPT_S,
                    help="length of the augmented training mixtures' music excerpts in seconds (a whole "
                         "file when shorter; the corpus's stems are 20 s, its mixes 30 s)")
    ap.add_argument("--pos-ratio", type=float, default=POS_RATIO,
                    help="a training frame is positive where the true interference has at least this share "
                         f"of the mixture's energy (default {POS_RATIO}; negative below {NEG_RATIO})")
    ap.add_argument("--hgb", action="append", default=[], metavar="NAME=VALUE",
                    help="change one of the frame detector's tree parameters (max_iter, learning_rate, "
                         "max_leaf_nodes; repeatable)")
    ap.add_argument("--loco", default="cough,scream,door,speech,laugh",
                    help="classes of the leave-one-class-out check ('' for none)")
    ap.add_argument("--loco-networks", type=Path, default=None, metavar="DIR",
                    help="with --loco: the left-out models also read DIR/<class>/fold<k>.npz (train_network.py "
                         "--without <class>) on every recording, and the reference the networks of --network")
    args = ap.parse_args(argv)
    if args.loco_networks and not args.network:
        ap.error("--loco-networks needs --network (the reference that saw every class)")
    if args.loco_networks:
        # read before any work: a missing network stops the run now, not after the main fit
        args.loco_nets = {c: networks(str(args.loco_networks / c), "--loco-networks", final=False)
                          for c in args.loco.split(",") if c}
    try:
        args.seeds = [int(v) for v in str(args.seed).split(",")]
    except ValueError:
        ap.error(f"--seed: expected whole numbers separated by commas, got {args.seed!r}")
    if any(v < 0 for v in args.seeds) or len(set(args.seeds)) != len(args.seeds):
        ap.error(f"--seed: expected distinct seeds of 0 or more, got {args.seed!r}")
    try:
        args.loud_seeds = tuple(int(v) for v in str(args.loud_seed).split(",") if v.strip())
    except ValueError:
        ap.error(f"--loud-seed: expected whole numbers separated by commas, got {args.loud_seed!r}")
    if set(args.loud_seeds) & set(args.seeds) or any(v < 0 for v in args.loud_seeds) \
            or len(set(args.loud_seeds)) != len(args.loud_seeds):
        ap.error(f"--loud-seed: expected distinct seeds of 0 or more, none of them in --seed, got {args.loud_seed!r}")
    args.seeds = args.seeds + list(args.loud_seeds)
    if args.pool_size < 1 or len(args.seeds) % args.pool_size:
        ap.error(f"--pool-size must be a whole number of 1 or more that divides the {len(args.seeds)} seeds, "
                 f"got {args.pool_size}")
    if args.pool_size > 1 and args.combine != "average":
        ap.error("--pool-size groups the seeds of --combine average; give --combine average")
    if len(args.seeds) > 1 and args.combine == "average" and "mlp" in args.models.split(","):
        ap.error("--combine average can average tree ensembles and logistic regressions, not the MLP: give "
                 "--models hgb (or logreg), or --combine pool")
    try:
        settings = parse_assignments(args.overrides)
    except ParameterError as exc:
        ap.error(f"--set: {exc}")
    if not NEG_RATIO < args.pos_ratio <= 1.0:
        ap.error(f"--pos-ratio must be above {NEG_RATIO} and at most 1, got {args.pos_ratio}")
    global TRAIN_POS_RATIO
    TRAIN_POS_RATIO = args.pos_ratio
    if not args.excerpt_s > 0:
        ap.error(f"--excerpt-s must be a positive number of seconds, got {args.excerpt_s}")
    if args.calibration == "by-kind" and not args.stereo_network:
        ap.error("--calibration by-kind needs --stereo-network (it calibrates the events of the recordings those "
                 "networks read apart from the rest)")
    if args.calib_every < 0:
        ap.error(f"--calib-every is a whole number of recipes, 0 for none, got {args.calib_every}")
    if not 0.0 <= args.hall_prob <= 1.0:
        ap.error(f"--hall-prob is a probability from 0 to 1, got {args.hall_prob:g}")
    for item in args.hgb:
        name, _, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if name not in HGB or number is None or not number > 0:
            ap.error(f"--hgb: expected NAME=VALUE with NAME one of {', '.join(HGB)} and a positive VALUE, "
                     f"got {item!r}")
        HGB[name] = type(HGB[name])(number)
    corpus = args.corpus.resolve()
    t0 = time.perf_counter()
    jobs = make_jobs(corpus, args.cache, args.n_train, args.n_final, args.test_every, args.seeds, args.fraction,
                     settings, args.excerpt_s, args.calib_every, args.loud_seeds)
    for job in jobs:
        job["features_version"] = args.features_version
        job["hall_prob"] = args.hall_prob
    # The cached analyses hold the features of one set of analysis settings: a cache made with
    # other --set values is refused rather than mixed.
    stamp = args.cache / "settings.json"
    made_with = json.loads(stamp.read_text()) if stamp.is_file() else ({} if (args.cache / "test").is_dir() else None)
    if made_with is not None and made_with != settings:
        ap.error(f"--cache {args.cache} holds analyses made with settings {made_with or 'the defaults'}, not "
                 f"{settings or 'the defaults'}; give another --cache")
    # Likewise the training mixtures' excerpt length (a cache without the stamp holds 10-s ones).
    excerpt_stamp = args.cache / "excerpt_s.txt"
    made_excerpt = (float(excerpt_stamp.read_text()) if excerpt_stamp.is_file()
                    else (EXCERPT_S if (args.cache / "train").is_dir() else None))
    if made_excerpt is not None and made_excerpt != args.excerpt_s:
        ap.error(f"--cache {args.cache} holds training mixtures of {made_excerpt:g}-s excerpts, not "
                 f"{args.excerpt_s:g} s; give another --cache")
    # And the definition of the features (a cache without the stamp holds version 1's).
    version_stamp = args.cache / "features_version.txt"
    made_version = (int(version_stamp.read_text()) if version_stamp.is_file()
                    else (1 if (args.cache / "test").is_dir() else None))
    if made_version is not None and made_version != args.features_version:
        ap.error(f"--cache {args.cache} holds features of version {made_version}, not {args.features_version} "
                 "(--features-version); give another --cache")
    # And the augmentation's halls (a cache without the stamp has none).
    hall_stamp = args.cache / "hall_prob.txt"
    made_hall = (float(hall_stamp.read_text()) if hall_stamp.is_file()
                 else (0.0 if (args.cache / "train").is_dir() else None))
    if made_hall is not None and made_hall != args.hall_prob:
        ap.error(f"--cache {args.cache} holds training mixtures made with --hall-prob {made_hall:g}, not "
                 f"{args.hall_prob:g}; give another --cache")
    args.cache.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(settings, sort_keys=True) + "\n")
    excerpt_stamp.write_text(f"{args.excerpt_s:g}\n")
    version_stamp.write_text(f"{args.features_version}\n")
    hall_stamp.write_text(f"{args.hall_prob:g}\n")
    if args.stage in ("all", "features"):
        if args.jobs > 1:
            from multiprocessing import Pool

            with Pool(args.jobs) as pool:
                pool.starmap(fold_dictionary, [(corpus, k, args.cache) for k in range(N_FOLDS)], chunksize=1)
        for k in range(N_FOLDS):
            fold_dictionary(corpus, k, args.cache)
        print(f"dictionaries ready ({time.perf_counter() - t0:.0f} s)", flush=True)
        todo = [j for j in jobs if not Path(j["out"]).is_file()]
        # Interleaved (results do not depend on the order): every group of jobs (each fold's
        # test recordings, each fold's training mixtures, the final ones) advances at the same
        # pace, so that a run cut short has a usable prefix of each.
        groups = defaultdict(list)
        for j in todo:
            groups[(j["kind"], j["fold"])].append(j)
        todo = sorted(todo, key=lambda j: (groups[(j["kind"], j["fold"])].index(j) + 0.5)
                      / len(groups[(j["kind"], j["fold"])]))
        print(f"{len(jobs)} analyses, {len(todo)} to do", flush=True)
        if args.jobs > 1:
            from multiprocessing import Pool

            with Pool(args.jobs) as pool:
                for n, _ in enumerate(pool.imap_unordered(run_job, todo, chunksize=1), 1):
                    if n % 25 == 0:
                        print(f"  {n}/{len(todo)} ({time.perf_counter() - t0:.0f} s)", flush=True)
        else:
            for n, j in enumerate(todo, 1):
                run_job(j)
                if n % 25 == 0:
                    print(f"  {n}/{len(todo)} ({time.perf_counter() - t0:.0f} s)", flush=True)
        print(f"features ready ({time.perf_counter() - t0:.0f} s)", flush=True)
    if args.stage in ("all", "fit"):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # BLAS threads only slow small fits down on a shared machine
            fit_all(args, jobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
