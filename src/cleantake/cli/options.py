"""Options shared by several subcommands, each defined once so it means the same everywhere."""

from __future__ import annotations

import argparse

from ..errors import ParameterError
from ..io import CLIP_POLICIES
from ..labels import SPAN_FORMS, spans_from_arg
from ..pipeline import METHODS, Cleaner
from ..settings import LOCATORS, RESOLUTIONS, STEREO_MODELS, Settings
from ..threads import DEFAULT_MAX_JOBS, MAX_JOBS, parse_jobs

__all__ = [
    "strength",
    "add_interference_option",
    "add_method_options",
    "add_output_format_options",
    "add_jobs_option",
    "add_overwrite_option",
    "add_quiet_option",
    "add_span_options",
    "add_location_options",
    "cleaner_from_args",
    "spans",
    "joined_spans",
]


def _unit_interval(name: str, meaning: str):
    """An argparse type for a number from 0 to 1 (``meaning`` says what its ends mean)."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            v = float("nan")
        if not 0.0 <= v <= 1.0:
            raise argparse.ArgumentTypeError(f"{name} must be {meaning}, got {text!r}")
        return v

    parse.__name__ = name
    return parse


#: argparse type of ``--strength``: a number from 0 to 1.
strength = _unit_interval("strength", "a number from 0 (no change) to 1 (full removal)")
#: argparse type of ``--sensitivity``: a confidence from 0 to 1.
confidence = _unit_interval("sensitivity", "a confidence from 0 to 1")
#: argparse type of ``--review-level``: a confidence from 0 to 1.
review_level = _unit_interval("review-level", "a confidence from 0 to 1")
#: argparse type of ``--channel-confidence``: 0 (off) or a confidence up to 1.
channel_confidence = _unit_interval("channel-confidence", "0 (off) or a confidence up to 1")


def add_interference_option(p: argparse.ArgumentParser) -> None:
    """``-i/--interference``: which dictionary to look for."""
    p.add_argument("-i", "--interference", default="any", metavar="NAME|PATH",
                   help="interference dictionary: any, cough, door, creak, scream, drop, none (only what "
                        "--like marks), or a file made by `cleantake learn` (default: any)")


def add_location_options(p: argparse.ArgumentParser) -> None:
    """``-i/--interference``, ``--locator`` and ``--sensitivity``: every command that locates."""
    add_interference_option(p)
    p.add_argument("--locator", choices=LOCATORS, default="auto",
                   help="how interference is found: learned, the detector learned from examples (events "
                        "labelled with their class or unknown, with a calibrated confidence; BENCHMARKS.md); "
                        "stack, the older tuned thresholds; auto (default): learned with a dictionary of all "
                        "five core classes (-i any), stack with a single class, a learned file or -i none")
    p.add_argument("--sensitivity", type=confidence, default=0.5, metavar="P",
                   help="with the learned locator: the confidence (probability that an event is real) an event "
                        "needs; lower finds more events and more false ones (default 0.5)")
    p.add_argument("--review-level", type=review_level, default=Settings.review_level, metavar="P",
                   help="with the learned locator and --report: events from this confidence up to the "
                        "sensitivity are listed in the report as candidates, unticked and not repaired, for you "
                        f"to accept; 1 lists none (default {Settings.review_level:g})")
    p.add_argument("--channel-confidence", type=channel_confidence, default=Settings.channel_confidence, metavar="P",
                   help="with two or more channels and the learned locator: also locate in each channel on its "
                        "own and add the events a channel finds with at least this confidence where the channels "
                        "together found none (a quiet event panned to one side); about 2.4-2.7 times the time; "
                        "0.7 was measured (benchmarks/DETECTOR.md); default 0, off")


def cleaner_from_args(args: argparse.Namespace) -> Cleaner:
    """The Cleaner the location and method options of ``args`` describe."""
    return Cleaner(args.interference, method=getattr(args, "method", "proposed"),
                   strength=getattr(args, "strength", 1.0), locator=args.locator, sensitivity=args.sensitivity,
                   review_level=getattr(args, "review_level", Settings.review_level),
                   channel_confidence=getattr(args, "channel_confidence", Settings.channel_confidence),
                   stereo_model=getattr(args, "stereo", "auto"),
                   trim_spans=getattr(args, "trim_spans", False),
                   **RESOLUTIONS[getattr(args, "resolutions", "default")])


def add_method_options(p: argparse.ArgumentParser) -> None:
    """``-i``, ``--locator``, ``--sensitivity``, ``--method``, ``--strength`` and ``--stereo``: every
    command that cleans."""
    add_location_options(p)
    p.add_argument("--method", default="proposed", choices=METHODS,
                   help="proposed (default): NMF + KAM; nmf: semi-supervised NMF alone; kam: classic KAM")
    p.add_argument("--strength", type=strength, default=1.0, metavar="X",
                   help="0 = no change ... 1 = full removal (default 1)")
    windows = " and ".join(f"{w:g}" for w in Settings.span_windows_ms)
    located = " and ".join(f"{w:g}" for w in (Settings.window_ms, *Settings.located_windows_ms))
    p.add_argument("--resolutions", choices=tuple(RESOLUTIONS), default="default",
                   help=f"time-frequency resolutions of the repair: default repairs the regions you give "
                        f"(--events) and what --like finds with {Settings.window_ms:g}, {windows}-ms windows and "
                        f"takes the mean of the three, and the events it locates with {located}-ms windows "
                        "(the mean of the two); spans repairs the located events with "
                        f"{Settings.window_ms:g} ms alone (faster; the default of earlier versions); all repairs "
                        "them at all three; one repairs everything with "
                        f"{Settings.window_ms:g} ms alone (the fastest). See benchmarks/REPAIR.md")
    p.add_argument("--stereo", choices=STEREO_MODELS, default="auto",
                   help="two or more channels: spatial takes each event from the direction it comes from and "
                        "keeps the music's stereo image; diffuse also takes the part that reaches the channels "
                        "uncorrelated (a hall's reverberation); auto (default) does the one or the other for "
                        "each event, from how coherent its channels are; mask gives every channel the same mask")


def add_output_format_options(p: argparse.ArgumentParser) -> None:
    """``--subtype`` and ``--clip``: the sample format of audio outputs."""
    p.add_argument("--subtype", metavar="NAME", default=None,
                   help="output sample format, e.g. PCM_16, PCM_24, FLOAT (default: the input's; a lossy "
                        "input such as MP3 gives PCM_16 in a WAV, FLAC or AIFF output)")
    p.add_argument("--clip", choices=CLIP_POLICIES, default="clip",
                   help="samples beyond full scale: clip (default, with a warning), error, or float output")


def add_jobs_option(p: argparse.ArgumentParser, what: str) -> None:
    """``-j/--jobs N``: how many things at once; ``what`` says which things."""
    p.add_argument("-j", "--jobs", type=parse_jobs, default=None, metavar="N",
                   help=f"{what}, 1 to {MAX_JOBS} (default: the number of usable CPUs, at most "
                        f"{DEFAULT_MAX_JOBS}); the output does not depend on N")


def add_overwrite_option(p: argparse.ArgumentParser, what: str = "replace existing outputs") -> None:
    """``-y/--overwrite`` (also ``--yes``): replace existing outputs."""
    p.add_argument("-y", "--overwrite", "--yes", dest="overwrite", action="store_true", help=what)


def add_quiet_option(p: argparse.ArgumentParser, what: str = "no progress display or summary") -> None:
    """``-q/--quiet``."""
    p.add_argument("-q", "--quiet", action="store_true", help=what)


def spans(text: str) -> list:
    """argparse type of ``--events``/``--keep``: one span (``12.30-12.95``, ``1:02.5-1:03.1``)
    or a label file (Audacity ``.txt``, ``.json``, ``.csv``), read now so a bad value is refused
    before any work; whether the spans lie inside the recording is checked once it is probed."""
    try:
        return spans_from_arg(text)
    except ParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def joined_spans(values: list | None) -> list | None:
    """The spans of a repeatable span option, in one list (None when the option was not given)."""
    if values is None:
        return None
    return [sp for v in values for sp in v]


def add_span_options(p: argparse.ArgumentParser, *, events: bool) -> None:
    """``--like SPAN``, ``--keep SPAN`` (and, for ``clean``, ``--events LABELS``): the user marks the recording."""
    if events:
        p.add_argument("--events", type=spans, action="append", metavar="LABELS",
                       help="repair exactly these spans, no automatic location: a label file (an Audacity "
                            "label track .txt as `--labels` or Audacity writes it, .json or .csv; a strength "
                            "per span as `strength=0.5` in the label or a strength column) or a span "
                            f"({SPAN_FORMS}); repeatable")
        p.add_argument("--trim-spans", action="store_true",
                       help="with --events: repair each span only from where the learned detector hears its "
                            "event to where it stops (for marks drawn looser than the event, whose slack "
                            "would otherwise be rebuilt from the rest of the recording); a span it does not "
                            "hear is repaired whole; nothing outside the spans changes (needs the learned detector: -i "
                            "any; benchmarks/REPAIR.md)")
    p.add_argument("--like", type=spans, action="append", metavar="SPAN",
                   help="an example of the interference in this recording (a cough you hear): what is there "
                        "that the music does not explain is learned and every similar event is found and "
                        "removed; with -i none only what was marked is looked for; "
                        f"a span ({SPAN_FORMS}) or a label file; repeatable; on a recording cleaned in "
                        "blocks the examples must lie within 2 minutes of each other (they are learned "
                        "from the 2 minutes around them)")
    p.add_argument("--like-model", metavar="FILE.npz", action="append", default=None,
                   help="an example learned from another recording (`cleantake learn REC --like SPAN -o "
                        "FILE.npz`: a cough marked in the first take of a session, a concert's first file): "
                        "every event like it is found and removed here, as --like finds them in the "
                        "recording they are marked in; with -i none only that is looked for; repeatable "
                        "(examples from several recordings, looked for together); with --like, the examples "
                        "marked here are looked for with it; not with --events")
    p.add_argument("--keep", type=spans, action="append", metavar="SPAN",
                   help="music that must not be touched (a snare hit taken for a drop): events overlapping "
                        f"it are dropped and the output equals the input there; a span ({SPAN_FORMS}) or a "
                        "label file; repeatable")
