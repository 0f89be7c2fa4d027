"""``cleantake batch``, part 3: running the plan on Dask (worker side and client side)."""

from __future__ import annotations

import datetime as _dt
import functools
import logging
import os
import sys
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Callable

import soundfile as sf
from tqdm.auto import tqdm

from ..atomic import prepare_folder
from ..errors import AudioReadError, AudioWriteError, CleantakeError, ParameterError
from ..files import clean_file
from ..optional import require
from ..progress import Progress
from ..report import write_index
from ..threads import check_jobs, default_jobs
from .plan import DEFAULT_TEMPLATE, Job, find_audio_files, is_relative_to, plan_outputs, report_name_for
from .records import (RECORD_VERSION, classify, input_identity, read_record, record_complete, rel_to,
                      settings_fingerprint, write_json)

__all__ = ["SUMMARY_NAME", "PARTIAL_MARK", "run_batch"]

#: Summary written into OUT_DIR at the end of every run.
SUMMARY_NAME = "cleantake-batch.json"
#: Hidden outputs of a file being cleaned are named ``.STEM<PARTIAL_MARK>TOKEN.EXT``.
PARTIAL_MARK = ".cleantake-partial-"
_PLUGIN_PREFIX = "cleantake-batch-"

CleanFn = Callable[..., Any]


# --------------------------------------------------------------------------------------------
# worker side
# --------------------------------------------------------------------------------------------
class _CleanerPluginMixin:
    """Carries the cleaner and the per-file function to every worker, once.

    The Dask base class is mixed in lazily (see :func:`__getattr__`), so that importing this
    module (e.g. for ``cleantake --help``) does not import Dask.
    """

    idempotent = False

    def __init__(self, cleaner: Any, clean_fn: CleanFn | None) -> None:
        self.cleaner = cleaner
        self.clean_fn = clean_fn

    def setup(self, worker: Any) -> None:  # dask hook
        _reuse_freed_memory()
        if self.clean_fn is None:
            # Files already run in parallel, one per worker: each file's blocks one at a time.
            self.clean_fn = functools.partial(clean_file, workers=1)


#: glibc's ``mallopt`` parameters, and the values its own dynamic rule reaches on 64-bit Linux.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
_TRIM_THRESHOLD_MAX = 2 * _MMAP_THRESHOLD_MAX


def _reuse_freed_memory() -> bool:
    """Let this worker process reuse the memory it frees, as glibc does by default.

    Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536``, and setting it
    turns off glibc's dynamic mmap threshold: every array above 128 kB is then mapped afresh
    and unmapped on free, so each file's many large temporaries page-fault anew. A 20-s stem
    took 2.5 times as long to clean in a worker as in the calling process (BATCH.md, session
    17). The values set here are the ones glibc's own rule settles on after warm-up. Returns
    True if they were set (glibc on Linux; elsewhere nothing is done).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no mallopt (not glibc)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    mmap_set = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX))
    return bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_MAX)) and mmap_set


_PLUGIN_CLASS: type | None = None


def _plugin_class() -> type:
    global _PLUGIN_CLASS
    if _PLUGIN_CLASS is None:
        from distributed.diagnostics.plugin import WorkerPlugin

        cls = type("_CleanerPlugin", (_CleanerPluginMixin, WorkerPlugin), {})
        cls.__module__ = __name__
        cls.__qualname__ = "_CleanerPlugin"
        _PLUGIN_CLASS = cls
    return _PLUGIN_CLASS


def __getattr__(name: str) -> Any:
    # ``cleantake.batch._CleanerPlugin`` is made on first use (pickle looks it up by name).
    if name == "_CleanerPlugin":
        return _plugin_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _partial_name(final: Path, token: str) -> Path:
    return final.with_name(f".{final.stem}{PARTIAL_MARK}{token}{final.suffix}")


def _remove_stale_partials(final: Path) -> None:
    """Delete what killed earlier attempts left for this output: our partial files and the
    writer's own temporaries made beside them (``..NAME.cleantake-partial-TOKEN.EXT.XXXX.part``)."""
    prefix = f"{final.stem}{PARTIAL_MARK}"
    try:
        for p in final.parent.iterdir():
            name = p.name
            if name.startswith(".") and name.lstrip(".").startswith(prefix) and p.is_file():
                p.unlink(missing_ok=True)
    except OSError:
        pass


def _progress_reporter(worker: Any, job: Job) -> Callable[[float], None] | None:
    """A ``progress(fraction)`` callback that sends at most ~2 events a second to the client."""
    if job.progress_topic is None:
        return None
    last = [0.0, -1.0]  # time sent, fraction sent

    def report(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5 and fraction > last[1]:
            last[0], last[1] = now, fraction
            try:
                worker.log_event(job.progress_topic, {"rel": job.rel, "f": float(fraction)})
            except Exception:  # progress display must never fail a file
                pass

    return report


def _process_job(job: Job, plugin_name: str) -> dict:
    """Clean one file on a worker; returns a JSON-able result row.

    Errors cleantake raises on purpose become a ``failed`` row (no retry: they are properties
    of the file); anything else propagates so that Dask retries the task once.
    """
    from distributed import get_worker

    worker = get_worker()
    plugin = worker.plugins[plugin_name]
    t0 = time.perf_counter()
    finals = {"cleaned": Path(job.cleaned)}
    if job.removed:
        finals["removed"] = Path(job.removed)
    if job.labels:
        finals["labels"] = Path(job.labels)
    token = uuid.uuid4().hex[:10]
    partials = {k: _partial_name(p, token) for k, p in finals.items()}
    row: dict[str, Any] = {"input": job.rel, "worker": worker.address}
    try:
        try:
            ident = input_identity(job.input)
        except OSError as exc:
            raise AudioReadError(f"cannot read {job.input!r}: {exc.strerror or exc}") from None
        rec = read_record(Path(job.record))
        if (rec is not None and rec.get("input") == ident
                and rec.get("settings_hash") == job.settings_hash
                and (rec.get("run_id") == job.run_id or not job.replace_existing)
                and record_complete(rec, finals, job.out_root)):
            # Finished meanwhile by an earlier attempt of this very task (Dask recomputes a
            # finished task whose result was lost with its worker), or by a task of a killed
            # run that was still running on a remote cluster: identical work, nothing to redo.
            row.update(status="done", duration_s=rec.get("duration_s"), n_events=rec.get("n_events"),
                       n_candidates=rec.get("n_candidates"), outputs={k: str(p) for k, p in finals.items()},
                       reused=True)
            row["elapsed_s"] = round(time.perf_counter() - t0, 3)
            return row
        for k, final in finals.items():
            try:
                final.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise AudioWriteError(
                    f"cannot create folder {str(final.parent)!r}: {exc.strerror or exc}") from None
            _remove_stale_partials(final)
            if not job.replace_existing and os.path.lexists(final):
                raise AudioWriteError(
                    f"output {str(final)!r} appeared while the batch was running; "
                    "pass --overwrite to replace it"
                )
        extra: dict[str, Any] = {}
        if job.report_dir is not None:  # only then: per-file functions need not know reports
            extra = {"report_dir": job.report_dir, "report_name": job.report_name}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = plugin.clean_fn(
                job.input,
                partials["cleaned"],
                cleaner=plugin.cleaner,
                removed_path=partials.get("removed"),
                labels_path=partials.get("labels"),
                overwrite=False,
                subtype=job.subtype,
                clip=job.clip,
                progress=_progress_reporter(worker, job),
                **extra,
            )
        # Warnings name the temporary files; users know the outputs by their real names.
        notes = []
        for w in caught:
            text = str(w.message)
            for k, p in partials.items():
                text = text.replace(str(p), str(finals[k]))
            if text not in notes:
                notes.append(text)
        if notes:
            row["warnings"] = notes
        outputs = {}
        for k, p in partials.items():
            if not p.is_file():
                raise AudioWriteError(f"the {k} output for {job.rel!r} was not written")
            outputs[k] = {"path": rel_to(finals[k], job.out_root), "size": p.stat().st_size}
        events = getattr(result, "events", None)
        candidates = getattr(result, "candidates", None)
        duration = getattr(result, "duration_s", None)
        record = {
            "version": RECORD_VERSION,
            "input_path": job.input,
            "input": ident,
            "settings_hash": job.settings_hash,
            "run_id": job.run_id,
            "outputs": outputs,
            "duration_s": None if duration is None else float(duration),
            "n_events": None if events is None else len(events),
            "n_candidates": None if candidates is None else len(candidates),
            "finished_utc": _utc_now(),
        }
        # The record goes first: every output in place is claimed by a record, so a run
        # killed between these renames is recognised as ours and finished next time.
        write_json(Path(job.record), record)
        for k, p in partials.items():
            os.replace(p, finals[k])
        row.update(status="done", duration_s=record["duration_s"], n_events=record["n_events"],
                   n_candidates=record["n_candidates"], outputs={k: str(finals[k]) for k in outputs})
        report_out = getattr(result, "report_output", None)
        if job.report_dir is not None and report_out is not None:
            row["report"] = str(report_out)
    except CleantakeError as exc:
        row.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
    finally:
        for p in partials.values():
            try:
                p.unlink(missing_ok=True)
            except OSError:
                pass
    row["elapsed_s"] = round(time.perf_counter() - t0, 3)
    return row


# --------------------------------------------------------------------------------------------
# client side
# --------------------------------------------------------------------------------------------
def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _audio_seconds(path: Path) -> float:
    try:
        return float(sf.info(str(path)).duration)
    except Exception:  # unreadable: it will fail (and be reported) on the worker
        return 0.0


def _start_client(scheduler: str | None, jobs: int):
    """A Dask client and the cluster it owns (None when connecting to an existing one)."""
    import dask
    from distributed import Client, LocalCluster
    if scheduler is None:
        # One task per single-threaded worker at a time, and a task whose worker dies is
        # retried once: so a crash only ever implicates the file that was running.
        with dask.config.set({
            "distributed.scheduler.allowed-failures": 1,
            "distributed.scheduler.worker-saturation": 1.0,
        }):
            cluster = LocalCluster(
                n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=logging.ERROR,
                # no dashboard; the scheduler's small HTTP server (health checks) on a free
                # loopback port, so two batches at once do not fight over port 8787
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            )
        try:
            return Client(cluster), cluster
        except BaseException:
            cluster.close()
            raise
    try:
        return Client(scheduler, timeout="20s"), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise ParameterError(f"cannot connect to the Dask scheduler at {scheduler!r}: {exc}") from None


def _failure_reason(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":
        return ("KilledWorker: the worker process died while cleaning this file, and again "
                "when it was retried (out of memory, or a crash in a native library?)")
    text = str(exc).strip().splitlines()
    return f"{name}: {text[0] if text else ''}".rstrip(": ")


def run_batch(
    in_dir: str | Path,
    out_dir: str | Path,
    *,
    cleaner: Any,
    pattern: str | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    filename: str = DEFAULT_TEMPLATE,
    removed: bool = False,
    labels: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    subtype: str | None = None,
    clip: str = "clip",
    clean_fn: CleanFn | None = None,
    report_dir: str | Path | None = None,
    like_model: Any = None,
) -> dict:
    """Clean every audio file under a folder into a mirrored tree, in parallel on Dask.

    Parameters
    ----------
    in_dir : str or Path
        Folder searched recursively (hidden files and folders are skipped).
    out_dir : str or Path
        Output folder (created). If it lies inside ``in_dir`` it is not searched.
    cleaner : cleantake.Cleaner
        Interference dictionary and settings; sent to each worker once.
    pattern : str, optional
        Glob restricting the inputs, see :func:`find_audio_files`.
    jobs : int, optional
        Worker processes of the local cluster, 1 to 256 (default: the usable CPUs, at most
        4, as for ``cleantake clean -j``). Ignored with ``scheduler``.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://HOST:PORT``). Its workers must have
        cleantake installed and see IN_DIR and OUT_DIR at the same paths.
    filename : str
        Template of each cleaned output's path, see :func:`plan_outputs`.
    removed, labels : bool
        Also write what was removed / the located events, see :func:`plan_outputs`.
    overwrite : bool
        Reprocess every file and replace existing outputs.
    progress : bool, optional
        Show progress bars on stderr; None (default) shows them only when stderr is a
        terminal.
    subtype : str, optional
        Output sample format (soundfile subtype, e.g. ``"PCM_24"``), as for ``clean_file``.
    clip : {"clip", "error", "float"}
        Samples beyond full scale, as for ``clean_file`` (``cleantake clean --clip``).
    clean_fn : callable, optional
        The per-file function, called as ``clean_fn(input_path, output_path, *, cleaner,
        removed_path, labels_path, overwrite, subtype, clip, progress)`` (plus ``report_dir``
        and ``report_name`` when ``report_dir`` is given); default
        :func:`cleantake.files.clean_file` with ``workers=1`` (exactly what ``cleantake
        clean`` does, each file's blocks one at a time since files already run in parallel).
    report_dir : str or Path, optional
        Write a self-contained HTML report per cleaned file there (named by
        :func:`report_name_for`, so files of the same name in different folders never
        collide) and ``index.html`` linking them, with each file's events and status
        (failures with their reason). The index is rewritten at the end of every run,
        also after Ctrl-C, and links the reports of skipped files when present. Long files
        are cleaned and reported in blocks, as by ``cleantake clean``.
    like_model : cleantake.LikeModel, optional
        An example learned from one recording (:func:`cleantake.files.learn_like_file`,
        ``cleantake learn --like``): every file is searched for events like it, as ``clean
        --like-model`` does (``clean_fn`` is then called with ``like_model=`` too). Part of the
        settings that decide whether a file is done.

    Returns
    -------
    dict
        The summary, also written to ``OUT_DIR/cleantake-batch.json``: ``counts`` (done,
        skipped, failed, pending, total), ``audio_s_done``, ``wall_s``, ``files`` (one row per
        input: ``input``, ``status``, ``reason``, ``duration_s``, ``n_events``, ...), and
        ``interrupted`` (True after Ctrl-C); with ``report_dir``, rows of files with a report
        have ``report`` (its path) and the summary has ``report_index``.

    Raises
    ------
    MissingDependencyError
        Dask distributed (or, with ``report_dir``, matplotlib) is not installed; raised
        before anything is created.
    ParameterError
        Bad folder, template, ``jobs`` or scheduler address; colliding outputs; a
        ``like_model`` with another method than ``proposed``.
    AudioWriteError
        OUT_DIR or the report folder is a file or cannot be created.
    """
    t_start = time.perf_counter()
    started = _utc_now()
    in_root = Path(in_dir).resolve()
    out_root = Path(out_dir).resolve()
    if not in_root.is_dir():
        raise ParameterError(f"input folder {str(in_dir)!r} does not exist or is not a folder")
    if out_root == in_root:
        raise ParameterError("OUT_DIR must be a different folder from IN_DIR")
    jobs = default_jobs() if jobs is None else check_jobs(jobs)
    if scheduler is not None and not isinstance(scheduler, str):
        raise ParameterError(f"scheduler must be an address like tcp://HOST:PORT, got {scheduler!r}")
    if like_model is not None and getattr(cleaner, "method", "proposed") != "proposed":
        raise ParameterError(f"like_model= (--like-model) works with the proposed method only, not "
                             f"{cleaner.method!r}")
    # Optional parts first: a missing package costs nothing and creates nothing.
    require("distributed", extra="batch", package="Dask distributed")
    report_root = Path(report_dir).resolve() if report_dir is not None else None
    if report_root is not None:
        require("matplotlib.figure", extra="report")
    for folder, what in ((out_root, "OUT_DIR"), (report_root, "report folder")):
        if folder is not None and folder.exists() and not folder.is_dir():
            raise AudioWriteError(f"{what} {str(folder)!r} is a file, not a folder")

    inputs = find_audio_files(in_root, pattern=pattern,
                              exclude=out_root if is_relative_to(out_root, in_root) else None)
    plans = plan_outputs(in_root, out_root, inputs, filename=filename, removed=removed, labels=labels)
    if report_root is not None:
        prepare_folder(report_root, "report folder")
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        probe = out_root / f".cleantake-batch-write-test-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise AudioWriteError(f"cannot write into OUT_DIR {str(out_dir)!r}: {exc.strerror or exc}") from None
    if like_model is not None:
        clean_fn = functools.partial(clean_fn or functools.partial(clean_file, workers=1), like_model=like_model)
    fingerprint = settings_fingerprint(cleaner, subtype=subtype, clip=clip, like_model=like_model)
    shash = fingerprint["hash"]
    run_id = uuid.uuid4().hex[:12]
    show = sys.stderr.isatty() if progress is None else bool(progress)
    plain = progress is None and not show  # not a terminal: a plain line every few seconds

    rows: dict[str, dict] = {}
    todo: list[tuple[Job, float]] = []
    for plan in plans:
        rel = plan["rel"].as_posix()  # type: ignore[union-attr]
        action, why = classify(plan, shash, out_root, overwrite=overwrite)
        if action == "skip":
            rows[rel] = {"input": rel, "status": "skipped", "reason": why,
                         "outputs": {k: str(plan[k]) for k in ("cleaned", "removed", "labels") if plan[k]}}
            if report_root is not None:  # the index shows what the earlier run found
                rec = read_record(plan["record"]) or {}  # type: ignore[arg-type]
                rows[rel].update(duration_s=rec.get("duration_s"), n_events=rec.get("n_events"),
                                 n_candidates=rec.get("n_candidates"))
            continue
        if action == "blocked":
            rows[rel] = {"input": rel, "status": "failed", "reason": f"AudioWriteError: {why}"}
            continue
        job = Job(
            rel=rel, input=str(plan["input"]), cleaned=str(plan["cleaned"]),
            removed=str(plan["removed"]) if plan["removed"] else None,
            labels=str(plan["labels"]) if plan["labels"] else None,
            record=str(plan["record"]), subtype=subtype, clip=clip, settings_hash=shash,
            replace_existing=(action == "replace"), run_id=run_id, out_root=str(out_root),
            progress_topic=f"cleantake-progress-{run_id}" if show or plain else None,
            report_dir=str(report_root) if report_root is not None else None,
            report_name=report_name_for(rel) if report_root is not None else None,
        )
        rows[rel] = {"input": rel, "status": "pending"}
        todo.append((job, _audio_seconds(Path(job.input))))

    interrupted = False
    cluster_info: dict[str, Any] = {"scheduler": scheduler or "local", "workers": None}
    if todo:
        # Longest first: the last file to start is a short one, so workers finish together.
        todo.sort(key=lambda jt: -jt[1])
        interrupted = _execute(todo, rows, run_id=run_id, cleaner=cleaner, clean_fn=clean_fn,
                               jobs=min(jobs, len(todo)), scheduler=scheduler, show=show,
                               cluster_info=cluster_info, plain=plain)

    files = [rows[k] for k in sorted(rows)]
    index_path, index_error = None, None
    if report_root is not None:  # a failure here must not cost the summary of the work done
        try:
            index_path = _write_report_index(report_root, files)
        except (OSError, CleantakeError) as exc:
            index_error = f"cannot write the report index in {str(report_root)!r}: {exc}"
    counts = {s: sum(1 for r in files if r["status"] == s) for s in ("done", "skipped", "failed", "pending")}
    counts["total"] = len(files)
    audio_done = sum(r.get("duration_s") or 0.0 for r in files if r["status"] == "done")
    wall = time.perf_counter() - t_start
    summary = {
        "version": 1,
        "run_id": run_id,
        "in_dir": str(in_root),
        "out_dir": str(out_root),
        "pattern": pattern,
        "filename": filename,
        "removed": removed,
        "labels": labels,
        "overwrite": overwrite,
        "settings": fingerprint,
        "cluster": cluster_info,
        "started_utc": started,
        "finished_utc": _utc_now(),
        "wall_s": round(wall, 3),
        "audio_s_done": round(audio_done, 3),
        "interrupted": interrupted,
        "counts": counts,
        "files": files,
    }
    if index_path is not None:
        summary["report_index"] = str(index_path)
    if index_error is not None:
        summary["report_index_error"] = index_error
    write_json(out_root / SUMMARY_NAME, summary)
    return summary


def _write_report_index(report_root: Path, files: list[dict]) -> Path:
    """Write ``index.html`` in ``report_root`` for every row, and set each row's ``report``.

    A done or skipped file links its report when the report file is there (a skipped file's
    report was written by an earlier run; a ``reused`` result's by an earlier attempt).
    """
    entries = []
    for row in files:
        rel = row["input"]
        report = report_root / report_name_for(rel)
        status = row["status"]
        if status in ("done", "skipped") and report.is_file():
            row["report"] = str(report)
        else:
            row.pop("report", None)
        entries.append({
            "name": rel,
            "report": report.name if "report" in row else None,
            "n_events": row.get("n_events"),
            "n_candidates": row.get("n_candidates"),
            "duration_s": row.get("duration_s"),
            "status": status,
            "error": row.get("reason") if status == "failed" else None,
        })
    return write_index(report_root, entries, title="cleantake batch report")


def _execute(todo: list[tuple[Job, float]], rows: dict[str, dict], *, run_id: str, cleaner: Any,
             clean_fn: CleanFn | None, jobs: int, scheduler: str | None,
             show: bool, cluster_info: dict, plain: bool = False) -> bool:
    """Run the jobs on Dask, filling ``rows``; True if interrupted by Ctrl-C.

    ``show``: progress bars (a terminal); ``plain``: a line every few seconds instead.
    """
    from distributed import as_completed

    total_audio = sum(s for _, s in todo)
    client, cluster = _start_client(scheduler, jobs)
    plugin_name = _PLUGIN_PREFIX + run_id
    bars: list = []
    futures: dict = {}
    interrupted = False
    try:
        cluster_info["scheduler"] = client.scheduler.address
        cluster_info["workers"] = len(client.scheduler_info(n_workers=-1).get("workers", {}))
        try:
            client.register_plugin(_plugin_class()(cleaner, clean_fn), name=plugin_name)
        except Exception as exc:
            raise CleantakeError(
                "the Dask workers could not set up cleantake (is the same cleantake version "
                f"installed on every worker?): {type(exc).__name__}: {exc}"
            ) from exc
        files_bar = tqdm(total=len(todo), desc="files", unit="file", disable=not show,
                         file=sys.stderr, position=0, dynamic_ncols=True)
        audio_bar = tqdm(total=round(total_audio, 1), desc="audio", unit="s",
                         bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]",
                         disable=not show, file=sys.stderr, position=1, dynamic_ncols=True)
        bars = [files_bar, audio_bar]
        seconds = {job.rel: secs for job, secs in todo}
        credited: dict[str, float] = {}
        lock = threading.Lock()
        lines = Progress(f"{len(todo)} file{'s' if len(todo) != 1 else ''}", stream=sys.stderr) if plain else None

        def credit(rel: str, fraction: float) -> None:
            # Move the audio bar to ``fraction`` of this file (never backwards).
            with lock:
                target = max(0.0, min(1.0, fraction)) * seconds.get(rel, 0.0)
                delta = target - credited.get(rel, 0.0)
                if delta > 0:
                    credited[rel] = target
                    audio_bar.update(delta)
                    if lines is not None and total_audio > 0:
                        lines(sum(credited.values()) / total_audio)

        topic = todo[0][0].progress_topic
        if topic is not None:
            client.subscribe_topic(topic, lambda event: credit(event[1]["rel"], event[1]["f"]))
        for i, (job, secs) in enumerate(todo):
            fut = client.submit(_process_job, job, plugin_name, key=f"cleantake-{i}-{plugin_name}",
                                retries=1, pure=False)
            futures[fut] = (job, secs)
        for fut in as_completed(list(futures)):
            job, secs = futures[fut]
            if fut.status == "finished":
                row = fut.result()
            else:
                exc = fut.exception()
                row = {"input": job.rel, "status": "failed", "reason": _failure_reason(exc)}
            rows[job.rel] = row
            files_bar.update(1)
            credit(job.rel, 1.0)
            if files_bar.n == len(todo):  # summed partial credits may be off by rounding
                with lock:
                    audio_bar.n = audio_bar.total
                    audio_bar.refresh()
            if row["status"] == "failed" and show:  # at once on a terminal; listed again at the end
                files_bar.write(f"cleantake batch: {job.rel}: {row['reason']}", file=sys.stderr)
    except KeyboardInterrupt:
        interrupted = True
        for fut in futures:
            fut.cancel()
    finally:
        for bar in bars:
            bar.close()
        try:
            if todo[0][0].progress_topic is not None:
                client.unsubscribe_topic(todo[0][0].progress_topic)
        except Exception:
            pass
        try:
            client.unregister_worker_plugin(plugin_name)
        except Exception:
            pass
        client.close()
        if cluster is not None:
            cluster.close()
    return interrupted
