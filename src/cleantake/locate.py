"""Interference location: activations → affected frames → events with times.

Placeholder for the shared :class:`Event` type; the detector is filled in with the pipeline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Event"]


@dataclass(frozen=True)
class Event:
    """One located interference event.

    Attributes
    ----------
    start_s, end_s : float
        Span in seconds from the start of the recording (``0 <= start_s < end_s``).
    label : str
        Interference class (the dictionary atom group that explains it best), e.g. ``"cough"``.
    confidence : float in [0, 1]
        How sure the detector is.
    """

    start_s: float
    end_s: float
    label: str
    confidence: float

    def to_dict(self) -> dict:
        return asdict(self)
