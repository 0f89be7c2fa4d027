"""Speed and memory on long recordings: cleantake per stage, the STFT+ISTFT floor, and peers.

Builds test recordings by tiling corpus music (stems for mono, full mixes for stereo) and
inserting corpus interference events (eval set, core classes, one every ~15 s, at -6 dB
event-to-music energy over the event's span, per the corpus README's level definition):
3 min mono, 10 min stereo and 60 min stereo, 44.1 kHz, 16-bit WAV, written tile by tile (on
request also the hour at 96 kHz, and ``60m_stereo_sparse``: the hour with one event in every
eighth 30-s tile, a concert with a few coughs, where most blocks hold none).

Then measures, in ONE run and on the same inputs, every case in a fresh Python process (so
peak memory of one case cannot contaminate another; imports are not timed):

* ``cleantake``: file to file with :func:`cleantake.files.clean_file` (60-s
  blocks, 4-s overlap, blocks cleaned in parallel threads as ``cleantake clean`` does for
  long files), wall time per stage (``CleanResult.stats["seconds"]`` summed over blocks, so
  with parallel blocks the stages add up to more than the wall time, plus read/write/join)
  and peak RSS per stage (RSS polled every 5 ms from /proc and attributed to the stage running);
* ``cleantake_seq`` (10 min): the same with one block at a time (``workers=1``);
* ``cleantake_inspect`` (10 min, and the sparse hour): :func:`cleantake.files.locate_file` (``cleantake inspect``: the
  location alone, no audio written), blocks in threads; ``cleantake_inspect_seq`` one block at a
  time (``inspect -j 1``, how every long recording was inspected before session 39);
* ``cleantake_stack`` (60 min): the same with ``locator="stack"``, the threshold stack that
  located before the learned detector became the default (session 8);
* ``cleantake_report`` (10 and 60 min): :func:`cleantake.files.clean_file` with an HTML
  report, as ``cleantake clean --report`` (blocks, then the report drawn from the written
  files read back piece by piece), split into the blocks and the report;
* ``cleantake_channels`` (10 and 60 min): the same with ``channel_confidence=0.7`` (``clean
  --channel-confidence 0.7``: each channel also analysed and located on its own);
* ``cleantake_all`` (3, 10 and 60 min): the same with ``located_windows_ms=(92, 184)`` (``clean
  --resolutions all``: the located events repaired at three STFT resolutions, as given spans are);
* ``cleantake_spans`` (3, 10 and 60 min): the same with ``located_windows_ms=()`` (``clean
  --resolutions spans``: the located events repaired at the analysis's STFT alone, the default
  until session 38; the default repairs them at 46 and 184 ms);
* ``cleantake_like`` (3 and 10 min): the same with ``-i none`` and the recording's first
  event (0.8 s from its onset) given as ``like`` (``clean -i none --like``: the finder
  learns from it and looks for every event like it, as ``evaluate --given first``);
* ``cleantake_like_one`` (3 and 10 min): ``cleantake_like`` with ``span_windows_ms=()`` (``clean
  -i none --like ... --resolutions one``: what the finder finds repaired at the analysis's STFT
  alone instead of at three resolutions, as given spans are);
* ``cleantake_mem`` (3 min only): :meth:`cleantake.Cleaner.clean` with ``block_s=None``, one
  analysis of the whole recording in memory (the Python API's default cleans more than
  two minutes in blocks, as ``cleantake``);
* ``floor``: STFT + ISTFT of the same audio with cleantake's own transform (whole recording
  in memory for 3 min, the same 60-s blocks for the long ones; reading excluded);
* ``librosa_repet_sim`` (3 min): REPET-SIM as in librosa's documentation (magnitude STFT,
  ``librosa.decompose.nn_filter`` median over cosine-nearest frames at least 2 s apart,
  soft mask, ISTFT);
* ``noisereduce`` (3 min): ``noisereduce.reduce_noise`` with its defaults (non-stationary).

Prints a table with ratios to the floor and to cleantake, and writes JSON to
benchmarks/results/speed.json. The machine may be shared: compare ratios measured in the
same run, not absolute times across runs; CPU seconds (user + system) are given too.

Usage::

    PYTHONPATH=src python benchmarks/speed.py                      # all cases (about 15-30 min)
    PYTHONPATH=src python benchmarks/speed.py --lengths 3m_mono    # quick
    PYTHONPATH=src python benchmarks/speed.py --scale 0.1          # every case, 10 % lengths
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
SR = 44100
CLASSES = ("cough", "door", "creak", "scream", "drop")
RECORDINGS = {  # name: (minutes, channels[, sample rate, Hz: 44.1 kHz 16-bit unless given[, tiles per event]])
    "3m_mono": (3.0, 1),
    "10m_stereo": (10.0, 2),
    "60m_stereo": (60.0, 2),
    # an archive transfer: the hour at 96 kHz, 24-bit (memory grows with the rate: blocks are in seconds)
    "60m_stereo_96k": (60.0, 2, 96000),
    # a concert's hour: one event in every eighth 30-s tile (15 in the hour) instead of one per ~15 s
    "60m_stereo_sparse": (60.0, 2, SR, 8),
}
from cleantake.streaming import STREAM_BLOCK_S as BLOCK_S, STREAM_OVERLAP_S as OVERLAP_S  # noqa: E402  the library's


# ------------------------------------------------------------------------------------------
# building the recordings
# ------------------------------------------------------------------------------------------

def build_recording(corpus: Path, path: Path, minutes: float, channels: int, seed: int = 0,
                    rate: int = SR, tiles_per_event: int = 0) -> dict:
    """Write a test recording of ``minutes`` by tiling corpus music, with interference events.

    Music tiles cycle through the corpus stems (mono) or mixes (stereo); each tile gets
    interference events (one per started 15 s, at least 1 s from the tile edges and 0.5 s
    apart) drawn from the eval set of the core classes, scaled to -6 dB event-to-music energy
    over their span; stereo events get a random constant pan. Memory: one tile at a time. With
    ``rate`` other than the corpus's 44.1 kHz every tile is resampled (soxr HQ) after its events
    are added and written as 24-bit (an archive transfer); the events' times are unchanged.
    With ``tiles_per_event`` k > 0, only every k-th tile gets an event, one (sparse: a concert
    with a few coughs rather than one event every 15 s).

    Returns
    -------
    dict
        ``{"path", "seconds", "channels", "events": [[onset_s, class], ...]}``.
    """
    rng = np.random.default_rng(seed)
    folder = corpus / "music" / ("stems" if channels == 1 else "mixes")
    tiles = sorted(folder.glob("*.flac"))
    pools = {c: sorted((corpus / "interference" / "eval" / c).glob("*.flac")) for c in CLASSES}
    n_total = int(round(minutes * 60 * SR))
    events: list = []
    tmp = path.with_suffix(".part.wav")
    subtype = "PCM_16" if rate == SR else "PCM_24"
    with sf.SoundFile(str(tmp), "w", rate, channels, subtype, format="WAV") as out:
        written, k = 0, 0
        while written < n_total:
            m, sr = sf.read(str(tiles[k % len(tiles)]), dtype="float64", always_2d=True)
            assert sr == SR and m.shape[1] == channels
            k += 1
            y = m[: n_total - written].copy()
            n = y.shape[0]
            t = 1.0 + rng.uniform(0, 3)
            sparse_skip = tiles_per_event > 0 and (k - 1) % tiles_per_event != 0
            limit = 0.0 if sparse_skip else n / SR - 5.0
            while t < limit:
                cls = CLASSES[len(events) % len(CLASSES)]
                e, esr = sf.read(str(pools[cls][rng.integers(len(pools[cls]))]), dtype="float64")
                assert esr == SR
                n0 = int(round(t * SR))
                e = e[: max(0, n - SR - n0)]
                if e.size:
                    th = rng.uniform(np.pi / 8, 3 * np.pi / 8)
                    w = np.sqrt(2) * np.array([np.cos(th), np.sin(th)]) if channels == 2 else np.ones(1)
                    seg = y[n0: n0 + e.size]
                    music_e = float(np.sum(seg**2))
                    ev_e = float(np.sum(e**2) * np.sum(w**2))
                    if music_e > 0 and ev_e > 0:
                        gain = np.sqrt(10 ** (-6 / 10) * music_e / ev_e)
                        seg += gain * e[:, None] * w[None, :]
                        events.append([round((written + n0) / SR, 3), cls])
                t += e.size / SR + 0.5 + rng.uniform(8, 14)
                if tiles_per_event > 0:
                    break
            if rate != SR:
                import soxr

                y = soxr.resample(y, SR, rate, quality="HQ")
            out.write(np.clip(y, -1.0, 1.0 - 2**-15))
            written += n
    os.replace(tmp, path)
    info = {"path": str(path), "seconds": n_total / SR, "channels": channels, "sr": rate, "events": events}
    path.with_suffix(".json").write_text(json.dumps(info))
    return info


def ensure_recordings(corpus: Path, cache: Path, names: list[str], scale: float) -> dict:
    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in names:
        minutes, channels, *more = RECORDINGS[name]
        rate = more[0] if more else SR
        tiles_per_event = more[1] if len(more) > 1 else 0
        minutes *= scale
        path = cache / f"{name}_x{scale:g}.wav"
        meta = path.with_suffix(".json")
        if path.exists() and meta.exists():
            out[name] = json.loads(meta.read_text())
            continue
        t0 = time.perf_counter()
        out[name] = build_recording(corpus, path, minutes, channels, rate=rate, tiles_per_event=tiles_per_event)
        print(f"built {path.name}: {minutes:g} min, {channels} ch, {len(out[name]['events'])} events "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
    return out


# ------------------------------------------------------------------------------------------
# worker: one case in this (fresh) process
# ------------------------------------------------------------------------------------------

def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssSampler:
    """Poll this process's resident set size every ``interval`` seconds in a thread."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), _rss_bytes()))
            self._stop.wait(self.interval)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter(), _rss_bytes()))


class StageClock:
    """Wraps a Cleaner: records when each stage of every ``clean`` call ran."""

    def __init__(self, cleaner):
        self.cleaner = cleaner
        self.intervals: list[tuple[str, float, float]] = []

    def __getattr__(self, name):  # the rest of the Cleaner (settings, learn_like, ...) as it is
        return getattr(self.cleaner, name)

    def clean(self, audio, sr, *, progress=None, **spans):
        t0 = time.perf_counter()
        res = self.cleaner.clean(audio, sr, progress=progress, **spans)
        t1 = time.perf_counter()
        t = t0
        for stage, sec in res.stats.get("seconds", {}).items():
            self.intervals.append((stage, t, min(t + sec, t1)))
            t += sec
        return res


def _stage_memory(samples, intervals) -> dict:
    peak: dict[str, int] = {}
    if not samples:
        return peak
    ts = np.array([s[0] for s in samples])
    rss = np.array([s[1] for s in samples])
    for stage, a, b in intervals:
        i, j = np.searchsorted(ts, a), np.searchsorted(ts, b, side="right")
        if j > i:
            peak[stage] = max(peak.get(stage, 0), int(rss[i:j].max()))
    return peak


def run_case(case: str, rec: dict, threads: int | None, workers: int | None = None) -> dict:
    """Run one case in this process and return its measurements."""
    if threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    import cleantake
    from cleantake.settings import RESOLUTIONS
    from cleantake import io as ctio
    from cleantake.spectral import StftConfig, istft, stft
    from cleantake.files import clean_file, locate_file
    from cleantake.threads import default_jobs as default_workers

    # Imports are not timed (for cleantake as for the peers, some of which use scipy.signal;
    # cleantake no longer does since session 13: benchmarks/startup.py measures what imports
    # cost a command), so import the heavy ones here.
    import scipy.signal  # noqa: F401

    path = Path(rec["path"])
    out: dict = {"case": case, "seconds_audio": rec["seconds"]}
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    stages: dict[str, float] = {}
    intervals: list = []
    if case == "cleantake_seq":  # the same, one block at a time: what the parallel blocks gain
        case, workers = "cleantake", 1
        out["case"] = "cleantake_seq"
    given = None
    locator = "auto"
    if case == "cleantake_stack":  # the same with the threshold stack, the default before session 8
        case, locator = "cleantake", "stack"
        out["case"] = "cleantake_stack"
    channel_confidence = 0.0
    if case == "cleantake_channels":  # `clean --channel-confidence 0.7`: each channel also located alone
        case, channel_confidence = "cleantake", 0.7
        out["case"] = "cleantake_channels"
    further = {}
    if case in ("cleantake_all", "cleantake_spans"):  # `clean --resolutions all|spans`: located events at three|one
        case, further = "cleantake", dict(RESOLUTIONS[case.split("_")[1]])
    if case == "cleantake_given":  # `clean --events`: the recording's first 100 events given, no location
        case = "cleantake"
        out["case"] = "cleantake_given"
        given = [(t, min(t + 0.8, rec["seconds"])) for t, _ in rec["events"][:100]]
        out["n_given"] = len(given)
    like, interference = None, "any"
    if case == "cleantake_like_one":  # `clean -i none --like --resolutions one`: what it finds at one alone
        case, further = "cleantake_like", dict(RESOLUTIONS["one"])
    if case == "cleantake_like":  # `clean -i none --like`: the first event marked, every one like it found
        case, interference = "cleantake", "none"
        t, _ = rec["events"][0]
        like = [(t, min(t + 0.8, rec["seconds"]))]
    if case == "cleantake":
        clock = StageClock(cleantake.Cleaner(interference, locator=locator, channel_confidence=channel_confidence,
                                             **further))
        outdir = Path(os.environ.get("SPEED_TMP", "/tmp")) / f"speed-out-{os.getpid()}"
        outdir.mkdir(exist_ok=True)
        stats: dict = {}
        out["rss_before"] = _rss_bytes()
        with RssSampler() as sampler:
            t0 = time.perf_counter()
            res = clean_file(path, outdir / "cleaned.wav", cleaner=clock,
                             removed_path=outdir / "removed.wav", overwrite=True,
                             block_s=BLOCK_S, overlap_s=OVERLAP_S, workers=workers, events=given,
                             like=like)
            events, stats = res.events, res.stats
            wall = time.perf_counter() - t0
        stages = stats["seconds"]
        intervals = clock.intervals
        out.update(blocks=stats["blocks"], crossfaded_joins=stats["crossfaded_joins"],
                   screened_blocks=stats.get("screened_blocks", 0), n_events=len(events),
                   workers=workers or default_workers())
        for f in outdir.iterdir():
            f.unlink()
        outdir.rmdir()
    elif case == "cleantake_report":  # `cleantake clean --report`: blocks, then the report from the files
        cleaner = cleantake.Cleaner("any")
        outdir = Path(os.environ.get("SPEED_TMP", "/tmp")) / f"speed-out-{os.getpid()}"
        outdir.mkdir(exist_ok=True)
        marks: dict = {}

        def progress(f: float) -> None:  # the blocks end at 0.9, the report at 1.0
            if f >= 0.9 and "blocks_done" not in marks:
                marks["blocks_done"] = time.perf_counter()

        out["rss_before"] = _rss_bytes()
        with RssSampler() as sampler:
            t0 = time.perf_counter()
            res = clean_file(path, outdir / "cleaned.wav", cleaner=cleaner, removed_path=outdir / "removed.wav",
                             overwrite=True, report_dir=outdir / "report", progress=progress, workers=workers)
            wall = time.perf_counter() - t0
        t_blocks = marks.get("blocks_done", t0 + wall)
        stages = {"blocks": t_blocks - t0, "report": t0 + wall - t_blocks}
        intervals = [("blocks", t0, t_blocks), ("report", t_blocks, t0 + wall)]
        out.update(n_events=len(res.events), report_bytes=res.report_output.stat().st_size,
                   workers=workers or default_workers())
        for f in sorted(outdir.rglob("*"), reverse=True):
            f.rmdir() if f.is_dir() else f.unlink()
        outdir.rmdir()
    elif case in ("cleantake_inspect", "cleantake_inspect_seq"):  # `cleantake inspect`: location only
        if case == "cleantake_inspect_seq":  # one block at a time (`inspect -j 1`, as before session 39)
            workers = 1
        out["rss_before"] = _rss_bytes()
        with RssSampler() as sampler:
            t0 = time.perf_counter()
            res = locate_file(path, cleaner=cleantake.Cleaner("any"), block_s=BLOCK_S, overlap_s=OVERLAP_S,
                              workers=workers)
            wall = time.perf_counter() - t0
        stages = {"locate": wall}
        intervals = [("locate", t0, t0 + wall)]
        out.update(n_events=len(res.events), workers=workers or default_workers())
    elif case == "cleantake_mem":
        audio, info = ctio.read_audio(path)
        clock = StageClock(cleantake.Cleaner("any"))
        out["rss_before"] = _rss_bytes()
        with RssSampler() as sampler:
            t0 = time.perf_counter()
            res = clock.clean(audio, info.samplerate, block_s=None)
            wall = time.perf_counter() - t0
        stages = dict(res.stats["seconds"])
        intervals = clock.intervals
        out["n_events"] = len(res.events)
    elif case == "floor":
        cfg = StftConfig(rec.get("sr", SR))  # the recording's rate (older cached recordings: 44.1 kHz)
        whole = rec["seconds"] <= 300  # short: in memory, like cleantake_mem; long: blocks
        blocks = ([(0, ctio.read_audio(path)[0])] if whole
                  else ctio.iter_blocks(path, block_s=BLOCK_S, overlap_s=OVERLAP_S))
        out["rss_before"] = _rss_bytes()
        t_stft = t_istft = 0.0
        with RssSampler() as sampler:
            t0 = time.perf_counter()
            for _, x in blocks:
                a = time.perf_counter()
                X = stft(x.T, cfg)
                b = time.perf_counter()
                y = istft(X, cfg, x.shape[0])
                c = time.perf_counter()
                t_stft += b - a
                t_istft += c - b
                intervals += [("stft", a, b), ("istft", b, c)]
                del X, y
            total = time.perf_counter() - t0
        wall = t_stft + t_istft  # reading excluded: STFT + ISTFT only
        stages = {"stft": t_stft, "istft": t_istft, "read": total - wall}
        out["mode"] = "whole" if whole else f"{BLOCK_S:g}-s blocks"
    elif case == "librosa_repet_sim":
        import librosa

        audio, info = ctio.read_audio(path)
        y0 = audio.mean(axis=1).astype(np.float32)
        out["rss_before"] = _rss_bytes()
        with RssSampler() as sampler:
            t0 = time.perf_counter()
            S_full, phase = librosa.magphase(librosa.stft(y0, n_fft=2048, hop_length=512))
            a = time.perf_counter()
            S_filter = librosa.decompose.nn_filter(
                S_full, aggregate=np.median, metric="cosine",
                width=int(librosa.time_to_frames(2, sr=info.samplerate, hop_length=512)))
            S_filter = np.minimum(S_full, S_filter)
            b = time.perf_counter()
            mask = librosa.util.softmask(S_filter, 2 * (S_full - S_filter), power=2)
            y = librosa.istft(mask * S_full * phase, hop_length=512, length=y0.size)
            wall = time.perf_counter() - t0
        stages = {"stft": a - t0, "nn_filter": b - a, "mask+istft": wall - (b - t0)}
        intervals = [("stft", t0, a), ("nn_filter", a, b), ("mask+istft", b, t0 + wall)]
        del y
    elif case == "noisereduce":
        import noisereduce

        audio, info = ctio.read_audio(path)
        out["rss_before"] = _rss_bytes()
        with RssSampler() as sampler:
            t0 = time.perf_counter()
            noisereduce.reduce_noise(y=audio.T, sr=info.samplerate, n_jobs=1)
            wall = time.perf_counter() - t0
        stages = {"reduce_noise": wall}
        intervals = [("reduce_noise", t0, t0 + wall)]
    else:
        raise SystemExit(f"unknown case {case!r}")
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    out["wall_s"] = wall
    out["cpu_s"] = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    out["stages_s"] = stages
    out["stage_peak_rss"] = _stage_memory(sampler.samples, intervals)
    out["peak_rss_polled"] = max(s[1] for s in sampler.samples)
    out["peak_rss"] = ru1.ru_maxrss * 1024  # kilobytes on Linux; includes imports and input
    return out


# ------------------------------------------------------------------------------------------
# driver
# ------------------------------------------------------------------------------------------

CASES = {
    "3m_mono": ["floor", "cleantake", "cleantake_mem", "cleantake_all", "cleantake_spans", "cleantake_like",
                "cleantake_like_one", "librosa_repet_sim", "noisereduce"],
    "10m_stereo": ["floor", "cleantake", "cleantake_seq", "cleantake_report", "cleantake_channels", "cleantake_all",
                   "cleantake_spans", "cleantake_like", "cleantake_like_one", "cleantake_inspect",
                   "cleantake_inspect_seq"],
    "60m_stereo": ["floor", "cleantake", "cleantake_stack", "cleantake_report", "cleantake_given",
                   "cleantake_channels", "cleantake_all", "cleantake_spans"],
    "60m_stereo_96k": ["floor", "cleantake", "cleantake_given"],
    "60m_stereo_sparse": ["floor", "cleantake", "cleantake_inspect"],
}


def _fmt_mb(b) -> str:
    return f"{b / 2**20:,.0f}" if b else "-"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/cleantake-speed"),
                    help="where the built recordings are kept (about 0.7 GB for all)")
    ap.add_argument("--lengths", nargs="+", default=["3m_mono", "10m_stereo", "60m_stereo"], choices=list(RECORDINGS),
                    help="recordings to run (default the three at 44.1 kHz; 60m_stereo_96k, an hour at 96 kHz "
                         "24-bit, 2 GB on disk, and 60m_stereo_sparse, the hour with 15 events instead of "
                         "about 240, on request)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every length (quick runs)")
    ap.add_argument("--threads", type=int, default=None, help="limit BLAS/OpenMP threads (default: theirs)")
    ap.add_argument("--workers", type=int, default=None,
                    help="blocks cleaned at once by the `cleantake` case (default: the library's, "
                         "the CPUs up to 4); `cleantake_seq` always uses 1")
    ap.add_argument("--cases", nargs="+", default=None,
                    help="only these cases (of each recording's; the floor is always run)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run every case this many times, in turn, each in a fresh process; the "
                         "table shows the run with the median wall time of each case")
    ap.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "speed.json")
    ap.add_argument("--worker", nargs=2, metavar=("CASE", "RECORDING_JSON"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        case, rec_json = args.worker
        print(json.dumps(run_case(case, json.loads(Path(rec_json).read_text()), args.threads, args.workers)))
        return 0

    if not args.corpus.is_dir():
        print(f"corpus not found at {args.corpus}", file=sys.stderr)
        return 2
    recs = ensure_recordings(args.corpus, args.cache, args.lengths, args.scale)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    runs = []
    for name in args.lengths:
        rec_json = Path(recs[name]["path"]).with_suffix(".json")
        cases = [c for c in CASES[name] if args.cases is None or c == "floor" or c in args.cases]
        for case in [c for _ in range(args.repeat) for c in cases]:
            cmd = [sys.executable, __file__, "--worker", case, str(rec_json)]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            if args.workers:
                cmd += ["--workers", str(args.workers)]
            t0 = time.perf_counter()
            p = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if p.returncode != 0:
                print(f"{name} {case}: FAILED\n{p.stderr[-3000:]}", file=sys.stderr, flush=True)
                runs.append({"recording": name, "case": case, "error": p.stderr[-3000:]})
                continue
            r = json.loads(p.stdout.strip().splitlines()[-1])
            r["recording"] = name
            r["process_wall_s"] = time.perf_counter() - t0
            runs.append(r)
            print(f"{name:>11} {case:<18} {r['wall_s']:8.2f} s wall {r['cpu_s']:8.1f} s CPU "
                  f"peak {_fmt_mb(r['peak_rss'])} MB  {r['stages_s']}", flush=True)

    # One row per case: its run with the median wall time (all runs' times kept in the JSON).
    results = []
    for key in dict.fromkeys((r["recording"], r["case"]) for r in runs):
        mine = [r for r in runs if (r["recording"], r["case"]) == key]
        ok = sorted((r for r in mine if "error" not in r), key=lambda r: r["wall_s"])
        if not ok:
            results.append(mine[0])
            continue
        r = dict(ok[(len(ok) - 1) // 2])
        r["wall_s_runs"] = [m["wall_s"] for m in mine if "error" not in m]
        r["failed_runs"] = len(mine) - len(ok)
        results.append(r)

    # Table with ratios measured in this run.
    by = {(r["recording"], r["case"]): r for r in results if "error" not in r}
    lines = []
    hdr = ("| recording | case | wall s | s per audio min | x floor | CPU s | peak RSS MB | "
           "stages: wall s (peak RSS MB) |")
    lines += [hdr, "|" + "---|" * 8]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['recording']} | {r['case']} | FAILED | | | | | |")
            continue
        floor = by.get((r["recording"], "floor"))
        ratio = f"{r['wall_s'] / floor['wall_s']:.1f}" if floor and r["case"] != "floor" else "1.0"
        st = ", ".join(f"{k} {v:.2f} ({_fmt_mb(r['stage_peak_rss'].get(k))})" for k, v in r["stages_s"].items())
        lines.append(f"| {r['recording']} | {r['case']} | {r['wall_s']:.2f} | "
                     f"{r['wall_s'] / (r['seconds_audio'] / 60):.2f} | {ratio} | {r['cpu_s']:.1f} | "
                     f"{_fmt_mb(r['peak_rss'])} | {st} |")
    ratios = {}
    ct = by.get(("3m_mono", "cleantake_mem"))
    for peer in ("librosa_repet_sim", "noisereduce"):
        p = by.get(("3m_mono", peer))
        if ct and p:
            ratios[f"3m_mono: {peer} / cleantake (in memory)"] = p["wall_s"] / ct["wall_s"]
    for case in ("cleantake", "cleantake_mem"):
        a = by.get(("3m_mono", case))
        f = by.get(("3m_mono", "floor"))
        if a and f:
            ratios[f"3m_mono: {case} / floor"] = a["wall_s"] / f["wall_s"]
    for name in ("10m_stereo", "60m_stereo"):
        a, b = by.get((name, "cleantake")), by.get((name, "cleantake_report"))
        if a and b:
            ratios[f"{name}: with --report / without, wall"] = b["wall_s"] / a["wall_s"]
            ratios[f"{name}: with --report / without, peak RSS"] = b["peak_rss"] / a["peak_rss"]
    for name in ("10m_stereo", "60m_stereo"):
        a, b = by.get((name, "cleantake")), by.get((name, "cleantake_channels"))
        if a and b:
            ratios[f"{name}: each channel also located / default, wall"] = b["wall_s"] / a["wall_s"]
            ratios[f"{name}: each channel also located / default, peak RSS"] = b["peak_rss"] / a["peak_rss"]
    for name in ("3m_mono", "10m_stereo", "60m_stereo"):
        a, b = by.get((name, "cleantake")), by.get((name, "cleantake_all"))
        if a and b:
            ratios[f"{name}: located events at three resolutions / default (two), wall"] = b["wall_s"] / a["wall_s"]
        a, b = by.get((name, "cleantake_spans")), by.get((name, "cleantake"))
        if a and b:
            ratios[f"{name}: located events at two resolutions (default) / at one, wall"] = b["wall_s"] / a["wall_s"]
        a, b = by.get((name, "cleantake_like_one")), by.get((name, "cleantake_like"))
        if a and b:
            ratios[f"{name}: --like events at three resolutions (default) / at one, wall"] = b["wall_s"] / a["wall_s"]
    a, b = by.get(("10m_stereo", "cleantake")), by.get(("60m_stereo", "cleantake"))
    if a and b:
        ratios["cost per audio minute, 60 min / 10 min (1.0 = linear)"] = (
            (b["wall_s"] / b["seconds_audio"]) / (a["wall_s"] / a["seconds_audio"]))
    table = "\n".join(lines)
    print()
    print(table)
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}")
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    doc = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "command": " ".join([Path(sys.executable).name, "benchmarks/speed.py"] + list(argv or sys.argv[1:])),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_at_end": os.getloadavg()},
        "block_s": BLOCK_S, "overlap_s": OVERLAP_S, "scale": args.scale, "threads": args.threads,
        "recordings": {k: {kk: vv for kk, vv in v.items() if kk != "events"} | {"n_events": len(v["events"])}
                       for k, v in recs.items()},
        "repeat": args.repeat,
        "runs": runs,
        "results": results,
        "ratios": ratios,
        "table_markdown": table,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
