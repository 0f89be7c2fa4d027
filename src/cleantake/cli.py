"""The ``cleantake`` console script.

``main(argv)`` returns the exit code (0 success, 1 unexpected failure, 2 a refused input or
option, 130 interrupted), so it can be called from Python as well.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from . import __version__
from .errors import CleantakeError, ParameterError
from .io import termination_as_interrupt

__all__ = ["main", "build_parser"]


def _strength(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"strength must be a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"strength must be from 0 (no change) to 1 (full removal), got {v:g}")
    return v


def _jobs(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"jobs must be a whole number from 1 to 256, got {text!r}") from None
    if not 1 <= v <= 256:
        raise argparse.ArgumentTypeError(f"jobs must be a whole number from 1 to 256, got {v}")
    return v


def _progress_bar(quiet: bool, desc: str):
    """A tqdm bar fed with completed fractions, or None when quiet / not on a terminal."""
    if quiet or not sys.stderr.isatty():
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=100, desc=desc, unit="%", leave=False, bar_format="{l_bar}{bar}| {elapsed}")

    def update(frac: float) -> None:
        bar.n = int(round(100 * min(max(frac, 0.0), 1.0)))
        bar.refresh()

    return update, bar.close


def add_common_method_options(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that runs the method."""
    from .pipeline import METHODS

    p.add_argument("-i", "--interference", default="any", metavar="NAME|PATH",
                   help="interference dictionary: any, cough, door, creak, scream, drop, or a file made by "
                        "`cleantake learn` (default: any)")
    p.add_argument("--method", default="proposed", choices=METHODS,
                   help="proposed (default): NMF + KAM; nmf: semi-supervised NMF alone; kam: classic KAM")
    p.add_argument("--strength", type=_strength, default=1.0, metavar="X",
                   help="0 = no change ... 1 = full removal (default 1)")


def _cmd_clean(args: argparse.Namespace) -> int:
    from .pipeline import Cleaner, clean_file

    cleaner = Cleaner(args.interference, method=args.method, strength=args.strength)
    update, close = _progress_bar(args.quiet, Path(args.input).name)
    try:
        res = clean_file(args.input, args.output, cleaner=cleaner, removed_path=args.removed,
                         labels_path=args.labels, overwrite=args.yes, subtype=args.subtype,
                         clip=args.clip, report_dir=args.report, progress=update, workers=args.jobs)
    finally:
        close()
    if not args.quiet:
        n = len(res.events)
        print(f"{args.input}: {n} interference event{'s' if n != 1 else ''} removed -> {args.output}")
        for ev in res.events:
            print(f"  {ev.start_s:10.3f} s - {ev.end_s:10.3f} s  {ev.label:12s} confidence {ev.confidence:.2f}")
    return 0


def _cmd_learn(args: argparse.Namespace) -> int:
    from .dictionaries import learn_dictionary, save_dictionary
    from .io import read_audio
    from .spectral import StftConfig

    out = Path(args.output)
    if out.suffix != ".npz":
        raise ParameterError(f"the dictionary file must end in .npz, got {out.name!r}")
    if out.exists() and not args.yes:
        raise CleantakeError(f"{out} exists; use -y to overwrite it")
    sigs, sr = [], None
    for f in args.files:
        x, info = read_audio(f)
        if sr is None:
            sr = info.samplerate
        elif info.samplerate != sr:
            import soxr

            x = soxr.resample(x, info.samplerate, sr)
        sigs.append(x)
    cfg = StftConfig(int(sr), args.window_ms, args.hop_ms)
    d = learn_dictionary(sigs, int(sr), name=args.name, rank=args.rank, cfg=cfg,
                         meta={"files": [Path(f).name for f in args.files]})
    path = save_dictionary(d, out)
    if not args.quiet:
        print(f"learned {d.rank} templates of {args.name!r} from {d.meta['seconds_of_audio']:.2f} s -> {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    from .io import CLIP_POLICIES

    parser = argparse.ArgumentParser(
        prog="cleantake",
        description="Remove transient interference (coughs, door slams, creaks, screams, dropped objects) "
                    "from music recordings.",
    )
    parser.add_argument("--version", action="version", version=f"cleantake {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("clean", help="clean one recording", description="Clean one recording.")
    p.add_argument("input", help="input audio file (WAV, FLAC, OGG, MP3, AIFF, ...)")
    p.add_argument("-o", "--output", required=True, help="cleaned output file; its extension picks the format")
    add_common_method_options(p)
    p.add_argument("--removed", metavar="PATH", help="also write the removed interference (cleaned + removed = input)")
    p.add_argument("--labels", metavar="PATH", help="write located events: Audacity labels (.txt), .json or .csv")
    p.add_argument("--report", metavar="DIR", help="write an HTML report (spectrograms, events, audio players)")
    p.add_argument("--subtype", metavar="NAME", help="output sample format, e.g. PCM_16, PCM_24, FLOAT "
                   "(default: the input's)")
    p.add_argument("--clip", choices=CLIP_POLICIES, default="clip",
                   help="samples beyond full scale: clip (default, with a warning), error, or float output")
    p.add_argument("-j", "--jobs", type=_jobs, default=None, metavar="N",
                   help="recordings longer than 2 minutes are cleaned in 1-minute blocks, N at a time "
                        "(default: the number of CPUs, at most 4; about 0.3 GB of memory each for stereo "
                        "44.1 kHz); the output does not depend on N")
    p.add_argument("-y", "--yes", action="store_true", help="overwrite existing outputs")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=_cmd_clean)

    p = sub.add_parser("learn", help="learn an interference dictionary from example recordings",
                       description="Learn an interference dictionary from example recordings of one class.")
    p.add_argument("files", nargs="+", help="example recordings of the interference alone")
    p.add_argument("-o", "--output", required=True, metavar="NAME.npz")
    p.add_argument("--name", required=True, help="class name, used as the label of located events")
    p.add_argument("--rank", type=int, default=12, help="number of templates (default 12)")
    p.add_argument("--window-ms", type=float, default=46.0, help="STFT window in ms (default 46)")
    p.add_argument("--hop-ms", type=float, default=11.5, help="STFT hop in ms (default 11.5)")
    p.add_argument("-y", "--yes", action="store_true", help="overwrite an existing file")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_cmd_learn)

    from . import batch, evaluate, report

    report.add_inspect_parser(sub)
    evaluate.add_parser(sub)
    batch.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    # SIGTERM/SIGHUP act like Ctrl-C from the very start, so an interrupted run always
    # cleans up its temporary files and exits with 130.
    try:
        with termination_as_interrupt():
            parser = build_parser()
            args = parser.parse_args(argv)
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                warnings.formatwarning = lambda msg, cat, *a, **k: f"cleantake: warning: {msg}\n"
                return int(args.func(args) or 0)
    except CleantakeError as exc:
        print(f"cleantake: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cleantake: interrupted; no partial output was left", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
