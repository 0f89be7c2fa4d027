"""``--like`` on recordings longer than two blocks: learned once, looked for in every block.

A recording longer than ``2 * block_s`` (40 s with the default 20-s blocks) is cleaned in
blocks. ``--like`` learns the example from the 120 s around it (``Cleaner.learn_like``) and
every block looks for events like it with that model (``clean(..., like_model=...)``). This benchmark measures that on long
recordings built from the corpus, against the same finder run on the whole recording at once
in memory (``Cleaner.clean(audio, sr, like=..., block_s=None)``, which has no length limit but
needs memory for all of it; without ``block_s=None`` the API cleans in blocks too): does cutting the recording into blocks lose events, add false ones, or cost dB?

Recordings (deterministic): for fold k of the grouped cross-validation
(:func:`cleantake.corpus.assign_folds`) and an interference class with files in fold k, fold
k's stems joined end to end (50-ms cross-fades, repeated as needed) to ``--minutes`` of music,
and an event of that class every 15-25 s (fold k's files of the class in turn; classes with one
file per fold repeat it), each at ``--level`` dB by the corpus's level definition (its energy
against the music's under it). The first event's true span is marked (``like``), with
``interference="none"``; the detector is fold k's (``benchmarks/results/detector_folds``,
trained without fold k), its analysis the bundled ``any`` dictionary as in the library (whose
core-class templates were learned from corpus files of every fold; the extra classes are in no
dictionary).

Scores per recording and path: other events found (>= 30 % of the true span covered), events
overlapping no true span (false), and plain NSDR over the whole recording
(``SDR(music, output) - SDR(music, mixture)``).

``--auto`` runs the automatic path instead (``Cleaner("any")`` with fold k's detector, nothing
marked; every event counts), on the core classes by default; ``--max-event-ms`` sets
``Settings.max_event_ms`` (``1e9``: no longest event, as before session 13), ``--block-s`` the
file path's block length and ``--detector-dir`` where the fold detectors are (both default to
the library's and ``scripts/train_detector.py``'s). ``--music mixes``
builds stereo recordings from fold k's mixes and training mixes instead of its stems (events
panned as in the corpus's mixtures; fold k's own mixes are repeated where they hold less
than ``--minutes``, as its stems are). ``--music one-mix`` repeats one of fold k's 30-s mixes
(chosen by the class): a recording whose music does not change every 20-30 s, and whose repeats
never fall inside one 20-s block and its overlaps. ``--music one-mix-shifted`` plays that mix,
then the same resampled 1, -1, 2, -2, 3, -3 semitones (and as much faster or slower) in turn, so
that no frame repeats exactly and blocks of any length can be compared on unchanging music.
``--like-params JSON`` measures a candidate finder choice (``LikeParams`` fields, as
``benchmarks/like.py`` prints them; ``Cleaner(like_params=...)``). ``--record PKL`` also writes
what the finder decided on in every block, for ``benchmarks/like.py --long`` to replay any
choice on these recordings.

    PYTHONPATH=src python benchmarks/like_long.py /path/to/corpus -j 2 --json benchmarks/results/like_long.json
    PYTHONPATH=src python benchmarks/like_long.py /path/to/corpus -j 2 --auto --max-event-ms 1e9
    PYTHONPATH=src python benchmarks/like_long.py /path/to/corpus -j 2 --auto --music mixes
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pickle
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from cleantake.atomic import atomic_write
from cleantake.errors import ParameterError
from cleantake.settings import Settings, parse_assignments
from cleantake.streaming import STREAM_BLOCK_S, STREAM_OVERLAP_S, array_blocks

#: Settings changed for every Cleaner of the run (``--set``; the worker processes are forked after
#: main sets it).
OVERRIDES: dict = {}

ROOT = Path(__file__).resolve().parents[1]
DETECTOR_DIR = ROOT / "benchmarks" / "results" / "detector_folds"
CLASSES = ("cough", "door", "creak", "scream", "drop", "clap", "footsteps", "phone", "laugh", "speech")


def _read_mono(path: Path, sr: int | None = None) -> tuple[np.ndarray, int]:
    x, fs = sf.read(str(path), dtype="float64", always_2d=True)
    if sr is not None and fs != sr:
        raise SystemExit(f"{path}: {fs} Hz, expected {sr} Hz")
    return x.mean(axis=1), fs


def _read_music(path: Path, sr: int | None, stereo: bool) -> tuple[np.ndarray, int]:
    """Music as (n,) mono, or (n, 2) stereo (a mono file on both channels)."""
    if not stereo:
        return _read_mono(path, sr)
    x, fs = sf.read(str(path), dtype="float64", always_2d=True)
    if sr is not None and fs != sr:
        raise SystemExit(f"{path}: {fs} Hz, expected {sr} Hz")
    return (x[:, :2] if x.shape[1] >= 2 else np.repeat(x, 2, axis=1)), fs


def build(corpus: Path, fold: int, cls: str, minutes: float, level_db: float, seed: int = 0,
          music_kind: str = "stems"):
    """Music, mixture and the true event spans (seconds) of one long recording.

    ``music_kind``: ``"stems"`` (fold k's stems, mono), ``"mixes"`` (fold k's stereo mixes
    and training mixes; each event panned by a constant gain pair as the corpus's mixtures are,
    its level over both channels) or ``"one-mix"`` (one of fold k's 30-s stereo mixes, chosen by
    the class, repeated: music that does not change, events panned as for ``"mixes"``)."""
    from cleantake.corpus import assign_folds, corpus_files

    folds = assign_folds(corpus)
    files = corpus_files(corpus)
    kinds = {"stems": ("stem",), "mixes": ("mix", "train_mix"), "one-mix": ("mix",),
             "one-mix-shifted": ("mix",)}[music_kind]
    stereo = music_kind != "stems"
    stems = sorted(f.path for f in files if f.kind in kinds and folds[f.path] == fold)
    if music_kind.startswith("one-mix") and stems:
        stems = [stems[CLASSES.index(cls) % len(stems)]]
    pool = sorted(f.path for f in files if f.kind == "interference" and f.label == cls and folds[f.path] == fold)
    if not stems or not pool:
        return None
    first, sr = _read_music(corpus / stems[0], None, stereo)
    n_total = int(minutes * 60 * sr)
    fade = int(0.05 * sr)
    ramp = np.sin(0.5 * np.pi * np.arange(fade) / fade) ** 2
    if stereo:
        ramp = ramp[:, None]
    music = first.copy()
    i = 1
    shifts = (1, -1, 2, -2, 3, -3)  # semitones, for "one-mix-shifted"
    while music.shape[0] < n_total:
        nxt, _ = _read_music(corpus / stems[i % len(stems)], sr, stereo)
        if music_kind == "one-mix-shifted":  # the piece again, a little higher or lower (and
            # faster or slower): no frame repeats exactly
            nxt = soxr.resample(nxt, sr, sr / 2 ** (shifts[(i - 1) % len(shifts)] / 12.0))
        i += 1
        music[-fade:] = music[-fade:] * ramp[::-1] + nxt[:fade] * ramp
        music = np.concatenate([music, nxt[fade:]])
    music = 0.5 * music[:n_total] / max(np.abs(music[:n_total]).max(), 1e-9)
    rng = np.random.default_rng([seed, fold, CLASSES.index(cls)] + ([1] if stereo else []))
    mix = music.copy()
    spans = []
    t, k = float(rng.uniform(5.0, 10.0)), 0
    while True:
        e, _ = _read_mono(corpus / pool[k % len(pool)], sr)
        k += 1
        n0 = int(t * sr)
        if n0 + e.size > n_total - sr:
            break
        if stereo:
            a = float(rng.uniform(np.pi / 8, 3 * np.pi / 8))
            e = np.outer(e, np.sqrt(2.0) * np.array([np.cos(a), np.sin(a)]))
        m_energy = float(np.sum(music[n0:n0 + e.shape[0]] ** 2))
        gain = np.sqrt(10 ** (level_db / 10) * m_energy / max(float(np.sum(e**2)), 1e-20))
        mix[n0:n0 + e.shape[0]] += gain * e
        spans.append((n0 / sr, (n0 + e.shape[0]) / sr))
        t += e.shape[0] / sr + float(rng.uniform(15.0, 25.0))
    peak = np.abs(mix).max()
    if peak > 0.99:
        mix, music = mix * 0.99 / peak, music * 0.99 / peak
    return music, mix, spans, sr, len(pool)


def detection(events, spans) -> tuple[int, int]:
    """(other true events found, false events) for ``events`` against ``spans`` (the first
    span is the marked one)."""
    found = 0
    for a, b in spans[1:]:
        cover = np.zeros(max(1, int(round((b - a) * 1000))), bool)
        for e in events:
            lo, hi = max(e.start_s, a), min(e.end_s, b)
            if hi > lo:
                cover[int((lo - a) * 1000):int(np.ceil((hi - a) * 1000))] = True
        found += cover.mean() >= 0.3
    false = sum(not any(e.start_s < b and a < e.end_s for a, b in spans) for e in events)
    return int(found), int(false)


def _sdr(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / max(float(np.sum((ref - est) ** 2)), 1e-30)))


@contextlib.contextmanager
def recording():
    """While open, record for every block of the file path what the finder decides on (the
    inputs of :func:`cleantake.like.like_frames`) and the time of every join between blocks, so
    that ``benchmarks/like.py --long`` can replay any grid point on the recording without running
    it again. Wraps library functions of this process while open; ``--like`` with one block
    worker finds the blocks one after another, in order.

    Yields
    ------
    dict
        ``blocks`` (one dict per block, in order: ``similarity``, ``novelty``, ``eligible``,
        ``reference``, ``probability``, ``marked``, ``longest``, ``times``, ``hop``,
        ``duration``, ``spans``, ``sr``, ``prototype``, ``context_ms``) and ``joins`` (seconds).
    """
    import cleantake.like as like
    import cleantake.pipeline as pipeline
    import cleantake.streaming as streaming

    scores, find, locate, merge = like.like_scores, like.find_like, pipeline.locate_like, streaming.merge_events
    record: dict = {"blocks": [], "joins": []}
    last: dict = {}

    def like_scores(*a, **kw):
        last["scores"] = out = scores(*a, **kw)
        return out

    def find_like(ana, marked, *, settings, params=None, probability=None, model=None, threads=1):
        out = find(ana, marked, settings=settings, params=params, probability=probability, model=model,
                   threads=threads)
        sim, nov, eligible, ref = last.pop("scores")
        p = params or like.LikeParams()
        record["blocks"].append({
            "similarity": sim, "novelty": nov, "eligible": eligible, "reference": ref,
            "probability": None if probability is None else np.asarray(probability, np.float32),
            "marked": np.asarray(marked, bool), "longest": int(model.longest) if model is not None else None,
            "times": ana.cfg.frame_times(ana.n_frames), "hop": ana.cfg.frame_seconds,
            "duration": last["duration"], "spans": last["spans"], "sr": ana.cfg.sr,
            "prototype": p.prototype, "context_ms": p.context_ms})
        return out

    def locate_like(x, sr, spans, **kw):
        last["duration"], last["spans"] = x.shape[1] / sr, [(e.start_s, e.end_s) for e in spans]
        return locate(x, sr, spans, **kw)

    def merge_events(first, second, *, join_s):
        if not record["joins"] or record["joins"][-1] != join_s:  # (events, then candidates)
            record["joins"].append(join_s)
        return merge(first, second, join_s=join_s)

    like.like_scores, like.find_like, pipeline.locate_like = like_scores, find_like, locate_like
    streaming.merge_events = merge_events
    try:
        yield record
    finally:
        like.like_scores, like.find_like, pipeline.locate_like = scores, find, locate
        streaming.merge_events = merge


def recorded(record: dict, mix: np.ndarray, sr: int, block_s: float, overlap_s: float) -> dict:
    """What :func:`recording` recorded while ``mix`` was cleaned in blocks, each block with its
    ``start`` (seconds), and the recording's ``duration``; RuntimeError unless there is one
    record per block."""
    starts = [a / sr for a, _ in array_blocks(mix, sr, block_s, overlap_s)]
    if len(starts) != len(record["blocks"]) or len(record["joins"]) != len(starts) - 1:
        raise RuntimeError(f"recorded {len(record['blocks'])} blocks and {len(record['joins'])} joins "
                           f"for {len(starts)} blocks")
    for b, t in zip(record["blocks"], starts):
        b["start"] = t
    return {"blocks": record["blocks"], "joins": record["joins"], "duration": mix.shape[0] / sr}


def run_one(job) -> dict | None:
    (corpus, fold, cls, minutes, level_db, auto, max_event_ms, block_s, music_kind, with_whole, detector_dir,
     record, like_params) = job
    import cleantake
    from cleantake.files import clean_file

    built = build(Path(corpus), fold, cls, minutes, level_db, music_kind=music_kind)
    if built is None:
        return None
    music, mix, spans, sr, n_files = built
    detector = str(Path(detector_dir) / f"fold{fold}.npz")
    if auto:  # nothing marked: every event counts (detection() skips the first span)
        cleaner = cleantake.Cleaner("any", detector=detector, max_event_ms=max_event_ms, **OVERRIDES)
        like, spans = None, [(0.0, 0.0)] + spans
    else:
        cleaner = cleantake.Cleaner("none", detector=detector, max_event_ms=max_event_ms, like_params=like_params,
                                    **OVERRIDES)
        like = [spans[0]]
    row = {"fold": fold, "class": cls, "seconds": mix.shape[0] / sr, "events": len(spans), "files": n_files}
    base = _sdr(music, mix)
    if with_whole:
        t0 = time.perf_counter()
        res = cleaner.clean(mix, sr, like=like, block_s=None)
        row["whole"] = {"seconds": time.perf_counter() - t0, "nsdr": _sdr(music, res.cleaned) - base,
                        **dict(zip(("found", "false"), detection(res.events, spans)))}
    with tempfile.TemporaryDirectory() as tmp, (recording() if record else contextlib.nullcontext()) as rec:
        src, out = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        sf.write(str(src), mix, sr, subtype="FLOAT")
        t0 = time.perf_counter()
        fr = clean_file(src, out, cleaner=cleaner, like=like, workers=1, block_s=block_s)
        cleaned, _ = sf.read(str(out), dtype="float64")
    row["blocks"] = {"seconds": time.perf_counter() - t0, "nsdr": _sdr(music, cleaned) - base,
                     "n_blocks": fr.stats.get("blocks"), **dict(zip(("found", "false"), detection(fr.events, spans))),
                     "events": [(e.start_s, e.end_s, e.confidence) for e in fr.events]}
    row["true_spans"] = spans[1:] if auto else spans
    if record:
        row["record"] = recorded(rec, mix, sr, block_s, STREAM_OVERLAP_S)
    return row


def table(rows: list[dict]) -> str:
    lines = ["| path | recordings | other events found | false events per recording | NSDR dB (mean) | "
             "NSDR dB, blocks - whole (mean, se) | seconds per recording |",
             "|---|---|---|---|---|---|---|"]
    others = sum(r["events"] - 1 for r in rows)
    paired = [r for r in rows if "whole" in r]
    diff = np.array([r["blocks"]["nsdr"] - r["whole"]["nsdr"] for r in paired])
    for key, name in (("whole", "whole recording in memory"), ("blocks", "file in blocks")):
        if key == "whole" and len(paired) < len(rows):
            continue
        f = sum(r[key]["found"] for r in rows)
        fp = np.mean([r[key]["false"] for r in rows])
        nsdr = np.mean([r[key]["nsdr"] for r in rows])
        sec = np.mean([r[key]["seconds"] for r in rows])
        d = (f"{diff.mean():+.2f} ({diff.std(ddof=1) / np.sqrt(diff.size):.2f})"
             if key == "blocks" and diff.size > 1 else "")
        lines.append(f"| {name} | {len(rows)} | {100 * f / max(others, 1):.1f} % ({f}/{others}) | {fp:.2f} | "
                     f"{nsdr:.2f} | {d} | {sec:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--level", type=float, default=-3.0, help="event level in dB (default -3)")
    ap.add_argument("--classes", nargs="+", default=None, help="default: all ten (with --auto: the five core)")
    ap.add_argument("--auto", action="store_true", help="the automatic path (any, nothing marked) instead of like")
    ap.add_argument("--max-event-ms", type=float, default=Settings().max_event_ms,
                    help="Settings.max_event_ms (default: the library's, %(default)g)")
    ap.add_argument("--block-s", type=float, default=STREAM_BLOCK_S,
                    help="block length of the file path (default: the command line's, %(default)g s; "
                         "overlap as the command line's)")
    ap.add_argument("--detector-dir", type=Path, default=DETECTOR_DIR, metavar="DIR",
                    help="fold k's detector is DIR/foldK.npz (default: scripts/train_detector.py's fold models)")
    ap.add_argument("--music", choices=("stems", "mixes", "one-mix", "one-mix-shifted"), default="stems",
                    help="fold k's stems (mono, default), its stereo mixes and training mixes, one "
                         "of its 30-s mixes repeated (music that does not change), or repeated "
                         "shifted by 1-3 semitones up and down (no exact repeats in any block)")
    ap.add_argument("--folds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--blocks-only", action="store_true",
                    help="only the file in blocks (the command line's path), not the whole recording in memory")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="overrides",
                    help="a cleantake.Settings field for every Cleaner of the run (repeatable), e.g. "
                         "nmf_guard_marked=0.5")
    ap.add_argument("--like-params", default=None, metavar="JSON",
                    help="LikeParams fields for the finder of the run (Cleaner(like_params=...); the others "
                         "LikeParams' defaults), e.g. a candidate choice of benchmarks/like.py: "
                         "'{\"similarity\": 0.65, \"short_similarity\": 0.7}'")
    ap.add_argument("--record", type=Path, default=None, metavar="PKL",
                    help="also write, per recording, what the finder decided on in every block and the joins "
                         "(for benchmarks/like.py --long; with --like and --blocks-only)")
    ap.add_argument("-j", "--jobs", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    try:
        OVERRIDES.update(parse_assignments(args.overrides))
    except ParameterError as exc:
        ap.error(f"--set: {exc}")
    like_params = None
    if args.like_params:
        from cleantake import LikeParams

        try:
            like_params = LikeParams(**json.loads(args.like_params))
        except (ValueError, TypeError, ParameterError) as exc:
            ap.error(f"--like-params: {exc}")
    if args.record and (args.auto or not args.blocks_only):
        ap.error("--record: only with --like (no --auto) and --blocks-only")
    if args.classes is None:
        args.classes = list(CLASSES[:5] if args.auto else CLASSES)
    jobs = [(str(args.corpus), k, c, args.minutes, args.level, args.auto, args.max_event_ms, args.block_s, args.music,
             not args.blocks_only, str(args.detector_dir), args.record is not None, like_params)
            for k in args.folds for c in args.classes]
    t0 = time.perf_counter()
    rows: list[dict] = []
    records: dict = {}

    def save() -> None:
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows},
                                            indent=1))
        if args.record:  # rewritten after every recording: never left half-written if stopped
            args.record.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(args.record, pickle.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                    "recordings": records}), what="--record")

    with Pool(args.jobs) as pool:
        for r in pool.imap(run_one, jobs):  # each row as it comes (and saved): a long run may be stopped
            if r is None:
                continue
            rec = r.pop("record", None)
            if rec is not None:
                records[f"fold{r['fold']}-{r['class']}"] = dict(rec, fold=r["fold"], cls=r["class"],
                                                                spans=r["true_spans"], events=r["blocks"]["events"])
            rows.append(r)
            save()
            whole = (f"whole {r['whole']['found']}/{r['events'] - 1} found, {r['whole']['false']} false, "
                     f"{r['whole']['nsdr']:6.2f} dB | " if "whole" in r else "")
            print(f"fold {r['fold']} {r['class']:9s} {r['events']:2d} events ({r['files']} files): {whole}"
                  f"blocks {r['blocks']['found']}/{r['events'] - 1}, "
                  f"{r['blocks']['false']} false, {r['blocks']['nsdr']:6.2f} dB ({r['blocks']['seconds']:.0f} s)",
                  flush=True)
    print(f"{len(rows)} recordings of {args.minutes:g} min of {args.music}, events at {args.level:g} dB, "
          f"{'automatic path' if args.auto else 'like'}, max_event_ms {args.max_event_ms:g}, "
          f"blocks of {args.block_s:g} s, "
          f"{time.perf_counter() - t0:.0f} s wall")
    print(table(rows))
    for cls in args.classes:
        sub = [r for r in rows if r["class"] == cls]
        if sub:
            w = sum(r["whole"]["found"] for r in sub if "whole" in r)
            b = sum(r["blocks"]["found"] for r in sub)
            n = sum(r["events"] - 1 for r in sub)
            nsdr = np.mean([r["blocks"]["nsdr"] for r in sub])
            print(f"  {cls:9s} found " + (f"whole {w}/{n}, " if not args.blocks_only else "")
                  + f"blocks {b}/{n}, {nsdr:.2f} dB")
    if args.json:
        save()
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
