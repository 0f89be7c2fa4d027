"""Separation quality on a mixture corpus, measured the way the field does (BSS Eval).

``cleantake evaluate --corpus DIR --out results.json`` reads a corpus in the format of
``shared/corpus`` (``mixtures.json`` + FLAC files), builds every requested mixture exactly by
the corpus rules, runs each method on it and scores the method's estimate of the music against
the clean music.

Scores are computed by :mod:`cleantake.scores` (whose docstring gives the metric decisions),
mixtures built by :mod:`cleantake.corpus`, methods run by :mod:`cleantake.peers`.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from .corpus import build_mixture, event_spans, load_mixtures
from .errors import AudioReadError, ParameterError
from .peers import METHODS, OWN_METHODS, check_methods, clean_given_spans, cleantake_method
from .scores import DB_CAP, FILTER_LENGTH, bss_scores, require_backend, score, score_many
from .settings import RESOLUTIONS

__all__ = [
    "SETS",
    "SUBSETS",
    "METHODS",
    "FILTER_LENGTH",
    "DB_CAP",
    "load_mixtures",
    "build_mixture",
    "bss_scores",
    "score",
    "score_many",
    "run",
    "format_table",
    "write_results",
    "add_parser",
]

SETS = ("stems", "mixes", "stems_extra", "clean")
SUBSETS = ("quick", "full")
LEVELS = ("0", "-3", "-6")


# --------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------
def _level_key(level) -> str | None:
    return None if level is None else str(int(round(float(level))))


def _evaluate_one(corpus_dir: str, entry: dict, methods: Sequence[str], given: str = "none",
                  resolutions: str = "default") -> list[dict]:
    """Build one mixture, run every method on it and score the results (one row per method)."""
    mixture, music, _, sr = build_mixture(corpus_dir, entry)
    outputs, rows = [], []
    for name in methods:
        row = {"id": entry["id"], "set": entry["set"], "class": entry.get("class"),
               "level_db": entry.get("level_db"), "method": name}
        if given != "none":
            row["given"] = given
        t0 = time.perf_counter()
        try:
            if given == "spans" and name == "proposed":
                cleaned, _removed, events = clean_given_spans(mixture, sr, event_spans(corpus_dir, entry),
                                                              resolutions=resolutions)
            elif given == "first" and name == "proposed":
                true = sorted(event_spans(corpus_dir, entry))
                cleaned, _removed, events, candidates = clean_like_first(mixture, sr, true, resolutions=resolutions)
                others = true[1:]
                row["others_found"] = _share_found(others, events)
                row["others_in_reach"] = _share_found(others, list(events) + list(candidates))
                row["false_events_given"] = sum(
                    1 for e in events if not any(min(e.end_s, b) > max(e.start_s, a) for a, b in true))
            else:
                method = cleantake_method(name, resolutions=resolutions) if name in OWN_METHODS else METHODS[name]
                out = method(mixture, sr)
                cleaned, _removed, events = out[:3]
                candidates = out[3] if len(out) > 3 else None
                if events is not None and entry["set"] != "clean":
                    # Events found (>= 30 % of the span covered), and within a reviewer's reach
                    # (by the events and the candidates for review).
                    true = event_spans(corpus_dir, entry)
                    row["n_true"] = len(true)
                    row["n_found"] = _count_found(true, events)
                    if candidates is not None:
                        row["n_reach"] = _count_found(true, list(events) + list(candidates))
                if candidates is not None:
                    row["candidates"] = len(candidates)
                    row["minutes"] = mixture.shape[0] / sr / 60
            row["seconds"] = time.perf_counter() - t0
            cleaned = np.asarray(cleaned, dtype=np.float64).reshape(mixture.shape)
            if not np.all(np.isfinite(cleaned)):
                raise ValueError("output has non-finite samples")
        except Exception as exc:  # one method failing on one mixture must not end the run
            row.update(seconds=time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}")
            cleaned, events = None, None
        row["events"] = None if events is None else len(events)
        outputs.append(cleaned)
        rows.append(row)
    ok = [i for i, o in enumerate(outputs) if o is not None]
    try:
        scores = score_many([outputs[i] for i in ok], music, mixture) if ok else []
    except Exception as exc:  # e.g. a singular system in BSS Eval: record it, keep going
        for i in ok:
            rows[i]["error"] = f"scoring failed: {type(exc).__name__}: {exc}"
        ok, scores = [], []
    for i, s in zip(ok, scores):
        rows[i].update(s)
        if entry["set"] == "clean":
            rows[i]["false_events"] = rows[i]["events"]
    for row in rows:
        for k in ("sdr", "sir", "sar", "nsdr", "nsir"):
            row.setdefault(k, None)
    return rows


def clean_like_first(mixture: np.ndarray, sr: int, true: Sequence[tuple[float, float]], *,
                     resolutions: str = "default"):
    """``--given first``: only the first event's span, as an example (``like=``, ``-i none``),
    repaired at the ``resolutions`` of :data:`cleantake.settings.RESOLUTIONS` (what the finder
    finds is repaired as given spans are: at three STFT resolutions unless ``one``).

    Returns ``(cleaned, removed, events, candidates)``, the audio with ``mixture``'s shape.
    """
    import cleantake

    audio = mixture[:, 0] if mixture.shape[1] == 1 else mixture
    res = cleantake.Cleaner("none", **RESOLUTIONS[resolutions]).clean(audio, sr, like=[true[0]])
    cleaned = np.asarray(res.cleaned, dtype=np.float64).reshape(mixture.shape)
    return cleaned, mixture - cleaned, list(res.events), list(res.candidates)


def _count_found(spans: Sequence[tuple[float, float]], events) -> int:
    """How many of ``spans`` ``events`` cover >= 30 %."""
    found = 0
    for a, b in spans:
        cover = sum(max(0.0, min(b, e.end_s) - max(a, e.start_s)) for e in events)
        found += cover >= 0.3 * (b - a)
    return found


def _share_found(spans: Sequence[tuple[float, float]], events) -> float | None:
    """Share of ``spans`` covered >= 30 % by ``events`` (None when there are none)."""
    return _count_found(spans, events) / len(spans) if spans else None


def _mean(values) -> float | None:
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v else None


def _summarise(rows: list[dict], methods: Sequence[str]) -> tuple[dict, dict]:
    summary: dict = {}
    by_class: dict = {}
    groups: dict = {}
    for r in rows:
        key = "clean" if r["set"] == "clean" else _level_key(r["level_db"])
        groups.setdefault((r["set"], r["method"], None, key), []).append(r)
        if r["set"] != "clean":
            groups.setdefault((r["set"], r["method"], r["class"], key), []).append(r)
    level_order = {k: i for i, k in enumerate(LEVELS + ("clean",))}
    method_order = {m: i for i, m in enumerate(methods)}
    for (set_, method, cls, key), rs in sorted(
        groups.items(), key=lambda kv: (method_order.get(kv[0][1], 99), str(kv[0][2]), level_order.get(kv[0][3], 99))
    ):
        ok = [r for r in rs if "error" not in r]
        cell = {"n": len(ok), "errors": len(rs) - len(ok), "seconds": _mean(r["seconds"] for r in rs)}
        if set_ == "clean":
            fe = [r["false_events"] for r in ok]
            cell.update(sdr=_mean(r["sdr"] for r in ok), snr=_mean(r["snr"] for r in ok),
                        false_events=None if any(f is None for f in fe) else int(sum(fe)))
        else:
            cell.update(nsdr=_mean(r["nsdr"] for r in ok), nsir=_mean(r["nsir"] for r in ok),
                        sdr=_mean(r["sdr"] for r in ok), sir=_mean(r["sir"] for r in ok),
                        sar=_mean(r["sar"] for r in ok))
            if ok and all("n_true" in r for r in ok):
                cell.update(events_true=sum(r["n_true"] for r in ok), events_found=sum(r["n_found"] for r in ok))
                if all("n_reach" in r for r in ok):
                    cell["events_in_reach"] = sum(r["n_reach"] for r in ok)
            if any("others_found" in r for r in ok):  # --given first
                cell.update(others_found=_mean(r.get("others_found") for r in ok),
                            others_in_reach=_mean(r.get("others_in_reach") for r in ok),
                            false_events_per_recording=_mean(r.get("false_events_given") for r in ok))
        if ok and all("candidates" in r for r in ok):
            cell["candidates_per_minute"] = sum(r["candidates"] for r in ok) / max(sum(r["minutes"] for r in ok), 1e-9)
        if cls is None:
            summary.setdefault(set_, {}).setdefault(method, {})[key] = cell
        else:
            by_class.setdefault(set_, {}).setdefault(method, {}).setdefault(cls, {})[key] = cell
    return summary, by_class


def run(
    corpus_dir: str | os.PathLike,
    *,
    subset: str = "quick",
    sets: Sequence[str] = SETS,
    methods: Sequence[str] = ("identity",),
    jobs: int = 1,
    progress: Callable[[float], None] | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    every: int = 1,
    given: str = "none",
    resolutions: str = "default",
) -> dict:
    """Evaluate methods on the mixtures of a corpus.

    Parameters
    ----------
    corpus_dir : path
        Corpus folder (``mixtures.json`` and the FLAC files it names).
    subset : {"quick", "full"}
        ``"quick"``: only mixtures marked quick (~10 %); ``"full"``: all mixtures.
    sets : sequence of {"stems", "mixes", "stems_extra", "clean"}
        Which mixture sets to evaluate.
    methods : sequence of str
        Names from :data:`METHODS`.
    jobs : int >= 1
        Number of worker processes; mixtures are spread over them, output order is fixed.
    progress : callable(fraction in [0, 1]), optional
        Called after every mixture.
    checkpoint : path, optional
        JSON-lines file that receives each mixture's rows as soon as they are done, so that a
        long run that stops can be resumed. Started afresh unless ``resume``.
    resume : bool
        Reuse the rows in ``checkpoint`` of mixtures whose recipe and method list are unchanged
        and evaluate only the rest.
    every : int >= 1
        Take every n-th selected mixture (in the order of mixtures.json): a deterministic sample
        of the set, for slow methods.
    given : {"none", "spans", "first"}
        What the method is told about the interference. ``none``: nothing, it locates the
        events itself (the default). ``spans``: the true span of every event, no location (the
        ceiling of the repair; methods ``proposed`` and ``identity`` only). ``first``: only the
        first event's span of each mixture with two or more events, as an example to learn
        from (``like=``, with no bundled dictionary); only mixtures with two or more events
        are run, and each cell also gives ``others_found`` (share of the other events found,
        >= 30 % of their span covered), ``others_in_reach`` (the same by the events and the
        candidates for review) and ``false_events_per_recording``.
    resolutions : {"default", "spans", "all", "one"}
        The time-frequency resolutions of cleantake's repair (``clean --resolutions``;
        :data:`cleantake.settings.RESOLUTIONS`): ``default`` given spans at three and located
        events at two (46 and 184 ms), ``spans`` located events at one, ``all`` both at three,
        ``one`` both at one; what ``--given first`` finds like its example is repaired as given
        spans are. Peers ignore it.

    Returns
    -------
    dict
        ``{"meta": {...}, "summary": {SET: {METHOD: {LEVEL: cell}}},
        "summary_by_class": {SET: {METHOD: {CLASS: {LEVEL: cell}}}}, "rows": [...]}``.
        LEVEL is ``"0"``, ``"-3"``, ``"-6"`` (``"clean"`` for the clean set); a cell holds
        ``nsdr``, ``nsir`` (means in dB), ``n``, ``errors`` and ``seconds`` (mean wall time of
        the method per mixture), and for the clean set ``sdr``, ``snr`` and ``false_events``
        (total; None if the method does not locate events). With ``given="none"`` a cell of a
        method that locates also holds ``events_true`` and ``events_found`` (>= 30 % of the
        span covered), and for cleantake's methods ``events_in_reach`` (found by the events
        and the candidates for review) and ``candidates_per_minute`` (clean cells too). Rows:
        one per mixture and method, in corpus order then method order.

    Raises
    ------
    ParameterError
        For an unknown subset, set, method or ``given``, a method that ``given`` does not run,
        or jobs < 1.
    CleantakeError
        If a method's package is not installed.
    AudioReadError
        If the corpus or one of its files cannot be read.
    """
    if subset not in SUBSETS:
        raise ParameterError(f"unknown subset {subset!r}; choose from {', '.join(SUBSETS)}")
    bad = [s for s in sets if s not in SETS]
    if bad or not sets:
        raise ParameterError(f"unknown or empty set list {list(sets)}; choose from {', '.join(SETS)}")
    if not methods:
        raise ParameterError(f"no method given; choose from {', '.join(METHODS)}")
    if not (isinstance(jobs, (int, np.integer)) and jobs >= 1):
        raise ParameterError(f"jobs must be a whole number >= 1, got {jobs!r}")
    if not (isinstance(every, (int, np.integer)) and every >= 1):
        raise ParameterError(f"every must be a whole number >= 1, got {every!r}")
    methods = list(dict.fromkeys(methods))
    _check_given(given, methods)
    if resolutions not in RESOLUTIONS:
        raise ParameterError(f"unknown resolutions {resolutions!r}; choose from {', '.join(RESOLUTIONS)}")
    check_methods(methods)
    require_backend()
    corpus_dir = str(Path(corpus_dir).resolve())
    entries = [e for e in load_mixtures(corpus_dir)
               if e["set"] in sets and (subset == "full" or e.get("subset") == "quick")
               and (given != "first" or len(e["events"]) >= 2)][::every]
    t_start = time.perf_counter()
    per_entry: list[list[dict] | None] = [None] * len(entries)
    log = None
    if checkpoint is not None:
        previous = _read_checkpoint(checkpoint, methods, given, resolutions) if resume else {}
        for i, e in enumerate(entries):
            per_entry[i] = previous.get(json.dumps(e, sort_keys=True))
        log = _open_checkpoint(checkpoint, append=resume)
    todo = [i for i, rows in enumerate(per_entry) if rows is None]
    done = len(entries) - len(todo)

    def finished(i: int, rows: list[dict]) -> None:
        nonlocal done
        per_entry[i] = rows
        if log is not None:
            log.write(json.dumps({"entry": entries[i], "methods": methods, "given": given,
                                  "resolutions": resolutions, "rows": rows}, allow_nan=False) + "\n")
            log.flush()
        done += 1
        if progress is not None:
            progress(done / len(entries))

    try:
        if jobs == 1 or len(todo) <= 1:
            for i in todo:
                finished(i, _evaluate_one(corpus_dir, entries[i], methods, given, resolutions))
        else:
            pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)))
            try:
                futures = {pool.submit(_evaluate_one, corpus_dir, entries[i], methods, given, resolutions): i
                           for i in todo}
                for fut in as_completed(futures):
                    finished(futures[fut], fut.result())
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)  # do not wait for the rest of the corpus
                raise
            pool.shutdown()
    finally:
        if log is not None:
            log.close()
    rows = [r for rs in per_entry for r in rs]
    summary, by_class = _summarise(rows, methods)
    return {
        "meta": {
            "corpus": corpus_dir,
            "subset": subset,
            "sets": list(sets),
            "methods": methods,
            "given": given,
            "resolutions": resolutions,
            "jobs": int(jobs),
            "n_mixtures": len(entries),
            "every": int(every),
            "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "wall_seconds": time.perf_counter() - t_start,
            "metric": (f"BSS Eval v3 sources (fast_bss_eval), whole clip, {FILTER_LENGTH}-tap filter, "
                       f"references [music, mixture - music], per-channel dB averaged, clamped to "
                       f"+-{DB_CAP:g} dB; NSDR/NSIR relative to the unprocessed mixture"),
            "versions": _versions(),
        },
        "summary": summary,
        "summary_by_class": by_class,
        "rows": rows,
    }


GIVEN = ("none", "spans", "first")
"""What ``--given`` may tell the methods about the interference (see :func:`run`)."""


def _check_given(given: str, methods: Sequence[str]) -> None:
    if given not in GIVEN:
        raise ParameterError(f"unknown --given {given!r}; choose from {', '.join(GIVEN)}")
    if given == "none":
        return
    other = [m for m in methods if m not in ("proposed", "identity")]
    if other:
        raise ParameterError(f"--given {given} runs only the methods proposed and identity, "
                             f"not {', '.join(other)}")


def _read_checkpoint(path: str | os.PathLike, methods: Sequence[str], given: str = "none",
                     resolutions: str = "default") -> dict[str, list[dict]]:
    """Rows per mixture recipe (JSON text) from a checkpoint file; unreadable lines are ignored."""
    out: dict[str, list[dict]] = {}
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return out
    except OSError as exc:
        raise AudioReadError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from exc
    for line in lines:
        try:
            rec = json.loads(line)
            if (rec["methods"] == list(methods) and rec.get("given", "none") == given
                    and rec.get("resolutions", "spans") == resolutions):
                out[json.dumps(rec["entry"], sort_keys=True)] = rec["rows"]
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by an interrupted run
    return out


def _open_checkpoint(path: str | os.PathLike, *, append: bool):
    from .errors import AudioWriteError

    try:
        return open(path, "a" if append else "w")
    except OSError as exc:
        raise AudioWriteError(f"cannot write checkpoint {path}: {exc.strerror or exc}") from exc


def _versions() -> dict:
    from importlib import metadata

    from . import __version__

    out = {"cleantake": __version__}
    for pkg in ("numpy", "fast_bss_eval", "librosa", "noisereduce"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


# --------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------
def _fmt(x, width: int = 7, prec: int = 2) -> str:
    return f"{'—':>{width}}" if x is None else f"{x:>{width}.{prec}f}"


def _level_table(cells_by_row: dict, title: str) -> list[str]:
    """Rows: label → {LEVEL: cell}. Columns NSDR and NSIR at 0, -3, -6 dB, then n and s/mix."""
    w_label = max([len(title), 12] + [len(k) for k in cells_by_row])
    head1 = f"{title:<{w_label}}  {'NSDR (dB)':^23}   {'NSIR (dB)':^23}  {'n':>4}  {'s/mix':>6}"
    head2 = f"{'':<{w_label}}  " + " ".join(f"{lv + ' dB':>7}" for lv in LEVELS) + "   " + \
        " ".join(f"{lv + ' dB':>7}" for lv in LEVELS)
    lines = [head1, head2]
    for label, by_level in cells_by_row.items():
        cells = [by_level.get(lv) for lv in LEVELS]
        nsdr = " ".join(_fmt(c["nsdr"] if c else None) for c in cells)
        nsir = " ".join(_fmt(c["nsir"] if c else None) for c in cells)
        n = sum(c["n"] for c in cells if c)
        errors = sum(c.get("errors", 0) for c in cells if c)
        secs = _mean(c["seconds"] for c in cells if c)
        extra = f"  ({errors} failed)" if errors else ""
        lines.append(f"{label:<{w_label}}  {nsdr}   {nsir}  {n:>4}  {_fmt(secs, 6, 2)}{extra}")
    return lines


def _found_lines(cells_by_method: dict) -> list[str]:
    """Events found per method (all levels pooled), and within a reviewer's reach."""
    lines = []
    for method, by_level in cells_by_method.items():
        given = [c for c in by_level.values() if c and c.get("others_found") is not None]
        if given:  # --given first: the other events of each mixture
            n = sum(c["n"] for c in given)
            mean = lambda key: sum(c[key] * c["n"] for c in given if c.get(key) is not None) / max(n, 1)  # noqa: E731
            lines.append(f"{method}: other events found {100 * mean('others_found'):.1f} %; with the candidates for "
                         f"review {100 * mean('others_in_reach'):.1f} %; false events per recording "
                         f"{mean('false_events_per_recording'):.2f}")
        cells = [c for c in by_level.values() if c and "events_true" in c]
        n = sum(c["events_true"] for c in cells)
        if not n:
            continue
        found = sum(c["events_found"] for c in cells)
        text = f"{method}: events found {100 * found / n:.1f} % ({found}/{n})"
        if all("events_in_reach" in c for c in cells):
            reach = sum(c["events_in_reach"] for c in cells)
            cpm = _mean(c.get("candidates_per_minute") for c in cells)
            text += (f"; with the candidates for review {100 * reach / n:.1f} % ({reach}/{n})"
                     + ("" if cpm is None else f", {cpm:.2f} candidates per minute"))
        lines.append(text)
    return lines


def format_table(results: dict) -> str:
    """The results in the paper's shape: per set, rows are methods, columns NSDR and NSIR at
    0, -3 and -6 dB, with the number of mixtures and the mean wall time per mixture, and the
    share of events found by the methods that locate (and, for cleantake, within reach of a
    review of its candidates); then the same per interference class; the clean set as SDR/SNR
    of output vs input and false events.

    Parameters
    ----------
    results : dict
        As returned by :func:`run` (or read back from results.json).

    Returns
    -------
    str
        Plain-text tables, one block per set.
    """
    out: list[str] = []
    summary, by_class = results["summary"], results.get("summary_by_class", {})
    for set_ in [s for s in SETS if s in summary]:
        if set_ == "clean":
            out.append("set clean (music alone; output should equal input)")
            out.append(f"{'method':<12}  {'SDR (dB)':>8}  {'SNR (dB)':>8}  {'false events':>12}  {'n':>4}  {'s/mix':>6}")
            for method, cells in summary[set_].items():
                c = cells["clean"]
                fe = "—" if c["false_events"] is None else str(c["false_events"])
                fail = f"  ({c['errors']} failed)" if c.get("errors") else ""
                out.append(f"{method:<12}  {_fmt(c['sdr'], 8)}  {_fmt(c.get('snr'), 8)}  {fe:>12}  {c['n']:>4}  "
                           f"{_fmt(c['seconds'], 6)}{fail}")
            cands = {m: cells["clean"].get("candidates_per_minute") for m, cells in summary[set_].items()}
            for method, cpm in cands.items():
                if cpm is not None:
                    out.append(f"{method}: {cpm:.2f} candidates for review per minute of clean music")
            out.append("")
            continue
        out.extend(_level_table(summary[set_], f"set {set_}"))
        out.extend(_found_lines(summary[set_]))
        out.append("")
        classes = sorted({cls for m in by_class.get(set_, {}).values() for cls in m})
        for cls in classes:
            rows = {m: by_class[set_][m][cls] for m in by_class[set_] if cls in by_class[set_][m]}
            out.extend(_level_table(rows, f"  {set_} / {cls}"))
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def write_results(results: dict, path: str | os.PathLike) -> None:
    """Write results as JSON atomically (a temporary file beside ``path``, then a rename).

    Raises
    ------
    AudioWriteError
        If the file cannot be written.
    """
    from .errors import AudioWriteError

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(results, indent=1, allow_nan=False) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AudioWriteError(f"cannot write results to {path}: {exc.strerror or exc}") from exc


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------
DEFAULT_METHODS = ("proposed", "nmf", "kam", "repet-sim", "noisereduce", "identity")


def _csv(kind: str, choices: Sequence[str]):
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"unknown {kind} {', '.join(bad) or '(none given)'}; choose from {', '.join(choices)}"
            )
        return items

    return parse


def _main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if not out.parent.is_dir():
        raise ParameterError(f"folder for --out does not exist: {out.parent}")
    bar = None
    progress = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=100, unit="%", desc="evaluate", leave=False)

        def progress(f: float) -> None:
            bar.n = round(100 * f)
            bar.refresh()

    checkpoint = out.with_name(out.name + ".partial.jsonl")
    try:
        methods = args.methods or (DEFAULT_METHODS if args.given == "none" else ("proposed", "identity"))
        results = run(args.corpus, subset=args.subset, sets=args.sets, methods=methods,
                      jobs=args.jobs, progress=progress, checkpoint=checkpoint, resume=args.resume,
                      every=args.every, given=args.given, resolutions=args.resolutions)
    except KeyboardInterrupt:
        print(f"cleantake evaluate: interrupted; the mixtures done are kept in {checkpoint}: "
              f"run the same command with --resume to go on", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    write_results(results, out)
    checkpoint.unlink(missing_ok=True)
    meta = results["meta"]
    given = {"none": "", "spans": ", the true spans given (no location)"}.get(meta["given"], "")
    if meta["resolutions"] != "default":
        given += f", --resolutions {meta['resolutions']}"
    print(f"cleantake evaluate: {meta['n_mixtures']} mixtures ({meta['subset']} subset), "
          f"methods {', '.join(meta['methods'])}{given}, {meta['wall_seconds']:.0f} s, {meta['date_utc']}")
    print(meta["metric"])
    print()
    print(format_table(results), end="")
    failed = [r for r in results["rows"] if "error" in r]
    if failed:
        print(f"\n{len(failed)} method run(s) failed; first: {failed[0]['method']} on {failed[0]['id']}: "
              f"{failed[0]['error']}", file=sys.stderr)
        return 1
    print(f"\nresults written to {out}")
    return 0


def add_parser(subparsers) -> None:
    """Add the ``evaluate`` subcommand to an argparse subparsers object (sets ``func``)."""
    p = subparsers.add_parser(
        "evaluate",
        help="score methods on a mixture corpus (BSS Eval NSDR/NSIR)",
        description="Build the mixtures of a corpus (shared/corpus format), run each method, score each "
        "estimate of the music against the clean music with BSS Eval (SDR, SIR, SAR; NSDR and NSIR "
        "relative to the mixture), print a table and write results.json.",
    )
    p.add_argument("--corpus", required=True, help="corpus folder holding mixtures.json")
    p.add_argument("--out", required=True, help="results JSON file to write")
    p.add_argument("--subset", choices=SUBSETS, default="quick",
                   help="quick: the ~10%% quick subset (default); full: every mixture")
    p.add_argument("--sets", type=_csv("set", SETS), default=list(SETS),
                   help=f"comma-separated sets (default: {','.join(SETS)})")
    p.add_argument("--methods", type=_csv("method", tuple(METHODS)), default=None,
                   help=f"comma-separated methods from {','.join(METHODS)} (default: all; with --given "
                   "spans: proposed,identity)")
    p.add_argument("-j", "--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--every", type=int, default=1, metavar="N",
                   help="take every N-th selected mixture: a deterministic sample for slow methods (default 1)")
    p.add_argument("--given", choices=GIVEN, default="none",
                   help="none: each method locates the events itself (default); spans: the proposed repair is "
                   "given the true span of every event, no location (its ceiling; methods proposed and "
                   "identity only); first: only the first event of each mixture with two or more is given, as an "
                   "example to learn from (like=, -i none), and the share of the other events found is reported")
    p.add_argument("--resolutions", choices=tuple(RESOLUTIONS), default="default",
                   help="time-frequency resolutions of cleantake's repair, as `clean --resolutions`: default: "
                   "the given spans (and what --given first finds like its example) at three and the located "
                   "events at two; spans: the located events at one; all: both at three; one: both at one")
    p.add_argument("--resume", action="store_true",
                   help="keep the mixtures already done in OUT.partial.jsonl (written as a run goes, "
                   "deleted when it completes) and evaluate only the rest")
    p.set_defaults(func=_main)
