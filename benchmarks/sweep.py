"""Parameter sweep of the proposed method on the dev corpus (how the defaults were chosen).

For every selected mixture the STFT and the NMF stage are computed once per music rank; the
location and KAM stage is then re-run for every combination of the other parameters, so a
grid costs little more than one run. Scores are plain signal-to-distortion ratios
``10 log10(Σ m² / Σ (m - estimate)²)`` (no BSS Eval projection, for speed; the final tables
in BENCHMARKS.md use BSS Eval through ``cleantake evaluate``): NSDR per level for the
``stems`` set, and for the ``clean`` set the SDR of the output against the input and the
share of clips with a (false) event.

``--oracle`` replaces the location by the true event spans (from the recipe), to measure the
ceiling of the KAM and mask stage alone; it also prints the NSDR as located and with the true
spans of only the events the location found (>= 10 % of the span covered), which splits the gap
to the ceiling into missed events and the rest (located spans, false events).

The default locator is the learned detector (session 8): the threshold stack's parameters
(``necessity``, ``threshold``, ``evidence``, ...) act only with ``"locator": ["stack"]`` in the
grid.

Example (the sweeps recorded in BENCHMARKS.md, made when the stack was the default)::

    PYTHONPATH=src python benchmarks/sweep.py --grid '{"necessity":[1.0,1.5,2.2],"threshold":[0.2,0.3]}' \\
        --ranks 80 120 --every 2 --out benchmarks/results/sweep.json
    PYTHONPATH=src python benchmarks/sweep.py --subset full --every 4 --offset 2 \\
        --grid '{"k":[4,6],"max_gap_ms":[150,250]}' --out benchmarks/results/sweep_full_off2.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import cleantake  # noqa: E402
from cleantake.analysis import Analysis  # noqa: E402
from cleantake.evaluate import build_mixture, load_mixtures  # noqa: E402
from cleantake.locate import dilate, locate_events  # noqa: E402
from cleantake.repair import repair  # noqa: E402


def _sdr(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / max(np.sum((ref - est) ** 2), 1e-20)))


def spans(corpus: str, entry: dict, sr: int) -> list[tuple[float, float]]:
    """True event spans of a mixture recipe, in seconds."""
    return [(ev["onset_s"], ev["onset_s"] + sf.info(str(Path(corpus) / ev["path"])).frames / sr)
            for ev in entry["events"]]


def analyse(cl: cleantake.Cleaner, x: np.ndarray, sr: int) -> Analysis:
    """Analysis stage of the proposed method (what the grid points share); ``x`` is
    ``(channels, samples)``."""
    return cl.analyse(x, sr)


def removed_by(cl: cleantake.Cleaner, ana: Analysis) -> tuple[np.ndarray, list]:
    """Location and repair with ``cl``'s settings on ``ana``: the removed signal
    ``(channels, samples)`` and the events."""
    loc = locate_events(ana, settings=cl.settings, dictionary=cl.dictionary)
    if not loc.frames.any():
        return np.zeros((ana.X.shape[0], ana.n_samples)), loc.events
    return repair(ana, loc.frames, settings=cl.settings, exclude=loc.exclude, music=loc.music), loc.events


def _with_spans(cl, given, ana):
    """Removed signal when the location is replaced by the given spans (seconds): every frame
    whose centre is inside one, padded by ``pad_ms`` like a located event, is repaired
    (:func:`cleantake.repair.repair`). (Before the stages were public this ran the location
    with every test off on the spans, which also let the hysteresis grow them.)"""
    t = ana.cfg.frame_times(ana.n_frames)
    act = np.zeros(ana.n_frames, bool)
    for a, b in given:
        act |= (t >= a) & (t <= b)
    return repair(ana, dilate(act, cl.settings.counts(ana.cfg).pad), settings=cl.settings)


def one_blas_thread() -> None:
    """Worker initializer: one BLAS thread per worker process.

    The method's matrices are small; with every worker also running BLAS threads on every
    core, a sweep on this 2-core machine ran about 15x slower (12 min instead of under a
    minute for every 4th stems mixture + clean, measured session 4).
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def _work(job):
    corpus, entry, ranks, combos, oracle = job
    y, m, _, sr = build_mixture(corpus, entry)
    x = y.T
    true = spans(corpus, entry, sr)
    out = []
    for rank in ranks:
        cl = cleantake.Cleaner("any", music_rank=rank)
        ana = analyse(cl, x, sr)
        for c in combos:
            c_cl = cl.with_settings(**c)
            rem, events = removed_by(c_cl, ana)
            est = (x - rem).T
            val = min(_sdr(m, est), 100.0) if entry["set"] == "clean" else _sdr(m, est) - _sdr(m, y)
            row = {"rank": rank, "params": c, "value": val, "events": len(events)}
            if oracle and entry["set"] != "clean":
                # Located: as above. Oracle: the true spans of every event. Found: the true spans
                # of only the events the location found (>= 10 % of the span covered).
                def ov(a, b):
                    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))

                found = [s for s in true if sum(ov(s, (e.start_s, e.end_s)) for e in events) >= 0.1 * (s[1] - s[0])]
                row["located"] = val
                row["found"] = len(found) / max(len(true), 1)
                for key, sp in (("value", true), ("found_oracle", found)):
                    r = _with_spans(c_cl, sp, ana)
                    row[key] = _sdr(m, (x - r).T) - _sdr(m, y)
            out.append(row)
    return {"id": entry["id"], "set": entry["set"], "level_db": entry["level_db"], "results": out}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--grid", default="{}", help="JSON object: setting -> list of values")
    ap.add_argument("--ranks", type=int, nargs="+", default=[80])
    ap.add_argument("--every", type=int, default=2, help="take every n-th selected mixture")
    ap.add_argument("--offset", type=int, default=0, help="start at this selected mixture")
    ap.add_argument("--subset", choices=["quick", "full"], default="quick",
                    help="stems mixtures of the quick subset, or all of them (both with all clean clips)")
    ap.add_argument("--oracle", action="store_true")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sweep.json"))
    args = ap.parse_args(argv)
    if args.every < 1 or args.offset < 0:
        ap.error(f"--every must be >= 1 and --offset >= 0, got {args.every} and {args.offset}")
    grid = json.loads(args.grid)
    combos = [dict(zip(grid, v)) for v in itertools.product(*grid.values())] or [{}]
    every = load_mixtures(args.corpus)
    stems = [e for e in every if e["set"] == "stems" and (args.subset == "full" or e["subset"] == "quick")]
    clean = [e for e in every if e["set"] == "clean" and not args.oracle]
    if args.subset == "quick":  # (as in session 1: one selection over both sets)
        entries = (stems + clean)[args.offset :: args.every]
    else:  # every n-th stems mixture (n coprime with the 15 per stem covers every class and level) + all clean
        entries = stems[args.offset :: args.every] + clean
    jobs = [(args.corpus, e, args.ranks, combos, args.oracle) for e in entries]
    with ProcessPoolExecutor(args.jobs, initializer=one_blas_thread) as ex:
        rows = list(ex.map(_work, jobs))
    agg: dict = defaultdict(lambda: defaultdict(list))
    for r in rows:
        for res in r["results"]:
            key = (res["rank"], json.dumps(res["params"], sort_keys=True))
            if r["set"] == "clean":
                agg[key]["clean_sdr"].append(res["value"])
                agg[key]["clean_fp"].append(res["events"] > 0)
            else:
                agg[key][f"nsdr_{r['level_db']}"].append(res["value"])
                for extra in ("located", "found_oracle", "found"):
                    if extra in res:
                        agg[key][f"{extra}_{r['level_db']}"].append(res[extra])
    print(f"{'rank':>4} {'params':60s} {'NSDR 0':>7} {'-3':>7} {'-6':>7} {'clean SDR':>9} {'clean FP %':>10}")
    summary = []
    for (rank, params), d in agg.items():
        row = {"rank": rank, "params": json.loads(params)}
        row.update({k: float(np.mean(v)) for k, v in d.items()})
        row["n"] = {k: len(v) for k, v in d.items()}
        summary.append(row)

        def g(k):
            return f"{row[k]:7.2f}" if k in row else "      -"

        fp = f"{100 * row['clean_fp']:10.0f}" if "clean_fp" in row else "         -"
        cs = f"{row['clean_sdr']:9.1f}" if "clean_sdr" in row else "        -"
        print(f"{rank:4d} {params:60s} {g('nsdr_0')} {g('nsdr_-3')} {g('nsdr_-6')} {cs} {fp}")
        if args.oracle:
            for extra, what in (("located", "as located"), ("found_oracle", "true spans of found events"),
                                ("found", "share of events found")):
                print(f"{'':4s} {'  ' + what:60s} {g(extra + '_0')} {g(extra + '_-3')} {g(extra + '_-6')}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump({"grid": grid, "ranks": args.ranks, "every": args.every, "oracle": args.oracle,
                   "summary": summary, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
