"""Whole archives: clean every recording under a folder, in parallel, on Dask distributed.

Modules: :mod:`.plan` (which files, where each output goes), :mod:`.records` (settings
fingerprint, completion records), :mod:`.run` (the Dask worker and client).

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

from .plan import AUDIO_EXTENSIONS, DEFAULT_TEMPLATE, RECORDS_DIR, find_audio_files, plan_outputs, report_name_for
from .records import settings_fingerprint
from .run import PARTIAL_MARK, SUMMARY_NAME, run_batch

__all__ = [
    "AUDIO_EXTENSIONS",
    "DEFAULT_TEMPLATE",
    "SUMMARY_NAME",
    "RECORDS_DIR",
    "PARTIAL_MARK",
    "find_audio_files",
    "plan_outputs",
    "settings_fingerprint",
    "run_batch",
    "report_name_for",
]
