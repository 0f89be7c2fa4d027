"""The repair of given spans on stereo mixtures: one mask for every channel against the
multichannel Wiener estimate (``Settings.stereo_model`` "mask" / "spatial").

For every ``--every``-th recipe of the ``mixes`` set of each fold's ``--part`` (``train`` to
choose, ``test`` to judge; `cleantake.corpus.cv_recipes`), the mixture is cleaned with its true
spans given (``Cleaner(fold dictionary, stereo_model=...).clean(mixture, sr, events=spans)``,
the fold's dictionary learned from the other folds' interference, as ``benchmarks/cv.py``) and
scored with BSS Eval NSDR (`cleantake.scores.score_many`). With ``--delays-ms`` the events reach
the second channel that much later (as a spaced microphone pair hears them; the corpus pans by
level only), one run per delay. Prints the mean over folds per level and the per-mixture
differences; writes the rows as JSON.

    PYTHONPATH=src python benchmarks/stereo_repair.py --part train --every 16 \\
        --out benchmarks/results/stereo_repair_train.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import cv  # noqa: E402
from cleantake import Cleaner  # noqa: E402
from cleantake import corpus as C  # noqa: E402
from cleantake.scores import score_many  # noqa: E402

MODELS = ("mask", "spatial")


def _work(job: tuple) -> dict:
    corpus, entry, dictionary, delay_ms = job
    cv._one_blas_thread()
    mixture, music, interference, sr = C.build_mixture(corpus, entry)
    shift = int(round(delay_ms * sr / 1000))
    if shift:
        interference[shift:, 1] = interference[:-shift, 1].copy()
        interference[:shift, 1] = 0.0
        mixture = music + interference
    spans = C.event_spans(corpus, entry)
    outs = [Cleaner(dictionary, stereo_model=m).clean(mixture, sr, events=spans).cleaned for m in MODELS]
    scores = score_many([np.asarray(o).reshape(mixture.shape) for o in outs], music, mixture)
    return {"id": entry["id"], "fold": entry["fold"], "class": entry["class"], "level_db": entry["level_db"],
            "delay_ms": delay_ms, "nsdr": {m: s["nsdr"] for m, s in zip(MODELS, scores)}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--part", choices=("train", "test"), default="train")
    ap.add_argument("--every", type=int, default=16)
    ap.add_argument("--delays-ms", type=float, nargs="+", default=[0.0],
                    help="delay of the events in the second channel, ms (one run each; default 0)")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "stereo_repair.json")
    args = ap.parse_args(argv)
    jobs = []
    for k in range(cv.N_FOLDS):
        d, _ = cv.fold_dictionary(args.corpus, k)
        recipes = C.cv_recipes(args.corpus, k, part=args.part, sets=("mixes",), seed=0)
        jobs += [(args.corpus, e, str(d), ms) for ms in args.delays_ms
                 for e in cv.subsample([e for e in recipes if e["set"] == "mixes"], args.every)]
    print(f"{len(jobs)} runs ({args.part} part, every {args.every}, delays {args.delays_ms} ms), models {MODELS}",
          flush=True)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as ex:
        every_row = list(ex.map(_work, jobs))
    for ms in args.delays_ms:
        if len(args.delays_ms) > 1:
            print(f"\n== events {ms:g} ms later in the second channel")
        _report([r for r in every_row if r["delay_ms"] == ms], time.perf_counter() - t0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"part": args.part, "every": args.every, "rows": every_row}, indent=1))
    print(f"wrote {args.out}")
    return 0


def _report(rows: list[dict], seconds: float) -> None:
    levels = sorted({r["level_db"] for r in rows}, reverse=True)
    print(f"\nNSDR (dB), mean over folds of the per-fold means ({seconds:.0f} s in all)")
    print("| stereo_model | " + " | ".join(f"{lv:+g} dB" for lv in levels) + " |")
    print("|---|" + "---|" * len(levels))
    for m in MODELS:
        cells = []
        for lv in levels:
            folds = [np.mean([r["nsdr"][m] for r in rows if r["fold"] == k and r["level_db"] == lv])
                     for k in range(cv.N_FOLDS) if any(r["fold"] == k and r["level_db"] == lv for r in rows)]
            cells.append(f"{np.mean(folds):.2f}")
        print(f"| {m} | " + " | ".join(cells) + " |")
    for lv in levels:
        d = np.array([r["nsdr"]["spatial"] - r["nsdr"]["mask"] for r in rows if r["level_db"] == lv])
        print(f"{lv:+g} dB: spatial - mask per mixture: median {np.median(d):+.2f}, better on {(d > 0).sum()} of "
              f"{d.size}, worst {d.min():+.2f}, best {d.max():+.2f}")
    for k in range(cv.N_FOLDS):
        d = [r["nsdr"]["spatial"] - r["nsdr"]["mask"] for r in rows if r["fold"] == k]
        if d:
            print(f"fold {k}: spatial - mask {np.mean(d):+.2f} dB ({len(d)} mixtures)")


if __name__ == "__main__":
    raise SystemExit(main())
