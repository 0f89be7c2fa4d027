"""``cleantake batch``, part 1: which files, and where each output goes (client side, no Dask)."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParameterError
from ..io import AUDIO_EXTENSIONS as _IO_EXTENSIONS

__all__ = [
    "AUDIO_EXTENSIONS",
    "DEFAULT_TEMPLATE",
    "RECORDS_DIR",
    "TEMPLATE_FIELDS",
    "Job",
    "is_relative_to",
    "find_audio_files",
    "report_name_for",
    "plan_outputs",
]

#: File-name extensions (lower case, no dot) that ``batch`` picks up: every one that
#: ``cleantake clean`` reads (:data:`cleantake.io.AUDIO_EXTENSIONS`).
AUDIO_EXTENSIONS = frozenset(e.lstrip(".") for e in _IO_EXTENSIONS)
#: Default name of each cleaned output, relative to OUT_DIR.
DEFAULT_TEMPLATE = "{relpath}/{stem}.{ext}"
#: Hidden folder in OUT_DIR holding one completion record per input.
RECORDS_DIR = ".cleantake-batch"
#: Fields of the ``--filename`` template.
TEMPLATE_FIELDS = ("relpath", "stem", "ext", "name")


# --------------------------------------------------------------------------------------------
# discovery and planning (client side)
# --------------------------------------------------------------------------------------------
def is_relative_to(path: Path, other: Path) -> bool:
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
class Job:
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
