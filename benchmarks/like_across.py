"""One example marked in one recording, looked for in ANOTHER recording (a concert in several
files, a session of takes): ``Cleaner.learn_like`` on recording A, ``clean(..., like_model=)``
on recording B, against the same finder with B's own first event marked (issue 16's ``--given
first``), held out.

Recordings (deterministic, :func:`cleantake.corpus.cv_recipes`): the test parts of the five
grouped folds, set ``--sets`` (default ``stems_extra``: clap, footsteps, phone, laugh, speech,
which no dictionary holds), every recording with at least two events, as ``benchmarks/like.py``
judges. For each such recording B, its donor A is the next recording of the same fold and class
on other music (the recipes in order, cyclically): its first event's true span is what is
marked. Both paths use ``interference="none"``, the finder's defaults (``LikeParams()``) and
fold k's detector (``--detector-dir``, trained without fold k; its analysis the bundled ``any``
dictionary as in the library, whose core-class templates were learned from corpus files of
every fold, as in ``benchmarks/like_long.py``). Nothing is chosen here. The finder's
parameters are the library's ``LikeParams()`` (chosen by ``benchmarks/like.py`` on all folds'
``stems_extra`` and ``stems`` recordings pooled, these among them), or with ``--fold-params
PATH`` (a ``benchmarks/like.py`` output) fold k's own choice, made on the other folds only:
then nothing that judges a fold took part in any choice for it.

Scored per recording B:

``within``
    B's first event marked (``clean(like=[first])``): the other events found (>= 30 % of the
    span covered), events overlapping no true span (false), NSDR.
``across``
    A's model (``learn_like`` on A's first event), nothing marked in B: B's other events found
    (the same events as ``within`` counts), all of B's events found, false events, NSDR.

And on every clean recording of the fold (``--clean``): events made by a donor's model (each
clean recording takes the stems_extra recordings' models in turn), all false, per minute.

``--with-own``: a third path, ``both``: B's own first event marked (``like=``) and looked for
together with the donors' examples (``like_model=`` the merge of B's and theirs).

``--donors N``: examples from the next N recordings of the class (each on other music), each
learned in its own recording and looked for together (:func:`cleantake.like.merge_like_models`,
as ``clean --like-model A --like-model B``); the first donor is the one of ``--donors 1``, so
two runs compare recording by recording.

    PYTHONPATH=src python benchmarks/like_across.py /path/to/corpus -j 2 --json benchmarks/results/like_across.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DETECTOR_DIR = ROOT / "benchmarks" / "results" / "detector_folds"
COVER = 0.3


def found_count(spans, events) -> int:
    """How many of ``spans`` are covered >= COVER by ``events`` ((start, end) pairs)."""
    n = 0
    for a, b in spans:
        cov = sum(max(0.0, min(b, d) - max(a, c)) for c, d in events)
        n += cov >= COVER * (b - a)
    return n


def false_count(truth, events) -> int:
    return sum(1 for c, d in events if not any(c < b and a < d for a, b in truth))


def pairs(corpus: str, fold: int, sets: tuple[str, ...], donors: int = 1) -> list[tuple[dict, list[dict]]]:
    """(B, its donors) for every recording B of the fold's test part with >= 2 events that has
    ``donors`` of them: the next recordings of the same class (cyclically), each on music
    other than B's and than the donors' before it (the first is the same for any ``donors``)."""
    from cleantake.corpus import cv_recipes

    recs = [e for e in cv_recipes(corpus, fold, part="test", sets=sets) if len(e["events"]) >= 2]
    out = []
    for i, b in enumerate(recs):
        chosen: list[dict] = []
        for j in range(1, len(recs)):
            a = recs[(i + j) % len(recs)]
            if a["class"] == b["class"] and a["music"] not in {b["music"]} | {c["music"] for c in chosen}:
                chosen.append(a)
                if len(chosen) == donors:
                    out.append((b, chosen))
                    break
    return out


def _setup(job):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        return _run(*job)


def _run(corpus: str, b: dict, donors: list[dict], detector: str, params: dict | None = None,
         with_own: bool = False) -> dict:
    import cleantake
    from cleantake.corpus import build_mixture, event_spans
    from cleantake.like import merge_like_models
    from cleantake.scores import score

    t0 = time.perf_counter()
    like_params = None
    if params is not None:  # a field withdrawn since the choice was made (None: as if absent) is left out
        known = {f.name for f in dataclasses.fields(cleantake.LikeParams)}
        unknown = {k: v for k, v in params.items() if k not in known}
        if any(v is not None for v in unknown.values()):
            raise ValueError(f"fold params set fields LikeParams no longer has: {unknown}")
        like_params = cleantake.LikeParams(**{k: v for k, v in params.items() if k in known})
    c = cleantake.Cleaner("none", detector=detector, like_params=like_params)
    models = []
    for a in donors:  # each donor's first event, learned in its own recording
        ya, _, _, sr_a = build_mixture(corpus, a)
        first_a = sorted(event_spans(corpus, a))[0]
        models.append(c.learn_like(ya[:, 0] if ya.shape[1] == 1 else ya, sr_a, like=[first_a]))
    model = merge_like_models(models)
    y, m, _, sr = build_mixture(corpus, b)
    audio = y[:, 0] if y.shape[1] == 1 else y
    row = {"id": b["id"], "donor": "+".join(a["id"] for a in donors), "fold": b["fold"], "set": b["set"],
           "class": b["class"]}
    if b["set"] == "clean":
        res = c.clean(audio, sr, like_model=model)
        ev = [(e.start_s, e.end_s) for e in res.events]
        row.update(minutes=y.shape[0] / sr / 60, across_events=len(ev),
                   identical=bool(np.array_equal(res.cleaned.reshape(y.shape), y)))
        row["seconds"] = time.perf_counter() - t0
        return row
    truth = sorted(event_spans(corpus, b))
    first, others = truth[0], truth[1:]
    within = c.clean(audio, sr, like=[first])
    across = c.clean(audio, sr, like_model=model)
    arms = [("within", within), ("across", across)]
    if with_own:  # B's own first event marked too, learned in B and looked for with the donors'
        own = c.learn_like(audio, sr, like=[first])
        arms.append(("both", c.clean(audio, sr, like=[first], like_model=merge_like_models([own, *models]))))
    for name, res in arms:
        ev = [(e.start_s, e.end_s) for e in res.events]  # (within: the marked span is one of them)
        row[f"{name}_others_found"] = found_count(others, ev)
        row[f"{name}_false"] = false_count(truth, ev)
        row[f"{name}_nsdr"] = score(res.cleaned.reshape(y.shape), m, y)["nsdr"]
    row["across_all_found"] = found_count(truth, [(e.start_s, e.end_s) for e in across.events])
    row["n_true"] = len(truth)
    row["seconds"] = time.perf_counter() - t0
    return row


def summarise(rows: list[dict]) -> dict:
    ev = [r for r in rows if r["set"] != "clean" and "error" not in r]
    cl = [r for r in rows if r["set"] == "clean" and "error" not in r]
    out: dict = {"recordings": len(ev), "errors": sum("error" in r for r in rows)}
    if ev:
        others = sum(r["n_true"] - 1 for r in ev)
        allev = sum(r["n_true"] for r in ev)
        for name in ("within", "across", "both"):
            if f"{name}_nsdr" not in ev[0]:
                continue
            out[name] = {"others_found_pct": 100.0 * sum(r[f"{name}_others_found"] for r in ev) / others,
                         "false_per_rec": float(np.mean([r[f"{name}_false"] for r in ev])),
                         "nsdr": float(np.mean([r[f"{name}_nsdr"] for r in ev]))}
        out["across"]["all_found_pct"] = 100.0 * sum(r["across_all_found"] for r in ev) / allev
        d = np.array([r["across_nsdr"] - r["within_nsdr"] for r in ev])
        out["paired_nsdr"] = {"mean": float(d.mean()), "se": float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1
                              else None, "better": int((d > 0.05).sum()), "worse": int((d < -0.05).sum())}
        out["by_class"] = {}
        for cls in sorted({r["class"] for r in ev}):
            rc = [r for r in ev if r["class"] == cls]
            o = sum(r["n_true"] - 1 for r in rc)
            out["by_class"][cls] = {
                "recordings": len(rc),
                "within_found_pct": 100.0 * sum(r["within_others_found"] for r in rc) / o,
                "across_found_pct": 100.0 * sum(r["across_others_found"] for r in rc) / o,
                "within_nsdr": float(np.mean([r["within_nsdr"] for r in rc])),
                "across_nsdr": float(np.mean([r["across_nsdr"] for r in rc])),
                "within_false": int(sum(r["within_false"] for r in rc)),
                "across_false": int(sum(r["across_false"] for r in rc))}
    if cl:
        minutes = sum(r["minutes"] for r in cl)
        out["clean"] = {"recordings": len(cl), "with_events": sum(r["across_events"] > 0 for r in cl),
                        "events_per_minute": sum(r["across_events"] for r in cl) / minutes,
                        "identical": sum(r["identical"] for r in cl)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--sets", default="stems_extra", help="comma-separated cv sets of the recordings B")
    ap.add_argument("--clean", action="store_true", help="also every clean recording with a donor's model")
    ap.add_argument("--folds", default="0,1,2,3,4")
    ap.add_argument("--every", type=int, default=1, help="every N-th recording B of each fold")
    ap.add_argument("--with-own", action="store_true",
                    help="also B's own first event marked, looked for together with the donors' examples")
    ap.add_argument("--donors", type=int, default=1,
                    help="examples from this many other recordings, looked for together (merge_like_models)")
    ap.add_argument("--detector-dir", type=Path, default=DETECTOR_DIR, metavar="DIR")
    ap.add_argument("--fold-params", type=Path, default=None, metavar="PATH",
                    help="a benchmarks/like.py output: fold k's finder is its chosen[k] params (made on the "
                         "other folds) instead of the library's LikeParams()")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "like_across.json")
    args = ap.parse_args()
    from cleantake.atomic import atomic_write
    from cleantake.corpus import cv_recipes

    sets = tuple(s for s in args.sets.split(",") if s)
    chosen = json.loads(args.fold_params.read_text())["chosen"] if args.fold_params else None
    jobs = []
    for k in (int(f) for f in args.folds.split(",")):
        det = args.detector_dir / f"fold{k}.npz"
        if not det.is_file():
            raise SystemExit(f"{det} is missing: make the fold detectors with scripts/train_detector.py")
        params = None if chosen is None else chosen[str(k)]["params"]
        fold_pairs = pairs(args.corpus, k, sets, args.donors)[::args.every]
        jobs += [(args.corpus, b, donors, str(det), params, args.with_own) for b, donors in fold_pairs]
        if args.clean and fold_pairs:
            clean = cv_recipes(args.corpus, k, part="test", sets=("clean",))
            jobs += [(args.corpus, c, [fold_pairs[(i + j) % len(fold_pairs)][0] for j in range(args.donors)],
                      str(det), params) for i, c in enumerate(clean)]
    t0 = time.perf_counter()
    rows = []
    with Pool(args.jobs) as pool:
        for i, row in enumerate(pool.imap(_setup_safe, jobs), 1):
            rows.append(row)
            print(f"[{i}/{len(jobs)}] {row['id']} <- {row['donor']}: "
                  + ("error " + row["error"] if "error" in row else
                     f"across events {row['across_events']}" if row["set"] == "clean" else
                     f"within {row['within_others_found']} found {row['within_false']} false "
                     f"{row['within_nsdr']:.2f} dB; across {row['across_others_found']} found "
                     f"{row['across_false']} false {row['across_nsdr']:.2f} dB"), file=sys.stderr, flush=True)
    summary = summarise(rows)
    summary["seconds"] = time.perf_counter() - t0
    out = {"argv": sys.argv[1:], "detector_dir": str(args.detector_dir), "fold_params": chosen, "summary": summary,
           "rows": rows}
    atomic_write(args.json, json.dumps(out, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


def _setup_safe(job):
    try:
        return _setup(job)
    except Exception as exc:  # one recording failing must not end the run
        return {"id": job[1]["id"], "donor": "+".join(a["id"] for a in job[2]), "set": job[1]["set"],
                "class": job[1]["class"],
                "error": f"{type(exc).__name__}: {exc}"}


if __name__ == "__main__":
    sys.exit(main())
