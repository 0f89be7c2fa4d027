"""The ``batch`` subcommand (the work itself is :func:`cleantake.batch.run_batch`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..batch import DEFAULT_TEMPLATE, SUMMARY_NAME, run_batch
from ..like import load_like_model, merge_like_models
from .options import (add_jobs_option, add_method_options, add_output_format_options, add_overwrite_option,
                      add_quiet_option, cleaner_from_args)

__all__ = ["add_batch_parser", "run_from_args"]


def add_batch_parser(subparsers) -> None:
    """Add ``batch`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "batch",
        help="clean every recording under a folder, in parallel (Dask)",
        description=(
            "Clean every audio file under IN_DIR into a mirrored tree under OUT_DIR, in parallel "
            "on Dask (a local cluster by default; needs pip install 'cleantake[batch]'). Files already "
            "done with the same settings are skipped, so an interrupted run is resumed by running the "
            f"same command again. A summary is written to OUT_DIR/{SUMMARY_NAME}. Exit code 1 if any "
            "file failed, 2 if the command itself was refused."
        ),
    )
    p.add_argument("in_dir", metavar="IN_DIR", help="folder searched recursively for audio files")
    p.add_argument("-o", "--output", dest="out_dir", metavar="OUT_DIR", required=True,
                   help="output folder (created; the input tree is mirrored inside it)")
    p.add_argument("--pattern", metavar="GLOB", default=None,
                   help="only files matching GLOB: against the file name (e.g. '*.wav'), or, if GLOB "
                        "contains '/', against the path relative to IN_DIR (e.g. '2019/*/*.flac')")
    add_method_options(p)
    add_output_format_options(p)
    add_jobs_option(p, "files cleaned at once, one worker process each")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="use an existing Dask cluster, e.g. tcp://10.0.0.5:8786, instead of local workers")
    p.add_argument("--filename", default=DEFAULT_TEMPLATE, metavar="TEMPLATE",
                   help="path of each cleaned file inside OUT_DIR; fields {relpath} {stem} {ext} {name} "
                        f"(default: {DEFAULT_TEMPLATE})")
    p.add_argument("--removed", action="store_true",
                   help="also write what was removed, as STEM_removed.EXT beside each cleaned file")
    p.add_argument("--labels", action="store_true",
                   help="also write the located events as Audacity labels, STEM.txt beside each cleaned file")
    p.add_argument("--report", dest="report_dir", metavar="DIR", default=None,
                   help="also write a self-contained HTML report per cleaned file into DIR, and "
                        "DIR/index.html linking them with event counts and failures")
    p.add_argument("--like-model", metavar="FILE.npz", action="append", default=None,
                   help="an example learned from one recording (`cleantake learn REC --like SPAN -o "
                        "FILE.npz`): every file is searched for events like it, as clean --like-model does "
                        "(with -i none only for those); repeatable")
    add_overwrite_option(p, "reprocess every file, replacing existing outputs")
    add_quiet_option(p, "no progress bars and no summary (failures are still reported on stderr)")
    p.set_defaults(func=run_from_args)


def _format_duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``cleantake batch`` from parsed arguments.

    Returns
    -------
    int
        0 if every file is done or skipped, 1 if any file failed, 130 after Ctrl-C.
    """
    like_model = merge_like_models([load_like_model(p) for p in args.like_model]) if args.like_model else None
    cleaner = cleaner_from_args(args)
    summary = run_batch(
        args.in_dir, args.out_dir, cleaner=cleaner, pattern=args.pattern, jobs=args.jobs,
        scheduler=args.scheduler, filename=args.filename, removed=args.removed,
        labels=args.labels, overwrite=args.overwrite,
        progress=False if args.quiet else None, subtype=args.subtype, clip=args.clip,
        report_dir=args.report_dir, like_model=like_model,
    )
    c = summary["counts"]
    failed = [r for r in summary["files"] if r["status"] == "failed"]
    if not args.quiet:
        if c["total"] == 0:
            print(f"cleantake batch: no audio files found under {summary['in_dir']}"
                  + (f" matching {args.pattern!r}" if args.pattern else ""))
        else:
            wall = summary["wall_s"]
            audio = summary["audio_s_done"]
            speed = f", {audio / wall:.1f}x real time" if audio and wall > 0 else ""
            print(f"cleantake batch: {c['done']} done, {c['skipped']} skipped, {c['failed']} failed"
                  + (f", {c['pending']} not run" if c["pending"] else "")
                  + f" ({_format_duration(audio)} of audio in {_format_duration(wall)}{speed})")
            print(f"summary: {Path(summary['out_dir']) / SUMMARY_NAME}")
            if summary.get("report_index"):
                print(f"report: {summary['report_index']}")
    warned = [r for r in summary["files"] if r.get("warnings")]
    if warned and not args.quiet:
        print(f"cleantake batch: warnings for {len(warned)} file(s):", file=sys.stderr)
        for r in warned:
            for w in r["warnings"]:
                print(f"  {r['input']}: {w}", file=sys.stderr)
    if summary.get("report_index_error"):
        print(f"cleantake batch: {summary['report_index_error']}", file=sys.stderr)
    if failed:
        print(f"cleantake batch: {len(failed)} file(s) failed:", file=sys.stderr)
        for r in failed:
            print(f"  {r['input']}: {r['reason']}", file=sys.stderr)
    if summary["interrupted"]:
        print("cleantake batch: interrupted; run the same command again to finish", file=sys.stderr)
        return 130
    return 1 if failed else 0
