"""Writing audio files: choose the format (:func:`output_format`), check an output before
any work (:func:`check_output`), and write so that a file appears complete or not at all
(:class:`AtomicAudioWriter`, :func:`write_audio`), with the ``clip`` policy for samples
beyond full scale (see :mod:`cleantake.io`)."""

from __future__ import annotations

import errno
import io
import math
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from ..atomic import commit, discard, make_temp
from ..errors import AudioReadError, AudioWriteError, ParameterError
from .formats import (BYTES_PER_SAMPLE, CLIP_POLICIES, EXTENSIONS, FLOAT_SUBTYPES, MP3_FRAME_TOLERANCE, PCM_BITS,
                      CHUNK_NAMES, AudioInfo, append_chunks, first_nonfinite, read_tags, write_channel_mask)

__all__ = [
    "ClippingWarning",
    "TagsWarning",
    "AtomicAudioWriter",
    "WAV_LIMIT_BYTES",
    "check_output",
    "output_format",
    "write_audio",
    "supported_extensions",
    "full_scale_range",
    "on_output_grid",
    "natural_pcm",
]

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
#: A plain RIFF/WAV file cannot exceed 4 GiB; this keeps a margin for the header and chunks.
WAV_LIMIT_BYTES = 0xFFFFFFFF - 1_048_576
_SFC_RF64_AUTO_DOWNGRADE = 0x1210
_SFC_SET_ADD_PEAK_CHUNK = 0x1050
_WRITE_CHUNK = 1 << 16  # frames converted/clipped at a time when writing big arrays


class ClippingWarning(UserWarning):
    """Samples beyond full scale were clipped when writing an integer-format output."""


class TagsWarning(UserWarning):
    """The output's format could not keep some of the input's text tags or broadcast-WAV chunks."""


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
    bits = PCM_BITS.get(str(subtype).upper())
    if bits is None:
        return samples
    q = float(2 ** (bits - 1))
    out = np.multiply(samples, q)  # one new array, rounded and scaled back in place
    np.round(out, out=out)
    out /= q
    return out


def supported_extensions() -> tuple[str, ...]:
    """Output file extensions cleantake can write here (``.mp3`` only if libsndfile can)."""
    return tuple(e for e, fmt in EXTENSIONS.items() if fmt != "MP3" or _can_write_mp3())


_MP3_WRITABLE: bool | None = None


def _can_write_mp3() -> bool:
    global _MP3_WRITABLE
    if _MP3_WRITABLE is None:
        try:
            buf = io.BytesIO()
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
    if st in PCM_BITS or st in FLOAT_SUBTYPES:
        return None
    return _NATURAL_PCM.get(st, "PCM_16")


def _check_float_clip(clip: str, subtype: str) -> None:
    """``--clip float`` keeps samples beyond full scale, so it needs a float subtype."""
    if clip == "float" and subtype not in FLOAT_SUBTYPES:
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
    fmt = EXTENSIONS.get(ext)
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
    if subtype in FLOAT_SUBTYPES:
        return None
    bits = PCM_BITS.get(subtype, 16)  # lossy/companded: clip like 16-bit
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
        The input the output derives from: a WAVEX output gets its channel mask, and every
        output its text tags (``like.tags``; a :class:`TagsWarning` names those the output's
        format cannot hold, e.g. any tag in a ``.w64`` file, ``date`` in an AIFF file); a WAV
        output also its broadcast-WAV, iXML and cue chunks (``like.chunks``; other containers
        cannot hold them, which the warning says).

    Attributes
    ----------
    clipped : int
        Number of sample values clipped so far.
    frames_written : int
        Samples per channel written so far.
    hold_clip_errors : bool
        With ``clip="error"``, hold a refusal back instead of raising it at once (the samples
        are clipped meanwhile): it is raised by :meth:`release_clip_errors` or when the file
        is finished, unless the output became a copy of its input (:meth:`copy_instead`),
        which clips nothing. For an output that may yet turn out to be its input's own file.

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
            if EXTENSIONS.get(self.path.suffix.lower()) == format:
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
        self._bytes_per_frame = BYTES_PER_SAMPLE.get(subtype, 0) * self.channels
        self._channel_mask = (like.channel_mask if like is not None and like.channels == self.channels
                              and format == "WAVEX" else None)
        self._tags = dict(like.tags) if like is not None else {}
        self._chunks = like.chunks if like is not None else ()
        self.tags_lost: list[str] = []
        self._copy_of: Path | None = None
        self._silent = False
        self._auto_downgrade = False
        self._held_clip_error: AudioWriteError | None = None
        self.hold_clip_errors = False

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
            elif self.expected_frames * self._bytes_per_frame > WAV_LIMIT_BYTES:
                open_format = "RF64"
        self._open_format = open_format
        self._auto_downgrade = auto_downgrade
        try:
            self._open_temp()
        except BaseException as exc:
            err = self._os_error(exc) if isinstance(exc, (OSError, sf.SoundFileError, RuntimeError)) else None
            self._discard()
            if err is not None:
                raise err from None
            raise
        return self

    def _open_temp(self) -> None:
        """Open (or open again, empty) the temporary file for writing, tags first."""
        assert self._tmp is not None
        self._sf = sf.SoundFile(str(self._tmp), "w", self.samplerate, self.channels,
                                self.subtype, format=self._open_format)
        if self._auto_downgrade:
            sf._snd.sf_command(self._sf._file, _SFC_RF64_AUTO_DOWNGRADE, sf._ffi.NULL, 1)
        if self.subtype in FLOAT_SUBTYPES and self._open_format != "AIFF":
            # The PEAK chunk holds a time stamp: without it equal samples give equal bytes.
            # (Not for AIFF: libsndfile 1.2 then writes a broken header for short files.)
            sf._snd.sf_command(self._sf._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
        for name, value in self._tags.items():  # before any sample: FLAC needs them first
            try:
                setattr(self._sf, name, value)
            except (RuntimeError, sf.SoundFileError):  # the format holds no such tag
                pass  # found missing when the file is read back (_verify)

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
        if self.tags_lost:
            warnings.warn(
                f"{str(self.path)!r}: the {self.format} format cannot hold the input's "
                f"{', '.join(self.tags_lost)}; the audio is complete",
                TagsWarning, stacklevel=2)
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
        bad = first_nonfinite(a)
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
                    err = AudioWriteError(
                        f"the cleaned signal exceeds full scale at {first / self.samplerate:.3f} s "
                        f"(peak {20 * math.log10(peak):+.2f} dBFS) and --clip error was chosen; "
                        f"nothing was written. Use --clip clip to clip, or --clip float for a "
                        f"float output")
                    if not self.hold_clip_errors:
                        raise err
                    self._held_clip_error = self._held_clip_error or err
                self.clipped += int(over.sum())
                if self._first_clip_frame is None:
                    self._first_clip_frame = first
                a = np.clip(a, lo, hi)
        if (self._open_format in ("WAV", "WAVEX") and self._bytes_per_frame
                and (self.frames_written + a.shape[0]) * self._bytes_per_frame > WAV_LIMIT_BYTES):
            raise AudioWriteError(
                f"cannot write {str(self.path)!r}: the output would exceed the 4 GB limit of "
                f"a WAV file; use a .w64 or .rf64 output (or a .wav without a length hint)")
        try:
            self._sf.write(a)  # type: ignore[union-attr]
        except (OSError, sf.SoundFileError, RuntimeError) as exc:
            raise self._os_error(exc, self._sf_detail()) from None
        self.frames_written += a.shape[0]

    def copy_instead(self, source: str | os.PathLike[str]) -> None:
        """Make the finished output a byte-for-byte copy of ``source`` instead of the samples
        written.

        For an output that holds the same samples as its input, in the input's own format
        and subtype: encoding a lossy input (MP3, Ogg Vorbis, Opus) again loses quality each
        time, and a copy also keeps whatever else the file holds that libsndfile does not read
        (pictures, other chunks). Call it inside the ``with`` block, before it ends. The
        samples written are still checked as they come (nothing is clipped in the copy, so no
        :class:`ClippingWarning` is given), and the copy must read back with as many samples,
        channels and the sample rate the writer was given, or nothing is written.

        Parameters
        ----------
        source : str or path-like
            The input file the samples were read from.
        """
        self._copy_of = Path(source)

    def release_clip_errors(self) -> None:
        """Stop holding ``clip="error"`` refusals back (see ``hold_clip_errors``).

        Raises
        ------
        AudioWriteError
            The first refusal held back, if any sample written meanwhile passed full scale.
        """
        self.hold_clip_errors = False
        if self._held_clip_error is not None:
            raise self._held_clip_error

    def silence_instead(self) -> None:
        """Make the finished output digital silence as long as the samples written.

        For the removed part of an output that became a copy of its input
        (:meth:`copy_instead`): the copy holds every input sample, even those past full scale
        that were clipped while written, so nothing was removed. Call it inside the ``with``
        block, before it ends.
        """
        self._silent = True

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
        if self._silent:  # written again, empty, then the same number of zeros
            self._open_temp()
            zeros = np.zeros((min(_WRITE_CHUNK, max(self.frames_written, 1)), self.channels))
            for i in range(0, self.frames_written, _WRITE_CHUNK):
                self._sf.write(zeros[:min(_WRITE_CHUNK, self.frames_written - i)])  # type: ignore[union-attr]
            self._sf.close()  # type: ignore[union-attr]
            self._sf, self.clipped = None, 0
        if self._copy_of is None and self._held_clip_error is not None:
            raise self._held_clip_error
        if self._copy_of is not None:  # the input's own bytes: its chunks and tags come with them
            try:
                shutil.copyfile(self._copy_of, self._tmp)
            except OSError as exc:
                if _is_disk_full(exc) or os.access(self._copy_of, os.R_OK):  # the output's side: mapped below
                    raise
                raise AudioReadError(
                    f"cannot copy the input {str(self._copy_of)!r} to {str(self.path)!r} ({exc.strerror or exc}); "
                    f"nothing was written") from None
            self.clipped, chunks_kept = 0, True
        else:
            if self._open_format == "RF64" and self.subtype in FLOAT_SUBTYPES:
                _clear_peak_timestamp(self._tmp)
            if self._channel_mask is not None:
                write_channel_mask(self._tmp, self._channel_mask)
            chunks_kept = bool(self._chunks) and self.format in ("WAV", "WAVEX", "RF64") and append_chunks(
                self._tmp, self._chunks)
        self._verify()
        if self._chunks and not chunks_kept:
            self.tags_lost += [CHUNK_NAMES[c] for c in dict.fromkeys(cid for cid, _ in self._chunks)]
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
                kept = dict(read_tags(f)) if self._tags else {}
            self.tags_lost = [name + " tag" for name in self._tags if name not in kept]
        except (sf.SoundFileError, RuntimeError) as exc:
            frames, sr, ch = -1, self.samplerate, self.channels
            detail = str(exc)
        else:
            detail = ""
        tol = MP3_FRAME_TOLERANCE if self.format == "MP3" else 0
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
            discard(self._tmp)
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
