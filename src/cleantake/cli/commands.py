"""The ``clean``, ``inspect`` and ``learn`` subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import soxr

from ..dictionaries import learn_dictionary, save_dictionary
from ..errors import AudioWriteError, ParameterError
from ..files import STREAM_BLOCK_S, clean_file, learn_like_file, locate_file
from ..like import load_like_model, merge_like_models, save_like_model
from ..io import read_audio
from ..locate import Event, chosen_locator
from ..progress import Progress
from ..report import format_clock
from ..spectral import StftConfig
from .options import (add_jobs_option, add_location_options, add_method_options, add_output_format_options,
                      add_overwrite_option, add_quiet_option, add_span_options, cleaner_from_args, joined_spans, spans)

__all__ = ["add_clean_parser", "add_inspect_parser", "add_learn_parser", "format_events_table", "run_clean",
           "run_inspect", "run_learn"]


def _events_summary(events: Sequence[Event]) -> str:
    n = len(events)
    return f"{n} interference event{'s' if n != 1 else ''}"


def run_clean(args: argparse.Namespace) -> int:
    """Run ``cleantake clean``."""
    if args.trim_spans and not args.events:
        raise ParameterError("--trim-spans trims the spans of --events: give --events too, or leave it out")
    like_model = _like_model(args)
    cleaner = cleaner_from_args(args)
    if args.trim_spans and chosen_locator(cleaner.settings, cleaner.dictionary) != "learned":
        raise ParameterError(f"--trim-spans uses the learned detector, which -i {args.interference} with "
                             f"--locator {args.locator} does not locate with: use -i any, or leave --trim-spans out")
    progress = Progress(Path(args.input).name, quiet=args.quiet)
    try:
        res = clean_file(args.input, args.output, cleaner=cleaner, removed_path=args.removed,
                         labels_path=args.labels, candidates_path=args.candidates, overwrite=args.overwrite,
                         subtype=args.subtype,
                         clip=args.clip, report_dir=args.report, progress=progress, workers=args.jobs,
                         events=joined_spans(args.events), keep=joined_spans(args.keep),
                         like=joined_spans(args.like), like_model=like_model)
    finally:
        progress.close()
    if not args.quiet:
        if like_model is not None:
            print(f"looked for the example learned from {like_model.origin}")
        if args.method != "proposed":
            print(f"{args.input}: the whole recording was processed by method {args.method} -> {args.output}")
        else:
            print(f"{args.input}: {_events_summary(res.events)} removed -> {args.output}"
                  + (" (a copy of the input file)" if res.copied else ""))
        if res.output_format and res.input_format and res.output_format[1] != res.input_format[1]:
            print(f"  sample format {res.input_format[1]} -> {res.output_format[1]}"
                  + ("" if args.subtype else f" (the closest a {Path(args.output).suffix.lower()} file holds; "
                                         "choose with --subtype)"))
        for ev in res.events:
            print(f"  {ev.start_s:10.3f} s - {ev.end_s:10.3f} s  {ev.label:12s} confidence {ev.confidence:.2f}")
        if res.candidates:
            print(_candidates_line(res))
        for what, path in (("removed", res.removed_output), ("labels", res.labels_output),
                           ("candidates", res.candidates_output),
                           ("report", res.report_output)):
            if path is not None:
                print(f"{what}: {path}")
    return 0


def add_clean_parser(sub) -> None:
    """Add ``clean`` to an argparse subparsers object."""
    p = sub.add_parser("clean", help="clean one recording", description="Clean one recording.")
    p.add_argument("input", help="input audio file (WAV, FLAC, OGG, MP3, AIFF, ...)")
    p.add_argument("-o", "--output", required=True, help="cleaned output file; its extension picks the format")
    add_method_options(p)
    p.add_argument("--removed", metavar="PATH", help="also write the removed interference (cleaned + removed = input)")
    p.add_argument("--labels", metavar="PATH", help="write located events: Audacity labels (.txt), .json or .csv")
    p.add_argument("--candidates", metavar="PATH",
                   help="write the candidates for review (not repaired; see --review-level) in the same formats")
    p.add_argument("--report", metavar="DIR", help="write an HTML report (spectrograms, events, audio players) "
                   "into the folder DIR; tick and set the strength of each event there and download them "
                   "as a label file for --events")
    add_span_options(p, events=True)
    add_output_format_options(p)
    add_jobs_option(p, f"recordings longer than {2 * STREAM_BLOCK_S:g} s are cleaned in "
                       f"{STREAM_BLOCK_S:g}-s blocks, N at a time (about 0.1 GB of memory each "
                       f"for stereo 44.1 kHz)")
    add_overwrite_option(p)
    add_quiet_option(p)
    p.set_defaults(func=run_clean)


def format_events_table(events: Sequence[Event]) -> str:
    """Plain-text table of events for the terminal (one line per event, times in seconds)."""
    if not events:
        return "no interference located"
    w = max(5, max(len(e.label) for e in events))
    lines = [f"{'#':>4}  {'start s':>10}  {'end s':>10}  {'dur s':>7}  {'at':>12}  {'class':<{w}}  conf"]
    for i, e in enumerate(events, 1):
        lines.append(
            f"{i:>4}  {e.start_s:>10.3f}  {e.end_s:>10.3f}  {e.end_s - e.start_s:>7.3f}  "
            f"{format_clock(e.start_s):>12}  {e.label:<{w}}  {e.confidence:.2f}"
        )
    return "\n".join(lines)


def _candidates_line(res) -> str:
    """What the user is told about the candidates for review of a FileResult (empty when there
    are none)."""
    candidates = res.candidates
    if not candidates:
        return ""
    n = len(candidates)
    written = [w for w, p in (("listed unticked in the report", res.report_output),
                              (f"written to {res.candidates_output}", res.candidates_output)) if p is not None]
    where = " and ".join(written) or "add --report DIR or --candidates PATH to review them"
    lo, hi = (f"{f(c.confidence for c in candidates):.2f}" for f in (min, max))
    return (f"{n} candidate{'s' if n != 1 else ''} the detector was less sure of, not repaired "
            f"(confidence {lo if lo == hi else f'{lo}-{hi}'}): {where}")


def run_inspect(args: argparse.Namespace) -> int:
    """Run ``cleantake inspect``: locate events, print them, optionally write labels and a report."""
    src = Path(args.input)
    like_model = _like_model(args)  # a bad file is refused before anything else
    cleaner = cleaner_from_args(args)
    progress = Progress(src.name, quiet=args.quiet)
    try:
        res = locate_file(src, cleaner=cleaner, labels_path=args.labels, candidates_path=args.candidates,
                          report_dir=args.report,
                          overwrite=args.overwrite, progress=progress, keep=joined_spans(args.keep),
                          like=joined_spans(args.like), like_model=like_model, workers=args.jobs)
    finally:
        progress.close()
    if like_model is not None:
        print(f"looked for the example learned from {like_model.origin}")
    print(format_events_table(res.events))
    n = len(res.events)
    print(f"{n} event{'s' if n != 1 else ''} in {src.name} ({format_clock(res.duration_s)})")
    if res.candidates:
        print(_candidates_line(res))
    if res.labels_output is not None:
        print(f"labels: {res.labels_output}")
    if res.candidates_output is not None:
        print(f"candidates: {res.candidates_output}")
    if res.report_output is not None:
        print(f"report: {res.report_output}")
    sys.stdout.flush()
    return 0


def add_inspect_parser(sub) -> None:
    """Add ``inspect`` to an argparse subparsers object."""
    p = sub.add_parser(
        "inspect",
        help="locate interference and list it, without writing audio",
        description=(
            "Locate transient interference (coughs, door slams, creaks, ...) in a recording and list "
            "each event with its time span, class and confidence. No audio is written: a quick first "
            "look at a long recording. Optionally write the events as labels (.txt = Audacity label "
            "track, .json, .csv) and an HTML report with spectrograms and audio excerpts."
        ),
    )
    p.add_argument("input", metavar="INPUT", help="recording to inspect (WAV, FLAC, ...)")
    add_location_options(p)
    p.add_argument("--labels", metavar="PATH", help="write events to PATH (.txt Audacity labels, .json or .csv)")
    p.add_argument("--candidates", metavar="PATH",
                   help="write the candidates for review (not repaired; see --review-level) in the same formats, "
                        "a second label track to check in Audacity")
    p.add_argument("--report", metavar="DIR", help="write an HTML report with spectrograms and excerpts into DIR")
    add_span_options(p, events=False)
    add_jobs_option(p, f"recordings longer than {2 * STREAM_BLOCK_S:g} s are located in "
                       f"{STREAM_BLOCK_S:g}-s blocks, N at a time")
    add_overwrite_option(p)
    add_quiet_option(p, "no progress display (the table is still printed)")
    p.set_defaults(func=run_inspect)


def _like_model(args: argparse.Namespace):
    """The ``--like-model`` files of ``args``, read, checked and merged into one (None without
    them; refused with ``--events``; with ``--like`` the marked spans join it in the file's
    own learning, :func:`cleantake.files.clean_file`)."""
    paths = getattr(args, "like_model", None)
    if not paths:
        return None
    if getattr(args, "events", None):
        raise ParameterError("--like-model looks for an example learned from another recording; --events "
                             "repairs exactly the spans given: give one or the other")
    return merge_like_models([load_like_model(p) for p in paths])


def run_learn(args: argparse.Namespace) -> int:
    """Run ``cleantake learn``: a dictionary from example recordings, or with ``--like`` the
    example marked in one recording (a like model)."""
    out = Path(args.output)
    what = "like model" if args.like else "dictionary"
    if out.suffix != ".npz":
        raise ParameterError(f"the {what} file must end in .npz, got {out.name!r}")
    if out.exists() and not args.overwrite:
        raise AudioWriteError(f"output {str(out)!r} already exists; use -y to overwrite it")
    if args.like:
        return _learn_like(args, out)
    if args.name is None:
        raise ParameterError("learning a dictionary needs --name CLASS (the label of the events it finds); "
                             "to learn what is marked in one recording give --like SPAN instead")
    if args.keep:
        raise ParameterError("--keep marks music near a --like example; a dictionary is learned from "
                             "recordings of the interference alone")
    sigs, sr = [], None
    for f in args.files:
        x, info = read_audio(f)
        if sr is None:
            sr = info.samplerate
        elif info.samplerate != sr:
            x = soxr.resample(x, info.samplerate, sr)
        sigs.append(x)
    cfg = StftConfig(int(sr), args.window_ms, args.hop_ms)
    d = learn_dictionary(sigs, int(sr), name=args.name, rank=args.rank, cfg=cfg,
                         meta={"files": [Path(f).name for f in args.files]})
    path = save_dictionary(d, out)
    if not args.quiet:
        print(f"learned {d.rank} templates of {args.name!r} from {d.meta['seconds_of_audio']:.2f} s -> {path}")
    return 0


def _learn_like(args: argparse.Namespace, out: Path) -> int:
    """``cleantake learn INPUT --like SPAN ... -o NAME.npz``."""
    if len(args.files) != 1:
        raise ParameterError(f"--like marks one recording: give exactly one input file, got {len(args.files)}")
    for opt, default in (("name", None), ("rank", 12), ("window_ms", 46.0), ("hop_ms", 11.5)):
        if getattr(args, opt) != default:
            raise ParameterError(f"--{opt.replace('_', '-')} is for learning a dictionary; with --like the "
                                 "example is learned with the settings clean uses")
    from ..pipeline import Cleaner

    model = learn_like_file(args.files[0], cleaner=Cleaner("none"), like=joined_spans(args.like),
                            keep=joined_spans(args.keep))
    path = save_like_model(model, out, overwrite=args.overwrite)
    if not args.quiet:
        print(f"learned {model.learned.rank} templates from {model.origin} -> {path}; "
              f"look for it with: cleantake clean OTHER -o OUT --like-model {path}")
    return 0


def add_learn_parser(sub) -> None:
    """Add ``learn`` to an argparse subparsers object."""
    p = sub.add_parser("learn", help="learn an interference dictionary from example recordings, or what you "
                       "mark in one recording (--like) to find it in others",
                       description="Learn an interference dictionary from example recordings of one class; or, "
                       "with --like, learn the interference you mark in one recording (what the music there "
                       "does not explain) into a like model that clean, inspect and batch --like-model "
                       "look for in other recordings.")
    p.add_argument("files", nargs="+", help="example recordings of the interference alone; with --like, the "
                   "one recording the spans are marked in")
    p.add_argument("-o", "--output", required=True, metavar="NAME.npz",
                   help="file to write (.npz): a dictionary, use it with -i NAME.npz; with --like a like "
                        "model, use it with --like-model NAME.npz")
    p.add_argument("--like", type=spans, action="append", metavar="SPAN",
                   help="an example of the interference in the input recording, as clean --like takes it "
                        "(a span such as 12.30-12.95 or 1:02.5-1:03.1, or a label file); repeatable")
    p.add_argument("--keep", type=spans, action="append", metavar="SPAN",
                   help="with --like: music near the example that is not the interference; repeatable")
    p.add_argument("--name", default=None, help="class name, used as the label of located events (needed "
                   "without --like)")
    p.add_argument("--rank", type=int, default=12, help="number of templates (default 12)")
    p.add_argument("--window-ms", type=float, default=46.0, help="STFT window in ms (default 46)")
    p.add_argument("--hop-ms", type=float, default=11.5, help="STFT hop in ms (default 11.5)")
    add_overwrite_option(p, "replace an existing dictionary or like model file")
    add_quiet_option(p, "no summary")
    p.set_defaults(func=run_learn)
