"""The methods ``cleantake evaluate`` compares: cleantake's own and its peers.

Every method is a callable ``(mixture, sr) -> (cleaned, removed, events)`` on a mixture of
shape ``(n_samples, n_channels)``; ``events`` is the list of located events, or None for a
method that does not locate events. cleantake's own methods return a fourth item, the
candidates for review (``CleanResult.candidates``). Peers whose package is missing raise
:class:`~cleantake.errors.CleantakeError` with the install hint when they are used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .errors import CleantakeError, ParameterError
from .settings import RESOLUTIONS

__all__ = ["Method", "METHODS", "OWN_METHODS", "check_methods", "cleantake_method", "clean_given_spans"]

Method = Callable[[np.ndarray, int], tuple]


def _identity(mixture: np.ndarray, sr: int):
    return mixture.copy(), np.zeros_like(mixture), []


_CLEANERS: dict[tuple, object] = {}


def _cleaner(method: str, interference, resolutions: str = "default"):
    """One Cleaner per (method, dictionary, resolutions) and process (dictionaries are loaded once)."""
    if resolutions not in RESOLUTIONS:
        raise ParameterError(f"unknown resolutions {resolutions!r}; choose from {', '.join(RESOLUTIONS)}")
    key = (method, str(interference), resolutions)
    if key not in _CLEANERS:
        import cleantake

        _CLEANERS[key] = cleantake.Cleaner(interference=interference, method=method, **RESOLUTIONS[resolutions])
    return _CLEANERS[key]


def cleantake_method(method: str = "proposed", interference="any", resolutions: str = "default") -> Method:
    """cleantake's own method as a :data:`Method`.

    Parameters
    ----------
    method : {"proposed", "nmf", "kam"}
    interference : str or path
        A bundled preset name or a dictionary file (as ``Cleaner`` takes it).
    resolutions : {"default", "spans", "all", "one"}
        The repair's resolutions (:data:`cleantake.settings.RESOLUTIONS`, ``clean --resolutions``).

    Returns
    -------
    Method
        ``(mixture (n_samples, n_channels), sr) -> (cleaned, removed, events, candidates)``.
    """
    def run_method(mixture: np.ndarray, sr: int):
        audio = mixture[:, 0] if mixture.shape[1] == 1 else mixture
        res = _cleaner(method, interference, resolutions).clean(audio, sr)
        cleaned = np.asarray(res.cleaned, dtype=np.float64).reshape(mixture.shape)
        return cleaned, mixture - cleaned, list(res.events), list(res.candidates)

    run_method.__name__ = f"cleantake_{method}"
    run_method.__doc__ = (f"cleantake.Cleaner({interference!r}, method={method!r}, "
                          f"**RESOLUTIONS[{resolutions!r}]).clean")
    return run_method


def clean_given_spans(
    mixture: np.ndarray, sr: int, spans, *, interference="any", resolutions: str = "default"
) -> tuple[np.ndarray, np.ndarray, list]:
    """The proposed method's repair of the given spans, with no location (its ceiling).

    Parameters
    ----------
    mixture : np.ndarray [shape=(n_samples, n_channels)]
    sr : int
        Sample rate in Hz.
    spans : sequence of (start_s, end_s)
        The regions to repair, in seconds.
    interference : str or path
        Dictionary of the NMF music estimate the repair starts from.
    resolutions : {"default", "spans", "all", "one"}
        As :func:`cleantake_method` (``one``: the spans at the analysis's STFT alone).

    Returns
    -------
    cleaned, removed : np.ndarray [shape=(n_samples, n_channels)]
    events : list of Event
        What the repair reports as repaired.

    Notes
    -----
    ``Cleaner.clean(audio, sr, events=spans)``: exactly the spans are repaired, the output
    equals the input outside them.
    """
    spans = [(float(a), float(b)) for a, b in spans]
    cl = _cleaner("proposed", interference, resolutions)
    audio = mixture[:, 0] if mixture.shape[1] == 1 else mixture
    res = cl.clean(audio, sr, events=spans)
    cleaned = np.asarray(res.cleaned, dtype=np.float64).reshape(mixture.shape)
    return cleaned, mixture - cleaned, list(res.events)


def _need(module: str, method: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise CleantakeError(
            f"method {method!r} needs the package {module}: pip install 'cleantake[bench]', "
            f"or leave {method!r} out of --methods"
        ) from exc


def _repet_sim(mixture: np.ndarray, sr: int):
    """REPET-SIM as in librosa's vocal-separation example; the repeating part is the music.

    Magnitudes are averaged over channels (the channels are linked: one mask for all), the
    nearest-neighbour median filter uses cosine similarity with neighbours at least 2 s apart,
    and the soft mask of the repeating part (margin 2, power 2) gives the music estimate.
    """
    librosa = _need("librosa", "repet-sim")
    n_fft, hop = 4096, 1024  # 93 ms / 23 ms at 44.1 kHz, as the example's 2048/512 at 22.05 kHz
    X = librosa.stft(np.ascontiguousarray(mixture.T), n_fft=n_fft, hop_length=hop)  # (C, F, T)
    S = np.abs(X).mean(axis=0)
    width = int(librosa.time_to_frames(2.0, sr=sr, hop_length=hop))
    width = max(1, min(width, (S.shape[-1] - 1) // 2 - 1))  # librosa needs width < (frames - 1) / 2
    S_rep = librosa.decompose.nn_filter(S, aggregate=np.median, metric="cosine", width=width)
    S_rep = np.minimum(S, S_rep)
    mask = librosa.util.softmask(S_rep, 2.0 * (S - S_rep), power=2)
    cleaned = librosa.istft(X * mask, hop_length=hop, n_fft=n_fft, length=mixture.shape[0]).T
    cleaned = np.ascontiguousarray(cleaned, dtype=np.float64).reshape(mixture.shape)
    return cleaned, mixture - cleaned, None


def _noisereduce(mixture: np.ndarray, sr: int):
    """noisereduce's non-stationary spectral gating with its defaults (a peer that removes what
    stands out from the recent past)."""
    nr = _need("noisereduce", "noisereduce")
    out = nr.reduce_noise(y=np.ascontiguousarray(mixture.T), sr=sr, stationary=False)
    cleaned = np.asarray(out, dtype=np.float64).T.reshape(mixture.shape)
    return cleaned, mixture - cleaned, None


METHODS: dict[str, Method] = {
    "proposed": cleantake_method("proposed"),
    "nmf": cleantake_method("nmf"),
    "kam": cleantake_method("kam"),
    "repet-sim": _repet_sim,
    "noisereduce": _noisereduce,
    "identity": _identity,
}
"""Method name → callable(mixture (n_samples, n_channels), sr) → (cleaned, removed, events).

``events`` is a list of located events, or None for methods that do not locate events."""

#: The methods that are cleantake's own (:func:`cleantake_method`).
OWN_METHODS = ("proposed", "nmf", "kam")

_REQUIRES = {"proposed": "cleantake", "nmf": "cleantake", "kam": "cleantake",
             "repet-sim": "librosa", "noisereduce": "noisereduce"}


def check_methods(methods: Sequence[str]) -> None:
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ParameterError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    for m in methods:
        if m in OWN_METHODS:
            import cleantake

            if not hasattr(cleantake, "Cleaner"):
                raise CleantakeError(f"method {m!r} needs cleantake.Cleaner, which this build lacks")
        elif m in _REQUIRES:
            _need(_REQUIRES[m], m)


