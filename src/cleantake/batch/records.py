"""``cleantake batch``, part 2: the settings fingerprint and the completion records that make
a run resumable (which outputs are complete, ours, and made with these settings)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write

__all__ = [
    "RECORD_VERSION",
    "settings_fingerprint",
    "input_identity",
    "write_json",
    "read_record",
    "rel_to",
    "claimed",
    "record_complete",
    "classify",
]

#: Version of the record format (records of another version are ignored).
RECORD_VERSION = 1


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
        if isinstance(value, np.ndarray):
            arr = np.ascontiguousarray(value)
            digest = hashlib.sha256(arr.tobytes()).hexdigest()
            return {"ndarray": str(arr.dtype), "shape": list(arr.shape), "sha256": digest}
        if isinstance(value, np.generic):
            return value.item()
    except ImportError:  # pragma: no cover - numpy is a core dependency
        pass
    return repr(value)


def settings_fingerprint(cleaner: Any, *, subtype: str | None = None, clip: str = "clip",
                         like_model: Any = None) -> dict:
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
    like_model : cleantake.LikeModel, optional
        The example every file is searched for (its arrays by content hash); the fingerprint
        without one is unchanged.

    Returns
    -------
    dict
        With key ``"hash"`` (sha256 of the rest, hex) added.
    """
    from .. import __version__

    fp: dict[str, Any] = {"cleantake": __version__, "subtype": subtype, "clip": clip}
    known = False
    for attr in ("method", "settings", "dictionary"):
        if hasattr(cleaner, attr):
            fp[attr] = _jsonable(getattr(cleaner, attr))
            known = True
    if like_model is not None:
        fp["like_model"] = _jsonable(like_model)
    if not known:  # some other picklable object (e.g. a stand-in in tests)
        fp["object"] = type(cleaner).__qualname__
        fp["pickle_sha256"] = hashlib.sha256(pickle.dumps(cleaner, protocol=5)).hexdigest()
    blob = json.dumps(fp, sort_keys=True, separators=(",", ":")).encode()
    fp["hash"] = hashlib.sha256(blob).hexdigest()
    return fp


def input_identity(path: str | Path) -> dict:
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_record(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            rec = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("version") != RECORD_VERSION:
        return None
    return rec


def rel_to(path: str | Path, root: str | Path) -> str:
    return Path(path).relative_to(root).as_posix()


def claimed(rec: dict, kind: str, path: str | Path, out_root: str | Path) -> bool:
    """The record lists ``path`` (paths in records are relative to OUT_DIR) as its ``kind`` output."""
    entry = rec.get("outputs", {}).get(kind)
    return isinstance(entry, dict) and entry.get("path") == rel_to(path, out_root)


def record_complete(rec: dict, wanted: dict, out_root: str | Path) -> bool:
    """Every wanted output is listed in the record and in place with the recorded size."""
    outputs = rec.get("outputs", {})
    return all(
        claimed(rec, k, p, out_root) and os.path.isfile(p)
        and os.path.getsize(p) == outputs[k].get("size")
        for k, p in wanted.items()
    )


def classify(plan: dict, settings_hash: str, out_root: Path, *, overwrite: bool) -> tuple[str, str]:
    """``("skip"|"run"|"replace"|"blocked", why)`` for one planned input."""
    wanted = {k: plan[k] for k in ("cleaned", "removed", "labels") if plan[k] is not None}
    present = [k for k, p in wanted.items() if os.path.lexists(p)]
    if overwrite:
        return ("replace" if present else "run"), ""
    rec = read_record(plan["record"])  # type: ignore[arg-type]
    if rec is None:
        if present:
            what = ", ".join(str(wanted[k]) for k in present)
            return "blocked", (f"output already exists and was not written by cleantake batch: {what}; "
                               "pass --overwrite to replace it")
        return "run", ""
    try:
        ident = input_identity(plan["input"])  # type: ignore[arg-type]
    except OSError as exc:
        return "run", f"cannot stat input: {exc}"
    same_input = rec.get("input", {}) == ident
    same_settings = rec.get("settings_hash") == settings_hash
    if same_input and same_settings:
        if record_complete(rec, wanted, out_root):
            return "skip", "complete output with matching record"
        foreign = [str(wanted[k]) for k in present if not claimed(rec, k, wanted[k], out_root)]
        if foreign:  # e.g. --labels added later, and a file of that name is already there
            return "blocked", (f"output already exists and was not written by cleantake batch: "
                               f"{', '.join(foreign)}; pass --overwrite to replace it")
        return ("replace" if present else "run"), "unfinished or incomplete earlier result"
    if not present:
        return "run", ""
    reason = "the input file changed since" if not same_input else "different settings were used"
    return "blocked", (f"output exists but {reason} it was made ({plan['cleaned']}); "
                       "pass --overwrite to replace it")
