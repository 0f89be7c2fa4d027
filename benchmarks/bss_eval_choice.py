"""Which BSS Eval library should ``cleantake evaluate`` use? Speed and agreement on real mixtures.

For a few quick-subset mixtures of the corpus (mono stems and stereo mixes) and three estimates of
the music of different quality (the mixture itself, half the interference removed, and a
low-passed music plus a third of the interference, which has artifacts), this computes the
whole-clip SDR/SIR/SAR of the music estimate with references ``[music, mixture - music]`` by:

* ``fast_bss_eval``  - fast_bss_eval 0.1.4 pairwise path, per channel, dB averaged (what
  cleantake.evaluate uses; its non-pairwise path fails in np.linalg.solve under numpy 2);
* ``mir_eval``       - mir_eval.separation.bss_eval_sources, per channel, no permutation;
* ``museval_src``    - museval.metrics.bss_eval(window=inf, bsseval_sources_version=True), per
  channel (museval's package import needs ffmpeg through musdb/stempeg, so its metrics module is
  loaded from its file);
* ``museval_v4img``  - museval.metrics.bss_eval(window=inf) v4 *images* on the whole stereo
  image (stereo only): how far the per-channel choice is from treating channels as an image.

It prints one table (seconds per estimate and the largest |difference| from fast_bss_eval) and
writes the raw numbers to benchmarks/results/bss_eval_choice.json.

Run: ``cd /work/main && PYTHONPATH=src python benchmarks/bss_eval_choice.py [--corpus DIR] [--n 3]``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfiltfilt

from cleantake import evaluate as ev

HERE = Path(__file__).resolve().parent


def _museval_metrics():
    import museval  # noqa: F401  - only to find it; may fail without ffmpeg
    return museval.metrics


def load_museval_metrics():
    try:
        return _museval_metrics()
    except Exception:
        spec = importlib.util.find_spec("museval")
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(list(spec.submodule_search_locations)[0]) / "metrics.py"
        s = importlib.util.spec_from_file_location("museval_metrics_standalone", path)
        mod = importlib.util.module_from_spec(s)
        s.loader.exec_module(mod)
        return mod


def estimates(mixture, music, sr):
    d = mixture - music
    sos = butter(4, 4000, fs=sr, output="sos")
    return {
        "mixture": mixture,
        "half_removed": music + 0.5 * d,
        "lowpass+third": sosfiltfilt(sos, music, axis=0) + d / 3,
    }


def lib_fast(music, d, est):
    refs = np.stack([music.T, d.T], axis=1)
    r = ev.bss_scores(refs, est.T[:, None, :])
    return r["sdr"][0], r["sir"][0], r["sar"][0]


def lib_mir(music, d, est):
    from mir_eval.separation import bss_eval_sources

    vals = []
    for c in range(music.shape[1]):
        # the second estimate only has to be non-silent: it does not change estimate 0's scores
        sdr, sir, sar, _ = bss_eval_sources(np.stack([music[:, c], d[:, c]]), np.stack([est[:, c], d[:, c]]),
                                            compute_permutation=False)
        vals.append((sdr[0], sir[0], sar[0]))
    return tuple(np.mean(vals, axis=0))


def lib_museval_src(mm, music, d, est):
    vals = []
    for c in range(music.shape[1]):
        ref = np.stack([music[:, c:c + 1], d[:, c:c + 1]])
        e = np.stack([est[:, c:c + 1], d[:, c:c + 1]])
        sdr, _isr, sir, sar, _ = mm.bss_eval(ref, e, window=np.inf, hop=np.inf, bsseval_sources_version=True)
        vals.append((sdr[0, 0], sir[0, 0], sar[0, 0]))
    return tuple(np.mean(vals, axis=0))


def lib_museval_img(mm, music, d, est):
    sdr, _isr, sir, sar, _ = mm.bss_eval(np.stack([music, d]), np.stack([est, d]), window=np.inf, hop=np.inf)
    return sdr[0, 0], sir[0, 0], sar[0, 0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=str(HERE.parents[1] / "shared" / "corpus"))
    ap.add_argument("--n", type=int, default=3, help="mixtures per set (stems, mixes)")
    ap.add_argument("--skip-slow", action="store_true", help="skip museval images (slowest)")
    args = ap.parse_args()

    mm = load_museval_metrics()
    entries = [e for e in ev.load_mixtures(args.corpus) if e.get("subset") == "quick"]
    chosen = [e for e in entries if e["set"] == "stems"][: args.n] + [e for e in entries if e["set"] == "mixes"][: args.n]

    libs = {"fast_bss_eval": lambda m, d, e: lib_fast(m, d, e), "mir_eval": lib_mir}
    if mm is not None:
        libs["museval_src"] = lambda m, d, e: lib_museval_src(mm, m, d, e)
        if not args.skip_slow:
            libs["museval_v4img"] = lambda m, d, e: lib_museval_img(mm, m, d, e) if m.shape[1] > 1 else None
    # warm up (imports, FFT plans)
    y, m, d, sr = ev.build_mixture(args.corpus, chosen[0])
    for f in libs.values():
        f(m[:44100 * 2], d[:44100 * 2], y[:44100 * 2])

    records = []
    for entry in chosen:
        y, m, d, sr = ev.build_mixture(args.corpus, entry)
        for est_name, est in estimates(y, m, sr).items():
            for lib, f in libs.items():
                t0 = time.perf_counter()
                out = f(m, d, est)
                dt = time.perf_counter() - t0
                if out is None:
                    continue
                records.append({"id": entry["id"], "channels": m.shape[1], "seconds_audio": m.shape[0] / sr,
                                "estimate": est_name, "library": lib, "seconds": dt,
                                **{k: float(np.clip(v, -ev.DB_CAP, ev.DB_CAP)) for k, v in zip(("sdr", "sir", "sar"), out)}})
                print(f"  {entry['id']:<28} {est_name:<14} {lib:<14} {dt:7.2f} s  "
                      f"SDR {out[0]:7.3f}  SIR {out[1]:7.3f}  SAR {out[2]:7.3f}", flush=True)

    ref = {(r["id"], r["estimate"]): r for r in records if r["library"] == "fast_bss_eval"}
    print()
    print(f"{'library':<14} {'audio':<12} {'s/estimate':>10} {'max|dSDR|':>10} {'max|dSIR|':>10} {'max|dSAR|':>10}  (vs fast_bss_eval, dB)")
    table = []
    for lib in libs:
        for ch, label in ((1, "20 s mono"), (2, "30 s stereo")):
            rs = [r for r in records if r["library"] == lib and r["channels"] == ch]
            if not rs:
                continue
            dd = {k: max(abs(r[k] - ref[(r["id"], r["estimate"])][k]) for r in rs) for k in ("sdr", "sir", "sar")}
            row = {"library": lib, "audio": label, "seconds_per_estimate": float(np.mean([r["seconds"] for r in rs])),
                   **{f"max_abs_diff_{k}": v for k, v in dd.items()}, "n": len(rs)}
            table.append(row)
            print(f"{lib:<14} {label:<12} {row['seconds_per_estimate']:>10.2f} {dd['sdr']:>10.1e} "
                  f"{dd['sir']:>10.1e} {dd['sar']:>10.1e}")
    out = HERE / "results" / "bss_eval_choice.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"table": table, "records": records}, indent=1))
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
