"""Whole archives: clean every recording under a folder, in parallel, on Dask distributed.

``cleantake batch IN_DIR -o OUT_DIR`` finds the audio files under ``IN_DIR``, mirrors the
tree under ``OUT_DIR`` and runs exactly the per-file work of ``cleantake clean``
(:func:`cleantake.files.clean_file`) on every file, on a Dask cluster: by default a
``LocalCluster`` of ``-j N`` single-threaded worker processes on this machine (loopback
only); with ``--scheduler tcp://HOST:PORT`` an existing cluster does the same work.

Design (see ``docs/batch.md`` for the user's view)
--------------------------------------------------
*Sent once.*  The :class:`cleantake.Cleaner` (settings and loaded dictionary) and the per-file
function travel to every worker once, inside a worker plugin (:class:`_CleanerPlugin`).
The scheduler keeps the plugin and hands it to workers that join later, including a worker
restarted after a crash. Each task carries only paths and flags.

*Atomic outputs.*  A worker writes every output under a hidden temporary name in the
output's own folder (``.NAME.cleantake-partial-TOKEN.EXT``), then writes the file's *record*
(``OUT_DIR/.cleantake-batch/records/<cleaned path>.json``, itself written to a temporary
file and renamed), and only then renames the outputs into place. So every output that is in
place has a record claiming it, and a record is complete only if every output it lists is
in place with the recorded size.

*Completeness, skipping and overwriting.*  A file is skipped when its record matches (same
input size and modification time, same settings fingerprint: method, every setting, the
dictionary's content and the cleantake version) and every requested output is present with
the recorded size (output paths in records are relative to OUT_DIR, so it may move). An
output that is present but is *not* claimed by a record of this very job (no record, a path
the record does not list, or a record made from another input or other settings) is never
replaced unless ``--overwrite`` is given; that file is reported as failed and the rest go on.

*Faults.*  Errors cleantake raises on purpose (:class:`~cleantake.errors.CleantakeError`:
corrupt or unreadable input, unwritable output, ...) fail that file at once. Any other
exception is retried once (``retries=1``). A worker process that dies while processing a
file has that file retried once on a fresh worker (the local cluster runs with
``distributed.scheduler.allowed-failures = 1`` and one task per worker at a time); a second
death fails the file. The summary (``OUT_DIR/cleantake-batch.json``) lists every file as
``done``, ``skipped``, ``failed`` (with the reason) or, after Ctrl-C, ``pending``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import fnmatch
import functools
import hashlib
import json
import logging
import os
import pickle
import re
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .atomic import atomic_write, prepare_folder
from .errors import AudioReadError, AudioWriteError, CleantakeError, ParameterError
from .files import clean_file
from .io import AUDIO_EXTENSIONS as _IO_EXTENSIONS
from .optional import require
from .progress import Progress
from .report import write_index
from .threads import check_jobs, default_jobs

__all__ = [
    "AUDIO_EXTENSIONS",
    "DEFAULT_TEMPLATE",
    "SUMMARY_NAME",
    "RECORDS_DIR",
    "find_audio_files",
    "plan_outputs",
    "settings_fingerprint",
    "run_batch",
    "report_name_for",
]

#: File-name extensions (lower case, no dot) that ``batch`` picks up: every one that
#: ``cleantake clean`` reads (:data:`cleantake.io.AUDIO_EXTENSIONS`).
AUDIO_EXTENSIONS = frozenset(e.lstrip(".") for e in _IO_EXTENSIONS)
#: Default name of each cleaned output, relative to OUT_DIR.
DEFAULT_TEMPLATE = "{relpath}/{stem}.{ext}"
#: Summary written into OUT_DIR at the end of every run.
SUMMARY_NAME = "cleantake-batch.json"
#: Hidden folder in OUT_DIR holding one completion record per input.
RECORDS_DIR = ".cleantake-batch"
TEMPLATE_FIELDS = ("relpath", "stem", "ext", "name")
RECORD_VERSION = 1
_PARTIAL_MARK = ".cleantake-partial-"
_PLUGIN_PREFIX = "cleantake-batch-"

CleanFn = Callable[..., Any]


# --------------------------------------------------------------------------------------------
# discovery and planning (client side)
# --------------------------------------------------------------------------------------------
def _is_relative_to(path: Path, other: Path) -> bool:
    try:
        path.relative_to(other)
    except ValueError:
        return False
    return True


def find_audio_files(in_dir: str | Path, *, pattern: str | None = None,
                     exclude: str | Path | None = None) -> list[Path]:
    """Audio files under a folder, in a stable (sorted) order.

    Parameters
    ----------
    in_dir : str or Path
        Folder searched recursively. Symbolic links to folders are not followed.
    pattern : str, optional
        Shell-style glob. Without ``/`` it is matched against the file name
        (``"*.wav"``, ``"take_*"``); with ``/`` against the path relative to ``in_dir``
        written with ``/`` (``"2019/*/*.flac"``; ``*`` also crosses ``/`` there).
        Matching ignores case. Only files with an extension in :data:`AUDIO_EXTENSIONS`
        are returned, whatever the pattern.
    exclude : str or Path, optional
        A folder whose contents are never returned (the output folder when it lies inside
        ``in_dir``).

    Returns
    -------
    list of Path
        Absolute paths. Hidden files and everything inside hidden folders (name starting
        with ``.``) are left out.

    Raises
    ------
    ParameterError
        ``in_dir`` is not a folder.
    """
    root = Path(in_dir).resolve()
    if not root.is_dir():
        raise ParameterError(f"input folder {str(in_dir)!r} does not exist or is not a folder")
    excluded = Path(exclude).resolve() if exclude is not None else None
    pat = pattern.lower() if pattern else None
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames
            if not d.startswith(".") and (excluded is None or (here / d).resolve() != excluded)
        )
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
            if ext not in AUDIO_EXTENSIONS:
                continue
            path = here / name
            if not path.is_file():
                continue
            if pat is not None:
                rel = path.relative_to(root).as_posix().lower()
                target = rel if "/" in pat else name.lower()
                if not fnmatch.fnmatchcase(target, pat):
                    continue
            found.append(path)
    return found


def _render(template: str, rel: Path) -> Path:
    parent = rel.parent.as_posix()
    fields = {
        "relpath": "" if parent == "." else parent,
        "stem": rel.stem,
        "ext": rel.suffix[1:],
        "name": rel.name,
    }
    try:
        text = template.format(**fields)
    except KeyError as exc:
        raise ParameterError(
            f"--filename template {template!r} uses unknown field {{{exc.args[0]}}}; "
            f"valid fields: {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}"
        ) from None
    except (ValueError, IndexError) as exc:
        raise ParameterError(f"--filename template {template!r} is malformed: {exc}") from None
    if template.startswith(("/", "\\")) or (len(template) > 1 and template[1] == ":"):
        raise ParameterError(f"--filename template {template!r} must give a path relative to OUT_DIR")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise ParameterError(
            f"--filename template {template!r} gives {text!r} for {rel.as_posix()!r}, "
            "which is not a file path inside OUT_DIR"
        )
    out = Path(*parts)
    if out.suffix[1:].lower() not in AUDIO_EXTENSIONS:
        raise ParameterError(
            f"--filename template {template!r} gives {text!r}, whose extension is not an audio "
            f"format cleantake writes; end the template with .{{ext}} or one of "
            f"{', '.join(sorted(AUDIO_EXTENSIONS))}"
        )
    return out


def report_name_for(rel: str | Path) -> str:
    """File name of the HTML report of one input, unique within a batch.

    Parameters
    ----------
    rel : str or Path
        The input's path relative to IN_DIR (``"2019/a/take.wav"``).

    Returns
    -------
    str
        The path made into one readable file name (folders joined by ``__``, other characters
        outside ``A-Z a-z 0-9 . _ -`` replaced by ``_``) plus 8 hex digits of a hash of the
        exact relative path, ending in ``.html``: ``2019__a__take.wav-1a2b3c4d.html``. Two
        inputs never share a report, whatever their names.
    """
    posix = Path(rel).as_posix()
    slug = "__".join(re.sub(r"[^A-Za-z0-9._-]+", "_", part) for part in posix.split("/"))
    slug = slug.lstrip(".")[:120] or "file"
    digest = hashlib.sha256(posix.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{slug}-{digest}.html"


@dataclass(frozen=True)
class _Job:
    """One input and where its outputs go (all absolute paths, as strings)."""

    rel: str
    input: str
    cleaned: str
    removed: str | None
    labels: str | None
    record: str
    subtype: str | None
    clip: str
    settings_hash: str
    replace_existing: bool
    run_id: str
    out_root: str
    progress_topic: str | None = None
    report_dir: str | None = None
    report_name: str | None = None


def plan_outputs(in_dir: str | Path, out_dir: str | Path, inputs: list[Path], *,
                 filename: str = DEFAULT_TEMPLATE, removed: bool = False,
                 labels: bool = False) -> list[dict[str, Path | None]]:
    """Where each input's outputs go.

    Parameters
    ----------
    in_dir, out_dir : str or Path
        Input and output folders.
    inputs : list of Path
        Files under ``in_dir`` (as returned by :func:`find_audio_files`).
    filename : str
        Template of the cleaned file's path relative to ``out_dir``. Fields: ``{relpath}``
        (folder of the input relative to ``in_dir``, empty at the top), ``{stem}`` (name
        without extension), ``{ext}`` (extension without the dot, as written), ``{name}``
        (full file name). The extension chosen decides the output format.
    removed : bool
        Also write what was removed: the cleaned name with ``_removed`` added to its stem
        (``take.wav`` → ``take_removed.wav``).
    labels : bool
        Also write the located events as labels: the cleaned name with ``.txt`` instead of
        its extension (``take.wav`` → ``take.txt``), Audacity label format.

    Returns
    -------
    list of dict
        One per input, with keys ``input``, ``rel``, ``cleaned``, ``removed``, ``labels``,
        ``record`` (absolute paths; ``removed``/``labels`` are None when not asked for).

    Raises
    ------
    ParameterError
        A bad template; two outputs that would have the same path; an output that would be
        an input file.
    """
    root = Path(in_dir).resolve()
    out_root = Path(out_dir).resolve()
    rec_root = out_root / RECORDS_DIR / "records"
    plans: list[dict[str, Path | None]] = []
    owner: dict[Path, str] = {}
    input_set = {p.resolve() for p in inputs} | {p.absolute() for p in inputs}
    for path in inputs:
        try:  # a symbolic link keeps its own place in the tree, wherever it points
            rel = path.absolute().relative_to(root)
        except ValueError:
            rel = path.resolve().relative_to(root)
        cleaned_rel = _render(filename, rel)
        cleaned = out_root / cleaned_rel
        plan: dict[str, Path | None] = {
            "input": path.resolve(),
            "rel": rel,
            "cleaned": cleaned,
            "removed": cleaned.with_name(cleaned.stem + "_removed" + cleaned.suffix) if removed else None,
            "labels": cleaned.with_suffix(".txt") if labels else None,
            "record": rec_root / (cleaned_rel.as_posix() + ".json"),
        }
        for key in ("cleaned", "removed", "labels"):
            target = plan[key]
            if target is None:
                continue
            if target in input_set or (target.exists() and os.path.samefile(target, path)):
                raise ParameterError(
                    f"the {key} output of {rel.as_posix()!r} would be {str(target)!r}, which is an "
                    "input file; choose another OUT_DIR or --filename template"
                )
            if target in owner:
                raise ParameterError(
                    f"{rel.as_posix()!r} and {owner[target]!r} would both write {str(target)!r}; "
                    "put {ext} into the --filename template (e.g. \"{relpath}/{stem}_{ext}.{ext}\") "
                    "or choose another template"
                )
            owner[target] = rel.as_posix()
        plans.append(plan)
    return plans


# --------------------------------------------------------------------------------------------
# settings fingerprint and completion records
# --------------------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    try:
        import numpy as np

        if isinstance(value, np.ndarray):
            arr = np.ascontiguousarray(value)
            digest = hashlib.sha256(arr.tobytes()).hexdigest()
            return {"ndarray": str(arr.dtype), "shape": list(arr.shape), "sha256": digest}
        if isinstance(value, np.generic):
            return value.item()
    except ImportError:  # pragma: no cover - numpy is a core dependency
        pass
    return repr(value)


def settings_fingerprint(cleaner: Any, *, subtype: str | None = None, clip: str = "clip") -> dict:
    """Everything that decides the bytes of an output, as plain JSON.

    Parameters
    ----------
    cleaner : cleantake.Cleaner
        Its method, every field of its settings and its dictionary (templates by content
        hash, labels, analysis settings) are included.
    subtype : str, optional
        Output sample format, as given to ``clean_file``.
    clip : str
        Policy for samples beyond full scale, as given to ``clean_file``.

    Returns
    -------
    dict
        With key ``"hash"`` (sha256 of the rest, hex) added.
    """
    from . import __version__

    fp: dict[str, Any] = {"cleantake": __version__, "subtype": subtype, "clip": clip}
    known = False
    for attr in ("method", "settings", "dictionary"):
        if hasattr(cleaner, attr):
            fp[attr] = _jsonable(getattr(cleaner, attr))
            known = True
    if not known:  # some other picklable object (e.g. a stand-in in tests)
        fp["object"] = type(cleaner).__qualname__
        fp["pickle_sha256"] = hashlib.sha256(pickle.dumps(cleaner, protocol=5)).hexdigest()
    blob = json.dumps(fp, sort_keys=True, separators=(",", ":")).encode()
    fp["hash"] = hashlib.sha256(blob).hexdigest()
    return fp


def _input_identity(path: str | Path) -> dict:
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_json_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def _read_record(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            rec = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("version") != RECORD_VERSION:
        return None
    return rec


def _rel_to(path: str | Path, root: str | Path) -> str:
    return Path(path).relative_to(root).as_posix()


def _claimed(rec: dict, kind: str, path: str | Path, out_root: str | Path) -> bool:
    """The record lists ``path`` (paths in records are relative to OUT_DIR) as its ``kind`` output."""
    entry = rec.get("outputs", {}).get(kind)
    return isinstance(entry, dict) and entry.get("path") == _rel_to(path, out_root)


def _record_complete(rec: dict, wanted: dict, out_root: str | Path) -> bool:
    """Every wanted output is listed in the record and in place with the recorded size."""
    outputs = rec.get("outputs", {})
    return all(
        _claimed(rec, k, p, out_root) and os.path.isfile(p)
        and os.path.getsize(p) == outputs[k].get("size")
        for k, p in wanted.items()
    )


def _classify(plan: dict, settings_hash: str, out_root: Path, *, overwrite: bool) -> tuple[str, str]:
    """``("skip"|"run"|"replace"|"blocked", why)`` for one planned input."""
    wanted = {k: plan[k] for k in ("cleaned", "removed", "labels") if plan[k] is not None}
    present = [k for k, p in wanted.items() if os.path.lexists(p)]
    if overwrite:
        return ("replace" if present else "run"), ""
    rec = _read_record(plan["record"])  # type: ignore[arg-type]
    if rec is None:
        if present:
            what = ", ".join(str(wanted[k]) for k in present)
            return "blocked", (f"output already exists and was not written by cleantake batch: {what}; "
                               "pass --overwrite to replace it")
        return "run", ""
    try:
        ident = _input_identity(plan["input"])  # type: ignore[arg-type]
    except OSError as exc:
        return "run", f"cannot stat input: {exc}"
    same_input = rec.get("input", {}) == ident
    same_settings = rec.get("settings_hash") == settings_hash
    if same_input and same_settings:
        if _record_complete(rec, wanted, out_root):
            return "skip", "complete output with matching record"
        foreign = [str(wanted[k]) for k in present if not _claimed(rec, k, wanted[k], out_root)]
        if foreign:  # e.g. --labels added later, and a file of that name is already there
            return "blocked", (f"output already exists and was not written by cleantake batch: "
                               f"{', '.join(foreign)}; pass --overwrite to replace it")
        return ("replace" if present else "run"), "unfinished or incomplete earlier result"
    if not present:
        return "run", ""
    reason = "the input file changed since" if not same_input else "different settings were used"
    return "blocked", (f"output exists but {reason} it was made ({plan['cleaned']}); "
                       "pass --overwrite to replace it")


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
        if self.clean_fn is None:
            # Files already run in parallel, one per worker: each file's blocks one at a time.
            self.clean_fn = functools.partial(clean_file, workers=1)


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
    return final.with_name(f".{final.stem}{_PARTIAL_MARK}{token}{final.suffix}")


def _remove_stale_partials(final: Path) -> None:
    """Delete what killed earlier attempts left for this output: our partial files and the
    writer's own temporaries made beside them (``..NAME.cleantake-partial-TOKEN.EXT.XXXX.part``)."""
    prefix = f"{final.stem}{_PARTIAL_MARK}"
    try:
        for p in final.parent.iterdir():
            name = p.name
            if name.startswith(".") and name.lstrip(".").startswith(prefix) and p.is_file():
                p.unlink(missing_ok=True)
    except OSError:
        pass


def _progress_reporter(worker: Any, job: _Job) -> Callable[[float], None] | None:
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


def _process_job(job: _Job, plugin_name: str) -> dict:
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
            ident = _input_identity(job.input)
        except OSError as exc:
            raise AudioReadError(f"cannot read {job.input!r}: {exc.strerror or exc}") from None
        rec = _read_record(Path(job.record))
        if (rec is not None and rec.get("input") == ident
                and rec.get("settings_hash") == job.settings_hash
                and (rec.get("run_id") == job.run_id or not job.replace_existing)
                and _record_complete(rec, finals, job.out_root)):
            # Finished meanwhile by an earlier attempt of this very task (Dask recomputes a
            # finished task whose result was lost with its worker), or by a task of a killed
            # run that was still running on a remote cluster: identical work, nothing to redo.
            row.update(status="done", duration_s=rec.get("duration_s"), n_events=rec.get("n_events"),
                       outputs={k: str(p) for k, p in finals.items()}, reused=True)
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
            outputs[k] = {"path": _rel_to(finals[k], job.out_root), "size": p.stat().st_size}
        events = getattr(result, "events", None)
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
            "finished_utc": _utc_now(),
        }
        # The record goes first: every output in place is claimed by a record, so a run
        # killed between these renames is recognised as ours and finished next time.
        _write_json_atomic(Path(job.record), record)
        for k, p in partials.items():
            os.replace(p, finals[k])
        row.update(status="done", duration_s=record["duration_s"], n_events=record["n_events"],
                   outputs={k: str(finals[k]) for k in outputs})
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
        import soundfile as sf

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
        Bad folder, template, ``jobs`` or scheduler address; colliding outputs.
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
    # Optional parts first: a missing package costs nothing and creates nothing.
    require("distributed", extra="batch", package="Dask distributed")
    report_root = Path(report_dir).resolve() if report_dir is not None else None
    if report_root is not None:
        require("matplotlib.figure", extra="report")
    for folder, what in ((out_root, "OUT_DIR"), (report_root, "report folder")):
        if folder is not None and folder.exists() and not folder.is_dir():
            raise AudioWriteError(f"{what} {str(folder)!r} is a file, not a folder")

    inputs = find_audio_files(in_root, pattern=pattern,
                              exclude=out_root if _is_relative_to(out_root, in_root) else None)
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
    fingerprint = settings_fingerprint(cleaner, subtype=subtype, clip=clip)
    shash = fingerprint["hash"]
    run_id = uuid.uuid4().hex[:12]
    show = sys.stderr.isatty() if progress is None else bool(progress)
    plain = progress is None and not show  # not a terminal: a plain line every few seconds

    rows: dict[str, dict] = {}
    todo: list[tuple[_Job, float]] = []
    for plan in plans:
        rel = plan["rel"].as_posix()  # type: ignore[union-attr]
        action, why = _classify(plan, shash, out_root, overwrite=overwrite)
        if action == "skip":
            rows[rel] = {"input": rel, "status": "skipped", "reason": why,
                         "outputs": {k: str(plan[k]) for k in ("cleaned", "removed", "labels") if plan[k]}}
            if report_root is not None:  # the index shows what the earlier run found
                rec = _read_record(plan["record"]) or {}  # type: ignore[arg-type]
                rows[rel].update(duration_s=rec.get("duration_s"), n_events=rec.get("n_events"))
            continue
        if action == "blocked":
            rows[rel] = {"input": rel, "status": "failed", "reason": f"AudioWriteError: {why}"}
            continue
        job = _Job(
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
    _write_json_atomic(out_root / SUMMARY_NAME, summary)
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
            "duration_s": row.get("duration_s"),
            "status": status,
            "error": row.get("reason") if status == "failed" else None,
        })
    return write_index(report_root, entries, title="cleantake batch report")


def _execute(todo: list[tuple[_Job, float]], rows: dict[str, dict], *, run_id: str, cleaner: Any,
             clean_fn: CleanFn | None, jobs: int, scheduler: str | None,
             show: bool, cluster_info: dict, plain: bool = False) -> bool:
    """Run the jobs on Dask, filling ``rows``; True if interrupted by Ctrl-C.

    ``show``: progress bars (a terminal); ``plain``: a line every few seconds instead.
    """
    from distributed import as_completed
    from tqdm.auto import tqdm

    import threading

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
