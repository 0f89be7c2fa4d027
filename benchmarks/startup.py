"""How long a command takes on a short file: the first minute of a user's first hour.

Every case runs ``--repeat`` times in a fresh Python process (imports included, as a user's
command pays them), cases in turn so that the machine's drift hits them alike; the median wall
time is reported with its ratio to the interpreter's own start (``python -c pass``), the floor
no command can go under:

* ``python``: ``python -c pass``;
* ``import``: ``python -c "import cleantake"``;
* ``help``: ``cleantake --help``;
* ``example``: the README's example, ``cleantake clean examples/organ_cough.flac -o OUT -y``
  (8 s of audio; the output goes to a temporary folder).

``--src DIR`` runs the package found in ``DIR`` (``PYTHONPATH``), so that two versions can be
compared in one run: ``--src /path/to/old/src --src src``.

    PYTHONPATH=src python benchmarks/startup.py --repeat 7 --json benchmarks/results/startup.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "organ_cough.flac"


def commands(out: Path) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "python": [py, "-c", "pass"],
        "import": [py, "-c", "import cleantake"],
        "help": [py, "-m", "cleantake", "--help"],
        "example": [py, "-m", "cleantake", "clean", str(EXAMPLE), "-o", str(out), "-y"],
    }


def run_once(cmd: list[str], src: str) -> float:
    env = {**os.environ, "PYTHONPATH": src}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-500:]}")
    return wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="runs of every case (default 7)")
    ap.add_argument("--src", action="append", default=None,
                    help="package source folder to run (repeatable; default: this checkout's src)")
    ap.add_argument("--json", type=Path, default=None, help="write the runs and medians here")
    args = ap.parse_args(argv)
    srcs = [str(Path(s).resolve()) for s in (args.src or [str(ROOT / "src")])]
    with tempfile.TemporaryDirectory() as tmp:
        cmds = commands(Path(tmp) / "example_cleaned.flac")
        runs: dict[tuple[str, str], list[float]] = {(s, c): [] for s in srcs for c in cmds}
        for _ in range(args.repeat):  # cases in turn, versions in turn
            for c, cmd in cmds.items():
                for s in srcs:
                    runs[(s, c)].append(run_once(cmd, s))
    rows = []
    for s in srcs:
        floor = statistics.median(runs[(s, "python")])
        for c in cmds:
            med = statistics.median(runs[(s, c)])
            rows.append({"src": s, "case": c, "median_s": med, "x_python": med / floor,
                         "runs": runs[(s, c)]})
    print(f"{args.repeat} runs of every case, fresh processes, median wall seconds")
    print("| package | case | median s | min s | max s | x python |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['src']} | {r['case']} | {r['median_s']:.2f} | {min(r['runs']):.2f} | "
              f"{max(r['runs']):.2f} | {r['x_python']:.1f} |")
    if len(srcs) == 2:
        for c in cmds:
            a = statistics.median(runs[(srcs[0], c)])
            b = statistics.median(runs[(srcs[1], c)])
            print(f"{c}: second / first = {b / a:.2f} ({b - a:+.2f} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"repeat": args.repeat, "python": sys.version, "rows": rows}, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
