"""Safe audio input and output for cleantake.

Everything that touches audio files goes through this module, so that every real-world file
is either read correctly or refused with a clear message, and no output is ever left half
written.

Reading
    :func:`probe` checks a path (exists, is a file, not empty, readable, decodable by
    libsndfile, not truncated, supported sample rate and channel count) and returns an
    :class:`AudioInfo`. :func:`read_audio` reads a whole file (or a time range) as float64
    of shape ``(n_samples, n_channels)`` and refuses NaN/inf samples and short reads.
    :func:`iter_blocks` streams long files in overlapping blocks with bounded memory.

Writing
    :func:`check_output` refuses an output that is the input (also through symlinks or hard
    links), that already exists without ``overwrite`` or whose folder is missing/unwritable.
    :func:`output_format` picks the container from the extension and keeps the input's
    subtype where possible. :class:`AtomicAudioWriter` writes to a hidden ``.part`` file in
    the output folder and renames it into place only when complete, so an interrupted run
    never leaves a partial output and never damages an existing one.

Full scale (the ``clip`` policy)
    ``"clip"`` (default): integer and other fixed-range subtypes (PCM, u-law, Vorbis, MP3 ...)
    are hard-clipped to ``[-1, 1 - 1 LSB]`` and a :class:`ClippingWarning` reports how many
    samples were clipped and the time of the first. ``"error"``: a sample beyond full scale
    aborts the write with :class:`~cleantake.errors.AudioWriteError` (nothing is written).
    ``"float"``: the output uses a float subtype (FLOAT/DOUBLE) and values are kept as they
    are. Float subtypes are never clipped, whatever the policy. Samples are never allowed to
    wrap around.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from .atomic import commit, make_temp
from .errors import AudioReadError, AudioWriteError, ParameterError

__all__ = [
    "AudioInfo",
    "ClippingWarning",
    "AtomicAudioWriter",
    "CLIP_POLICIES",
    "MIN_SAMPLERATE",
    "MAX_SAMPLERATE",
    "MAX_CHANNELS",
    "probe",
    "read_audio",
    "FileSamples",
    "iter_blocks",
    "check_output",
    "output_format",
    "write_audio",
    "supported_extensions",
    "AUDIO_EXTENSIONS",
    "full_scale_range",
    "on_output_grid",
    "natural_pcm",
    "read_channel_mask",
]

#: Lowest and highest sample rate (Hz) cleantake accepts.
MIN_SAMPLERATE = 8_000
MAX_SAMPLERATE = 192_000
#: Highest channel count cleantake accepts.
MAX_CHANNELS = 8
#: Valid values of the ``clip`` argument / ``--clip`` option.
CLIP_POLICIES = ("clip", "error", "float")

_READ_FORMATS_TEXT = (
    "WAV (PCM 8/16/24/32-bit, float 32/64), RF64, W64, FLAC, OGG/Vorbis, Opus, MP3, AIFF, CAF, AU"
)

#: Output extension -> libsndfile container.
_EXTENSIONS: dict[str, str] = {
    ".wav": "WAV",
    ".wave": "WAV",
    ".rf64": "RF64",
    ".w64": "W64",
    ".flac": "FLAC",
    ".ogg": "OGG",
    ".oga": "OGG",
    ".opus": "OGG",
    ".aif": "AIFF",
    ".aiff": "AIFF",
    ".aifc": "AIFF",
    ".caf": "CAF",
    ".au": "AU",
    ".snd": "AU",
    ".mp3": "MP3",
}

#: File-name extensions (lower case, with the dot) of the audio files cleantake reads and
#: writes; ``cleantake batch`` picks up exactly these.
AUDIO_EXTENSIONS: tuple[str, ...] = tuple(_EXTENSIONS)

_FLOAT_SUBTYPES = frozenset({"FLOAT", "DOUBLE"})
_PCM_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}
_BYTES_PER_SAMPLE = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4,
                     "FLOAT": 4, "DOUBLE": 8, "ULAW": 1, "ALAW": 1}
# Preferred output subtypes given the input's, most faithful first; the container's default
# subtype is the final fallback.
_SUBTYPE_PREFERENCE = {
    "PCM_S8": ("PCM_S8", "PCM_U8", "PCM_16"),
    "PCM_U8": ("PCM_U8", "PCM_S8", "PCM_16"),
    "PCM_16": ("PCM_16", "PCM_24"),
    "PCM_24": ("PCM_24", "PCM_32", "FLOAT"),
    "PCM_32": ("PCM_32", "FLOAT", "PCM_24"),
    "FLOAT": ("FLOAT", "DOUBLE", "PCM_24"),
    "DOUBLE": ("DOUBLE", "FLOAT", "PCM_24"),
}
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
# A plain RIFF/WAV file cannot exceed 4 GiB; keep a margin for the header and chunks.
_WAV_LIMIT_BYTES = 0xFFFFFFFF - 1_048_576
# MP3 frame counts in headers can be estimates; tolerate this many missing samples.
_MP3_FRAME_TOLERANCE = 2 * 1152
_SFC_GET_LOG_INFO = 0x1001
_SFC_RF64_AUTO_DOWNGRADE = 0x1210
_SFC_SET_ADD_PEAK_CHUNK = 0x1050
_WRITE_CHUNK = 1 << 16  # frames converted/clipped at a time when writing big arrays


class ClippingWarning(UserWarning):
    """Samples beyond full scale were clipped when writing an integer-format output."""


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`probe` found out about an audio file.

    Attributes
    ----------
    path : pathlib.Path
        The file, as given (not resolved).
    samplerate : int
        Sample rate in Hz.
    channels : int
        Number of channels.
    frames : int
        Number of samples per channel.
    format : str
        libsndfile container name, e.g. ``"WAV"``, ``"FLAC"``, ``"OGG"``, ``"MP3"``.
    subtype : str
        libsndfile subtype, e.g. ``"PCM_16"``, ``"PCM_24"``, ``"FLOAT"``, ``"VORBIS"``.
    channel_mask : int or None
        The speaker positions of a WAVE_FORMAT_EXTENSIBLE file (``format == "WAVEX"``),
        e.g. ``0x3F`` for 5.1; None for other files.
    """

    path: Path
    samplerate: int
    channels: int
    frames: int
    format: str
    subtype: str
    channel_mask: int | None = None

    @property
    def duration_s(self) -> float:
        """Duration in seconds (``frames / samplerate``)."""
        return self.frames / self.samplerate if self.samplerate else 0.0


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------


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
        f"cannot read {str(path)!r}: {why}. cleantake reads {_READ_FORMATS_TEXT} "
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
                     channel_mask=read_channel_mask(p) if str(f.format) == "WAVEX" else None)
    try:
        problem = _truncation_problem(log, info.samplerate,
                                      _BYTES_PER_SAMPLE.get(info.subtype, 0) * info.channels)
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


def _mask_offset(head: bytes) -> int | None:
    """Byte offset of the channel mask in a RIFF/RF64 WAVE_FORMAT_EXTENSIBLE header, or None."""
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return None
    i = 12
    while i + 8 <= len(head):
        cid, size = head[i:i + 4], int.from_bytes(head[i + 4:i + 8], "little")
        if cid == b"fmt ":
            body = i + 8
            if size >= 40 and int.from_bytes(head[body:body + 2], "little") == 0xFFFE:
                return body + 20  # tag, channels, rate, bytes/s, align, bits, cbSize, valid bits
            return None
        i += 8 + size + (size & 1)
    return None


def read_channel_mask(path: str | os.PathLike[str]) -> int | None:
    """The channel mask (speaker positions) of a WAVE_FORMAT_EXTENSIBLE file, or None.

    Parameters
    ----------
    path : str or path-like
        A WAV/RF64 file.

    Returns
    -------
    int or None
        ``dwChannelMask`` of the ``fmt`` chunk, e.g. ``0x3F`` for 5.1 (FL FR FC LFE BL BR);
        None when the file is not WAVE_FORMAT_EXTENSIBLE or cannot be read.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    off = _mask_offset(head)
    return None if off is None else int.from_bytes(head[off:off + 4], "little")


def _write_channel_mask(path: Path, mask: int) -> None:
    """Set the channel mask of a WAVE_FORMAT_EXTENSIBLE file written by libsndfile (which
    writes a default mask for the channel count)."""
    with open(path, "r+b") as fh:
        head = fh.read(4096)
        off = _mask_offset(head)
        if off is not None:
            fh.seek(off)
            fh.write(int(mask).to_bytes(4, "little"))


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


def _first_nonfinite(block: np.ndarray) -> int | None:
    """Index (row) of the first non-finite sample of a (n, C) block, or None."""
    ok = np.isfinite(block)
    if ok.all():
        return None
    return int(np.argmin(ok.all(axis=1)))


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
    return info.format == "MP3" and expected - got <= _MP3_FRAME_TOLERANCE


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
        bad = _first_nonfinite(audio)
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
            bad = _first_nonfinite(new)
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


# --------------------------------------------------------------------------------------
# choosing and checking outputs
# --------------------------------------------------------------------------------------


def on_output_grid(samples: np.ndarray, subtype: str) -> np.ndarray:
    """Round samples onto the sample grid of an integer subtype (other subtypes unchanged).

    The removed part computed as ``input - on_output_grid(cleaned, subtype)`` then sums
    with the written file back to the input exactly.

    Parameters
    ----------
    samples : np.ndarray
        Samples in [-1, 1] (any shape).
    subtype : str
        libsndfile subtype of the output, e.g. ``"PCM_16"``.

    Returns
    -------
    np.ndarray
        Same shape; multiples of ``2**-(bits - 1)`` for ``PCM_*`` subtypes.
    """
    bits = _PCM_BITS.get(str(subtype).upper())
    if bits is None:
        return samples
    q = float(2 ** (bits - 1))
    return np.round(samples * q) / q


def supported_extensions() -> tuple[str, ...]:
    """Output file extensions cleantake can write here (``.mp3`` only if libsndfile can)."""
    return tuple(e for e, fmt in _EXTENSIONS.items() if fmt != "MP3" or _can_write_mp3())


_MP3_WRITABLE: bool | None = None


def _can_write_mp3() -> bool:
    global _MP3_WRITABLE
    if _MP3_WRITABLE is None:
        try:
            import io as _pyio

            buf = _pyio.BytesIO()
            with sf.SoundFile(buf, "w", 44100, 1, "MPEG_LAYER_III", format="MP3") as f:
                f.write(np.zeros(1152))
            _MP3_WRITABLE = len(buf.getvalue()) > 0
        except Exception:
            _MP3_WRITABLE = False
    return _MP3_WRITABLE


# Combinations libsndfile accepts but gets wrong (checked by reading back):
# 8-bit AIFF of odd length reads back with an extra sample.
_BROKEN_COMBINATIONS = frozenset({("AIFF", "PCM_S8"), ("AIFF", "PCM_U8")})


def _valid_subtypes(fmt: str) -> list[str]:
    return [s for s in sf.available_subtypes(fmt)
            if sf.check_format(fmt, s) and (fmt, s) not in _BROKEN_COMBINATIONS]


def _encodable(fmt: str, subtype: str) -> bool:
    """libsndfile lists MPEG layers as WAV subtypes but cannot encode them there."""
    return not subtype.startswith("MPEG_LAYER") or fmt == "MP3"


_NATURAL_PCM = {"ALAC_16": "PCM_16", "ALAC_20": "PCM_24", "ALAC_24": "PCM_24", "ALAC_32": "PCM_32",
                "DPCM_8": "PCM_S8", "DPCM_16": "PCM_16", "DWVW_12": "PCM_16", "DWVW_16": "PCM_16",
                "DWVW_24": "PCM_24", "NMS_ADPCM_16": "PCM_16", "NMS_ADPCM_24": "PCM_24",
                "NMS_ADPCM_32": "PCM_24"}


def natural_pcm(subtype: str) -> str | None:
    """The PCM subtype that holds a lossy or compressed input subtype without loss.

    Parameters
    ----------
    subtype : str
        An input's libsndfile subtype.

    Returns
    -------
    str or None
        ``"PCM_16"`` for lossy and companded codings (MPEG layers I-III, Vorbis, Opus,
        u-law, A-law, ADPCM, GSM ...: they decode to at most 16 bits of resolution), the PCM
        of the same depth for lossless codings (``ALAC_24`` -> ``"PCM_24"``); None for
        plain PCM and float subtypes (they are kept as they are).
    """
    st = str(subtype).upper()
    if st in _PCM_BITS or st in _FLOAT_SUBTYPES:
        return None
    return _NATURAL_PCM.get(st, "PCM_16")


def _check_float_clip(clip: str, subtype: str) -> None:
    """``--clip float`` keeps samples beyond full scale, so it needs a float subtype."""
    if clip == "float" and subtype not in _FLOAT_SUBTYPES:
        raise ParameterError(
            f"--clip float keeps samples beyond full scale, which needs a float subtype "
            f"(FLOAT or DOUBLE), not {subtype}")


def output_format(path: str | os.PathLike[str], *, like: AudioInfo | None = None,
                  subtype: str | None = None, clip: str = "clip") -> tuple[str, str]:
    """Choose the container and subtype of an output file.

    Parameters
    ----------
    path : str or path-like
        The output path; its extension selects the container (``.wav .flac .ogg .opus .aiff
        .w64 .rf64 .caf .au``, and ``.mp3`` where libsndfile can encode MP3).
    like : AudioInfo, optional
        The input; its subtype is kept when the container can store it, otherwise the
        closest one is used (e.g. float input -> ``PCM_24`` in FLAC). A lossy or
        compressed input subtype the container cannot store becomes its
        :func:`natural_pcm` (MP3 -> ``PCM_16`` in WAV, FLAC, AIFF ...; Vorbis -> ``PCM_16``
        in FLAC). A WAVE_FORMAT_EXTENSIBLE input (``like.format == "WAVEX"``) gives
        a WAVE_FORMAT_EXTENSIBLE ``.wav`` output (the writer keeps its channel mask).
    subtype : str, optional
        Requested subtype (``--subtype``), case-insensitive. Must be valid for the container.
    clip : {"clip", "error", "float"}
        Full-scale policy. With ``"float"`` and no ``subtype`` a float subtype is chosen.

    Returns
    -------
    format, subtype : str
        libsndfile names, e.g. ``("WAV", "PCM_24")``. ``.wav`` outputs are ``"WAV"`` (``"WAVEX"`` for a WAVEX input);
        :class:`AtomicAudioWriter` switches to RF64 when the file would pass 4 GB.

    Raises
    ------
    AudioWriteError
        For an extension cleantake cannot write (the message lists the valid ones), or, when
        ``like`` is given, a sample rate or channel count the container cannot store.
    ParameterError
        For a subtype the container cannot store (the message lists the valid ones), an
        unknown ``clip`` policy, or ``clip="float"`` with a non-float subtype/container.
    """
    _check_clip(clip)
    p = Path(path)
    ext = p.suffix.lower()
    fmt = _EXTENSIONS.get(ext)
    if fmt is None or (fmt == "MP3" and not _can_write_mp3()):
        got = f"extension {ext!r}" if ext else "no extension"
        raise AudioWriteError(
            f"cannot write {str(p)!r}: {got}; the output format follows the extension, "
            f"use one of {', '.join(supported_extensions())}")
    if fmt == "WAV" and like is not None and like.format == "WAVEX":
        fmt = "WAVEX"
    valid = [st for st in _valid_subtypes(fmt) if _encodable(fmt, st)]
    if ext == ".opus":
        valid = ["OPUS"]
    if subtype is not None:
        st = str(subtype).upper()
        if st not in valid:
            raise ParameterError(
                f"subtype {subtype!r} cannot be stored in a {ext} file; valid subtypes for "
                f"{fmt}: {', '.join(valid)}")
        _check_float_clip(clip, st)
        if like is not None:
            _check_container_limits(p, fmt, st, like.samplerate, like.channels)
        return fmt, st
    if ext == ".opus":
        candidates: tuple[str, ...] = ("OPUS",)
    elif clip == "float":
        keep_double = like is not None and like.subtype == "DOUBLE"
        candidates = ("DOUBLE", "FLOAT") if keep_double else ("FLOAT", "DOUBLE")
    else:
        candidates = _SUBTYPE_PREFERENCE.get(like.subtype, ()) if like is not None else ()
        if like is not None and like.subtype in valid and _encodable(fmt, like.subtype):
            candidates = (like.subtype, *candidates)
        elif like is not None and natural_pcm(like.subtype) is not None:
            pcm = natural_pcm(like.subtype)
            candidates = (pcm, *_SUBTYPE_PREFERENCE[pcm])
    chosen = next((st for st in candidates if st in valid), None)
    if chosen is None:
        if clip == "float":
            raise ParameterError(
                f"--clip float needs a float subtype, which a {ext} file cannot store; use a "
                f".wav, .w64, .rf64, .aiff or .caf output, or --clip clip / --clip error")
        chosen = sf.default_subtype(fmt)
    if like is not None:  # refuse now what the writer would refuse after all the work
        _check_container_limits(p, fmt, chosen, like.samplerate, like.channels)
    return fmt, chosen


def check_output(input_path: str | os.PathLike[str] | None, output_path: str | os.PathLike[str],
                 *, overwrite: bool) -> None:
    """Refuse an output path that would lose or damage data, before any work is done.

    Parameters
    ----------
    input_path : str or path-like or None
        The input recording (``None`` skips the same-file check).
    output_path : str or path-like
        The intended output file.
    overwrite : bool
        Whether an existing output may be replaced (``-y``).

    Raises
    ------
    AudioWriteError
        If the output is the input (compared after resolving symlinks and relative paths,
        and by inode for hard links), is a folder, already exists and ``overwrite`` is
        false, is read-only, or its folder is missing, not a folder or not writable.
    """
    out = Path(output_path)
    if input_path is not None:
        inp = Path(input_path)
        same = os.path.abspath(os.path.realpath(inp)) == os.path.abspath(os.path.realpath(out))
        if not same and out.exists() and inp.exists():
            try:
                same = os.path.samefile(inp, out)
            except OSError:
                same = False
        if same:
            raise AudioWriteError(
                f"output {str(out)!r} is the input file itself; cleantake never modifies its "
                f"input - choose a different output name")
    if out.is_dir():
        raise AudioWriteError(f"output {str(out)!r} is a folder; give a file name such as "
                              f"{str(out / 'cleaned.wav')!r}")
    if os.path.lexists(out):
        if not overwrite:
            raise AudioWriteError(f"output {str(out)!r} already exists; use -y to overwrite it")
        if out.exists() and not os.access(out, os.W_OK):
            raise AudioWriteError(f"output {str(out)!r} exists and is read-only; not overwriting it")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.exists():
        raise AudioWriteError(f"cannot write {str(out)!r}: folder {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise AudioWriteError(f"cannot write {str(out)!r}: {str(parent)!r} is not a folder")
    # os.access is not enough (root, read-only mounts, ACLs): actually try.
    try:
        fd, tmp = tempfile.mkstemp(prefix=".cleantake-check-", suffix=".part", dir=parent)
    except OSError as exc:
        raise AudioWriteError(
            f"cannot write {str(out)!r}: folder {str(parent)!r} is not writable "
            f"({exc.strerror or exc})") from None
    os.close(fd)
    try:
        os.unlink(tmp)
    except OSError:  # pragma: no cover
        pass


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------


def _check_clip(clip: str) -> None:
    if clip not in CLIP_POLICIES:
        raise ParameterError(f"unknown clip policy {clip!r}; valid: {', '.join(CLIP_POLICIES)}")


def full_scale_range(subtype: str) -> tuple[float, float] | None:
    """Range the ``clip`` policy clips to for a subtype.

    Parameters
    ----------
    subtype : str
        libsndfile subtype, e.g. ``"PCM_16"``.

    Returns
    -------
    (low, high) or None
        ``(-1, 1 - 1 LSB)`` for integer PCM, ``(-1, 1 - 2**-15)`` for lossy/companded
        subtypes, ``None`` for float subtypes (never clipped). Use it to know exactly what an
        integer output will hold, e.g. ``input - np.clip(cleaned, *range)`` is the removed
        part that sums with the written cleaned file back to the input.
    """
    subtype = str(subtype).upper()
    if subtype in _FLOAT_SUBTYPES:
        return None
    bits = _PCM_BITS.get(subtype, 16)  # lossy/companded: clip like 16-bit
    return -1.0, 1.0 - 2.0 ** -(bits - 1)


_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def _check_container_limits(path: Path, fmt: str, subtype: str, samplerate: int,
                            channels: int) -> None:
    """Refuse sample rates/channel counts a container cannot store (before writing anything)."""
    where = f"cannot write {str(path)!r}"
    alt = "; choose a .wav, .w64 or .aiff output (or resample first)"
    if subtype == "OPUS" and samplerate not in _OPUS_RATES:
        raise AudioWriteError(
            f"{where}: Opus stores only {', '.join(str(r) for r in _OPUS_RATES)} Hz, "
            f"not {samplerate} Hz{alt}")
    if fmt == "FLAC" and samplerate > 65535 and samplerate % 10:
        raise AudioWriteError(
            f"{where}: FLAC cannot store a sample rate of {samplerate} Hz (above 65535 Hz it "
            f"must be a multiple of 10 Hz){alt}")
    if fmt == "FLAC" and channels > 8:
        raise AudioWriteError(f"{where}: FLAC stores at most 8 channels, not {channels}")
    if fmt == "MP3":
        if samplerate not in _MP3_RATES:
            raise AudioWriteError(
                f"{where}: MP3 stores only {', '.join(str(r) for r in _MP3_RATES)} Hz, "
                f"not {samplerate} Hz{alt}")
        if channels > 2:
            raise AudioWriteError(f"{where}: MP3 stores at most 2 channels, not {channels}{alt}")


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    msg = str(exc)
    return "No space left on device" in msg or "Disk quota exceeded" in msg


def _clear_peak_timestamp(path: Path) -> None:
    """Zero the time stamp of a float RF64 file's PEAK chunk (libsndfile writes the chunk for
    RF64 even when told not to), so that equal samples give equal bytes."""
    with open(path, "r+b") as f:
        head = f.read(4096)
        i, data = head.find(b"PEAK"), head.find(b"data")
        if 0 <= i and i + 16 <= (data if data >= 0 else len(head)):  # a header chunk, not samples
            f.seek(i + 12)  # "PEAK", chunk size, version, then the 4-byte time stamp
            f.write(b"\0\0\0\0")


class AtomicAudioWriter:
    """Write an audio file so that it appears complete or not at all.

    Samples go to a hidden temporary file ``.<name>.cleantake-<pid>-<random>.part`` in the
    output's folder (see :mod:`cleantake.atomic`);
    on success it is flushed to disk (fsync) and renamed over the output (``os.replace``,
    atomic on POSIX). On any exception, including ``KeyboardInterrupt``, the temporary
    file is removed and an existing output is left untouched. A process killed outright
    (SIGKILL, power loss) can leave the ``.part`` file behind, but never a partial output.

    Parameters
    ----------
    path : str or path-like
        Final output path.
    samplerate : int
        Sample rate in Hz.
    channels : int
        Number of channels.
    format : str, optional
        libsndfile container; default from the extension (see :func:`output_format`).
    subtype : str, optional
        libsndfile subtype; default from :func:`output_format`.
    overwrite : bool
        Replace an existing output (checked again at the final rename: without it the
        output is never clobbered, even if created meanwhile by someone else).
    clip : {"clip", "error", "float"}
        Full-scale policy, see the module documentation.
    frames : int, optional
        Expected length in samples; lets a ``.wav`` output be written directly as RF64
        when it will pass 4 GB. Without it, ``.wav`` outputs are written as RF64 that
        libsndfile downgrades to an ordinary (WAVE_FORMAT_EXTENSIBLE) WAV when small.
    like : AudioInfo, optional
        The input the output derives from: a WAVEX output gets its channel mask.

    Attributes
    ----------
    clipped : int
        Number of sample values clipped so far.
    frames_written : int
        Samples per channel written so far.

    Examples
    --------
    >>> with AtomicAudioWriter("out.wav", samplerate=44100, channels=2) as w:  # doctest: +SKIP
    ...     for block in blocks:
    ...         w.write(block)
    """

    def __init__(self, path: str | os.PathLike[str], *, samplerate: int, channels: int,
                 format: str | None = None, subtype: str | None = None, overwrite: bool = False,
                 clip: str = "clip", frames: int | None = None, like: AudioInfo | None = None) -> None:
        _check_clip(clip)
        self.path = Path(path)
        if not isinstance(samplerate, (int, np.integer)) or samplerate <= 0:
            raise ParameterError(f"samplerate must be a positive integer (Hz), got {samplerate!r}")
        if not isinstance(channels, (int, np.integer)) or channels <= 0:
            raise ParameterError(f"channels must be a positive integer, got {channels!r}")
        self.samplerate = int(samplerate)
        self.channels = int(channels)
        if format is None:
            format, st = output_format(self.path, subtype=subtype, clip=clip)
            subtype = st
        format = str(format).upper()
        if format not in sf.available_formats():
            raise ParameterError(f"unknown audio format {format!r}")
        if subtype is None:
            if _EXTENSIONS.get(self.path.suffix.lower()) == format:
                subtype = output_format(self.path, subtype=None, clip=clip)[1]
            else:
                subtype = "FLOAT" if clip == "float" else sf.default_subtype(format)
        subtype = str(subtype).upper()
        if not sf.check_format(format, subtype) or (format, subtype) in _BROKEN_COMBINATIONS:
            raise ParameterError(
                f"subtype {subtype!r} cannot be stored as {format}; valid subtypes: "
                f"{', '.join(_valid_subtypes(format))}")
        _check_float_clip(clip, subtype)
        _check_container_limits(self.path, format, subtype, self.samplerate, self.channels)
        self.format = format
        self.subtype = subtype
        self.overwrite = bool(overwrite)
        self.clip = clip
        self.expected_frames = frames
        self.clipped = 0
        self.frames_written = 0
        self._first_clip_frame: int | None = None
        self._range = full_scale_range(subtype)
        self._sf: sf.SoundFile | None = None
        self._tmp: Path | None = None
        self._open_format = format
        self._bytes_per_frame = _BYTES_PER_SAMPLE.get(subtype, 0) * self.channels
        self._channel_mask = (like.channel_mask if like is not None and like.channels == self.channels
                              and format == "WAVEX" else None)

    # -- context manager ---------------------------------------------------------------
    def __enter__(self) -> AtomicAudioWriter:
        out = self.path
        if os.path.lexists(out) and not self.overwrite:
            raise AudioWriteError(f"output {str(out)!r} already exists; use -y to overwrite it")
        if out.is_dir():
            raise AudioWriteError(f"output {str(out)!r} is a folder")
        parent = out.parent if str(out.parent) else Path(".")
        if not parent.is_dir():
            raise AudioWriteError(f"cannot write {str(out)!r}: folder {str(parent)!r} does not exist")
        try:
            self._tmp = make_temp(out)
        except OSError as exc:
            raise self._os_error(exc) from None
        open_format = self.format
        auto_downgrade = False
        if self.format in ("WAV", "WAVEX") and sf.check_format("RF64", self.subtype):
            if self.expected_frames is None:
                open_format, auto_downgrade = "RF64", True
            elif self.expected_frames * self._bytes_per_frame > _WAV_LIMIT_BYTES:
                open_format = "RF64"
        self._open_format = open_format
        try:
            self._sf = sf.SoundFile(str(self._tmp), "w", self.samplerate, self.channels,
                                    self.subtype, format=open_format)
            if auto_downgrade:
                sf._snd.sf_command(self._sf._file, _SFC_RF64_AUTO_DOWNGRADE, sf._ffi.NULL, 1)
            if self.subtype in _FLOAT_SUBTYPES and open_format != "AIFF":
                # The PEAK chunk holds a time stamp: without it equal samples give equal bytes.
                # (Not for AIFF: libsndfile 1.2 then writes a broken header for short files.)
                sf._snd.sf_command(self._sf._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
        except BaseException as exc:
            err = self._os_error(exc) if isinstance(exc, (OSError, sf.SoundFileError, RuntimeError)) else None
            self._discard()
            if err is not None:
                raise err from None
            raise
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc_type is not None:
            self._discard()
            return False
        try:
            self._commit()
        except BaseException as err:
            mapped = (self._os_error(err) if isinstance(err, (OSError, sf.SoundFileError, RuntimeError))
                      and not isinstance(err, AudioWriteError) else None)
            self._discard()
            if mapped is not None:
                raise mapped from None
            raise
        if self.clipped:
            warnings.warn(
                f"{self.clipped} sample value(s) beyond full scale were clipped in "
                f"{str(self.path)!r} (first at {self._first_clip_frame / self.samplerate:.3f} s); "
                f"use --clip float for a float output that keeps them, or --clip error to refuse",
                ClippingWarning, stacklevel=2)
        return False

    # -- writing -----------------------------------------------------------------------
    def write(self, block: np.ndarray) -> None:
        """Append samples.

        Parameters
        ----------
        block : numpy.ndarray, shape (n, channels) or (n,) for mono
            Samples, nominally in [-1, 1]. Must be finite.

        Raises
        ------
        AudioWriteError
            For NaN/inf samples, a sample beyond full scale with ``clip="error"``, a full
            disk or another write failure (the temporary file is removed when the ``with``
            block exits).
        ParameterError
            For a block of the wrong shape.
        """
        if self._sf is None:
            raise AudioWriteError("AtomicAudioWriter.write called outside its 'with' block")
        a = np.asarray(block)
        if a.ndim == 1 and self.channels == 1:
            a = a[:, None]
        if a.ndim != 2 or a.shape[1] != self.channels:
            raise ParameterError(
                f"expected samples of shape (n, {self.channels}), got {a.shape}")
        if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
            raise ParameterError(f"expected numeric samples, got dtype {a.dtype}")
        for i in range(0, a.shape[0], _WRITE_CHUNK):
            self._write_chunk(np.asarray(a[i:i + _WRITE_CHUNK], dtype=np.float64))

    def _write_chunk(self, a: np.ndarray) -> None:
        bad = _first_nonfinite(a)
        if bad is not None:
            raise AudioWriteError(
                f"refusing to write {str(self.path)!r}: the signal contains NaN/infinite "
                f"values at {(self.frames_written + bad) / self.samplerate:.3f} s (internal error)")
        if self._range is not None:
            lo, hi = self._range
            over = (a < lo) | (a > hi)
            if over.any():
                first = self.frames_written + int(np.argmax(over.any(axis=1)))
                if self.clip == "error":
                    peak = float(np.max(np.abs(a)))
                    raise AudioWriteError(
                        f"the cleaned signal exceeds full scale at {first / self.samplerate:.3f} s "
                        f"(peak {20 * math.log10(peak):+.2f} dBFS) and --clip error was chosen; "
                        f"nothing was written. Use --clip clip to clip, or --clip float for a "
                        f"float output")
                self.clipped += int(over.sum())
                if self._first_clip_frame is None:
                    self._first_clip_frame = first
                a = np.clip(a, lo, hi)
        if (self._open_format in ("WAV", "WAVEX") and self._bytes_per_frame
                and (self.frames_written + a.shape[0]) * self._bytes_per_frame > _WAV_LIMIT_BYTES):
            raise AudioWriteError(
                f"cannot write {str(self.path)!r}: the output would exceed the 4 GB limit of "
                f"a WAV file; use a .w64 or .rf64 output (or a .wav without a length hint)")
        try:
            self._sf.write(a)  # type: ignore[union-attr]
        except (OSError, sf.SoundFileError, RuntimeError) as exc:
            raise self._os_error(exc, self._sf_detail()) from None
        self.frames_written += a.shape[0]

    # -- internals ---------------------------------------------------------------------
    def _sf_detail(self) -> str:
        """libsndfile's detailed message for the open file (it names the system error)."""
        try:
            return sf._ffi.string(sf._snd.sf_strerror(self._sf._file)).decode(  # type: ignore
                "utf-8", errors="replace")
        except Exception:
            return ""

    def _folder_full(self) -> bool:
        try:
            st = os.statvfs(self.path.parent if str(self.path.parent) else ".")
        except OSError:
            return False
        return st.f_bavail * st.f_frsize < 1_048_576

    def _os_error(self, exc: BaseException, detail: str = "") -> AudioWriteError:
        where = str(self.path)
        if self._tmp is not None:  # users know the output by its name, not the hidden temp file's
            detail = detail.replace(str(self._tmp), where)
        if _is_disk_full(exc) or "No space left" in detail or "quota" in detail.lower() or (
                not isinstance(exc, AudioWriteError) and self._folder_full()):
            return AudioWriteError(
                f"disk full while writing {where!r}; free some space (or choose another "
                f"folder) and run again - nothing was written and any old output is intact")
        if isinstance(exc, PermissionError):
            return AudioWriteError(f"cannot write {where!r}: permission denied")
        if not detail:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if self._tmp is not None:
                detail = detail.replace(f"Error opening {str(self._tmp)!r}: ", "").replace(
                    str(self._tmp), where)
        return AudioWriteError(f"cannot write {where!r}: {detail}")

    def _commit(self) -> None:
        assert self._sf is not None and self._tmp is not None
        try:
            self._sf.close()
        except (sf.SoundFileError, RuntimeError) as exc:
            raise self._os_error(exc) from None
        finally:
            self._sf = None
        if self._open_format == "RF64" and self.subtype in _FLOAT_SUBTYPES:
            _clear_peak_timestamp(self._tmp)
        if self._channel_mask is not None:
            _write_channel_mask(self._tmp, self._channel_mask)
        self._verify()
        commit(self._tmp, self.path, overwrite=self.overwrite)
        self._tmp = None

    def _verify(self) -> None:
        """Re-open the finished temporary file and check it holds what was written.

        Some encoders (Ogg) silently drop data when the disk fills up; this catches it.
        """
        assert self._tmp is not None
        try:
            with sf.SoundFile(str(self._tmp)) as f:
                frames, sr, ch = f.frames, f.samplerate, f.channels
        except (sf.SoundFileError, RuntimeError) as exc:
            frames, sr, ch = -1, self.samplerate, self.channels
            detail = str(exc)
        else:
            detail = ""
        tol = _MP3_FRAME_TOLERANCE if self.format == "MP3" else 0
        if (sr, ch) != (self.samplerate, self.channels) or abs(frames - self.frames_written) > tol:
            if self._folder_full():
                raise AudioWriteError(
                    f"disk full while writing {str(self.path)!r}; free some space (or choose "
                    f"another folder) and run again - nothing was written and any old output "
                    f"is intact")
            raise AudioWriteError(
                f"cannot write {str(self.path)!r}: the written file does not read back "
                f"correctly ({frames} of {self.frames_written} samples{'; ' + detail if detail else ''})")

    def _discard(self) -> None:
        if self._sf is not None:
            try:
                self._sf.close()
            except Exception:
                pass
            self._sf = None
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except FileNotFoundError:
                pass
            self._tmp = None


def write_audio(path: str | os.PathLike[str], audio: np.ndarray, samplerate: int, *,
                format: str | None = None, subtype: str | None = None,
                like: AudioInfo | None = None, overwrite: bool = False,
                clip: str = "clip") -> None:
    """Write a whole signal atomically (see :class:`AtomicAudioWriter`).

    Parameters
    ----------
    path : str or path-like
        Output file; the extension selects the format unless ``format`` is given.
    audio : numpy.ndarray, shape (n_samples,) or (n_samples, n_channels)
        Samples, nominally in [-1, 1]; must be finite.
    samplerate : int
        Sample rate in Hz.
    format, subtype : str, optional
        libsndfile container/subtype; defaults from :func:`output_format` (keeping
        ``like.subtype`` where possible).
    like : AudioInfo, optional
        The input the output derives from.
    overwrite : bool
        Replace an existing output.
    clip : {"clip", "error", "float"}
        Full-scale policy, see the module documentation.

    Raises
    ------
    AudioWriteError, ParameterError
        See :class:`AtomicAudioWriter` and :func:`output_format`.
    """
    a = np.asarray(audio)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] < 1:
        raise ParameterError(
            f"audio must have shape (n_samples,) or (n_samples, n_channels), got {np.shape(audio)}")
    if format is None:
        format, subtype = output_format(path, like=like, subtype=subtype, clip=clip)
    with AtomicAudioWriter(path, samplerate=samplerate, channels=a.shape[1], format=format,
                           subtype=subtype, overwrite=overwrite, clip=clip,
                           frames=a.shape[0], like=like) as w:
        w.write(a)
