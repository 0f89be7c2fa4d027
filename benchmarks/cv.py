"""Grouped cross-validation of the method on the dev corpus (the honest yardstick, issue 15).

Protocol
--------
The corpus is split into 5 folds grouped by source (:func:`cleantake.corpus.assign_folds`:
interference by package and voice, music by piece or soundtrack package). For each fold k the
method runs on every **test** recipe of fold k (:func:`cleantake.corpus.cv_recipes`: only fold
k's music mixed with only fold k's interference; sets ``stems`` at 0/-3/-6 dB, ``mixes`` at
0/-6 dB with panned events, ``stems_extra`` at 0 dB, and ``clean`` music alone).

The interference dictionary must not have heard fold k's interference: with ``--dictionary cv``
(the default) it is learned for each fold exactly as ``scripts/build_presets.py`` learns the
bundled presets (rank 12 per class, the default analysis, ``learn_dictionary``'s defaults,
the core classes stacked into ``any``), but from the interference files (``train/`` and
``eval/`` alike) of the five core classes that lie in the other folds. A class with no file
left is absent from that fold's dictionary (printed). Dictionaries are cached under
``benchmarks/results/cv_dicts/`` (keyed by the files they were learned from; learning is
deterministic). ``--dictionary bundled`` uses the shipped presets instead: they were learned
from corpus files that sit in test folds, so those numbers are **contaminated** and only show
the size of the contamination.

Runs (each a method and a mode, all scored on the same mixtures): ``--methods proposed,stack,nmf``
with automatic location (``--given none``; ``proposed`` locates with fold k's detector, trained
without fold k: ``--detector-dir``), and ``--given spans``: the proposed repair with
the true spans given and no location (the ceiling of the repair stage; for ``proposed`` only),
and ``--given review``: what a user who reviews the report gets, by an ideal reviewer who keeps
the located events and ticks the candidates for review that overlap a true event and unticks
the rest (the kept spans repaired through ``events=``, as ``clean --events`` with the
downloaded label file; a recording left with none is returned as it is).
Two diagnostic modes split what the location loses against ``spans``: ``--given foundloc``
repairs the located events that overlap a true event (the false events dropped), and ``--given
foundtrue`` the true spans of the events that were found (the missed events still missed, the
found ones exactly in place).
``identity`` scores 0 by definition and is not run.

Metrics per mixture: BSS Eval NSDR and NSIR exactly as ``cleantake evaluate`` computes them
(:func:`cleantake.scores.score_many`); events found (a true event is found when the located
events cover >= 30 % of its span); false events (located events overlapping no true span);
when events carry class labels, whether a found event's label (of the located event that
covers most of it) is its true class; for clean music, false events and whether the output is
bit-identical to the input.

Examples::

    PYTHONPATH=src python benchmarks/cv.py --smoke                      # under a minute
    # the tables of benchmarks/CV.md
    PYTHONPATH=src python benchmarks/cv.py -j 2 --every 4 --clean-every 1 --methods proposed \\
        --given none,spans --out benchmarks/results/cv_A_proposed_every4.json
    PYTHONPATH=src python benchmarks/cv.py -j 2 --every 16 --clean-every 4 --methods nmf \\
        --out benchmarks/results/cv_B_nmf_every16.json
    PYTHONPATH=src python benchmarks/cv.py --aggregate benchmarks/results/cv_A_proposed_every4.json \\
        benchmarks/results/cv_B_nmf_every16.json --same-mixtures --out benchmarks/results/cv_AB_same.json
    # a detector candidate B against the shipped fold models A and A's recipe with other seeds
    # (train_detector.py --seed 4,5,6,7 ...): does B - A lie beyond how far the baselines lie apart?
    PYTHONPATH=src python benchmarks/cv.py --compare A.json B.json --reseeds A_seeds4567.json A_seeds891011.json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import os
import sys
import time
import zlib
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soxr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cleantake import corpus as C  # noqa: E402
from cleantake import peers  # noqa: E402
from cleantake.scores import score_many  # noqa: E402

N_FOLDS = 5
RANK = 12  # templates per class, as scripts/build_presets.py
FOUND_COVER = 0.30
SETS = ("stems", "mixes", "stems_extra", "clean")
METHODS = ("proposed", "stack", "nmf")
#: ``proposed``: the default Cleaner; with a fold dictionary (all five core classes) its
#: locator is the learned detector, and fold k uses ``DETECTOR_DIR/foldK.npz``, a model
#: trained without fold k (``scripts/train_detector.py --fold-models DIR``). ``stack``: the
#: same with ``locator="stack"``, the thresholds that were the default before session 8.
#: ``nmf``: semi-supervised NMF alone (the paper's baseline).
DETECTOR_DIR = ROOT / "benchmarks" / "results" / "detector_folds"
GIVEN = ("none", "spans", "review", "foundloc", "foundtrue")
DICT_DIR = ROOT / "benchmarks" / "results" / "cv_dicts"
HEADLINE = (("stems", 0), ("stems", -3), ("stems", -6), ("mixes", 0), ("mixes", -6))


# --------------------------------------------------------------------------------------------
# per-fold dictionaries
# --------------------------------------------------------------------------------------------
def fold_dictionary(corpus: str | os.PathLike, fold: int, *, cache: Path = DICT_DIR, log=print) -> tuple[Path, dict]:
    """The ``any`` dictionary of fold ``fold``: learned from the core-class interference of the other folds.

    Returns
    -------
    path : Path
        The ``.npz`` of the combined dictionary (cached; rebuilt only if the files change).
    info : dict
        ``{"classes": {class: [files]}, "absent": [classes with no file left]}``.
    """
    from cleantake.dictionaries import save_dictionary

    files = C.fold_training_files(corpus, fold, N_FOLDS)
    info = {"classes": {c: v for c, v in files.items() if v}, "absent": [c for c, v in files.items() if not v]}
    key = hashlib.sha1(json.dumps({"files": files, "rank": RANK}, sort_keys=True).encode()).hexdigest()[:12]
    path = cache / f"fold{fold}_any_{key}.npz"
    if path.is_file():
        return path, info
    cache.mkdir(parents=True, exist_ok=True)
    d = C.fold_dictionary(corpus, fold, N_FOLDS, rank=RANK, log=log)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    save_dictionary(d, tmp)
    os.replace(tmp, path)
    return path, info


# --------------------------------------------------------------------------------------------
# one mixture
# --------------------------------------------------------------------------------------------
def _one_blas_thread() -> None:
    """Worker initializer: one BLAS thread per process (as benchmarks/sweep.py, for the same reason)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def found_true(true: list[tuple[float, float]], located: list) -> list[tuple[float, float]]:
    """The true spans that ``located`` events (``start_s``, ``end_s``) find: covered for at least
    ``FOUND_COVER`` of their length by the union of the located events."""
    merged: list[list[float]] = []
    for a, b in sorted((e.start_s, e.end_s) for e in located):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [t for t in true if sum(_overlap(t, (a, b)) for a, b in merged) >= FOUND_COVER * (t[1] - t[0])]


def event_metrics(true: list[tuple[float, float]], located: list, true_class: str | None) -> dict:
    """Found, false and correctly labelled events of one mixture.

    Parameters
    ----------
    true : list of (start_s, end_s)
        True spans.
    located : list of Event (``start_s``, ``end_s``, ``label``)
    true_class : str or None
        The mixture's interference class.

    Returns
    -------
    dict
        ``n_true``, ``found`` (true events covered >= 30 % by the union of located events),
        ``false_events`` (located events overlapping no true span), ``n_located`` and
        ``label_right`` (found events whose best-covering located event has the true class;
        None unless the labels are classes).
    """
    hit = found_true(true, located)
    labelled = bool(located) and all(e.label in C.CORE_CLASSES + C.EXTRA_CLASSES + ("unknown",) for e in located)
    found, label_right = len(hit), 0
    for t in hit:
        best = max(located, key=lambda e: _overlap(t, (e.start_s, e.end_s)))
        label_right += int(best.label == true_class)
    false = sum(1 for e in located if not any(_overlap((e.start_s, e.end_s), t) > 0 for t in true))
    return {"n_true": len(true), "found": found, "false_events": false, "n_located": len(located),
            "label_right": label_right if labelled else None}


def _merged(events: list) -> list:
    """``events`` sorted, those that overlap or touch merged (label and confidence of the first)."""
    out: list = []
    for e in sorted(events, key=lambda e: (e.start_s, e.end_s)):
        if out and e.start_s <= out[-1].end_s:
            out[-1] = dataclasses.replace(out[-1], end_s=max(out[-1].end_s, e.end_s))
        else:
            out.append(e)
    return out


_CLEANERS: dict = {}


def _cleaner(method: str, dictionary: str, detector: str | None, overrides: tuple = ()):
    """The Cleaner of ``proposed`` (fold k's detector) or ``stack``, one per process, with the
    Settings ``overrides`` (``((name, value), ...)``, from ``--set``)."""
    key = (method, dictionary, detector, overrides)
    if key not in _CLEANERS:
        from cleantake import Cleaner

        _CLEANERS[key] = (Cleaner(dictionary, detector=detector, **dict(overrides)) if method == "proposed"
                          else Cleaner(dictionary, locator="stack", **dict(overrides)))
    return _CLEANERS[key]


def _work(job: tuple) -> list[dict]:
    corpus, entry, runs, dictionary, detector, overrides, (rate, via, gain_db, dual, silence, hall, tail, event_db) = job
    mixture, music, interference, sr = C.build_mixture(corpus, entry)
    true = C.event_spans(corpus, entry)
    if event_db:  # every event louder or quieter than the recipe's level (--event-gain-db)
        interference = interference * 10.0 ** (event_db / 20.0)
        mixture = music + interference
    if hall:  # the events heard from the audience of a hall, with its reverberation (--hall)
        interference = C.in_hall(interference, sr, hall[0], hall[1], seed=zlib.crc32(entry["id"].encode()))
        mixture = music + interference
    if silence:  # digital silence before and after the recording (--silence), the spans shifted
        n0 = int(round(silence * sr))
        music, interference = (np.pad(a, ((n0, n0), (0, 0))) for a in (music, interference))
        mixture = music + interference
        true = [(a + n0 / sr, b + n0 / sr) for a, b in true]
    if gain_db:  # the same recording quieter or louder (--gain-db; NSDR does not depend on it)
        g = 10.0 ** (gain_db / 20.0)
        music, interference = music * g, interference * g
        mixture = music + interference
    if dual and music.shape[1] == 1:  # a mono recording stored as two identical channels (--dual-mono)
        music, interference = np.repeat(music, 2, axis=1), np.repeat(interference, 2, axis=1)
        mixture = music + interference
    if via:  # band-limited to via / 2 (--via): each source down to that rate and back, same length
        n = music.shape[0]

        def through(a):
            b = soxr.resample(soxr.resample(a, sr, via, quality="VHQ"), via, sr, quality="VHQ")[:n]
            return np.pad(b, ((0, n - b.shape[0]), (0, 0)))  # a sample short at most

        music, interference = through(music), through(interference)
        mixture = music + interference
    if rate and rate != sr:  # the same recording at another sample rate (--sr): each source resampled
        music = soxr.resample(music, sr, rate, quality="VHQ")
        interference = soxr.resample(interference, sr, rate, quality="VHQ")
        mixture, sr = music + interference, rate
    outputs, rows = [], []
    for method, given in runs:
        row = {"id": entry["id"], "fold": entry["fold"], "set": entry["set"], "class": entry["class"],
               "level_db": entry["level_db"], "method": method, "given": given, "true_spans": true}
        t0 = time.perf_counter()
        try:
            audio = mixture[:, 0] if mixture.shape[1] == 1 else mixture
            if given == "spans":  # the repair of the true spans, no location (with the --set overrides too)
                spans = true
                if tail:  # each span carried on over its reverberation (--span-tail), overlaps joined
                    dur = mixture.shape[0] / sr
                    spans = []
                    for a, b in sorted((a, min(b + tail, dur)) for a, b in true):
                        if spans and a <= spans[-1][1]:
                            spans[-1] = (spans[-1][0], max(spans[-1][1], b))
                        else:
                            spans.append((a, b))
                res = _cleaner("proposed", dictionary, detector, overrides).clean(audio, sr, events=spans)
                cleaned, events = res.cleaned, list(res.events)
            elif given in ("foundloc", "foundtrue"):  # where the located path loses (diagnostic)
                cl = _cleaner("proposed", dictionary, detector, overrides)
                located = cl.locate(audio, sr)
                if given == "foundloc":  # the located events minus the false ones
                    spans = [(e.start_s, e.end_s) for e in _merged(
                        [e for e in located if any(_overlap((e.start_s, e.end_s), t) > 0 for t in true)])]
                else:  # the true spans of the events found
                    spans = sorted(found_true(true, located))
                res = cl.clean(audio, sr, events=spans) if spans else None
                cleaned = res.cleaned if res is not None else audio
                events = list(res.events) if res is not None else []
            elif given == "review":  # an ideal reviewer: real events and candidates kept, the rest not
                cl = _cleaner("proposed", dictionary, detector, overrides)
                located, candidates = cl.locate(audio, sr, return_candidates=True)
                events = [e for e in located + candidates if any(_overlap((e.start_s, e.end_s), t) > 0 for t in true)]
                events = _merged(events)
                cleaned = cl.clean(audio, sr, events=events).cleaned if events else audio
            elif method in ("proposed", "stack"):
                res = _cleaner(method, dictionary, detector, overrides).clean(audio, sr)
                cleaned, events = res.cleaned, list(res.events)
                # the candidates for review: what a user who reviews them can reach
                row["candidates"] = [[e.start_s, e.end_s, e.label, e.confidence] for e in res.candidates]
                row["in_reach"] = event_metrics(true, events + list(res.candidates), entry["class"])["found"]
                row["minutes"] = mixture.shape[0] / sr / 60
                # ruled out by the detector's networks before the analysis (locate.Screen)
                row["screened"] = bool(res.stats.get("screened") or res.stats.get("screened_blocks"))
            else:
                cleaned, _, events = peers.cleantake_method(method, dictionary)(mixture, sr)
            cleaned = np.asarray(cleaned, dtype=np.float64).reshape(mixture.shape)
        except Exception as exc:  # one run failing on one mixture must not end the benchmark
            row.update(seconds=time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}")
            rows.append(row)
            outputs.append(None)
            continue
        row["seconds"] = time.perf_counter() - t0
        row["events"] = [[e.start_s, e.end_s, e.label, e.confidence] for e in events]
        row.update(event_metrics(true, events, entry["class"]))
        if entry["set"] == "clean":
            row["identical"] = bool(np.array_equal(cleaned, mixture))
        rows.append(row)
        outputs.append(cleaned)
    ok = [i for i, o in enumerate(outputs) if o is not None]
    if ok:
        for i, s in zip(ok, score_many([outputs[i] for i in ok], music, mixture)):
            rows[i].update(s)
    return rows


# --------------------------------------------------------------------------------------------
# aggregation
# --------------------------------------------------------------------------------------------
def _mean(v) -> float | None:
    v = [x for x in v if x is not None]
    return float(np.mean(v)) if v else None


def cell(rows: list[dict]) -> dict:
    """Aggregate of mixture rows: mean NSDR/NSIR, events found %, false events per recording,
    label right % (of found events, when labelled), and for clean music: recordings with any
    false event % and bit-identical %."""
    ok = [r for r in rows if "error" not in r]
    out = {"n": len(ok), "errors": len(rows) - len(ok)}
    noisy = [r for r in ok if r["set"] != "clean"]
    clean = [r for r in ok if r["set"] == "clean"]
    if noisy:
        n_true = sum(r["n_true"] for r in noisy)
        found = sum(r["found"] for r in noisy)
        lab = [r for r in noisy if r["label_right"] is not None]
        out.update(nsdr=_mean(r["nsdr"] for r in noisy), nsir=_mean(r["nsir"] for r in noisy),
                   found_pct=100.0 * found / max(n_true, 1),
                   false_per_rec=float(np.mean([r["false_events"] for r in noisy])),
                   label_right_pct=(100.0 * sum(r["label_right"] for r in lab) / max(sum(r["found"] for r in lab), 1)
                                    if lab else None))
        if all("in_reach" in r for r in noisy):
            out["reach_pct"] = 100.0 * sum(r["in_reach"] for r in noisy) / max(n_true, 1)
    if ok and all("candidates" in r for r in ok):
        out["candidates_per_min"] = sum(len(r["candidates"]) for r in ok) / max(sum(r["minutes"] for r in ok), 1e-9)
    if clean:
        out.update(clean_false_pct=100.0 * np.mean([r["false_events"] > 0 for r in clean]),
                   clean_identical_pct=100.0 * np.mean([r["identical"] for r in clean]),
                   clean_n=len(clean))
    return out


def _overrides(ap, items: list[str]) -> tuple:
    """``--set NAME=VALUE`` items as ``((name, value), ...)``, checked against :class:`cleantake.Settings`."""
    from cleantake.errors import ParameterError
    from cleantake.settings import parse_assignments

    try:
        return tuple(sorted(parse_assignments(items).items()))
    except ParameterError as exc:
        ap.error(f"--set: {exc}")


def _run_key(r: dict) -> str:
    return r["method"] if r["given"] == "none" else f"{r['method']} (given {r['given']})"


def aggregate(rows: list[dict]) -> dict:
    """Cells by run, then by fold / set / class / level, and the headline over folds.

    Returns
    -------
    dict
        ``{run: {"by_fold_set_level": {...}, "by_set_class_level": {...}, "headline": {...}}}``;
        headline entries hold the mean over folds and the min and max over folds of each
        headline figure (folds with no such mixture are left out of that figure).
    """
    out: dict = {}
    by_run: dict = defaultdict(list)
    for r in rows:
        by_run[_run_key(r)].append(r)
    for run, rs in by_run.items():
        g_fsl: dict = defaultdict(list)
        g_scl: dict = defaultdict(list)
        for r in rs:
            lv = "clean" if r["level_db"] is None else f"{r['level_db']:+g}"
            g_fsl[(r["fold"], r["set"], lv)].append(r)
            g_scl[(r["set"], r["class"] or "clean", lv)].append(r)
        fsl = {f"{f}|{s}|{lv}": cell(v) for (f, s, lv), v in sorted(g_fsl.items())}
        scl = {f"{s}|{c}|{lv}": cell(v) for (s, c, lv), v in sorted(g_scl.items())}
        folds = sorted({r["fold"] for r in rs})
        head: dict = {}

        def spread(name: str, select, field: str) -> None:
            vals = [cell([r for r in rs if r["fold"] == f and select(r)]).get(field) for f in folds]
            vals = [v for v in vals if v is not None]
            head[name] = {"mean": _mean(vals), "min": min(vals) if vals else None,
                          "max": max(vals) if vals else None, "n_folds": len(vals)}

        for s, lv in HEADLINE:
            spread(f"{s} NSDR {lv:+d}", lambda r, s=s, lv=lv: r["set"] == s and r["level_db"] == lv, "nsdr")
        spread("events found %", lambda r: r["set"] in ("stems", "mixes"), "found_pct")
        spread("extra found %", lambda r: r["set"] == "stems_extra", "found_pct")
        spread("within review %", lambda r: r["set"] in ("stems", "mixes"), "reach_pct")
        spread("clean cand./min", lambda r: r["set"] == "clean", "candidates_per_min")
        spread("false ev./rec.", lambda r: r["set"] in ("stems", "mixes"), "false_per_rec")
        spread("label right %", lambda r: r["set"] in ("stems", "mixes"), "label_right_pct")
        spread("clean w/ false %", lambda r: r["set"] == "clean", "clean_false_pct")
        spread("clean identical %", lambda r: r["set"] == "clean", "clean_identical_pct")
        out[run] = {"headline": head, "by_fold_set_level": fsl, "by_set_class_level": scl}
    return out


def _f(x, w: int = 6, p: int = 2) -> str:
    return f"{'-':>{w}}" if x is None else f"{x:>{w}.{p}f}"


def format_tables(agg: dict, label: str) -> str:
    """Headline table (mean over folds [min, max]) and per-fold / per-class tables."""
    lines = [f"Cross-validated, 5 folds grouped by source; dictionary: {label}",
             "mean over folds [min .. max over folds]", ""]
    names = list(next(iter(agg.values()))["headline"]) if agg else []
    w = max(len(k) for k in agg) + 2 if agg else 10
    lines.append(f"{'':{w}}" + "".join(f"{n:>24}" for n in names[:5]))
    for run, a in agg.items():
        h = a["headline"]
        lines.append(f"{run:{w}}" + "".join(
            f"{_f(h[n]['mean'], 6)} [{_f(h[n]['min'], 5, 1)} ..{_f(h[n]['max'], 5, 1)}]".rjust(24) for n in names[:5]))
    lines.append("")
    lines.append(f"{'':{w}}" + "".join(f"{n:>24}" for n in names[5:]))
    for run, a in agg.items():
        h = a["headline"]
        lines.append(f"{run:{w}}" + "".join(
            f"{_f(h[n]['mean'], 6, 1)} [{_f(h[n]['min'], 5, 1)} ..{_f(h[n]['max'], 5, 1)}]".rjust(24)
            for n in names[5:]))
    lines.append("")
    for run, a in agg.items():
        lines.append(f"{run}: per fold / set / level")
        lines.append(f"  {'fold|set|level':26s} {'n':>4} {'NSDR':>6} {'NSIR':>6} {'found%':>7} {'false/rec':>9} "
                     f"{'label%':>7} {'clean FP%':>9} {'ident%':>7}")
        for k, c in a["by_fold_set_level"].items():
            lines.append(f"  {k:26s} {c['n']:>4} {_f(c.get('nsdr'))} {_f(c.get('nsir'))} {_f(c.get('found_pct'), 7, 1)} "
                         f"{_f(c.get('false_per_rec'), 9)} {_f(c.get('label_right_pct'), 7, 1)} "
                         f"{_f(c.get('clean_false_pct'), 9, 1)} {_f(c.get('clean_identical_pct'), 7, 1)}")
        lines.append(f"{run}: per set / class / level (all folds)")
        for k, c in a["by_set_class_level"].items():
            lines.append(f"  {k:26s} {c['n']:>4} {_f(c.get('nsdr'))} {_f(c.get('nsir'))} {_f(c.get('found_pct'), 7, 1)} "
                         f"{_f(c.get('false_per_rec'), 9)} {_f(c.get('label_right_pct'), 7, 1)} "
                         f"{_f(c.get('clean_false_pct'), 9, 1)} {_f(c.get('clean_identical_pct'), 7, 1)}")
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# paired comparison of two runs on the same mixtures
# --------------------------------------------------------------------------------------------
#: A mixture counts as better (worse) in a comparison when its NSDR moves by more than this (dB).
TIE_DB = 0.05


def compare(rows_a: list[dict], rows_b: list[dict]) -> dict:
    """Paired comparison of run B against run A on the mixtures both measured.

    Means over folds hide how noisy a difference is: a cell of the headline holds 5-10
    mixtures per fold, and one event found or missed moves a mixture by several dB. Here every
    mixture is its own control.

    Parameters
    ----------
    rows_a, rows_b : list of dict
        Mixture rows of one run each (as :func:`_work` writes them).

    Returns
    -------
    dict
        Per headline cell (``"stems NSDR +0"``, ...): ``n`` mixtures, ``a`` and ``b`` (mean
        NSDR, dB), ``diff`` (mean of B - A), ``se`` (its standard error over mixtures),
        ``better`` / ``worse`` (mixtures moving by more than :data:`TIE_DB`), ``folds_better``
        (folds whose mean difference is positive) and ``n_folds``; ``"events found"``: true
        events of stems and mixes found by A and by B and their total; ``"clean with a false
        event"``: clean recordings touched by A and by B of ``n``.
    """
    a = {r["id"]: r for r in rows_a if "error" not in r}
    b = {r["id"]: r for r in rows_b if "error" not in r}
    ids = [i for i in a if i in b]
    out: dict = {}
    for s, lv in HEADLINE:
        sel = [i for i in ids if a[i]["set"] == s and a[i]["level_db"] == lv]
        if not sel:
            continue
        d = np.array([b[i]["nsdr"] - a[i]["nsdr"] for i in sel])
        by_fold: dict = defaultdict(list)
        for i, x in zip(sel, d):
            by_fold[a[i]["fold"]].append(x)
        out[f"{s} NSDR {lv:+d}"] = {
            "n": len(sel), "a": float(np.mean([a[i]["nsdr"] for i in sel])),
            "b": float(np.mean([b[i]["nsdr"] for i in sel])), "diff": float(d.mean()),
            "se": float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else None,
            "better": int((d > TIE_DB).sum()), "worse": int((d < -TIE_DB).sum()),
            "folds_better": sum(float(np.mean(v)) > 0 for v in by_fold.values()), "n_folds": len(by_fold)}
    noisy = [i for i in ids if a[i]["set"] in ("stems", "mixes")]
    out["events found"] = {"a": sum(a[i]["found"] for i in noisy), "b": sum(b[i]["found"] for i in noisy),
                           "n": sum(a[i]["n_true"] for i in noisy)}
    clean = [i for i in ids if a[i]["set"] == "clean"]
    out["clean with a false event"] = {"a": sum(a[i]["false_events"] > 0 for i in clean),
                                       "b": sum(b[i]["false_events"] > 0 for i in clean), "n": len(clean)}
    return out


def format_comparison(cmp: dict, name_a: str, name_b: str) -> str:
    """The table of :func:`compare`, as printed by ``--compare``."""
    lines = [f"B = {name_b}  against  A = {name_a}  (paired, same mixtures)", "",
             f"{'':16s} {'n':>4} {'A':>7} {'B':>7} {'B - A':>7} {'se':>6}  {'better/worse':>12}  {'folds better':>12}"]
    for k, c in cmp.items():
        if "diff" in c:
            se = "-" if c["se"] is None else f"{c['se']:.2f}"
            lines.append(f"{k:16s} {c['n']:>4} {c['a']:7.2f} {c['b']:7.2f} {c['diff']:+7.2f} {se:>6}  "
                         f"{c['better']:>5} / {c['worse']:<5}  {c['folds_better']:>6} of {c['n_folds']}")
    f, cl = cmp["events found"], cmp["clean with a false event"]
    lines.append(f"events found (stems, mixes): A {f['a']} B {f['b']} of {f['n']}")
    lines.append(f"clean recordings with a false event: A {cl['a']} B {cl['b']} of {cl['n']}")
    return "\n".join(lines)


def retrain_noise(rows_a: list[dict], rows_b: list[dict], reseeds: list[list[dict]]) -> dict:
    """Run B against baseline A, read against how far A's recipe moves when only reseeded.

    ``cv.py --compare``'s standard errors cover the mixtures, not the retrain: the shipped
    detector's recipe with other seeds moved headline cells by up to 1 dB and false events by
    a factor of two (benchmarks/DETECTOR.md, sessions 27-28). A candidate counts in a cell only
    where it lies beyond the baselines' own spread.

    Parameters
    ----------
    rows_a : list of dict
        Mixture rows of the baseline run.
    rows_b : list of dict
        Mixture rows of the candidate run.
    reseeds : list of list of dict
        One or more runs of the baseline's recipe that differ from it only in their seeds.

    Returns
    -------
    dict
        Per headline cell that every run measured: ``diff`` (B - A, mean over mixtures, dB),
        ``vs_each`` (B minus each baseline run, A first, dB), ``spread`` (the largest absolute
        mean difference between two baseline runs, dB) and ``beyond`` (B - A is larger in size
        than ``spread``, so B then lies on the same side of every baseline run);
        ``"events found"`` and ``"clean with a false event"``: ``b`` and ``baselines`` (A's
        count first) on the mixtures each pair shares.
    """
    if not reseeds:
        raise ValueError("retrain_noise needs at least one reseeded run of the baseline")
    base = [rows_a, *reseeds]
    vs = [compare(r, rows_b) for r in base]
    apart = [compare(base[i], base[j]) for i in range(len(base)) for j in range(i + 1, len(base))]
    out: dict = {}
    for cell in vs[0]:
        if "diff" not in vs[0][cell]:
            continue
        if any(cell not in c for c in vs + apart):
            continue
        each = [c[cell]["diff"] for c in vs]
        spread = max(abs(c[cell]["diff"]) for c in apart)
        out[cell] = {"diff": each[0], "vs_each": each, "spread": spread, "beyond": bool(abs(each[0]) > spread)}
    for key in ("events found", "clean with a false event"):
        out[key] = {"b": vs[0][key]["b"], "baselines": [c[key]["a"] for c in vs], "n": vs[0][key]["n"]}
    return out


def format_retrain_noise(noise: dict, n_reseeds: int) -> str:
    """The table of :func:`retrain_noise`, as printed by ``--compare A B --reseeds R ...``."""
    lines = ["", f"against A's recipe reseeded ({n_reseeds} more run{'s' if n_reseeds > 1 else ''}): "
             "B counts in a cell only beyond the baselines' own spread", "",
             f"{'':16s} {'B - A':>7}  {'B - each baseline':>20}  {'baselines apart':>15}  {'':8s}"]
    for k, c in noise.items():
        if "diff" in c:
            rng = f"{min(c['vs_each']):+.2f} .. {max(c['vs_each']):+.2f}"
            lines.append(f"{k:16s} {c['diff']:+7.2f}  {rng:>20}  {c['spread']:15.2f}  "
                         f"{'beyond' if c['beyond'] else 'within':8s}")
    for key, what in (("events found", "events found (stems, mixes)"),
                      ("clean with a false event", "clean recordings with a false event")):
        c = noise[key]
        lines.append(f"{what}: B {c['b']}, baselines {min(c['baselines'])} .. {max(c['baselines'])} of {c['n']}")
    return "\n".join(lines)


def _read_run(spec: str) -> tuple[str, list[dict]]:
    """``FILE[::RUN]`` -> (run name, its rows): by default the file's only run with automatic
    location, or its only run."""
    path, _, run = spec.partition("::")
    try:
        rows = json.loads(Path(path).read_text())["rows"]
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f"--compare: cannot read the rows of {path}: {exc}") from None
    runs = list(dict.fromkeys(_run_key(r) for r in rows))
    if not run:
        located = [x for x in runs if "(given" not in x]
        if len(runs) == 1 or len(located) == 1:
            run = runs[0] if len(runs) == 1 else located[0]
        else:
            raise SystemExit(f"--compare: {path} holds the runs {runs}; name one as {path}::RUN")
    if run not in runs:
        raise SystemExit(f"--compare: {path} has no run {run!r}; it has {runs}")
    return run, [r for r in rows if _run_key(r) == run]


def _compare_files(specs: list[str], reseeds: list[str] | None = None) -> int:
    """``--compare A.json[::RUN] B.json[::RUN] [--reseeds R.json ...]``: the run of each file
    (by default its only run with automatic location, or its only run) compared on the
    mixtures both measured; with ``--reseeds``, also against A's recipe reseeded."""
    (na, ra), (nb, rb) = (_read_run(s) for s in specs)
    print(format_comparison(compare(ra, rb), f"{na} ({specs[0].partition('::')[0]})",
                            f"{nb} ({specs[1].partition('::')[0]})"))
    if reseeds:
        print(format_retrain_noise(retrain_noise(ra, rb, [_read_run(s)[1] for s in reseeds]), len(reseeds)))
    return 0


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------
#: How each ``--dictionary`` is named in the printed tables.
DICTIONARY_LABELS = {
    "cv": "per fold, learned from the other folds' interference",
    "bundled": "BUNDLED presets (contaminated: learned from files that sit in test folds)",
    "none": "none (templates learned from each recording's given spans)",
}


def _aggregate_files(paths: list[str], out: Path, dictionary: str, same_mixtures: bool = False,
                     retag: str | None = None) -> int:
    rows, metas = [], []
    for p in paths:
        text = Path(p).read_text()
        if p.endswith(".jsonl"):
            for line in text.splitlines():
                try:
                    rows += json.loads(line)["rows"]
                except (ValueError, KeyError):
                    continue  # a line cut short
        else:
            doc = json.loads(text)
            bundled = doc["meta"]["dictionary"] == "bundled"
            if bundled and len(paths) > 1:  # beside runs with the fold dictionaries: a run of its own
                for r in doc["rows"]:
                    r["method"] = r["method"].split(" ")[0] + " [bundled]"
            rows += doc["rows"]
            metas.append(doc["meta"])
    if retag:  # runs of one method from several files (disjoint samples, say) pool into one
        rows = [{**r, "method": f"{r['method'].split(' [')[0]} [{retag}]"} for r in rows]
    seen, unique = set(), []
    for r in rows:  # a mixture and run measured twice counts once
        k = (r["id"], r["method"], r["given"])
        if k not in seen:
            seen.add(k)
            unique.append(r)
    if same_mixtures:  # only the mixtures every run measured, for a like-for-like comparison
        runs = {_run_key(r) for r in unique}
        by_id: dict = defaultdict(set)
        for r in unique:
            by_id[r["id"]].add(_run_key(r))
        unique = [r for r in unique if by_id[r["id"]] == runs]
    agg = aggregate(unique)
    dicts = {m["dictionary"] for m in metas} or {dictionary}
    label = (DICTIONARY_LABELS[next(iter(dicts))] if len(dicts) == 1 and next(iter(dicts)) in DICTIONARY_LABELS
             else "per fold (runs marked [bundled]: the BUNDLED presets, contaminated)")
    if same_mixtures:
        label += "; only the mixtures every run measured"
    print(f"{len({r['id'] for r in unique})} mixtures from {', '.join(paths)}")
    print(format_tables(agg, label))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": {"aggregated_from": paths, "metas": metas, "dictionary": "+".join(sorted(dicts)),
                                        "same_mixtures": same_mixtures},
                               "aggregate": agg, "rows": unique}, indent=1, allow_nan=False) + "\n")
    print(f"results written to {out}")
    return 0


def subsample(recipes: list[dict], every: int, offset: int = 0) -> list[dict]:
    """Every ``every``-th recipe of each (set, class, level) stratum, rotated by stratum.

    A plain stride over the recipe list (music x class x level) would, for some counts of
    classes and levels, keep one level only or tie each class to one level; within each stratum
    the stride keeps every class at every level, and rotating its start by the stratum's index
    spreads the music files over the strata. Recipe order is kept; ``offset`` in
    ``range(every)`` picks a disjoint part (the parts of all offsets make up the whole).
    """
    strata: dict = {}
    count: dict = defaultdict(int)
    out = []
    for e in recipes:
        key = (e["set"], e["class"], e["level_db"])
        s = strata.setdefault(key, len(strata))
        i = count[key]
        count[key] += 1
        if (i + s) % every == offset % every:
            out.append(e)
    return out


def _csv(choices):
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"unknown {', '.join(bad) or '(none)'}; choose from {', '.join(choices)}")
        return items
    return parse


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--folds", type=_csv([str(k) for k in range(N_FOLDS)]), default=[str(k) for k in range(N_FOLDS)],
                    help="comma-separated folds (default all five)")
    ap.add_argument("--sets", type=_csv(SETS), default=list(SETS))
    ap.add_argument("--part", choices=("test", "train"), default="test",
                    help="the folds' test parts (what judges; the default) or their train parts (the other "
                         "folds' music and interference: where a choice is made, never judged)")
    ap.add_argument("--methods", type=_csv(METHODS), default=["proposed"],
                    help="comma-separated: proposed (the default Cleaner: the learned locator, fold k's "
                    "detector), stack (the threshold stack), nmf (the paper's baseline)")
    ap.add_argument("--given", type=_csv(GIVEN), default=["none"],
                    help="none: automatic location (default); spans: the true spans given to the proposed "
                    "repair (its ceiling); review: an ideal reviewer of the located events and candidates; "
                    "foundloc / foundtrue (diagnostics): the located events without the false ones / the true "
                    "spans of the events found; "
                    "comma-separated for several, e.g. none,spans")
    ap.add_argument("--dictionary", choices=("cv", "bundled", "none"), default="cv",
                    help="cv: learned per fold from the other folds' interference (default); bundled: the "
                    "shipped presets (contaminated: learned from files in test folds); none: the empty "
                    "dictionary, with --given spans only (what -i none --events does: templates learned from "
                    "the spans)")
    ap.add_argument("--detector-dir", default=str(DETECTOR_DIR), metavar="DIR",
                    help="proposed: fold k uses DIR/foldK.npz, a detector trained without fold k "
                    "(scripts/train_detector.py writes them; default benchmarks/results/detector_folds); with "
                    "--dictionary bundled the shipped detector (contaminated, like the presets)")
    ap.add_argument("--tag", default=None,
                    help="append ' [TAG]' to the method names of this run's rows (e.g. the detector compared), so "
                    "runs of one method with other settings stay apart in --aggregate")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="overrides",
                    help="a cleantake.Settings field for proposed and stack (repeatable), e.g. sensitivity=0.3; "
                    "use with --tag")
    ap.add_argument("--every", type=int, default=1, metavar="N",
                    help="take every N-th mixture with interference of each fold and each (set, class, "
                    "level), so every cell keeps 1/N of its music")
    ap.add_argument("--offset", type=int, default=0,
                    help="which of the --every disjoint parts to take (0 to N-1; default 0)")
    ap.add_argument("--clean-every", type=int, default=None, metavar="N",
                    help="take every N-th clean recording of each fold (default: as --every)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the recipes")
    ap.add_argument("--sr", type=int, default=None, metavar="HZ",
                    help="resample every recording (music and interference apart, soxr VHQ) to HZ before "
                         "cleaning and scoring; default: the corpus's 44.1 kHz")
    ap.add_argument("--gain-db", type=float, default=None, metavar="DB",
                    help="scale every recording (music and interference) by DB decibels first")
    ap.add_argument("--event-gain-db", type=float, default=None, metavar="DB",
                    help="every event DB decibels louder (or quieter) than its recipe's level, the music as it is: "
                         "+12 is a cough into a quiet passage, well above the corpus's -9 to +3 dB")
    ap.add_argument("--silence", type=float, default=None, metavar="S",
                    help="add S seconds of digital silence before and after every recording")
    ap.add_argument("--dual-mono", action="store_true",
                    help="store every mono recording as two identical channels (a dual-mono file)")
    ap.add_argument("--via", type=int, default=None, metavar="HZ",
                    help="band-limit every recording to HZ / 2 first (music and interference apart, down to HZ "
                         "and back with soxr VHQ), as a lossy or low-rate source would be")
    ap.add_argument("--hall", type=float, nargs=2, default=None, metavar=("RT60_S", "DRR_DB"),
                    help="hear every event from the audience of a reverberant hall: a synthetic response with "
                         "reverberation time RT60_S seconds and direct-to-reverberant ratio DRR_DB dB (e.g. 1.8 -6)")
    ap.add_argument("--span-tail", type=float, default=None, metavar="S",
                    help="with --given spans: give each true span S seconds longer (its reverberation, as a "
                         "user would mark an event heard in a hall), overlapping spans joined")
    ap.add_argument("--smoke", action="store_true", help="a quick check: fold 0, every 50th recipe")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--resume", action="store_true",
                    help="reuse the mixtures already done in OUT.partial.jsonl (written as the run goes)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cv.json"))
    ap.add_argument("--aggregate", nargs="+", metavar="FILE",
                    help="run nothing: aggregate the rows of earlier results (JSON, or a .partial.jsonl of a "
                    "run in progress), e.g. two halves of a run made with different --offset, and write --out")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"),
                    help="only compare two result files, mixture by mixture (FILE or FILE::RUN): the mean "
                         "difference of each headline cell with its standard error")
    ap.add_argument("--reseeds", nargs="+", metavar="R",
                    help="with --compare: result files of A's recipe with other seeds (FILE or FILE::RUN); "
                         "prints, cell by cell, whether B - A lies beyond how far those baselines lie apart")
    ap.add_argument("--retag", metavar="TAG", default=None,
                    help="with --aggregate: give every run the tag TAG (replacing its own), so that the same "
                         "method measured in several files (disjoint samples) is pooled")
    ap.add_argument("--same-mixtures", action="store_true",
                    help="with --aggregate: keep only the mixtures that every run measured")
    args = ap.parse_args(argv)
    if args.reseeds and not args.compare:
        ap.error("--reseeds goes with --compare A B")
    if args.compare:
        return _compare_files(args.compare, args.reseeds)
    if args.aggregate:
        return _aggregate_files(args.aggregate, Path(args.out), args.dictionary, args.same_mixtures, args.retag)
    if args.every < 1 or args.offset < 0 or args.jobs < 1 or (args.clean_every is not None and args.clean_every < 1):
        ap.error(f"--every and -j must be >= 1 and --offset >= 0, got {args.every}, {args.jobs}, {args.offset}")
    if args.hall and not args.hall[0] > 0:
        ap.error(f"--hall: the reverberation time must be positive (seconds), got {args.hall[0]:g}")
    if args.span_tail is not None and (args.span_tail <= 0 or "spans" not in args.given):
        ap.error(f"--span-tail needs --given spans and a positive length in seconds, got {args.span_tail:g} "
                 f"with --given {','.join(args.given)}")
    if args.smoke:
        args.folds, args.every = ["0"], 50
    folds = [int(k) for k in args.folds]
    overrides = _overrides(ap, args.overrides)
    runs = [(m, "none") for m in args.methods] if "none" in args.given else []
    if "spans" in args.given:
        runs.append(("proposed", "spans"))
    if "review" in args.given:
        runs.append(("proposed", "review"))
    runs += [("proposed", g) for g in ("foundloc", "foundtrue") if g in args.given]
    if args.dictionary == "none" and runs != [("proposed", "spans")]:
        ap.error(f"--dictionary none works with --given spans alone (what -i none --events does), "
                 f"got --given {','.join(args.given)}")
    # With the bundled presets (contaminated anyway) the shipped detector, which was trained with
    # them; with fold dictionaries, fold k's detector, trained without fold k: checked first.
    for k in folds:
        path = Path(args.detector_dir) / f"fold{k}.npz"
        if "proposed" in args.methods and args.dictionary == "cv" and not path.is_file():
            ap.error(f"--detector-dir: {path} does not exist; make the fold detectors with "
                     f"scripts/train_detector.py --fold-models {args.detector_dir} (the shipped detector has "
                     "seen every fold)")
    t_start = time.perf_counter()
    dicts, info = {}, {}
    for k in folds:
        if args.dictionary == "bundled":
            dicts[k], info[k] = "any", {"bundled": True}
        elif args.dictionary == "none":
            dicts[k], info[k] = "none", {"none": True}
        else:
            dicts[k], info[k] = fold_dictionary(args.corpus, k)
            dicts[k] = str(dicts[k])
            if info[k]["absent"]:
                print(f"fold {k}: no training file left for {', '.join(info[k]['absent'])}: "
                      f"absent from its dictionary")
    t_dicts = time.perf_counter() - t_start
    per_fold = []
    for k in folds:
        recipes = C.cv_recipes(args.corpus, k, part=args.part, sets=tuple(args.sets), seed=args.seed)
        noisy = subsample([e for e in recipes if e["set"] != "clean"], args.every, args.offset)
        clean = subsample([e for e in recipes if e["set"] == "clean"], args.clean_every or args.every, args.offset)
        detector = None if args.dictionary in ("bundled", "none") else str(Path(args.detector_dir) / f"fold{k}.npz")
        variant = (args.sr, args.via, args.gain_db, args.dual_mono, args.silence,
                   tuple(args.hall) if args.hall else None, args.span_tail, args.event_gain_db)
        per_fold.append([(args.corpus, e, runs, dicts[k], detector, overrides, variant) for e in noisy + clean])
    # folds interleaved, so that a run stopped early still covers every fold about evenly
    jobs = [j for i in range(max(map(len, per_fold), default=0)) for f in per_fold if i < len(f) for j in [f[i]]]
    print(f"{len(jobs)} mixtures, runs {runs}, folds {folds}, every {args.every} offset {args.offset}, "
          f"dictionary {args.dictionary} ({t_dicts:.0f} s for dictionaries)", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial.jsonl")
    key = lambda j: json.dumps([j[1], j[2], args.dictionary, j[4]] + ([list(j[5])] if j[5] else [])  # noqa: E731
                               + ([list(j[6])] if any(j[6]) else []), sort_keys=True)
    done: dict[str, list[dict]] = {}
    if args.resume and partial.is_file():
        for line in partial.read_text().splitlines():
            try:
                rec = json.loads(line)
                done[rec["key"]] = rec["rows"]
            except (ValueError, KeyError):
                continue  # a line cut short
    todo = [j for j in jobs if key(j) not in done]
    print(f"{len(jobs) - len(todo)} mixtures reused from {partial}" if args.resume else "", end="", flush=True)
    t_run = time.perf_counter()
    with open(partial, "a" if args.resume else "w") as log:
        def finished(j, rs, n):
            done[key(j)] = rs
            log.write(json.dumps({"key": key(j), "rows": rs}, allow_nan=False) + "\n")
            log.flush()
            if n % 10 == 0 or n == len(todo):
                el = time.perf_counter() - t_run
                print(f"  {n}/{len(todo)} mixtures, {el:.0f} s, about {el / n * (len(todo) - n):.0f} s left",
                      file=sys.stderr, flush=True)

        if args.jobs == 1 or len(todo) <= 1:
            _one_blas_thread()
            for n, j in enumerate(todo, 1):
                finished(j, _work(j), n)
        else:
            with ProcessPoolExecutor(min(args.jobs, len(todo)), initializer=_one_blas_thread) as ex:
                for n, (j, rs) in enumerate(zip(todo, ex.map(_work, todo, chunksize=1)), 1):
                    finished(j, rs, n)
    rows = [r for j in jobs for r in done[key(j)]]
    if args.tag:
        rows = [{**r, "method": f"{r['method']} [{args.tag}]"} for r in rows]
    agg = aggregate(rows)
    label = DICTIONARY_LABELS[args.dictionary]
    wall = time.perf_counter() - t_start
    print(format_tables(agg, label))
    print(f"wall time {wall:.0f} s")
    failed = [r for r in rows if "error" in r]
    if failed:
        print(f"{len(failed)} run(s) failed; first: {failed[0]['id']}: {failed[0]['error']}", file=sys.stderr)
    result = {
        "meta": {"argv": sys.argv[1:] if argv is None else list(argv), "corpus": str(Path(args.corpus).resolve()),
                 "folds": folds, "sets": args.sets, "runs": [list(r) for r in runs], "dictionary": args.dictionary,
                 "dictionary_info": {str(k): v for k, v in info.items()}, "every": args.every,
                 "clean_every": args.clean_every or args.every, "tag": args.tag, "part": args.part, "overrides": {k: (v if not isinstance(v, float) or np.isfinite(v) else str(v)) for k, v in overrides}, "detector_dir": args.detector_dir, "offset": args.offset, "seed": args.seed, "sr": args.sr, "via": args.via, "gain_db": args.gain_db, "dual_mono": args.dual_mono,
                 "silence": args.silence, "hall": args.hall, "span_tail": args.span_tail, "event_gain_db": args.event_gain_db, "n_mixtures": len(jobs), "wall_seconds": wall,
                 "fold_summary": {str(k): v for k, v in C.fold_summary(args.corpus, N_FOLDS).items()},
                 "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                 "found_rule": f"located events cover >= {FOUND_COVER:.0%} of the true span"},
        "aggregate": agg,
        "rows": rows,
    }
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    os.replace(tmp, out)
    partial.unlink(missing_ok=True)
    print(f"results written to {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
