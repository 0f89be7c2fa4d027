"""Safe audio input and output for cleantake (:mod:`.read`, :mod:`.write`, :mod:`.formats`).

Everything that touches audio files goes through this package, so that every real-world file
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
    never leaves a partial output and never damages an existing one. An output written
    ``like`` an input carries its text tags (title, artist, date, comment, ...), and a WAV
    output a broadcast WAV's ``bext``, iXML and cue chunks; a :class:`TagsWarning` names any
    the output's format cannot hold.

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

from .formats import (AUDIO_EXTENSIONS, CLIP_POLICIES, MAX_CHANNELS, MAX_SAMPLERATE, MIN_SAMPLERATE, AudioInfo,
                      read_channel_mask)
from .read import FileSamples, block_sizes, iter_blocks, probe, read_audio
from .write import (AtomicAudioWriter, ClippingWarning, TagsWarning, check_output, full_scale_range, natural_pcm,
                    on_output_grid, output_format, supported_extensions, write_audio)

__all__ = [
    "AudioInfo",
    "ClippingWarning",
    "TagsWarning",
    "AtomicAudioWriter",
    "CLIP_POLICIES",
    "MIN_SAMPLERATE",
    "MAX_SAMPLERATE",
    "MAX_CHANNELS",
    "AUDIO_EXTENSIONS",
    "probe",
    "read_audio",
    "FileSamples",
    "block_sizes",
    "iter_blocks",
    "check_output",
    "output_format",
    "write_audio",
    "supported_extensions",
    "full_scale_range",
    "on_output_grid",
    "natural_pcm",
    "read_channel_mask",
]
