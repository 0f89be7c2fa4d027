"""The standing robustness table: the cross-validation recordings made the ways users' files differ.

Every dictionary, the detector and every other benchmark were made from the corpus's 44.1-kHz
recordings that start and end with music. A user's file is often at 48 or 96 kHz, band-limited
by a lossy source, quieter, dual mono, framed by seconds of digital silence, or recorded in a
hall whose reverberation carries every cough. Each of those is a ``benchmarks/cv.py`` option;
this script runs the same sample of cross-validation recordings plainly and once per variant
(each run a ``cv.py`` process, its JSON under ``--out-dir``), and compares every variant with
the plain run mixture by mixture (:func:`cv.compare`): the headline cells' mean difference
with its standard error, events found and clean recordings touched. Run it whenever the
detector or the analysis changes (session 19 found two defects this way: BENCHMARKS.md 0a).

Usage::

    PYTHONPATH=src python benchmarks/robustness.py [--every 8] [--clean-every 2] [--offset 0] [-j 2]
        [--variants plain,sr48,sr96,via32,quiet30,dual,silence5,hall,loud12] [--detector-dir DIR]
        [--out-dir benchmarks/results/robustness] [--reuse]

Sample 1 (``--every 8 --clean-every 2``, 191 recordings) takes 3-6 minutes a variant on 2 free
cores. ``--reuse`` takes a variant's JSON from an earlier run of the same sample instead of
running it again (its arguments are checked). The table is printed and written as
``robustness.json`` in ``--out-dir``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv  # noqa: E402

#: name -> the cv.py options that make the variant
VARIANTS: dict[str, list[str]] = {
    "plain": [],
    "sr48": ["--sr", "48000"],
    "sr96": ["--sr", "96000"],
    "sr32": ["--sr", "32000"],
    "via32": ["--via", "32000"],
    "quiet30": ["--gain-db", "-30"],
    "dual": ["--dual-mono"],
    "silence5": ["--silence", "5"],
    "hall": ["--hall", "1.8", "-6"],
    "loud12": ["--event-gain-db", "12"],
}
DESCRIPTION = {
    "plain": "the corpus's 44.1-kHz recordings",
    "sr48": "resampled to 48 kHz",
    "sr96": "resampled to 96 kHz",
    "sr32": "resampled to 32 kHz",
    "via32": "band-limited to 16 kHz (through 32 kHz)",
    "quiet30": "30 dB quieter",
    "dual": "mono stored as two identical channels",
    "silence5": "5 s of digital silence before and after",
    "hall": "events from a hall's audience (RT60 1.8 s, DRR -6 dB)",
    "loud12": "events 12 dB louder (a cough into a quiet passage; the mixture starts 12 dB worse, so its NSDR "
              "differences mean little: compare events found)",
}
DEFAULT = ("plain", "sr48", "sr96", "via32", "quiet30", "dual", "silence5", "hall")


def run_variant(name: str, args: argparse.Namespace, out: Path) -> None:
    """One ``cv.py`` run of the sample with the variant's options, written to ``out``."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "cv.py"), "-j", str(args.jobs), "--every", str(args.every),
           "--clean-every", str(args.clean_every), "--offset", str(args.offset), "--methods", "proposed",
           "--given", "none", "--detector-dir", args.detector_dir, "--corpus", args.corpus,
           "--tag", name, "--out", str(out), *VARIANTS[name]]
    print("$", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def _same_sample(path: Path, args: argparse.Namespace, name: str) -> bool:
    meta = json.loads(path.read_text())["meta"]
    want = {"every": args.every, "clean_every": args.clean_every, "offset": args.offset,
            "detector_dir": args.detector_dir, "tag": name}
    return all(meta.get(k) == v for k, v in want.items())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--variants", default=",".join(DEFAULT),
                    help=f"comma-separated, among {', '.join(VARIANTS)}; 'plain' is always run (the reference)")
    ap.add_argument("--every", type=int, default=8)
    ap.add_argument("--clean-every", type=int, default=2)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--detector-dir", default=str(cv.DETECTOR_DIR))
    ap.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results" / "robustness"))
    ap.add_argument("--reuse", action="store_true", help="take a variant's earlier JSON of the same sample")
    args = ap.parse_args(argv)
    names = list(dict.fromkeys(["plain", *[v.strip() for v in args.variants.split(",") if v.strip()]]))
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        ap.error(f"--variants: unknown {', '.join(unknown)}; choose among {', '.join(VARIANTS)}")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[dict]] = {}
    seconds: dict[str, float] = {}
    for name in names:
        path = out_dir / f"{name}_e{args.every}c{args.clean_every}o{args.offset}.json"
        if not (args.reuse and path.is_file() and _same_sample(path, args, name)):
            t0 = time.perf_counter()
            run_variant(name, args, path)
            seconds[name] = time.perf_counter() - t0
        data = json.loads(path.read_text())
        rows[name] = data["rows"]
        seconds.setdefault(name, data["meta"]["wall_seconds"])
    cells = [f"{s} NSDR {lv:+d}" for s, lv in cv.HEADLINE]
    table = {}
    head = ("| variant | " + " | ".join(c.replace(" NSDR ", " ") + " dB" for c in cells)
            + " | events found | clean touched | s |")
    lines = [head, "|" + "---|" * (len(cells) + 4)]
    for name in names:
        cmp = cv.compare(rows["plain"], rows[name])
        table[name] = {"options": VARIANTS[name], "what": DESCRIPTION[name], "seconds": seconds[name], **cmp}
        if name == "plain":
            vals = [f"{cmp[c]['a']:.2f}" if c in cmp else "-" for c in cells]
        else:
            vals = [f"{cmp[c]['diff']:+.2f} ({cmp[c]['se']:.2f})" if c in cmp and cmp[c]["se"] is not None
                    else "-" for c in cells]
        f, cl = cmp["events found"], cmp["clean with a false event"]
        lines.append(f"| {name}: {DESCRIPTION[name]} | " + " | ".join(vals)
                     + f" | {f['b']} of {f['n']} | {cl['b']} of {cl['n']} | {seconds[name]:.0f} |")
    print("NSDR of the plain run, then each variant's mean difference from it (standard error), "
          "mixture by mixture")
    print("\n".join(lines))
    result = {"argv": sys.argv[1:] if argv is None else list(argv), "every": args.every,
              "clean_every": args.clean_every, "offset": args.offset, "detector_dir": args.detector_dir,
              "variants": table}
    tmp = out_dir / f".robustness.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    os.replace(tmp, out_dir / "robustness.json")
    print(f"written to {out_dir / 'robustness.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
