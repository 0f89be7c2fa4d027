"""BSS Eval scores of an estimate of the music, as ``cleantake evaluate`` reports them.

Metric decisions (see ``benchmarks/bss_eval_choice.py`` for the measurements behind them):

* **Library**: :mod:`fast_bss_eval` (numpy backend), BSS Eval v3 "sources" with the classic
  512-tap distortion filter, computed on the whole clip (no framing). It agrees with
  ``mir_eval.separation.bss_eval_sources`` to a few thousandths of a dB and is many times faster.
  fast_bss_eval 0.1.4's non-pairwise path fails inside ``np.linalg.solve`` under numpy 2, so
  we call its public pairwise function :func:`fast_bss_eval.numpy.square_cosine_metrics`, which
  works, and read off the (music reference, music estimate) entry: no permutation is ever
  solved, the estimate of the music is always scored against the music.
* **References** are ``[music, interference]`` with ``interference = mixture - music``, so that
  SIR measures interference left in the estimate. Only the music estimate (``cleaned``) is
  scored: in BSS Eval "sources" the decomposition of one estimate depends on all references but
  on no other estimate, so the removed part needs no score of its own (and an all-zero removed
  part, as from ``identity``, is harmless).
* **NSDR / NSIR** = SDR / SIR of the estimate minus SDR / SIR of the unprocessed mixture, both
  against the same references (Fano Yela et al. 2017). ``identity`` therefore scores exactly 0.
* **Stereo**: every channel is its own BSS Eval problem (references ``[music_c, d_c]``, estimate
  ``cleaned_c``) and the dB values are averaged over channels. BSS Eval *images* would also
  allow cross-channel filters; with constant-pan interference the difference is small and the
  per-channel form is several times cheaper (measured in ``benchmarks/bss_eval_choice.py``).
* **Range**: every value is clamped to [-100, 100] dB so that results stay finite; an output
  identical to its reference scores 100 dB, a silent output -100 dB.
* **Clean set** (no interference): ``sdr`` is BSS Eval SDR of the output against the input (one
  reference, same filter, same 100 dB cap), ``snr`` the plain signal-to-difference ratio
  ``10 log10(sum x^2 / sum (x - y)^2)`` (no filter, no rescaling, same cap), and
  ``false_events`` the number of events the method located (every one is false).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import CleantakeError, ParameterError

__all__ = ["FILTER_LENGTH", "DB_CAP", "require_backend", "bss_scores", "score", "score_many"]

FILTER_LENGTH = 512
"""Length in taps of the BSS Eval distortion filter (the BSS Eval v3 default)."""
DB_CAP = 100.0
"""All metrics are clamped to [-DB_CAP, DB_CAP] dB."""


def _coh_to_db(coh: np.ndarray) -> np.ndarray:
    """Squared cosine (coherence) in [0, 1] → ratio ``coh / (1 - coh)`` in dB, clamped to ±DB_CAP."""
    coh = np.clip(np.nan_to_num(coh, nan=0.0), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(coh) - 10.0 * np.log10(1.0 - coh)
    return np.clip(db, -DB_CAP, DB_CAP)


def require_backend():
    """The BSS Eval function used for scoring; raises CleantakeError with the install hint if missing."""
    try:
        from fast_bss_eval.numpy import square_cosine_metrics
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise CleantakeError(
            "scoring needs the package fast_bss_eval: pip install 'cleantake[bench]' (or pip install fast_bss_eval)"
        ) from exc
    return square_cosine_metrics


def bss_scores(references: np.ndarray, estimates: np.ndarray) -> dict[str, np.ndarray]:
    """BSS Eval v3 (sources) SDR, SIR, SAR of several estimates of reference 0, on the whole clip.

    Parameters
    ----------
    references : np.ndarray [shape=(n_channels, n_refs, n_samples)]
        Target (index 0) and interfering sources, per channel.
    estimates : np.ndarray [shape=(n_channels, n_est, n_samples)]
        Estimates of the target, per channel.

    Returns
    -------
    dict
        ``"sdr"``, ``"sir"``, ``"sar"``: np.ndarray [shape=(n_est,)] in dB, averaged over
        channels, each clamped to [-100, 100]. With a single reference ``"sir"`` is +100
        (there is nothing to interfere).
    """
    square_cosine_metrics = require_backend()
    refs = np.ascontiguousarray(references, dtype=np.float64)
    ests = np.ascontiguousarray(estimates, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        coh_sdr, coh_sar = square_cosine_metrics(refs, ests, filter_length=FILTER_LENGTH, pairwise=True)
        coh_sdr, coh_sar = coh_sdr[:, 0, :], coh_sar[:, 0, :]  # target reference, all estimates
        coh_sir = coh_sdr / coh_sar
    out = {
        "sdr": _coh_to_db(coh_sdr),
        "sir": _coh_to_db(coh_sir),
        "sar": _coh_to_db(coh_sar),
    }
    silent = ~np.any(ests, axis=-1)  # (n_channels, n_est): nothing to project
    for k in out:
        out[k] = np.where(silent, -DB_CAP, out[k]).mean(axis=0)
    return out


def _channels_first(x: np.ndarray, n_samples: int, n_channels: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape != (n_samples, n_channels):
        raise ParameterError(
            f"an estimate has shape {x.shape}; it must match the mixture, ({n_samples}, {n_channels})"
        )
    return x.T


def score_many(estimates: Sequence[np.ndarray], music: np.ndarray, mixture: np.ndarray) -> list[dict]:
    """Score several estimates of the music against the same mixture (shares the reference work).

    Parameters
    ----------
    estimates : sequence of np.ndarray [shape=(n_samples, n_channels) or (n_samples,)]
        Estimates of the music.
    music : np.ndarray [shape=(n_samples, n_channels)]
        Clean music.
    mixture : np.ndarray [shape=(n_samples, n_channels)]
        The mixture the estimates were made from; ``mixture - music`` is the interference.

    Returns
    -------
    list of dict
        One per estimate with ``sdr``, ``sir``, ``sar``, ``nsdr``, ``nsir`` (dB) and the
        mixture's own ``sdr_mix``, ``sir_mix``. If ``mixture == music`` (no interference), only
        ``sdr`` and ``snr`` against the music are given (the others are None).
    """
    music = np.asarray(music, dtype=np.float64)
    if music.ndim == 1:
        music = music[:, None]
    n, c = music.shape
    m = music.T
    y = _channels_first(mixture, n, c)
    ests = np.stack([_channels_first(e, n, c) for e in estimates], axis=1)  # (C, n_est, N)
    d = y - m
    if not np.any(d):
        res = bss_scores(m[:, None, :], ests)
        err = np.sum((ests - m[:, None, :]) ** 2, axis=(0, 2))
        with np.errstate(divide="ignore"):
            snr = np.clip(10.0 * np.log10(np.sum(m**2) / err), -DB_CAP, DB_CAP)
        snr = np.where(err == 0, DB_CAP, snr)
        return [
            {"sdr": float(res["sdr"][i]), "snr": float(snr[i]), "sir": None, "sar": None, "nsdr": None, "nsir": None}
            for i in range(ests.shape[1])
        ]
    res = bss_scores(np.stack([m, d], axis=1), np.concatenate([y[:, None, :], ests], axis=1))
    for i in range(ests.shape[1]):  # an output equal to the mixture gets exactly its scores (NSDR 0)
        if np.array_equal(ests[:, i], y):
            for k in res:
                res[k][i + 1] = res[k][0]
    sdr0, sir0 = float(res["sdr"][0]), float(res["sir"][0])
    return [
        {
            "sdr": float(res["sdr"][i]),
            "sir": float(res["sir"][i]),
            "sar": float(res["sar"][i]),
            "nsdr": float(res["sdr"][i]) - sdr0,
            "nsir": float(res["sir"][i]) - sir0,
            "sdr_mix": sdr0,
            "sir_mix": sir0,
        }
        for i in range(1, ests.shape[1] + 1)
    ]


def score(estimate: np.ndarray, music: np.ndarray, mixture: np.ndarray) -> dict:
    """BSS Eval scores of one estimate of the music (see :func:`score_many` for the fields).

    Parameters
    ----------
    estimate : np.ndarray [shape=(n_samples, n_channels) or (n_samples,)]
        Estimate of the music.
    music : np.ndarray [shape=(n_samples, n_channels)]
        Clean music.
    mixture : np.ndarray [shape=(n_samples, n_channels)]
        Music plus interference.

    Returns
    -------
    dict
        ``sdr``, ``sir``, ``sar``, ``nsdr``, ``nsir`` in dB (NSDR = SDR(estimate) - SDR(mixture)).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> m = rng.standard_normal((44100, 1)); y = m + 0.1 * rng.standard_normal((44100, 1))
    >>> round(score(y, m, y)["nsdr"], 6)
    0.0
    """
    return score_many([estimate], music, mixture)[0]


