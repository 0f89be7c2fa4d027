"""Where the location loses true interference events (diagnostic of the proposed method).

For every selected ``stems`` mixture of the corpus the proposed method is run with the
default settings and the ``any`` dictionary, and every true event (span from the recipe) is
followed through the stages of :func:`cleantake.locate.locate_events` (``Location.trace``). An event is *lost at*
the first stage that leaves none of its frames:

``share``      the interference share of the joint NMF fit passes ``threshold`` (and the level floor);
``necessity``  the necessity gain passes the recording's threshold, or the necessity contrast;
``edge``       the frame is not within ``edge_ms`` of either end;
``novelty``    interference share x KAM novelty passes ``novelty``;
``length``     the run (gaps bridged) is at least ``min_event_ms`` long;
``confirm``    KAM removes at least ``confirm`` of the (padded) event's energy, or at least
               ``confirm_quiet`` of it (such quiet events then need ``quiet_evidence``);
``evidence``   what KAM would remove is explained ``evidence`` (``quiet_evidence``) times better
               by the interference templates than by the music templates
               (``locate.evidence_ratio``).

Events that survive every stage are ``found``. The table counts events per class and level;
``--out`` writes one row per event.

Example (the table in BENCHMARKS.md)::

    PYTHONPATH=src python benchmarks/misses.py --every 4 --out benchmarks/results/misses_s4.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import cleantake  # noqa: E402
from cleantake.evaluate import build_mixture, load_mixtures  # noqa: E402
from cleantake.locate import locate_events  # noqa: E402
from sweep import analyse, one_blas_thread, spans  # noqa: E402

STAGES = ("share", "necessity", "edge", "novelty", "length", "confirm", "evidence")


def _trace(job: tuple[str, dict]) -> list[dict]:
    corpus, entry = job
    y, _, _, sr = build_mixture(corpus, entry)
    x = y.T
    cl = cleantake.Cleaner("any", locator="stack")  # the stages traced are the stack's
    ana = analyse(cl, x, sr)
    trace = locate_events(ana, settings=cl.settings, dictionary=cl.dictionary).trace
    t = ana.cfg.frame_times(ana.n_frames)
    rows = []
    for a, b in spans(corpus, entry, sr):
        span = (t >= a) & (t <= b)
        lost = next((st for st in STAGES if not (st in trace and (trace[st] & span).any())), "found")
        rows.append({"id": entry["id"], "class": entry["class"], "level_db": entry["level_db"],
                     "duration_s": b - a, "lost_at": lost})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--every", type=int, default=4, help="take every n-th stems mixture")
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "misses.json"))
    args = ap.parse_args(argv)
    if args.every < 1 or args.offset < 0:
        ap.error(f"--every must be >= 1 and --offset >= 0, got {args.every} and {args.offset}")
    entries = [e for e in load_mixtures(args.corpus) if e["set"] == "stems"][args.offset :: args.every]
    with ProcessPoolExecutor(args.jobs, initializer=one_blas_thread) as ex:
        rows = [r for rr in ex.map(_trace, [(args.corpus, e) for e in entries], chunksize=4) for r in rr]
    cols = STAGES + ("found",)
    print(f"{'class':8s} {'level':>5s} " + " ".join(f"{c:>9s}" for c in cols) + "   events")
    groups = sorted({(r["class"], r["level_db"]) for r in rows}, key=lambda g: (g[0], -g[1]))
    for key in groups + [("all", None)]:
        sel = [r for r in rows if key[0] == "all" or (r["class"], r["level_db"]) == key]
        cnt = Counter(r["lost_at"] for r in sel)
        lev = "" if key[1] is None else f"{key[1]:d}"
        print(f"{key[0]:8s} {lev:>5s} " + " ".join(f"{cnt.get(c, 0):9d}" for c in cols) + f"   {len(sel):6d}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump({"every": args.every, "offset": args.offset, "stages": list(cols), "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
