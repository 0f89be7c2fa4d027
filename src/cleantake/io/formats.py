"""What the reader and the writer share: limits, extensions, subtypes, :class:`AudioInfo`,
and the channel mask of WAVE_FORMAT_EXTENSIBLE files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

__all__ = [
    "MIN_SAMPLERATE",
    "MAX_SAMPLERATE",
    "MAX_CHANNELS",
    "CLIP_POLICIES",
    "READ_FORMATS_TEXT",
    "EXTENSIONS",
    "AUDIO_EXTENSIONS",
    "FLOAT_SUBTYPES",
    "PCM_BITS",
    "BYTES_PER_SAMPLE",
    "MP3_FRAME_TOLERANCE",
    "AudioInfo",
    "TAG_NAMES",
    "read_tags",
    "KEPT_CHUNKS",
    "CHUNK_NAMES",
    "read_kept_chunks",
    "append_chunks",
    "mask_offset",
    "read_channel_mask",
    "write_channel_mask",
    "first_nonfinite",
]

#: Lowest and highest sample rate (Hz) cleantake accepts.
MIN_SAMPLERATE = 8_000
MAX_SAMPLERATE = 192_000
#: Highest channel count cleantake accepts.
MAX_CHANNELS = 8
#: Valid values of the ``clip`` argument / ``--clip`` option.
CLIP_POLICIES = ("clip", "error", "float")

#: The formats cleantake reads, as said in messages.
READ_FORMATS_TEXT = (
    "WAV (PCM 8/16/24/32-bit, float 32/64), RF64, W64, FLAC, OGG/Vorbis, Opus, MP3, AIFF, CAF, AU"
)

#: Output extension -> libsndfile container.
EXTENSIONS: dict[str, str] = {
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
AUDIO_EXTENSIONS: tuple[str, ...] = tuple(EXTENSIONS)

#: Float subtypes (never clipped).
FLOAT_SUBTYPES = frozenset({"FLOAT", "DOUBLE"})
#: Bits of the integer PCM subtypes.
PCM_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}
#: Bytes per sample of the uncompressed subtypes.
BYTES_PER_SAMPLE = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4,
                    "FLOAT": 4, "DOUBLE": 8, "ULAW": 1, "ALAW": 1}
#: MP3 frame counts in headers can be estimates; tolerate this many missing samples.
MP3_FRAME_TOLERANCE = 2 * 1152


#: Text tags copied from an input to its outputs: libsndfile's string fields except
#: ``software`` (which names what wrote the file; libsndfile writes its own).
TAG_NAMES: tuple[str, ...] = ("title", "artist", "album", "tracknumber", "date", "genre", "comment",
                              "copyright", "license")


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
    tags : tuple of (str, str)
        The file's text tags that libsndfile reads (:data:`TAG_NAMES`: title, artist,
        album, date, comment, ...), as ``(name, value)`` pairs; outputs written ``like``
        this file carry them.
    chunks : tuple of (bytes, bytes)
        A WAV/RF64 file's :data:`KEPT_CHUNKS` (broadcast WAV ``bext``, ``iXML``, ``axml``,
        cue points and their labels) as ``(chunk id, payload)``; WAV outputs written ``like``
        this file carry them.
    """

    path: Path
    samplerate: int
    channels: int
    frames: int
    format: str
    subtype: str
    channel_mask: int | None = None
    tags: tuple[tuple[str, str], ...] = ()
    chunks: tuple[tuple[bytes, bytes], ...] = ()

    @property
    def duration_s(self) -> float:
        """Duration in seconds (``frames / samplerate``)."""
        return self.frames / self.samplerate if self.samplerate else 0.0


def mask_offset(head: bytes) -> int | None:
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
    off = mask_offset(head)
    return None if off is None else int.from_bytes(head[off:off + 4], "little")


def write_channel_mask(path: Path, mask: int) -> None:
    """Set the channel mask of a WAVE_FORMAT_EXTENSIBLE file written by libsndfile (which
    writes a default mask for the channel count)."""
    with open(path, "r+b") as fh:
        head = fh.read(4096)
        off = mask_offset(head)
        if off is not None:
            fh.seek(off)
            fh.write(int(mask).to_bytes(4, "little"))


def first_nonfinite(block: np.ndarray) -> int | None:
    """Index (row) of the first non-finite sample of a (n, C) block, or None."""
    ok = np.isfinite(block)
    if ok.all():
        return None
    return int(np.argmin(ok.all(axis=1)))


def read_tags(f: sf.SoundFile) -> tuple[tuple[str, str], ...]:
    """The :data:`TAG_NAMES` tags an open file holds, as ``(name, value)`` pairs (empty ones left out)."""
    try:
        meta = f.copy_metadata()
    except (RuntimeError, sf.SoundFileError, AttributeError):  # a format without string support
        return ()
    return tuple((k, str(meta[k])) for k in TAG_NAMES if meta.get(k))


#: RIFF chunks of a WAV input that its WAV outputs carry (libsndfile writes none of them):
#: the broadcast extension (BWF: description, originator, time reference), iXML and axml
#: production metadata, cue points, and ``LIST`` chunks of type ``adtl`` (the cue labels).
KEPT_CHUNKS: tuple[bytes, ...] = (b"bext", b"iXML", b"axml", b"cue ")
#: What the user knows each kept chunk as (for messages).
CHUNK_NAMES = {b"bext": "broadcast-WAV (bext)", b"iXML": "iXML", b"axml": "axml", b"cue ": "cue points",
               b"LIST": "cue labels"}
_MAX_KEPT_CHUNK = 16 * 1024 * 1024  # a larger "metadata" chunk is not metadata: left out


def _chunks(fh) -> Iterator[tuple[bytes, int, int]]:
    """``(id, payload offset, payload size)`` of the top-level chunks of an open RIFF/RF64 WAVE file."""
    fh.seek(0)
    head = fh.read(12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return
    end = os.fstat(fh.fileno()).st_size
    pos, data64 = 12, None
    while pos + 8 <= end:
        fh.seek(pos)
        h = fh.read(8)
        cid, size = h[:4], int.from_bytes(h[4:8], "little")
        if cid == b"ds64":
            data64 = int.from_bytes(fh.read(16)[8:16], "little")
        elif cid == b"data" and size == 0xFFFFFFFF and data64 is not None:
            size = data64
        yield cid, pos + 8, size
        pos += 8 + size + (size & 1)


def read_kept_chunks(path: str | os.PathLike[str]) -> tuple[tuple[bytes, bytes], ...]:
    """The :data:`KEPT_CHUNKS` of a WAV/RF64 file, in file order, as ``(id, payload)``.

    Empty for any other file, or one that cannot be read.
    """
    kept = []
    try:
        with open(path, "rb") as fh:
            for cid, off, size in _chunks(fh):
                if size > _MAX_KEPT_CHUNK:
                    continue
                if cid in KEPT_CHUNKS or cid == b"LIST":
                    fh.seek(off)
                    payload = fh.read(size)
                    if len(payload) == size and (cid != b"LIST" or payload[:4] == b"adtl"):
                        kept.append((cid, payload))
    except OSError:
        return ()
    return tuple(kept)


def append_chunks(path: Path, chunks: tuple[tuple[bytes, bytes], ...]) -> bool:
    """Append chunks to a finished RIFF/RF64 WAVE file and update its size field(s).

    Returns False, leaving the file as it was, when it is not such a file or a plain RIFF
    file would pass the 4-GB limit.
    """
    body = b"".join(cid + len(p).to_bytes(4, "little") + p + b"\0" * (len(p) & 1) for cid, p in chunks)
    with open(path, "r+b") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            return False
        end = os.fstat(fh.fileno()).st_size
        pad = b"\0" * (end & 1)
        total = end + len(pad) + len(body)
        if head[:4] == b"RIFF":
            if total - 8 > 0xFFFFFFFF:
                return False
            fh.seek(4)
            fh.write((total - 8).to_bytes(4, "little"))
        else:  # RF64: the RIFF size lives in the ds64 chunk that follows the header
            fh.seek(12)
            if fh.read(4) != b"ds64":
                return False
            fh.seek(20)
            fh.write((total - 8).to_bytes(8, "little"))
        fh.seek(end)
        fh.write(pad + body)
    return True
