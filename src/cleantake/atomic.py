"""Files that appear complete or not at all: the one temp-file-and-rename helper.

Every file cleantake writes (audio, labels, reports, dictionaries, batch records, evaluation
results) is first written to a hidden temporary file in the output's own folder, named

    ``.<NAME>.cleantake-<PID>-<RANDOM>.part``

then flushed to disk (``fsync``) and renamed over ``NAME`` (atomic on POSIX); the folder is
then flushed too, so the rename itself survives a power loss. On any exception, including
``KeyboardInterrupt``, the temporary file is removed and an existing ``NAME`` is untouched.

A process killed outright (``kill -9``, power loss) cannot remove its temporary file. The
next writer of the same output finds such files by their exact name pattern and removes the
stale ones (:func:`remove_stale_temp_files`): those of a process that no longer runs on this
machine and untouched for :data:`STALE_AFTER_S` seconds, or untouched for
:data:`ABANDONED_AFTER_S` whatever their process. Nothing else is ever removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import AudioWriteError, CleantakeError

__all__ = [
    "STALE_AFTER_S",
    "ABANDONED_AFTER_S",
    "StaleTempWarning",
    "make_temp",
    "commit",
    "discard",
    "discard_unfinished",
    "atomic_path",
    "atomic_file",
    "atomic_write",
    "stale_temp_files",
    "remove_stale_temp_files",
    "prepare_folder",
]

#: A temporary file of a process that no longer runs, untouched this long (s), is stale.
STALE_AFTER_S = 600.0
#: A temporary file untouched this long (s) is stale whatever its process (other machines).
ABANDONED_AFTER_S = 24 * 3600.0


class StaleTempWarning(UserWarning):
    """Temporary files left by an interrupted earlier run were found and removed."""


def _temp_prefix(final: Path) -> str:
    return f".{final.name}.cleantake-{os.getpid()}-"


def _temp_pattern(final: Path) -> re.Pattern:
    # ``mkstemp`` adds 8 characters of [a-z0-9_].
    return re.compile(rf"^\.{re.escape(final.name)}\.cleantake-(\d+)-[a-z0-9_]{{8}}\.part$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # exists, owned by someone else
        return True
    return True


def _folder(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def stale_temp_files(path: str | os.PathLike) -> list[Path]:
    """Temporary files of earlier, killed writers of ``path`` (see the module notes).

    Parameters
    ----------
    path : str or path-like
        The final output file.

    Returns
    -------
    list of Path
        Sorted; empty when the folder cannot be listed.
    """
    final = Path(path)
    pattern = _temp_pattern(final)
    now = time.time()
    found = []
    try:
        entries = list(os.scandir(_folder(final)))
    except OSError:
        return []
    for entry in entries:
        m = pattern.match(entry.name)
        if m is None:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not entry.is_file(follow_symlinks=False):
            continue
        idle = now - st.st_mtime
        if idle > ABANDONED_AFTER_S or (idle > STALE_AFTER_S and not _alive(int(m.group(1)))):
            found.append(Path(entry.path))
    return sorted(found)


def remove_stale_temp_files(path: str | os.PathLike, *, warn: bool = True) -> list[Path]:
    """Remove :func:`stale_temp_files` of ``path``; warn (:class:`StaleTempWarning`) if any.

    Returns
    -------
    list of Path
        The files removed.
    """
    removed = []
    for p in stale_temp_files(path):
        try:
            size = p.stat().st_size
            p.unlink()
        except OSError:
            continue
        removed.append((p, size))
    if removed and warn:
        mb = sum(s for _, s in removed) / 1e6
        warnings.warn(
            f"removed {len(removed)} temporary file(s) ({mb:.1f} MB) left beside "
            f"{str(path)!r} by an earlier run that was killed: "
            f"{', '.join(p.name for p, _ in removed)}", StaleTempWarning, stacklevel=3)
    return [p for p, _ in removed]


# Temporary files made by this process and not yet committed or discarded: if an interrupt
# lands between two statements of a writer, the command line still removes them.
_unfinished: set[Path] = set()


def make_temp(final: str | os.PathLike) -> Path:
    """Create the empty temporary file for ``final`` in its folder and return its path.

    Stale temporary files of ``final`` are removed first (:func:`remove_stale_temp_files`).

    Raises
    ------
    OSError
        When the folder is missing or not writable.
    """
    final = Path(final)
    remove_stale_temp_files(final)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(final), suffix=".part", dir=_folder(final))
    _unfinished.add(Path(tmp))
    os.close(fd)
    return Path(tmp)


def _fsync_path(path: Path, *, folder: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if folder:  # pragma: no cover - some systems refuse to open folders
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not folder:
            raise
    finally:
        os.close(fd)


def _umask() -> int:
    try:  # Linux: read it without changing it (os.umask is process-wide, racy with threads)
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def commit(tmp: Path, final: str | os.PathLike, *, overwrite: bool = True) -> None:
    """Flush ``tmp`` to disk and rename it to ``final``, then flush the folder.

    Parameters
    ----------
    tmp : Path
        A complete temporary file in ``final``'s folder (from :func:`make_temp`).
    final : str or path-like
    overwrite : bool
        Replace an existing ``final``. Without it ``final`` is never clobbered, even if it
        appeared meanwhile (a hard link is made, which fails if the name exists).

    Raises
    ------
    AudioWriteError
        ``final`` exists and ``overwrite`` is false.
    OSError
        A failed flush or rename (the caller removes ``tmp``).
    """
    final = Path(final)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs get the usual mode
    _fsync_path(tmp)
    if overwrite:
        os.replace(tmp, final)
    else:
        try:  # link() fails if the output appeared meanwhile: never clobber without -y
            os.link(tmp, final)
        except FileExistsError:
            raise AudioWriteError(f"output {str(final)!r} already exists; use -y to overwrite it") from None
        except OSError:  # filesystem without hard links
            if os.path.lexists(final):
                raise AudioWriteError(
                    f"output {str(final)!r} already exists; use -y to overwrite it") from None
            os.replace(tmp, final)
        else:
            os.unlink(tmp)
    _unfinished.discard(Path(tmp))
    _fsync_path(_folder(final), folder=True)


def discard(tmp: str | os.PathLike) -> None:
    """Remove a temporary file made by :func:`make_temp` (no error if it is gone)."""
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    except OSError:  # pragma: no cover
        pass
    _unfinished.discard(Path(tmp))


def discard_unfinished() -> list[Path]:
    """Remove every temporary file this process made and neither committed nor discarded.

    The command line calls it after an interrupt (Ctrl-C, SIGTERM), which can land between
    a temporary file's creation and the ``try`` that would remove it.

    Returns
    -------
    list of Path
        The files removed.
    """
    left = sorted(_unfinished)
    for tmp in left:
        discard(tmp)
    return left


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = True,
                error: type[CleantakeError] = AudioWriteError, what: str = "") -> Iterator[Path]:
    """Context manager: a temporary path to write; renamed to ``path`` when the block ends.

    Parameters
    ----------
    path : str or path-like
        Final file.
    overwrite : bool
        See :func:`commit`.
    error : CleantakeError subclass
        Raised (with the OS's reason) when writing fails: ``AudioWriteError`` by default.
    what : str
        Words naming the file in messages, e.g. ``"labels"`` (default: none).

    Yields
    ------
    Path
        The temporary file (exists, empty).
    """
    final = Path(path)
    label = f"{what} to " if what else ""
    try:
        tmp = make_temp(final)
    except OSError as exc:
        raise error(f"cannot write {label}{str(final)!r}: {exc.strerror or exc}") from None
    try:
        yield tmp
        commit(tmp, final, overwrite=overwrite)
    except OSError as exc:
        discard(tmp)
        raise error(f"cannot write {label}{str(final)!r}: {exc.strerror or exc}") from exc
    except BaseException:
        discard(tmp)
        raise


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", *, overwrite: bool = True,
                error: type[CleantakeError] = AudioWriteError, what: str = "",
                encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO]:
    """Context manager: an open file object whose contents replace ``path`` atomically.

    ``mode`` is ``"w"`` (text, ``encoding``/``newline`` as for :func:`open`) or ``"wb"``.
    Other parameters as :func:`atomic_path`.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path, overwrite=overwrite, error=error, what=what) as tmp:
        if mode == "wb":
            fh = open(tmp, "wb")
        else:
            fh = open(tmp, "w", encoding=encoding, newline=newline)
        with fh:
            yield fh


def atomic_write(path: str | os.PathLike, data: str | bytes, *, overwrite: bool = True,
                 error: type[CleantakeError] = AudioWriteError, what: str = "",
                 newline: str | None = None) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically; return the path.

    Raises
    ------
    CleantakeError
        ``error`` (default :class:`~cleantake.errors.AudioWriteError`) with the OS's reason.
    """
    mode = "wb" if isinstance(data, (bytes, bytearray)) else "w"
    with atomic_file(path, mode, overwrite=overwrite, error=error, what=what, newline=newline) as fh:
        fh.write(data)
    return Path(path)


def prepare_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """Create the folder ``path`` (and its parents) if missing; refuse a file of that name.

    Raises
    ------
    AudioWriteError
        ``path`` is an existing file (not a folder), or cannot be created.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise AudioWriteError(f"{what} {str(p)!r} is a file, not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AudioWriteError(f"cannot create {what} {str(p)!r}: {exc.strerror or exc}") from None
    return p
