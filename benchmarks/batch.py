"""Batch throughput: audio hours cleaned per wall-clock hour, 1 and 2 local Dask workers.

Builds N mixtures (default 20) from the corpus per its README (a stem plus its interference
events, kept as 32-bit float WAV so nothing is clipped) into a temporary folder, then runs
``cleantake.batch.run_batch`` on them with a fresh LocalCluster of 1 and of 2 worker
processes (wall time includes starting and stopping the cluster, as a user sees it), plus a
plain in-process loop over ``clean_file`` without Dask as the reference. CPU time (this
process and the workers, which are its child processes) is reported too: unlike wall time it
barely depends on what else the machine is doing. Prints a table and writes JSON to
benchmarks/results/batch.json.

Usage::

    PYTHONPATH=src python benchmarks/batch.py                # 20 files, 1 and 2 workers
    PYTHONPATH=src python benchmarks/batch.py --files 8 --workers 1 2 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"


def build_mixtures(corpus: Path, out_dir: Path, n_files: int) -> list[dict]:
    """Write ``n_files`` corpus mixtures (set "stems", one per stem, classes cycling) as WAV.

    Returns the chosen recipes with the written path and duration.
    """
    recipes = json.loads((corpus / "mixtures.json").read_text())["mixtures"]
    stems = [m for m in recipes if m["set"] == "stems" and m["events"]]
    stems.sort(key=lambda m: m["id"])
    classes = ["cough", "door", "creak", "scream", "drop"]
    by_music: dict[str, dict[str, dict]] = {}
    for m in stems:
        if m["level_db"] == -3:
            by_music.setdefault(m["music"], {})[m["class"]] = m
    chosen = []
    for k, music in enumerate(sorted(by_music)[:n_files]):
        options = by_music[music]
        chosen.append(options.get(classes[k % len(classes)]) or options[sorted(options)[0]])
    if len(chosen) < n_files:
        raise SystemExit(f"only {len(chosen)} suitable mixtures in the corpus, asked for {n_files}")
    out = []
    for m in chosen:
        music, sr = sf.read(str(corpus / m["music"]), dtype="float64", always_2d=True)
        y = music.copy()
        for ev in m["events"]:
            e, esr = sf.read(str(corpus / ev["path"]), dtype="float64")
            assert esr == sr
            n0 = int(round(ev["onset_s"] * sr))
            w = np.asarray(ev.get("pan", [1.0] * y.shape[1]), dtype=np.float64)
            y[n0:n0 + e.size] += ev["gain"] * np.outer(e, w)
        path = out_dir / f"{m['id']}.wav"
        sf.write(str(path), y, sr, subtype="FLOAT")
        out.append({"id": m["id"], "path": str(path), "duration_s": y.shape[0] / sr})
    return out


def run_inprocess(files: list[dict], out_dir: Path, cleaner) -> float:
    from cleantake.files import clean_file

    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for f in files:
        clean_file(f["path"], out_dir / Path(f["path"]).name, cleaner=cleaner)
    return time.perf_counter() - t0


def run_dask(in_dir: Path, out_dir: Path, cleaner, workers: int, *, expect: str = "done") -> tuple[float, dict]:
    from cleantake.batch import run_batch

    t0 = time.perf_counter()
    summary = run_batch(in_dir, out_dir, cleaner=cleaner, jobs=workers, pattern="*.wav",
                        progress=False)
    wall = time.perf_counter() - t0
    if summary["counts"][expect] != summary["counts"]["total"]:
        raise SystemExit(f"expected every file {expect}, got {summary['counts']}")
    return wall, summary


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished child processes.

    The local cluster's workers are child processes of this one, joined when the cluster
    closes, so their CPU time is counted once ``run_batch`` returns.
    """
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _git_commit() -> str | None:
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration (best is kept)")
    ap.add_argument("--interference", default="any")
    ap.add_argument("--no-inprocess", action="store_true", help="skip the plain loop without Dask")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "batch.json")
    args = ap.parse_args(argv)
    if not (args.corpus / "mixtures.json").exists():
        print(f"corpus not found at {args.corpus}", file=sys.stderr)
        return 2

    import cleantake

    cleaner = cleantake.Cleaner(args.interference)
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="cleantake-bench-batch-") as tmp:
        tmp = Path(tmp)
        in_dir = tmp / "in"
        in_dir.mkdir()
        files = build_mixtures(args.corpus, in_dir, args.files)
        audio_s = sum(f["duration_s"] for f in files)
        configs = ([] if args.no_inprocess else [("in-process loop, no Dask", 0)]) + [
            (f"batch, {w} local worker{'s' if w > 1 else ''}", w) for w in args.workers]
        for label, w in configs:
            walls, cpus = [], []
            for r in range(args.repeat):
                out_dir = tmp / f"out-{w}-{r}"
                before = _cpu_seconds()
                if w == 0:
                    walls.append(run_inprocess(files, out_dir, cleaner))
                else:
                    walls.append(run_dask(in_dir, out_dir, cleaner, w)[0])
                cpus.append(_cpu_seconds() - before)
            best = int(np.argmin(walls))
            wall, cpu = walls[best], cpus[best]
            rows.append({"config": label, "workers": w, "files": len(files), "audio_s": round(audio_s, 3),
                         "wall_s": round(wall, 3), "walls_s": [round(x, 3) for x in walls],
                         "cpu_s": round(cpu, 3),
                         "audio_h_per_wall_h": round(audio_s / wall, 2),
                         "cpu_s_per_audio_s": round(cpu / audio_s, 4)})
            print(f"  {label}: {wall:.1f} s wall, {cpu:.1f} s CPU", file=sys.stderr)
        # a second run over a finished folder only checks records: the cost of resuming
        last_w = args.workers[-1]
        t0 = time.perf_counter()
        run_dask(in_dir, tmp / f"out-{last_w}-0", cleaner, last_w, expect="skipped")
        skip_wall = time.perf_counter() - t0
    base = next((r for r in rows if r["workers"] == 1), None)
    for r in rows:
        r["speedup_vs_1_worker"] = round(base["wall_s"] / r["wall_s"], 2) if base else None

    print()
    print(f"{len(files)} corpus mixtures, {audio_s:.0f} s of audio ({audio_s / 3600:.3f} h), "
          f"{os.cpu_count()} CPU cores, dictionary {args.interference!r}, "
          f"load average before/after {load_before[0]:.1f}/{os.getloadavg()[0]:.1f}")
    print()
    print("| configuration | wall s | audio h per wall h | speed-up vs 1 worker | CPU s | CPU s per audio s |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        sp = "" if r["speedup_vs_1_worker"] is None else f"{r['speedup_vs_1_worker']:.2f}"
        print(f"| {r['config']} | {r['wall_s']:.1f} | {r['audio_h_per_wall_h']:.1f} | {sp} | "
              f"{r['cpu_s']:.1f} | {r['cpu_s_per_audio_s']:.3f} |")
    print(f"| re-run, all {len(files)} files skipped | {skip_wall:.2f} | - | - | - | - |")

    result = {
        "benchmark": "batch",
        "command": " ".join(["PYTHONPATH=src python benchmarks/batch.py", *(argv or sys.argv[1:])]),
        "git_commit": _git_commit(),
        "cleantake": cleantake.__version__,
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_1_5_15_before": [round(x, 2) for x in load_before],
                    "loadavg_1_5_15_after": [round(x, 2) for x in os.getloadavg()]},
        "files": [{"id": f["id"], "duration_s": f["duration_s"]} for f in files],
        "rows": rows,
        "rerun_all_skipped_wall_s": round(skip_wall, 3),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
