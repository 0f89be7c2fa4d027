"""One exception hierarchy for everything cleantake refuses to do.

Every error raised on purpose by cleantake derives from :class:`CleantakeError`, so a
caller can catch that one class; the command line turns it into a message and exit code 2.
"""

from __future__ import annotations

__all__ = [
    "CleantakeError",
    "ParameterError",
    "AudioReadError",
    "AudioWriteError",
    "DictionaryError",
    "MissingDependencyError",
]


class CleantakeError(Exception):
    """Root of all errors cleantake raises on purpose."""


class ParameterError(CleantakeError, ValueError):
    """An option or argument is out of its allowed range or of the wrong kind."""


class AudioReadError(CleantakeError):
    """An input recording cannot be read (missing, not audio, corrupt, non-finite samples)."""


class AudioWriteError(CleantakeError):
    """An output cannot be written (exists, same as input, unwritable folder, disk full)."""


class DictionaryError(CleantakeError):
    """An interference dictionary is unknown, of the wrong kind or version, or mismatched."""


class MissingDependencyError(CleantakeError):
    """An optional part of cleantake is not installed (the message gives the ``pip`` line)."""
