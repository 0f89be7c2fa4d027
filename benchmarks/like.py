"""Learn from one example (issue 16 item 2; item 5 ``--given first``), cross-validated.

For every mixture with two or more events, only the FIRST event's true span (the earliest)
is passed as ``like`` with ``interference="none"``. The finder's parameters
(:class:`cleantake.like.LikeParams`: the keys of :data:`GRID`) are chosen by detection alone:
the most other events found (>= 30 % of the span covered) among the grid points with at most
``--max-false`` false events per recording (an event overlapping no true span). Fold k is then
judged on its ``test`` part (``sets=("stems_extra",)``, every ``--test-every``-th mixture with
>= 2 events) with the parameters chosen for it, by BSS Eval NSDR
(:func:`cleantake.evaluate.score`), the share of other events found and false events per
recording, per fold and overall.

Where the parameters of fold k are chosen (``--protocol``):

``crossfit`` (the default)
    On the test parts of the OTHER folds (``--tune-sets``: by default every ``stems_extra``
    mixture and every 2nd ``stems`` mixture with >= 2 events). Every recording's detector
    probabilities come from its own fold's detector
    (``benchmarks/results/detector_folds/foldJ.npz``), which never heard it, exactly as fold
    k's judged recordings are scored; no recording of fold k takes part in fold k's choice.
    The library's default is the choice on all folds' tuning recordings pooled.
``train`` (session 8, optimistic)
    On fold k's own ``train`` part (``sets=("stems_extra", "stems")``, every
    ``--train-every``-th). Their probabilities come from fold k's detector, which was trained
    on those recordings' sources, so it is surer of them than of unheard recordings.

Long recordings (``--long PKL``, written by ``benchmarks/like_long.py --record``): four-minute
full mixes cleaned in 20-s blocks as the command line cleans a file, each block's finder inputs
recorded once, so that every grid point is replayed on them (:func:`long_events`: the default's
events exactly, another point's up to where its blocks join). With ``--max-long-false``, fold k
chooses only among the points that make at most that many false events per minute on the OTHER
folds' long recordings, and each fold's choice is judged on its own long recordings (detection).

Usage (from the repository root)::

    PYTHONPATH=src nice -n 10 python benchmarks/like.py /path/to/corpus --jobs 2

Writes ``benchmarks/results/like.json`` (``like_bounds.json`` with ``--bounds``) and the
per-frame scores of the tuning recordings
(``--cache``; all git-ignored). ``--review BUDGET`` measures the candidates for review
(``LikeParams.review_similarity``) from that cache instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import pickle
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from cleantake import Cleaner
from cleantake.analysis import band_templates
from cleantake.atomic import atomic_write
from cleantake.corpus import cv_recipes
from cleantake.errors import ParameterError
from cleantake.evaluate import build_mixture, score
from cleantake.like import (LikeParams, detector_probability, learn_from_spans, like_events, like_frames,
                            like_scores, longest_run, span_frames, with_like)
from cleantake.locate import Event, dilate, segments
from cleantake.pipeline import repair_at_windows
from cleantake.repair import repair
from cleantake.settings import parse_assignments
from cleantake.streaming import merge_events, shift_events

GRID = {
    "similarity": (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0),
    "novelty": (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
    "min_event_ms": (80.0, 160.0, 320.0),
    # the shortest run at most this fraction of the example's length (None: min_event_ms alone)
    "min_event_example": (None,),
    "relative": (False, True),
    "prototype": ("mean", "nearest"),
    # None: the novelty test; a number: the detector's smoothed frame probability instead
    "detector": (None, 0.1, 0.2, 0.3, 0.5, 0.7),
    # with the detector only: the similarity needed rises by slope * (1 - probability); a run
    # needs a frame of at least this probability (None: no such test)
    "detector_slope": (0.0,),
    "detector_peak": (None,),
    # runs found grow over adjacent frames this similar (None: no growing) and this probable
    "grow_similarity": (None, 0.4, 0.5, 0.6, 0.7),
    "grow_detector": (0.0,),
    # with the detector only: runs shorter than min_event_ms kept if this similar on average
    # and this probable somewhere (None: dropped)
    "short_similarity": (None,),
    "short_detector": (0.9,),
}
#: Settings changed for every Cleaner of the run (``--set``; read by the worker processes, forked
#: after main sets it).
OVERRIDES: dict = {}
COVER = 0.3  # an event counts as found if this share of its span is covered
#: Rules tried for the candidates for review (``--review``): ``LikeParams.review_similarity``
#: and ``review_detector`` (runs of at least ``review_min_event_ms``, 80 ms).
REVIEW_GRID = [{"review_similarity": s, "review_detector": d}
               for s in (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8) for d in (0.1, 0.3, 0.5, 0.7, 0.8, 0.9)]


def true_spans(corpus: str, entry: dict, sr: int) -> list[tuple[float, float]]:
    import soundfile as sf

    out = []
    for ev in entry["events"]:
        n = sf.info(str(Path(corpus) / ev["path"])).frames
        a = int(round(float(ev["onset_s"]) * sr)) / sr
        out.append((a, a + n / sr))
    return sorted(out)


def detection(found_spans, truth, first) -> tuple[int, int, int]:
    """(other events, other events found, false events) for one recording."""
    others = [t for t in truth if t != first]
    hit = 0
    for a, b in others:
        cov = 0.0
        for c, d in found_spans:
            cov += max(0.0, min(b, d) - max(a, c))
        hit += cov >= COVER * (b - a)
    false = sum(1 for c, d in found_spans if not any(c < b and a < d for a, b in truth))
    return len(others), hit, false


def frames_to_spans(frames: np.ndarray, times: np.ndarray, hop: float) -> list[tuple[float, float]]:
    return [(float(times[a]) - hop / 2, float(times[b - 1]) + hop / 2) for a, b in segments(frames)]


def prepare(args):
    """Scores of one mixture (and, with ``params``, its NSDR with them)."""
    from threadpoolctl import threadpool_limits

    corpus, entry, params = args
    with threadpool_limits(1, user_api="blas"):  # as Cleaner.clean runs (2 shared cores)
        return _prepare(corpus, entry, params)


def _fold_detector(corpus: str, fold: int):
    """Fold ``fold``'s detector (trained without the fold) and dictionary, as benchmarks/cv.py judges it."""
    from cv import DETECTOR_DIR, fold_dictionary

    from cleantake.dictionaries import load_dictionary

    path, _ = fold_dictionary(corpus, fold, log=lambda *a: None)
    model = DETECTOR_DIR / f"fold{fold}.npz"
    if not model.is_file():
        raise SystemExit(f"{model} is missing: run scripts/train_detector.py first")
    return model, load_dictionary(path)


def _prepare(corpus, entry, params):
    t0 = time.perf_counter()
    y, m, _, sr = build_mixture(corpus, entry)
    truth = true_spans(corpus, entry, sr)
    first = truth[0]
    c = Cleaner("none", **OVERRIDES)
    s = c.settings
    x = y.T.copy()
    ana1 = c.analyse(x, sr)
    marked = span_frames([first], ana1.cfg, ana1.n_frames)
    p = params or LikeParams()
    learned, ana, _ = learn_from_spans(x, sr, marked, first=ana1, base=c.dictionary, settings=s, params=p)
    # both prototypes for the tuning cache (any grid can be chosen from it); the judged run needs one
    protos = ("mean", "nearest") if params is None else (p.prototype,)
    scores = {pr: like_scores(ana, marked, settings=s, context_ms=p.context_ms, prototype=pr) for pr in protos}
    sim, nov, elig, ref = scores[p.prototype]
    # The detector of the fold the recipe belongs to: for a test part, a detector that never
    # heard the fold's sources (how every judged and, with --protocol crossfit, every tuning
    # recording is scored); for a train part, one trained on its sources (optimistic).
    model, fold_dict = _fold_detector(corpus, int(entry["fold"]))
    prob = detector_probability(x, sr, first=ana1, base=c.dictionary, settings=s, model=model, dictionary=fold_dict)
    out = {"id": entry["id"], "set": entry["set"], "class": entry["class"], "truth": truth, "first": first,
           "times": ana.cfg.frame_times(ana.n_frames), "hop": ana.cfg.frame_seconds, "scores": scores,
           "prob": prob.astype(np.float32)}
    if params is not None:
        fc = s.counts(ana.cfg)
        found = like_frames(sim, nov, elig, reference=ref, counts=fc, min_event=s.frames(p.min_event_ms, ana.cfg),
                            params=p, probability=prob, max_grow=longest_run(marked))
        frames = found | marked
        # as the library repairs -i none --like: the marked example with its own guard, at the
        # analysis's STFT and at each further window of span_windows_ms (session 37), averaged
        exclude = dilate(frames, fc.context)
        removed = repair(ana, frames, settings=s, exclude=exclude, marked=marked)
        if s.span_settings():
            dictionary = with_like(learned, c.dictionary)
            removed = repair_at_windows(x, sr, ana, frames, removed, windows=s.span_settings(), exclude=exclude,
                                        templates=lambda cfg: band_templates(dictionary, cfg, s.n_bands),
                                        marked=[Event(first[0], first[1], "like", 1.0)])
        cleaned = y - removed.T
        out["score"] = score(cleaned, m, y)
        out["found_spans"] = frames_to_spans(found, out["times"], out["hop"])
    out["seconds"] = time.perf_counter() - t0
    return out


def bounds(args):
    """NSDR of one test mixture when ``-i none`` repairs given spans: the first event's only
    (what ``like`` gives if it finds nothing) and every event's (if it found all, exactly)."""
    from threadpoolctl import threadpool_limits

    corpus, entry = args
    y, m, _, sr = build_mixture(corpus, entry)
    truth = true_spans(corpus, entry, sr)
    with threadpool_limits(1, user_api="blas"):
        c = Cleaner("none", **OVERRIDES)
        first = c.clean(y, sr, events=[truth[0]]).cleaned
        every = c.clean(y, sr, events=truth).cleaned
    return {"id": entry["id"], "first_only": score(first, m, y)["nsdr"], "all_spans": score(every, m, y)["nsdr"]}


# Grids the nested choice (--variants all) chooses among, each replacing some of GRID's lists
# (LIKE.md item 7: tries A, B and C, declared after their held-out detection had been seen).
_SIM = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
VARIANTS = {
    "s8": {},  # session 8's grid
    "fine": {"detector": (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95),
             "similarity": (0.3, 0.35, 0.4, 0.45) + GRID["similarity"],
             "min_event_ms": (40.0, 80.0, 120.0, 160.0, 240.0, 320.0, 480.0)},
    "peak": {"detector": (0.3, 0.5, 0.7, 0.8, 0.9), "detector_peak": (None, 0.8, 0.9, 0.95, 0.98),
             "similarity": _SIM, "min_event_ms": (40.0, 80.0, 120.0, 160.0, 240.0, 320.0, 480.0)},
    "slope": {"detector": (0.3, 0.5, 0.7, 0.8, 0.9), "detector_slope": (0.0, 0.5, 1.0, 2.0, 4.0),
              "similarity": _SIM, "min_event_ms": (40.0, 80.0, 120.0, 160.0, 240.0, 320.0, 480.0)},
}


def grid_points(grid: dict | None = None):
    """The points of ``grid`` (default :data:`GRID`), without combinations that test the same."""
    grid = GRID if grid is None else grid
    keys = list(grid)
    for vals in itertools.product(*(grid[k] for k in keys)):
        point = dict(zip(keys, vals))
        if point["detector"] is not None and point["novelty"] != grid["novelty"][0]:
            continue  # the detector replaces the novelty test: one novelty value is enough
        if point["detector"] is None and (point["detector_slope"] != grid["detector_slope"][0]
                                          or point["detector_peak"] != grid["detector_peak"][0]):
            continue  # both act only with the detector
        if point["detector_peak"] is not None and point["detector"] is not None \
                and point["detector_peak"] <= point["detector"]:
            continue  # a peak at or under the frame threshold tests nothing
        if point["grow_similarity"] is None and point["grow_detector"] != grid["grow_detector"][0]:
            continue  # no growing: its probability tests nothing
        if point["detector"] is None and point["grow_detector"] != grid["grow_detector"][0]:
            continue  # acts only with the detector
        if (point["detector"] is None or point["short_similarity"] is None) \
                and point["short_detector"] != grid["short_detector"][0]:
            continue  # acts only with the detector and short_similarity
        if point["detector"] is None and point["short_similarity"] != grid["short_similarity"][0]:
            continue  # acts only with the detector
        yield point


SETTINGS = Cleaner("none").settings


def row_detection(r, point) -> tuple[int, int, int]:
    """(other events, found, false) of one scored mixture with the thresholds ``point``."""
    s = SETTINGS
    cfg = s.stft_config(44100)  # the corpus's rate
    p = LikeParams(**point)
    sim, nov, elig, ref = r["scores"][p.prototype]
    marked = span_frames([r["first"]], cfg, len(r["times"]))
    found = like_frames(sim, nov, elig, reference=ref, counts=s.counts(cfg),
                        min_event=s.frames(p.min_event_ms, cfg), params=p, probability=r["prob"],
                        max_grow=longest_run(marked))
    return detection(frames_to_spans(found, r["times"], r["hop"]), r["truth"], r["first"])


def row_review(r, rule: dict) -> np.ndarray:
    """(other events, found by the events, found by the events and the candidates, candidates,
    minutes) of one scored mixture with the library's finder and the review ``rule``."""
    from cleantake.like import review_runs

    s = SETTINGS
    cfg = s.stft_config(44100)
    p = LikeParams(**rule)
    sim, nov, elig, ref = r["scores"][p.prototype]
    marked = span_frames([r["first"]], cfg, len(r["times"]))
    counts = s.counts(cfg)
    found = like_frames(sim, nov, elig, reference=ref, counts=counts, min_event=s.frames(p.min_event_ms, cfg),
                        params=p, probability=r["prob"], max_grow=longest_run(marked))
    runs = review_runs(sim, nov, elig, found | marked, reference=ref, counts=counts,
                       min_event=s.frames(p.review_min_event_ms, cfg), params=p, probability=r["prob"])
    cand = np.zeros_like(found)
    for a, b in runs:
        cand[a:b] = True
    o, h0, _ = detection(frames_to_spans(found, r["times"], r["hop"]), r["truth"], r["first"])
    _, h1, _ = detection(frames_to_spans(found | cand, r["times"], r["hop"]), r["truth"], r["first"])
    return np.array([o, h0, h1, len(runs), len(r["times"]) * r["hop"] / 60])


def review(by_id: dict, tune: dict, test: dict, budget: float) -> dict:
    """The candidates for review of ``like``: for every rule of :data:`REVIEW_GRID`, pooled over
    the tuning recordings, the other events the events found and the events and candidates
    reach, and candidates per minute; each fold's rule chosen on the other folds' tuning
    recordings (the most reached within ``budget`` candidates per minute) and judged on the
    fold's judged recordings; the pooled choice (the library's default)."""
    ids = {k: [e["id"] for e in tune[k]] for k in tune}
    table = {i: np.array([row_review(by_id[i], rule) for rule in REVIEW_GRID]) for k in ids for i in ids[k]}

    def best(rows):
        tot = np.sum([table[i] for i in rows], axis=0)
        ok = [j for j in range(len(REVIEW_GRID)) if tot[j, 3] / tot[j, 4] <= budget]
        return max(ok, key=lambda j: (tot[j, 2], -tot[j, 3])) if ok else None

    pooled = np.sum([table[i] for k in ids for i in ids[k]], axis=0)
    print(f"\ncandidates for review, pooled over the {sum(map(len, ids.values()))} tuning recordings "
          f"(other events found by the events alone: {100 * pooled[0, 1] / pooled[0, 0]:.1f} %)")
    print("| review_similarity | review_detector | found by the events and candidates | candidates per minute |")
    print("|---|---|---|---|")
    for rule, t in zip(REVIEW_GRID, pooled):
        print(f"| {rule['review_similarity']} | {rule['review_detector']} | {100 * t[2] / t[0]:.1f} % | "
              f"{t[3] / t[4]:.2f} |")
    print(f"\neach fold's rule chosen on the other folds (at most {budget:g} candidates per minute), judged on "
          "the fold's judged recordings:")
    print("| fold | rule | other events | found by the events | by the events and candidates | candidates per minute |")
    print("|---|---|---|---|---|---|")
    agg = np.zeros(5)
    out = {}
    for k in sorted(ids):
        j = best([i for q in ids if q != k for i in ids[q]])
        mine = np.sum([row_review(by_id[e["id"]], REVIEW_GRID[j]) for e in test[k]], axis=0)
        agg += mine
        out[k] = {"rule": REVIEW_GRID[j], "row": mine.tolist()}
        print(f"| {k} | {REVIEW_GRID[j]} | {mine[0]:.0f} | {100 * mine[1] / mine[0]:.1f} % | "
              f"{100 * mine[2] / mine[0]:.1f} % | {mine[3] / mine[4]:.2f} |")
    print(f"| all | | {agg[0]:.0f} | {100 * agg[1] / agg[0]:.1f} % | {100 * agg[2] / agg[0]:.1f} % | "
          f"{agg[3] / agg[4]:.2f} |")
    j = best([i for k in ids for i in ids[k]])
    print(f"all folds pooled (the library's default): {REVIEW_GRID[j]}: {100 * pooled[j, 2] / pooled[j, 0]:.1f} % "
          f"reached, {pooled[j, 3] / pooled[j, 4]:.2f} candidates per minute")
    out["all"] = REVIEW_GRID[j]
    return out


#: How far around an event (seconds) a block's removed part is not zero: ramps, the repair's
#: further windows and the inverse STFT (0.095-0.135 s at the joins of the default's run).
REMOVED_MARGIN_S = 0.12


def long_events(rec: dict, point: dict, joins: str = "emulated") -> list[Event] | None:
    """The events the library's block path would list with the thresholds ``point`` on one
    recording of ``like_long.py --record``: every block's finder decision replayed from what it
    decided on, as :func:`cleantake.like.locate_like` turns it into events (the block's marked
    spans listed, found events overlapping them dropped: :func:`cleantake.like.like_events`),
    shifted to file time (:func:`cleantake.streaming.shift_events`) and merged
    (:func:`cleantake.streaming.merge_events`) at each join. ``joins="recorded"``: where the
    recorded run joined (exact for the thresholds it ran with); ``"emulated"``: where
    :func:`cleantake.streaming.join_removed` would with these events, the time nearest the
    middle of the overlap at least :data:`REMOVED_MARGIN_S` from every event of both blocks.
    None where the point needs scores the recording lacks (another ``prototype`` or
    ``context_ms``)."""
    s = SETTINGS
    p = LikeParams(**point)
    per_block = []
    for b in rec["blocks"]:
        if p.prototype != b["prototype"] or p.context_ms != b["context_ms"]:
            return None
        cfg = s.stft_config(b["sr"])
        found = like_frames(b["similarity"], b["novelty"], b["eligible"], reference=b["reference"],
                            counts=s.counts(cfg), min_event=s.frames(p.min_event_ms, cfg), params=p,
                            probability=b["probability"],
                            max_grow=b["longest"] if b["longest"] is not None else longest_run(b["marked"]))
        marked = [Event(a, c, "like", 1.0) for a, c in b["spans"]]
        ev = like_events(found, b["similarity"], marked, frame_times=b["times"], hop_s=b["hop"],
                         duration_s=b["duration"])
        per_block.append(shift_events(ev, b["start"], rec["duration"]))
    events = per_block[0]
    for i in range(1, len(per_block)):
        if joins == "recorded":
            join = rec["joins"][i - 1]
        else:
            a, b = rec["blocks"][i - 1], rec["blocks"][i]
            lo, hi = b["start"], a["start"] + a["duration"]
            join = _free_time(lo, hi, lo + (hi - lo) / 2,
                              [(e.start_s - REMOVED_MARGIN_S, e.end_s + REMOVED_MARGIN_S)
                               for e in per_block[i - 1] + per_block[i]])
        events = merge_events(events, per_block[i], join_s=join)
    return events


def _free_time(lo: float, hi: float, mid: float, busy: list[tuple[float, float]]) -> float:
    """The time in ``[lo, hi)`` nearest ``mid`` inside none of ``busy`` (``mid`` if there is none)."""
    cands = [t for t in [mid] + [x for u, v in busy for x in (u, v)] if lo <= t < hi
             and not any(u < t < v for u, v in busy)]
    return min(cands, key=lambda t: abs(t - mid)) if cands else mid


def long_table(recs: dict, points: list[dict], pool=None) -> dict:
    """``{name: array (points, 3)}`` of (other events, found, false) of every grid point on every
    recording of ``like_long.py --record`` (rows of -1 where :func:`long_events` cannot replay)."""
    names = list(recs)
    work = [(recs[n], points) for n in names]
    done = pool.starmap(_long_rows, work, chunksize=1) if pool is not None else [_long_rows(*w) for w in work]
    return dict(zip(names, done))


def _long_rows(rec: dict, points: list[dict]) -> np.ndarray:
    from like_long import detection as long_detection

    out = np.full((len(points), 3), -1, dtype=np.int64)
    for j, pt in enumerate(points):
        ev = long_events(rec, pt)
        if ev is not None:
            out[j] = (len(rec["spans"]) - 1, *long_detection(ev, rec["spans"]))
    return out


def cached(source: str, what: str, key, compute):
    """``compute()``, kept in ``source + ".tables.pkl"`` under (``what``, ``key``, ``source``'s size
    and time): a table of many grid points on many recordings is computed once per cache file
    and grid, whichever half is judged (session 48: 500 of a run's 880 s)."""
    import hashlib

    st = Path(source).stat()
    digest = hashlib.sha256(json.dumps([what, key, st.st_size, st.st_mtime_ns], sort_keys=True,
                                       default=str).encode()).hexdigest()
    path = Path(source + ".tables.pkl")
    store = {}
    if path.is_file():
        with open(path, "rb") as fh:
            store = pickle.load(fh)
    if digest not in store:
        store[digest] = compute()
        atomic_write(path, pickle.dumps(store), what="table cache")
    return store[digest]


def detection_table(rows: dict, grids: dict | None = None, pool=None) -> tuple[list[dict], dict, dict]:
    """Every grid point's detection on every scored mixture.

    Parameters
    ----------
    rows : dict
        ``{id: scored mixture}`` (:func:`prepare` without parameters).
    grids : dict, optional
        ``{name: grid}``; default ``{"grid": GRID}``.
    pool : multiprocessing.Pool, optional
        Score the mixtures in its processes (the same table).

    Returns
    -------
    points : list of dict
        The union of the grids' points.
    table : dict
        ``{id: array (points, 3)}`` of (other events, found, false).
    members : dict
        ``{name: indices into points}`` of each grid's points.
    """
    grids = {"grid": GRID} if grids is None else grids
    points, index, members = [], {}, {}
    for name, grid in grids.items():
        idx = []
        for pt in grid_points(grid):
            key = tuple(sorted(pt.items(), key=lambda kv: kv[0]))
            if key not in index:
                index[key] = len(points)
                points.append(pt)
            idx.append(index[key])
        members[name] = np.array(idx)
    if pool is None:
        return points, {i: np.array([row_detection(r, pt) for pt in points]) for i, r in rows.items()}, members
    ids = list(rows)
    done = pool.starmap(_row_table, [(rows[i], points) for i in ids], chunksize=4)
    return points, dict(zip(ids, done)), members


def _row_table(row, points) -> np.ndarray:
    """Every point's (other events, found, false) on one scored mixture (a worker's job)."""
    return np.array([row_detection(row, pt) for pt in points])


def choose(points, table, ids, max_false: float, allowed=None) -> tuple[dict, dict]:
    """The grid point with the most other events found among those with at most ``max_false``
    false events per recording (or the fewest false events if none has), on mixtures ``ids``;
    only among ``points[allowed]`` if given (ties: fewer false events, then the earlier point)."""
    tot = sum(table[i] for i in ids)
    found = tot[:, 1] / np.maximum(tot[:, 0], 1)
    false = tot[:, 2] / max(len(ids), 1)
    allowed = np.arange(len(points)) if allowed is None else np.asarray(allowed)
    ok = allowed[false[allowed] <= max_false]
    j = int(ok[np.lexsort((ok, false[ok], -found[ok]))[0]]) if ok.size else int(allowed[np.argmin(false[allowed])])
    return points[j], {"found": float(found[j]), "false_per_rec": float(false[j]), "n": len(ids), "index": j}


def choose_nested(points, table, groups: dict, max_false: float, candidates: list) -> tuple[dict, dict]:
    """:func:`choose` on all of ``groups``' mixtures, with the grid and the tuning limit on
    false events chosen among ``candidates`` by leave-one-group-out inside ``groups``.

    A point chosen as the best of many shows fewer false events on the mixtures it was chosen
    on than on others (it was picked partly for its luck there), the more so the larger the
    grid. So each candidate (a grid and a limit) is tried inside ``groups``: for every group,
    the point is chosen on the other groups and judged on the group; among the candidates
    whose pooled inner held-out false events per recording are at most ``max_false`` the one
    finding the largest share of events decides (the fewest false events if none is). With a
    single candidate this is :func:`choose` with its limit.

    Parameters
    ----------
    points, table : :func:`detection_table`
    groups : dict
        ``{fold: [mixture id, ...]}``: the folds the choice may use.
    max_false : float
        False events per recording allowed on recordings the point was not chosen on.
    candidates : list of (str, np.ndarray, float)
        (name, indices into ``points``, limit on the tuning false events per recording).

    Returns
    -------
    point : dict
    ev : dict
        :func:`choose`'s, plus the ``candidate`` chosen (name and limit) and its inner
        held-out ``inner_found`` and ``inner_false_per_rec`` (None with one candidate).
    """
    inner = []
    if len(candidates) > 1:
        for c, (name, allowed, lim) in enumerate(candidates):
            o = h = f = n = 0
            for g, ids in groups.items():
                rest = [i for j, o_ids in groups.items() if j != g for i in o_ids]
                _, ev = choose(points, table, rest, lim, allowed)
                d = sum(table[i][ev["index"]] for i in ids)
                o, h, f, n = o + d[0], h + d[1], f + d[2], n + len(ids)
            inner.append((c, h / max(o, 1), f / max(n, 1)))
        ok = [t for t in inner if t[2] <= max_false]
        c, found, false = max(ok, key=lambda t: (t[1], -t[2], -t[0])) if ok else min(inner, key=lambda t: (t[2], t[0]))
    else:
        c, found, false = 0, None, None
    name, allowed, lim = candidates[c]
    point, ev = choose(points, table, [i for ids in groups.values() for i in ids], lim, allowed)
    return point, dict(ev, candidate=f"{name}@{lim:g}", inner_found=found, inner_false_per_rec=false)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--protocol", choices=("crossfit", "train"), default="crossfit",
                    help="where fold k's parameters are chosen: the other folds' test parts (each scored by "
                         "its own held-out detector) or fold k's train part (session 8, optimistic)")
    ap.add_argument("--tune-every", type=int, default=1, help="crossfit: every n-th tuning mixture")
    ap.add_argument("--tune-sets", default="stems_extra,stems:2",
                    help="crossfit: comma-separated sets of the test parts chosen on, each optionally with its "
                         "own step (set:n, e.g. stems_extra,stems:2; default --tune-every)")
    ap.add_argument("--train-every", type=int, default=16, help="train protocol: every n-th train mixture")
    ap.add_argument("--test-every", type=int, default=2)
    ap.add_argument("--judge-sets", default="stems_extra",
                    help="comma-separated sets of the test parts judged (default stems_extra, issue 16's; "
                         "stems: the core classes at 0 / -3 / -6 dB, e.g. with --bounds)")
    ap.add_argument("--test-offset", type=int, default=0,
                    help="judge every --test-every-th mixture from this one (1 with --test-every 2: the other "
                         "half, which fold k's choice has not seen either)")
    ap.add_argument("--max-false", type=float, default=0.1,
                    help="false events per recording allowed (on the tuning recordings; with more than one "
                         "candidate, on the inner held-out ones)")
    ap.add_argument("--variants", default=None,
                    help="comma-separated names of VARIANTS (or 'all') to choose among by nested "
                         "leave-one-fold-out inside each fold's tuning folds; default: GRID alone")
    ap.add_argument("--limits", default=None,
                    help="comma-separated limits on the tuning false events per recording to choose among "
                         "likewise (default: --max-false alone)")
    ap.add_argument("--long", default=None, metavar="PKL",
                    help="recordings of benchmarks/like_long.py --record (four-minute full mixes in blocks, as the "
                         "command line cleans them): fold k chooses only among points with at most "
                         "--max-long-false false events per minute on the other folds' recordings, and each "
                         "fold's choice is judged on its own (detection only)")
    ap.add_argument("--max-long-false", type=float, default=None, metavar="PER_MINUTE",
                    help="with --long: false events per minute allowed on the other folds' long recordings "
                         "(default: no limit, the long recordings only judged)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--grid", default=None,
                    help="JSON object replacing some of GRID's value lists, e.g. '{\"detector\": [0.6, 0.7]}'")
    ap.add_argument("--out", default=None,
                    help="JSON of the run; default benchmarks/results/like.json, or like_bounds.json with --bounds "
                         "(so that a bounds run never replaces a tuning run's rows)")
    ap.add_argument("--cache", default=None,
                    help="per-frame scores of the tuning mixtures (written; read back with --reuse); default "
                         "benchmarks/results/like_crossfit.pkl or like_train_v2.pkl by protocol")
    ap.add_argument("--reuse", action="store_true", help="read the tuning scores from --cache")
    ap.add_argument("--choose-only", action="store_true",
                    help="only choose (from --cache) and print the choices, their tuning detection and, if the "
                         "cache holds the judged mixtures, their held-out detection (no repair, no NSDR)")
    ap.add_argument("--no-detector", action="store_true",
                    help="leave the detector out of the grid (the finder of session 7: similarity and novelty)")
    ap.add_argument("--review", type=float, default=None, metavar="BUDGET",
                    help="only the candidates for review (from --cache): the rule chosen per fold within BUDGET "
                         "candidates per minute on the other folds, judged on the fold (detection only)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="overrides",
                    help="a cleantake.Settings field for every Cleaner of the run (repeatable), e.g. "
                         "nmf_guard_marked=0.5")
    ap.add_argument("--defaults", action="store_true",
                    help="no choice: judge every fold with the library's LikeParams (chosen on all folds' tuning "
                         "mixtures pooled, judged ones included: for paired comparisons of the repair, whose "
                         "events do not depend on it, not for a held-out figure)")
    ap.add_argument("--bounds", action="store_true",
                    help="only the NSDR of repairing the first span alone and all true spans (-i none, events=)")
    a = ap.parse_args()
    try:
        OVERRIDES.update(parse_assignments(a.overrides))
    except ParameterError as exc:
        ap.error(f"--set: {exc}")
    if a.grid:
        for key, vals in json.loads(a.grid).items():
            if key not in GRID:
                raise SystemExit(f"--grid: unknown key {key!r} (known: {', '.join(GRID)})")
            GRID[key] = tuple(vals)
    if a.no_detector:
        GRID["detector"] = (None,)
    if a.cache is None:
        a.cache = f"benchmarks/results/like_{'crossfit' if a.protocol == 'crossfit' else 'train_v2'}.pkl"
    t_start = time.time()
    tune, test = {}, {}
    for k in range(a.folds):
        te = [e for e in cv_recipes(a.corpus, k, part="test", sets=tuple(a.judge_sets.split(",")))
              if len(e["events"]) >= 2]
        test[k] = te[a.test_offset::a.test_every]
        if a.protocol == "crossfit":
            tune[k] = []
            for item in a.tune_sets.split(","):
                name, _, step = item.strip().partition(":")
                tu = [e for e in cv_recipes(a.corpus, k, part="test", sets=(name,)) if len(e["events"]) >= 2]
                tune[k] += tu[::int(step) if step else a.tune_every]
        else:
            tr = [e for e in cv_recipes(a.corpus, k, part="train", sets=("stems_extra", "stems"))
                  if len(e["events"]) >= 2]
            tune[k] = tr[::a.train_every]
    # fold k chooses on every other fold's tuning recordings (crossfit) or on its own train part
    choose_on = {k: [e["id"] for e in tune[k]] for k in range(a.folds)}
    where = "tuning mixtures of the other folds' test parts" if a.protocol == "crossfit" else "train mixtures"
    if a.out is None:
        a.out = "benchmarks/results/like_bounds.json" if a.bounds else "benchmarks/results/like.json"
    if a.bounds:
        with Pool(a.jobs) as pool:
            res = pool.map(bounds, [(a.corpus, e) for k in range(a.folds) for e in test[k]], chunksize=1)
        for r, e in zip(res, [e for k in range(a.folds) for e in test[k]]):
            r.update(fold=e["fold"], set=e["set"], level_db=e["level_db"], **{"class": e["class"]})
        print(f"{len(res)} test mixtures, -i none, events= given: first span only NSDR "
              f"{np.mean([r['first_only'] for r in res]):.2f} dB, all true spans "
              f"{np.mean([r['all_spans'] for r in res]):.2f} dB; took {time.time() - t_start:.0f} s")
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        with open(a.out, "w") as fh:  # per mixture, for paired comparisons
            json.dump({"args": vars(a), "bounds": res}, fh, indent=1)
        return 0
    if a.defaults:
        chosen = {k: {"params": dataclasses.asdict(LikeParams()), "tune": None} for k in range(a.folds)}
        jobs = [(a.corpus, e, LikeParams()) for k in range(a.folds) for e in test[k]]
        fold_of = [k for k in range(a.folds) for _ in test[k]]
        with Pool(a.jobs) as pool:
            results = pool.map(prepare, jobs, chunksize=1)
        return report(a, chosen, fold_of, results, t_start)
    with Pool(a.jobs) as pool:
        by_id = {}
        if a.reuse or a.choose_only or a.review is not None:
            with open(a.cache, "rb") as fh:
                by_id = pickle.load(fh)
        jobs = [(a.corpus, e, None) for k in range(a.folds) for e in tune[k] if e["id"] not in by_id]
        if a.review is not None:
            if a.protocol != "crossfit" or jobs or any(e["id"] not in by_id for k in test for e in test[k]):
                raise SystemExit(f"--review needs the crossfit protocol and {a.cache} with every tuning and judged "
                                 "mixture (run the default command first)")
            res = review(by_id, tune, test, a.review)
            with open(a.out, "w") as fh:
                json.dump({"args": vars(a), "review": res}, fh, indent=1, default=str)
            return 0
        if jobs and a.choose_only:
            raise SystemExit(f"{a.cache} lacks {len(jobs)} tuning mixtures (other --tune-every/--tune-sets?)")
        if jobs:  # score what the cache lacks (all without --reuse) and write it back
            by_id.update({r["id"]: r for r in pool.map(prepare, jobs, chunksize=1)})
            Path(a.cache).parent.mkdir(parents=True, exist_ok=True)
            with open(a.cache, "wb") as fh:
                pickle.dump(by_id, fh)
        print(f"scores of {len(by_id)} tuning mixtures after {time.time() - t_start:.0f} s", flush=True)
        chosen = {}
        all_tune = [e["id"] for k in range(a.folds) for e in tune[k]]
        names = [] if not a.variants else list(VARIANTS) if a.variants == "all" else a.variants.split(",")
        grids = {n: dict(GRID, **VARIANTS[n]) for n in names} or {"grid": GRID}
        limits = [float(x) for x in a.limits.split(",")] if a.limits else [a.max_false]
        points, table, members = cached(a.cache, "table", [grids, sorted(all_tune)], lambda: detection_table(
            {i: by_id[i] for i in all_tune}, grids, pool=pool))
        candidates = [(n, members[n], lim) for n in grids for lim in limits]
        print(f"{len(points)} grid points judged after {time.time() - t_start:.0f} s", flush=True)
        long_recs, long_tab = {}, {}
        if a.long:
            with open(a.long, "rb") as fh:
                long_recs = pickle.load(fh)["recordings"]
            long_tab = cached(a.long, f"long emulated {REMOVED_MARGIN_S}", points,
                              lambda: long_table(long_recs, points, pool=pool))
            print(f"{len(long_recs)} long recordings replayed after {time.time() - t_start:.0f} s", flush=True)

        def long_false_per_minute(names) -> np.ndarray:
            """Per point: false events per minute on the long recordings ``names`` (nan where a
            point cannot be replayed)."""
            tot = sum(long_tab[n] for n in names).astype(float)
            bad = (np.stack([long_tab[n][:, 0] for n in names]) < 0).any(axis=0)
            false = tot[:, 2] / (sum(long_recs[n]["duration"] for n in names) / 60.0)
            false[bad] = np.nan
            return false

        def long_limited(k):
            """The candidates, with each grid cut to the points within --max-long-false on the long
            recordings fold k may use (every fold's for the pooled default, k None)."""
            if not long_recs or a.max_long_false is None:
                return candidates
            names = [n for n, r in long_recs.items() if k is None or r["fold"] != k]
            false = long_false_per_minute(names)
            ok = np.flatnonzero(false <= a.max_long_false)
            out = [(n, np.intersect1d(idx, ok), lim) for n, idx, lim in candidates]
            if not all(idx.size for _, idx, _ in out):
                raise SystemExit(f"--max-long-false {a.max_long_false:g}: no point of the grid makes that few false "
                                 f"events per minute on the long recordings of fold {k}'s choice (fewest: "
                                 f"{np.nanmin(false):.2f})")
            return out

        def long_judged(k, point) -> str:
            """Fold k's own long recordings with ``point`` (held out from fold k's choice)."""
            names = [n for n, r in long_recs.items() if r["fold"] == k or k is None]
            d = np.sum([_long_rows(long_recs[n], [point])[0] for n in names], axis=0)
            if d[0] < 0:
                return "long: cannot replay"
            return (f"long ({len(names)} recordings): found {100 * d[1] / max(d[0], 1):.1f} % ({d[1]}/{d[0]}), "
                    f"false/rec {d[2] / len(names):.2f}")

        def groups_of(k):
            """What fold k (None: the pooled default) chooses on, by group for the nested choice."""
            if a.protocol == "crossfit":
                return {j: [e["id"] for e in tune[j]] for j in range(a.folds) if j != k}
            return {0: choose_on[k] if k is not None else list(by_id)}  # one group: no nesting

        for k in range(a.folds):
            point, ev = choose_nested(points, table, groups_of(k), a.max_false, long_limited(k))
            chosen[k] = {"params": point, "tune": ev}
            if long_recs:
                chosen[k]["long"] = long_judged(k, point)
                print(f"fold {k} held out, {chosen[k]['long']}", flush=True)
            print(f"fold {k}: chose {point} ({ev['candidate']}) on {ev['n']} {where}: found {ev['found']:.2f}, "
                  f"false/rec {ev['false_per_rec']:.2f}" + ("" if ev["inner_found"] is None else
                  f"; nested inner held out: found {ev['inner_found']:.2f}, false/rec "
                  f"{ev['inner_false_per_rec']:.2f}"), flush=True)
        point, ev = choose_nested(points, table, groups_of(None), a.max_false, long_limited(None))
        chosen["all"] = {"params": point, "tune": ev}
        if long_recs:
            held = [_long_rows(long_recs[n], [chosen[r["fold"]]["params"]])[0] for n, r in long_recs.items()]
            d = np.sum(held, axis=0)
            print(f"long recordings held out (each fold's choice on its own {len(held)}): found "
                  f"{100 * d[1] / max(d[0], 1):.1f} % ({d[1]}/{d[0]}), false/rec {d[2] / len(held):.2f}", flush=True)
            default = {key: getattr(LikeParams(), key) for key in GRID}
            print(f"the library's LikeParams on the same: {long_judged(None, default)}", flush=True)
        print(f"all folds pooled (the library's default): {point} ({ev['candidate']}) on {ev['n']} mixtures: found "
              f"{ev['found']:.2f}, false/rec {ev['false_per_rec']:.2f}" + ("" if ev["inner_found"] is None else
              f"; nested inner held out: found {ev['inner_found']:.2f}, false/rec {ev['inner_false_per_rec']:.2f}"),
              flush=True)
        if a.choose_only:
            # held-out detection without the repair: fold k's judged mixtures (if the cache holds
            # them) with fold k's choice
            judged = [(k, e["id"]) for k in range(a.folds) for e in test[k] if e["id"] in by_id]
            if len(judged) == sum(len(test[k]) for k in range(a.folds)):
                d = np.sum([row_detection(by_id[i], chosen[k]["params"]) for k, i in judged], axis=0)
                print(f"held out (detection only, {len(judged)} judged mixtures): found "
                      f"{100 * d[1] / max(d[0], 1):.1f} %, false/rec {d[2] / len(judged):.2f}")
            return 0
        # each fold judged with ITS OWN choice
        jobs = [(a.corpus, e, LikeParams(**chosen[k]["params"])) for k in range(a.folds) for e in test[k]]
        fold_of = [k for k in range(a.folds) for _ in test[k]]
        results = pool.map(prepare, jobs, chunksize=1)
    return report(a, chosen, fold_of, results, t_start)


def report(a, chosen: dict, fold_of: list[int], results: list[dict], t_start: float) -> int:
    """Print the judged mixtures' table and write ``a.out``."""
    rows = []
    for k, r in zip(fold_of, results):
        o, h, f = detection(r["found_spans"], r["truth"], r["first"])
        rows.append({"fold": k, "id": r["id"], "class": r["class"], "nsdr": r["score"]["nsdr"], "others": o,
                     "found": h, "false": f, "seconds": r["seconds"]})

    def line(name, rs):
        o = sum(r["others"] for r in rs)
        return (f"{name:<10}{len(rs):>5}{np.mean([r['nsdr'] for r in rs]):>9.2f}"
                f"{100 * sum(r['found'] for r in rs) / max(o, 1):>10.1f}{sum(r['false'] for r in rs) / len(rs):>10.2f}")

    head = f"{'':<10}{'n':>5}{'NSDR dB':>9}{'found %':>10}{'false/rec':>10}"
    lines = ["held-out test parts, stems_extra, >= 2 events, first event's span as like, -i none", head]
    for k in range(a.folds):
        lines.append(line(f"fold {k}", [r for r in rows if r["fold"] == k]))
    for c in sorted({r["class"] for r in rows}):
        lines.append(line(c, [r for r in rows if r["class"] == c]))
    lines.append(line("all", rows))
    fold_means = [np.mean([r["nsdr"] for r in rows if r["fold"] == k]) for k in range(a.folds)]
    lines.append(f"mean of fold means: NSDR {np.mean(fold_means):.2f} dB")
    print("\n".join(lines))
    took = time.time() - t_start
    print(f"took {took:.0f} s")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, "w") as fh:
        json.dump({"args": vars(a), "chosen": {str(k): v for k, v in chosen.items()}, "rows": rows,
                   "table": lines, "seconds": took, "grid": GRID}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
