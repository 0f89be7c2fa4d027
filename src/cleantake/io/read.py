"""Reading audio files: check (:func:`probe`), read whole or a range (:func:`read_audio`),
read on demand (:class:`FileSamples`) and in overlapping blocks (:func:`iter_blocks`).

Every real-world file is either read correctly or refused with a clear
:class:`~cleantake.errors.AudioReadError`: missing, a folder, empty, not audio (the message
lists the formats read), truncated (found from libsndfile's header log, in seconds), no
samples, a sample rate outside 8-192 kHz, more than 8 channels, NaN/infinite samples (the
time of the first is named), a decoder error.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import AudioReadError, ParameterError
from .formats import (BYTES_PER_SAMPLE, MAX_CHANNELS, MAX_SAMPLERATE, MIN_SAMPLERATE, MP3_FRAME_TOLERANCE,
                      READ_FORMATS_TEXT, AudioInfo, first_nonfinite, read_channel_mask, read_kept_chunks,
                      read_tags)

__all__ = ["probe", "read_audio", "FileSamples", "block_sizes", "iter_blocks"]

_SFC_GET_LOG_INFO = 0x1001


def _libsndfile_log(f: sf.SoundFile) -> str:
    """Return libsndfile's parser log for an open file ('' if unavailable)."""
    try:
        ffi = sf._ffi
        buf = ffi.new("char[]", 8192)
        sf._snd.sf_command(f._file, _SFC_GET_LOG_INFO, buf, 8192)
        return ffi.string(buf).decode("utf-8", errors="replace")
    except Exception:  # pragma: no cover - private API changed; skip the extra check
        return ""


_LENGTH = re.compile(r"^Length\s*:\s*(\d+)", re.M)
_DATA_CHUNK = re.compile(
    r"^\s*(data|SSND)\s*:\s*(0x[0-9A-Fa-f]+|\d+)(?:\s*\(should be (\d+)\))?", re.M)
_FRAME_MISMATCH = (
    # RF64: frames from the data actually present vs. the ds64 chunk
    re.compile(r"Calculated frame count (\d+) does not match value from 'ds64' chunk of (\d+)"),
    # AIFF: frames from the SSND chunk actually present vs. the COMM chunk
    re.compile(r"Frame count read from 'COMM' chunk \((\d+)\) not equal to frame count\s*"
               r"(?:\*\*\*)?\s*calculated from length of 'SSND' chunk \((\d+)\)"),
)
_UNSET_SIZES = (0, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF)


def _truncation_problem(log: str, samplerate: int = 0, bytes_per_frame: int = 0) -> str | None:
    """Detect a truncated file from libsndfile's header log; return a description or None.

    Only the audio data itself counts: a wrong top-level RIFF/FORM size with complete audio
    data (a common harmless bug of some writers) is accepted. Sizes are reported in seconds
    when ``samplerate`` and ``bytes_per_frame`` (uncompressed data) are known.
    """

    def amount(n_bytes: int) -> str:
        if samplerate > 0 and bytes_per_frame > 0:
            return f"{n_bytes / bytes_per_frame / samplerate:.3f} s"
        return f"{n_bytes} bytes"

    def frames(n: int) -> str:
        return f"{n / samplerate:.3f} s" if samplerate > 0 else f"{n} samples"

    m = _LENGTH.search(log)
    file_len = int(m.group(1)) if m else None
    for m in _DATA_CHUNK.finditer(log):
        declared = int(m.group(2), 0)
        # 0 and 0xFFFFFFFF mean "size not filled in" (live recorders, streaming writers, RF64)
        if declared in _UNSET_SIZES:
            continue
        actual = int(m.group(3)) if m.group(3) else None
        if actual is None and file_len is not None and declared > file_len:
            actual = file_len
        if actual is not None and declared > actual + 8:
            return (f"the file is truncated: its header announces {amount(declared)} of audio "
                    f"but only {amount(actual)} ({100.0 * actual / declared:.0f} %) are present")
    m = _FRAME_MISMATCH[0].search(log)
    if m and int(m.group(1)) < int(m.group(2)):
        return (f"the file is truncated: its header announces {frames(int(m.group(2)))} of "
                f"audio but only {frames(int(m.group(1)))} are present")
    m = _FRAME_MISMATCH[1].search(log)
    if m and int(m.group(2)) < int(m.group(1)):
        return (f"the file is truncated: its header announces {frames(int(m.group(1)))} of "
                f"audio but only {frames(int(m.group(2)))} are present")
    if "lacks an end-of-stream bit" in log:
        return "the file is truncated: the Ogg stream ends without its end-of-stream marker"
    return None


def _unreadable(path: Path, why: str) -> AudioReadError:
    return AudioReadError(
        f"cannot read {str(path)!r}: {why}. cleantake reads {READ_FORMATS_TEXT} "
        f"(any format libsndfile {sf.__libsndfile_version__} decodes)"
    )


def _open_for_read(path: str | os.PathLike[str]) -> tuple[sf.SoundFile, AudioInfo, str]:
    """Validate ``path`` and open it; return the open file, its info and libsndfile's log."""
    p = Path(path)
    if not os.path.lexists(p):
        raise AudioReadError(f"input file not found: {str(p)!r}")
    if not p.exists():
        raise AudioReadError(f"input {str(p)!r} is a broken symbolic link (its target is missing)")
    if p.is_dir():
        raise AudioReadError(f"input {str(p)!r} is a folder, not an audio file")
    try:
        st = p.stat()
        if not stat.S_ISREG(st.st_mode):  # FIFO, device, socket: opening could block forever
            raise AudioReadError(
                f"input {str(p)!r} is not a regular file (a pipe, device or socket); "
                f"save the audio to a file first")
        with open(p, "rb") as fh:
            fh.read(1)
    except PermissionError:
        raise AudioReadError(f"cannot read {str(p)!r}: permission denied") from None
    except OSError as exc:
        raise AudioReadError(f"cannot read {str(p)!r}: {exc.strerror or exc}") from None
    if st.st_size == 0:
        raise AudioReadError(f"input {str(p)!r} is an empty file (0 bytes), not a recording")
    try:
        f = sf.SoundFile(str(p))
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as exc:
        msg = str(exc)
        if "malformed" in msg:
            why = "the file looks like a known audio format but is corrupt or truncated"
        elif "unknown format" in msg.lower() or "not recognised" in msg.lower() or "Format not" in msg:
            why = "it is not an audio file or its format is not supported"
        else:
            why = f"it is not a readable audio file ({msg.split(': ', 1)[-1]})"
        raise _unreadable(p, why) from None
    log = _libsndfile_log(f)
    info = AudioInfo(path=p, samplerate=int(f.samplerate), channels=int(f.channels),
                     frames=int(f.frames), format=str(f.format), subtype=str(f.subtype),
                     channel_mask=read_channel_mask(p) if str(f.format) == "WAVEX" else None,
                     tags=read_tags(f),
                     chunks=read_kept_chunks(p) if str(f.format) in ("WAV", "WAVEX", "RF64") else ())
    try:
        problem = _truncation_problem(log, info.samplerate,
                                      BYTES_PER_SAMPLE.get(info.subtype, 0) * info.channels)
        if problem:
            raise AudioReadError(f"cannot read {str(p)!r}: {problem}")
        if info.frames <= 0:
            if re.search(r"^\s*(data|SSND)\s*:\s*0\s*$", log, re.M) and st.st_size > 1024:
                raise AudioReadError(
                    f"cannot read {str(p)!r}: its header says it holds no audio, yet "
                    f"{st.st_size} bytes follow; the recording was probably not finished "
                    f"properly (e.g. the recorder stopped or crashed). Repair the header, e.g. "
                    f"'sox --ignore-length in.wav fixed.wav', and try again")
            raise AudioReadError(f"input {str(p)!r} contains no audio samples (0 s long)")
        if not MIN_SAMPLERATE <= info.samplerate <= MAX_SAMPLERATE:
            raise AudioReadError(
                f"input {str(p)!r} has a sample rate of {info.samplerate} Hz; cleantake supports "
                f"{MIN_SAMPLERATE} Hz to {MAX_SAMPLERATE} Hz (resample it first, e.g. with sox)")
        if not 1 <= info.channels <= MAX_CHANNELS:
            raise AudioReadError(
                f"input {str(p)!r} has {info.channels} channels; cleantake supports 1 to "
                f"{MAX_CHANNELS} channels (split it into groups of channels first)")
    except BaseException:
        f.close()
        raise
    return f, info, log


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """Check that ``path`` is a readable, supported recording and describe it.

    Parameters
    ----------
    path : str or path-like
        The audio file.

    Returns
    -------
    AudioInfo
        Sample rate, channel count, length in samples, container and subtype.

    Raises
    ------
    AudioReadError
        If the path does not exist, is a folder, is empty, cannot be opened, is not audio
        (the message lists the supported formats), is truncated, contains no samples, or has
        a sample rate outside 8-192 kHz or more than 8 channels.
    """
    f, info, _ = _open_for_read(path)
    f.close()
    return info


def _nonfinite_error(path: Path, row: int, samplerate: int, block: np.ndarray,
                     local_row: int) -> AudioReadError:
    kind = "NaN (not a number)" if np.isnan(block[local_row]).any() else "infinite"
    return AudioReadError(
        f"input {str(path)!r} contains {kind} sample values, first at {row / samplerate:.6f} s "
        f"(sample {row}); the file is corrupt or was written by faulty software, "
        f"so cleantake will not process it")


def _read_shortfall_ok(info: AudioInfo, expected: int, got: int) -> bool:
    if got >= expected:
        return True
    return info.format == "MP3" and expected - got <= MP3_FRAME_TOLERANCE


def _short_read_error(info: AudioInfo, start: int, expected: int, got: int) -> AudioReadError:
    sr = info.samplerate
    return AudioReadError(
        f"cannot read {str(info.path)!r}: the file is truncated or corrupt; it announces "
        f"{info.duration_s:.3f} s of audio but decoding stopped at "
        f"{(start + got) / sr:.3f} s")


def _seconds_to_frame(t: float | None, name: str, sr: int) -> int | None:
    if t is None:
        return None
    if not isinstance(t, (int, float, np.integer, np.floating)) or not math.isfinite(t) or t < 0:
        raise ParameterError(f"{name} must be a time in seconds >= 0, got {t!r}")
    return int(round(float(t) * sr))


def read_audio(path: str | os.PathLike[str], *, start_s: float | None = None,
               stop_s: float | None = None) -> tuple[np.ndarray, AudioInfo]:
    """Read a recording (or a time range of it) as float64 samples.

    Parameters
    ----------
    path : str or path-like
        The audio file.
    start_s, stop_s : float, optional
        Time range to read in seconds (default: the whole file). ``stop_s`` past the end is
        cut to the end.

    Returns
    -------
    audio : numpy.ndarray, shape (n_samples, n_channels), float64
        Samples in [-1, 1] for integer files (float files may exceed it). Always 2-D.
    info : AudioInfo
        Description of the whole file (``info.frames`` is the full length, not the range).

    Raises
    ------
    AudioReadError
        Everything :func:`probe` refuses, plus a decoding error, a file that decodes to
        fewer samples than it announces (truncated/corrupt) and NaN/infinite samples (the
        message names the time of the first one).
    ParameterError
        For a negative/non-finite time, ``start_s >= stop_s`` or ``start_s`` past the end.
    """
    f, info, _ = _open_for_read(path)
    with f:
        sr = info.samplerate
        start = _seconds_to_frame(start_s, "start_s", sr) or 0
        stop = _seconds_to_frame(stop_s, "stop_s", sr)
        stop = info.frames if stop is None else min(stop, info.frames)
        if start >= info.frames:
            raise ParameterError(
                f"start_s={start_s} s is at or past the end of {str(info.path)!r} "
                f"({info.duration_s:.3f} s long)")
        if stop <= start:
            raise ParameterError(f"stop_s ({stop_s} s) must be after start_s ({start_s} s)")
        expected = stop - start
        try:
            if start:
                f.seek(start)
            audio = f.read(frames=expected, dtype="float64", always_2d=True)
        except MemoryError:
            gb = expected * info.channels * 8 / 1e9
            raise AudioReadError(
                f"cannot read {str(info.path)!r}: {expected / sr / 3600:.2f} h of "
                f"{info.channels}-channel audio needs {gb:.1f} GB of memory, more than is "
                f"available; process it in parts (start_s/stop_s) or on a larger machine"
            ) from None
        except (sf.SoundFileError, RuntimeError) as exc:
            raise AudioReadError(
                f"cannot read {str(info.path)!r}: the file is corrupt or truncated "
                f"(decoder: {str(exc).split(': ', 1)[-1]})") from None
        got = audio.shape[0]
        if not _read_shortfall_ok(info, expected, got):
            raise _short_read_error(info, start, expected, got)
        bad = first_nonfinite(audio)
        if bad is not None:
            raise _nonfinite_error(info.path, start + bad, sr, audio, bad)
    return np.ascontiguousarray(audio, dtype=np.float64), info


class FileSamples:
    """A file's samples, read on demand and indexed like an array of shape (n_samples, n_channels).

    Code written for in-memory recordings (the HTML report) can then work on hour-long files:
    only the rows asked for are read, as float64, each time they are asked for.

    Parameters
    ----------
    path : str or path-like
        The audio file (checked as by :func:`probe`).
    minus : FileSamples, optional
        Another file of the same shape whose samples are subtracted from this one's (what was
        removed is the input minus the cleaned output).
    length : int, optional
        Present the file as this many samples, cut or padded with zeros at the end (a lossy
        file such as MP3 may decode to a few samples more or less than it was given).

    Examples
    --------
    ``FileSamples("take.flac")[44100:88200]`` reads the second second of ``take.flac``;
    ``x[np.array([3, 1, 2])]`` reads rows 1 to 3 and returns them in that order.
    """

    ndim = 2
    dtype = np.dtype(np.float64)

    def __init__(self, path: str | os.PathLike[str], *, minus: "FileSamples | None" = None,
                 length: int | None = None) -> None:
        self.info = probe(path)
        if length is not None and (not isinstance(length, (int, np.integer)) or length < 0):
            raise ParameterError(f"length must be a number of samples >= 0, got {length!r}")
        n = int(self.info.frames) if length is None else int(length)
        self.shape = (n, int(self.info.channels))
        if minus is not None and minus.shape != self.shape:
            raise ParameterError(
                f"{str(minus.info.path)!r} has {minus.shape[0]} samples x {minus.shape[1]} channels, "
                f"{str(self.info.path)!r} {self.shape[0]} x {self.shape[1]}; they cannot be subtracted")
        self.minus = minus

    def __len__(self) -> int:
        return self.shape[0]

    def _rows(self, a: int, b: int) -> np.ndarray:
        sr, c = self.info.samplerate, self.shape[1]
        stop = min(b, int(self.info.frames))
        if stop > a:
            x, _ = read_audio(self.info.path, start_s=a / sr, stop_s=stop / sr)
            x = x[: b - a]
        else:  # rows past the end of a file presented as longer than it is
            x = np.zeros((0, c))
        if x.shape[0] < b - a:
            x = np.concatenate([x, np.zeros((b - a - x.shape[0], c))])
        if self.minus is not None:
            x = x - self.minus._rows(a, b)
        return x

    def __getitem__(self, key) -> np.ndarray:
        n, c = self.shape
        if isinstance(key, slice):
            a, b, step = key.indices(n)
            if step != 1:
                raise ParameterError(f"FileSamples supports only contiguous slices, got step {step}")
            return self._rows(a, b) if b > a else np.zeros((0, c))
        idx = np.asarray(key)
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise ParameterError("FileSamples is indexed by a slice or a 1-D array of row numbers")
        if idx.size == 0:
            return np.zeros((0, c))
        lo, hi = int(idx.min()), int(idx.max()) + 1
        if lo < 0 or hi > n:
            raise ParameterError(f"rows {lo} to {hi - 1} asked of a file of {n} samples")
        return self._rows(lo, hi)[idx - lo]


def block_sizes(sr: int, block_s: float, overlap_s: float) -> tuple[int, int]:
    """Block and overlap lengths in samples used by :func:`iter_blocks`.

    Returns
    -------
    block_n : int
        ``block_s`` in samples (at least 1).
    overlap_n : int
        ``overlap_s`` in samples, less than ``block_n``.
    """
    block_n = max(1, int(round(block_s * sr)))
    return block_n, min(int(round(overlap_s * sr)), block_n - 1)


def iter_blocks(path: str | os.PathLike[str], *, block_s: float,
                overlap_s: float) -> Iterator[tuple[int, np.ndarray]]:
    """Stream a long recording in overlapping blocks.

    Consecutive blocks start ``block_s - overlap_s`` seconds apart, so each block shares its
    first ``overlap_s`` seconds with the end of the previous one. Only about one block is
    held in memory at a time.

    Parameters
    ----------
    path : str or path-like
        The audio file.
    block_s : float
        Block length in seconds (> 0). The last block may be shorter.
    overlap_s : float
        Overlap between consecutive blocks in seconds, ``0 <= overlap_s < block_s``.

    Yields
    ------
    start : int
        Index (in samples) of the block's first sample in the file.
    block : numpy.ndarray, shape (n, n_channels), float64
        The samples; blocks together cover the whole file exactly once plus overlaps.

    Raises
    ------
    AudioReadError
        As :func:`read_audio`, raised when the problem is reached (so some blocks may
        already have been yielded; write outputs with :class:`AtomicAudioWriter` so that a
        late error leaves no partial file).
    ParameterError
        For invalid ``block_s``/``overlap_s``.
    """
    for name, v in (("block_s", block_s), ("overlap_s", overlap_s)):
        if not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
            raise ParameterError(f"{name} must be a finite number of seconds, got {v!r}")
    if block_s <= 0 or overlap_s < 0 or overlap_s >= block_s:
        raise ParameterError(
            f"need block_s > overlap_s >= 0 (seconds), got block_s={block_s}, overlap_s={overlap_s}")
    f, info, _ = _open_for_read(path)
    with f:
        sr = info.samplerate
        block_n, overlap_n = block_sizes(sr, block_s, overlap_s)
        hop = block_n - overlap_n
        start = 0
        tail = np.empty((0, info.channels))
        pos = 0  # samples read from the file so far
        while pos < info.frames:
            want = min(block_n - tail.shape[0], info.frames - pos)
            try:
                new = f.read(frames=want, dtype="float64", always_2d=True)
            except (sf.SoundFileError, RuntimeError) as exc:
                raise AudioReadError(
                    f"cannot read {str(info.path)!r}: the file is corrupt or truncated "
                    f"(decoder error near {pos / sr:.3f} s: {str(exc).split(': ', 1)[-1]})"
                ) from None
            got = new.shape[0]
            if got < want and not _read_shortfall_ok(info, info.frames - pos, got):
                raise _short_read_error(info, pos, info.frames - pos, got)
            bad = first_nonfinite(new)
            if bad is not None:
                raise _nonfinite_error(info.path, pos + bad, sr, new, bad)
            pos += got
            block = np.concatenate([tail, new]) if tail.shape[0] else new
            if got < want:  # accepted MP3 shortfall: stop here
                pos = info.frames
            if block.shape[0]:
                yield start, np.ascontiguousarray(block)
            if pos >= info.frames:
                break
            tail = block[hop:].copy() if overlap_n else np.empty((0, info.channels))
            start += hop
