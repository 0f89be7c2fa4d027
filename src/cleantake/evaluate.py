"""Separation quality on a mixture corpus, measured the way the field does (BSS Eval).

``cleantake evaluate --corpus DIR --out results.json`` reads a corpus in the format of
``shared/corpus`` (``mixtures.json`` + FLAC files), builds every requested mixture exactly by
the corpus rules, runs each method on it and scores the method's estimate of the music against
the clean music.

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

import argparse
import datetime as _dt
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import AudioReadError, CleantakeError, ParameterError

__all__ = [
    "SETS",
    "SUBSETS",
    "METHODS",
    "FILTER_LENGTH",
    "DB_CAP",
    "load_mixtures",
    "build_mixture",
    "bss_scores",
    "score",
    "score_many",
    "run",
    "format_table",
    "write_results",
    "add_parser",
]

SETS = ("stems", "mixes", "stems_extra", "clean")
SUBSETS = ("quick", "full")
LEVELS = ("0", "-3", "-6")
FILTER_LENGTH = 512
"""Length in taps of the BSS Eval distortion filter (the BSS Eval v3 default)."""
DB_CAP = 100.0
"""All metrics are clamped to [-DB_CAP, DB_CAP] dB."""

Method = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray, "list | None"]]


# --------------------------------------------------------------------------------------------
# corpus
# --------------------------------------------------------------------------------------------
def load_mixtures(corpus_dir: str | os.PathLike) -> list[dict]:
    """Read the mixture recipes of a corpus.

    Parameters
    ----------
    corpus_dir : path
        Corpus folder holding ``mixtures.json``.

    Returns
    -------
    list of dict
        The entries of ``mixtures.json["mixtures"]`` in file order.

    Raises
    ------
    AudioReadError
        If the folder or ``mixtures.json`` is missing or not in the corpus format.
    """
    path = Path(corpus_dir) / "mixtures.json"
    if not path.is_file():
        raise AudioReadError(f"no corpus at {corpus_dir}: {path} does not exist")
    try:
        doc = json.loads(path.read_text())
        entries = doc["mixtures"]
        for e in entries:
            e["id"], e["set"], e["music"], e["events"]  # noqa: B018 - presence check
    except (ValueError, KeyError, TypeError) as exc:
        raise AudioReadError(f"{path} is not a corpus mixture list ({type(exc).__name__}: {exc})") from exc
    return entries


def _read(path: Path) -> tuple[np.ndarray, int]:
    try:
        x, sr = sf.read(str(path), dtype="float64", always_2d=True)
    except Exception as exc:  # soundfile raises several types (LibsndfileError, RuntimeError, OSError)
        raise AudioReadError(f"cannot read corpus file {path}: {exc}") from exc
    return x, int(sr)


@lru_cache(maxsize=256)
def _read_event(path: str) -> tuple[np.ndarray, int]:
    x, sr = _read(Path(path))
    if x.shape[1] != 1:
        raise AudioReadError(f"interference file {path} has {x.shape[1]} channels; the corpus format says mono")
    x = x[:, 0]
    x.setflags(write=False)
    return x, sr


def build_mixture(corpus_dir: str | os.PathLike, entry: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Build one mixture exactly by the corpus rules ("How to build a mixture" in its README).

    Parameters
    ----------
    corpus_dir : path
        Corpus folder (paths in ``entry`` are relative to it).
    entry : dict
        One element of ``mixtures.json["mixtures"]``.

    Returns
    -------
    mixture : np.ndarray [shape=(n_samples, n_channels)], float64
        Music plus scaled events, not clipped.
    music : np.ndarray [shape=(n_samples, n_channels)], float64
        The clean music (the reference).
    interference : np.ndarray [shape=(n_samples, n_channels)], float64
        ``mixture - music`` (all zero for the ``clean`` set).
    sr : int
        Sample rate in Hz.

    Raises
    ------
    AudioReadError
        If a file is missing or unreadable, sample rates differ, or an event falls outside the clip.
    """
    root = Path(corpus_dir)
    music, sr = _read(root / entry["music"])
    mixture = music.copy()
    n, n_ch = music.shape
    for ev in entry["events"]:
        e, sr_e = _read_event(str(root / ev["path"]))
        if sr_e != sr:
            raise AudioReadError(f"{ev['path']} is at {sr_e} Hz but the music {entry['music']} at {sr} Hz")
        n0 = int(round(float(ev["onset_s"]) * sr))
        if n0 < 0 or n0 + e.size > n:
            raise AudioReadError(
                f"mixture {entry['id']}: event {ev['path']} at {ev['onset_s']} s "
                f"({e.size / sr:.3f} s long) does not fit in the {n / sr:.3f} s clip"
            )
        w = np.asarray(ev.get("pan", [1.0] * n_ch), dtype=np.float64)
        if w.size != n_ch:
            raise AudioReadError(f"mixture {entry['id']}: pan {list(w)} does not match {n_ch} music channel(s)")
        mixture[n0 : n0 + e.size] += float(ev["gain"]) * np.outer(e, w)
    return mixture, music, mixture - music, sr


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------
def _coh_to_db(coh: np.ndarray) -> np.ndarray:
    """Squared cosine (coherence) in [0, 1] → ratio ``coh / (1 - coh)`` in dB, clamped to ±DB_CAP."""
    coh = np.clip(np.nan_to_num(coh, nan=0.0), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(coh) - 10.0 * np.log10(1.0 - coh)
    return np.clip(db, -DB_CAP, DB_CAP)


def _import_fast_bss_eval():
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
    square_cosine_metrics = _import_fast_bss_eval()
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


# --------------------------------------------------------------------------------------------
# methods
# --------------------------------------------------------------------------------------------
def _identity(mixture: np.ndarray, sr: int):
    return mixture.copy(), np.zeros_like(mixture), []


_CLEANERS: dict[str, object] = {}


def _cleantake_method(name: str) -> Method:
    def run_method(mixture: np.ndarray, sr: int):
        if name not in _CLEANERS:  # dictionaries loaded once per process
            import cleantake

            _CLEANERS[name] = cleantake.Cleaner(interference="any", method=name)
        audio = mixture[:, 0] if mixture.shape[1] == 1 else mixture
        res = _CLEANERS[name].clean(audio, sr)
        cleaned = np.asarray(res.cleaned, dtype=np.float64).reshape(mixture.shape)
        return cleaned, mixture - cleaned, list(res.events)

    run_method.__name__ = f"cleantake_{name}"
    run_method.__doc__ = f"cleantake.Cleaner(method={name!r}).clean"
    return run_method


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
    "proposed": _cleantake_method("proposed"),
    "nmf": _cleantake_method("nmf"),
    "kam": _cleantake_method("kam"),
    "repet-sim": _repet_sim,
    "noisereduce": _noisereduce,
    "identity": _identity,
}
"""Method name → callable(mixture (n_samples, n_channels), sr) → (cleaned, removed, events).

``events`` is a list of located events, or None for methods that do not locate events."""

_REQUIRES = {"proposed": "cleantake", "nmf": "cleantake", "kam": "cleantake",
             "repet-sim": "librosa", "noisereduce": "noisereduce"}


def _check_methods(methods: Sequence[str]) -> None:
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ParameterError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    for m in methods:
        if m in ("proposed", "nmf", "kam"):
            import cleantake

            if not hasattr(cleantake, "Cleaner"):
                raise CleantakeError(f"method {m!r} needs cleantake.Cleaner, which this build lacks")
        elif m in _REQUIRES:
            _need(_REQUIRES[m], m)
    _import_fast_bss_eval()


# --------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------
def _level_key(level) -> str | None:
    return None if level is None else str(int(round(float(level))))


def _evaluate_one(corpus_dir: str, entry: dict, methods: Sequence[str]) -> list[dict]:
    """Build one mixture, run every method on it and score the results (one row per method)."""
    mixture, music, _, sr = build_mixture(corpus_dir, entry)
    outputs, rows = [], []
    for name in methods:
        row = {"id": entry["id"], "set": entry["set"], "class": entry.get("class"),
               "level_db": entry.get("level_db"), "method": name}
        t0 = time.perf_counter()
        try:
            cleaned, _removed, events = METHODS[name](mixture, sr)
            row["seconds"] = time.perf_counter() - t0
            cleaned = np.asarray(cleaned, dtype=np.float64).reshape(mixture.shape)
            if not np.all(np.isfinite(cleaned)):
                raise ValueError("output has non-finite samples")
        except Exception as exc:  # one method failing on one mixture must not end the run
            row.update(seconds=time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}")
            cleaned, events = None, None
        row["events"] = None if events is None else len(events)
        outputs.append(cleaned)
        rows.append(row)
    ok = [i for i, o in enumerate(outputs) if o is not None]
    try:
        scores = score_many([outputs[i] for i in ok], music, mixture) if ok else []
    except Exception as exc:  # e.g. a singular system in BSS Eval: record it, keep going
        for i in ok:
            rows[i]["error"] = f"scoring failed: {type(exc).__name__}: {exc}"
        ok, scores = [], []
    for i, s in zip(ok, scores):
        rows[i].update(s)
        if entry["set"] == "clean":
            rows[i]["false_events"] = rows[i]["events"]
    for row in rows:
        for k in ("sdr", "sir", "sar", "nsdr", "nsir"):
            row.setdefault(k, None)
    return rows


def _mean(values) -> float | None:
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v else None


def _summarise(rows: list[dict], methods: Sequence[str]) -> tuple[dict, dict]:
    summary: dict = {}
    by_class: dict = {}
    groups: dict = {}
    for r in rows:
        key = "clean" if r["set"] == "clean" else _level_key(r["level_db"])
        groups.setdefault((r["set"], r["method"], None, key), []).append(r)
        if r["set"] != "clean":
            groups.setdefault((r["set"], r["method"], r["class"], key), []).append(r)
    level_order = {k: i for i, k in enumerate(LEVELS + ("clean",))}
    method_order = {m: i for i, m in enumerate(methods)}
    for (set_, method, cls, key), rs in sorted(
        groups.items(), key=lambda kv: (method_order.get(kv[0][1], 99), str(kv[0][2]), level_order.get(kv[0][3], 99))
    ):
        ok = [r for r in rs if "error" not in r]
        cell = {"n": len(ok), "errors": len(rs) - len(ok), "seconds": _mean(r["seconds"] for r in rs)}
        if set_ == "clean":
            fe = [r["false_events"] for r in ok]
            cell.update(sdr=_mean(r["sdr"] for r in ok), snr=_mean(r["snr"] for r in ok),
                        false_events=None if any(f is None for f in fe) else int(sum(fe)))
        else:
            cell.update(nsdr=_mean(r["nsdr"] for r in ok), nsir=_mean(r["nsir"] for r in ok),
                        sdr=_mean(r["sdr"] for r in ok), sir=_mean(r["sir"] for r in ok),
                        sar=_mean(r["sar"] for r in ok))
        if cls is None:
            summary.setdefault(set_, {}).setdefault(method, {})[key] = cell
        else:
            by_class.setdefault(set_, {}).setdefault(method, {}).setdefault(cls, {})[key] = cell
    return summary, by_class


def run(
    corpus_dir: str | os.PathLike,
    *,
    subset: str = "quick",
    sets: Sequence[str] = SETS,
    methods: Sequence[str] = ("identity",),
    jobs: int = 1,
    progress: Callable[[float], None] | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    every: int = 1,
) -> dict:
    """Evaluate methods on the mixtures of a corpus.

    Parameters
    ----------
    corpus_dir : path
        Corpus folder (``mixtures.json`` and the FLAC files it names).
    subset : {"quick", "full"}
        ``"quick"``: only mixtures marked quick (~10 %); ``"full"``: all mixtures.
    sets : sequence of {"stems", "mixes", "stems_extra", "clean"}
        Which mixture sets to evaluate.
    methods : sequence of str
        Names from :data:`METHODS`.
    jobs : int >= 1
        Number of worker processes; mixtures are spread over them, output order is fixed.
    progress : callable(fraction in [0, 1]), optional
        Called after every mixture.
    checkpoint : path, optional
        JSON-lines file that receives each mixture's rows as soon as they are done, so that a
        long run that stops can be resumed. Started afresh unless ``resume``.
    resume : bool
        Reuse the rows in ``checkpoint`` of mixtures whose recipe and method list are unchanged
        and evaluate only the rest.
    every : int >= 1
        Take every n-th selected mixture (in the order of mixtures.json): a deterministic sample
        of the set, for slow methods.

    Returns
    -------
    dict
        ``{"meta": {...}, "summary": {SET: {METHOD: {LEVEL: cell}}},
        "summary_by_class": {SET: {METHOD: {CLASS: {LEVEL: cell}}}}, "rows": [...]}``.
        LEVEL is ``"0"``, ``"-3"``, ``"-6"`` (``"clean"`` for the clean set); a cell holds
        ``nsdr``, ``nsir`` (means in dB), ``n``, ``errors`` and ``seconds`` (mean wall time of
        the method per mixture), and for the clean set ``sdr``, ``snr`` and ``false_events``
        (total; None if the method does not locate events). Rows: one per mixture and method,
        in corpus order then method order.

    Raises
    ------
    ParameterError
        For an unknown subset, set or method, or jobs < 1.
    CleantakeError
        If a method's package is not installed.
    AudioReadError
        If the corpus or one of its files cannot be read.
    """
    if subset not in SUBSETS:
        raise ParameterError(f"unknown subset {subset!r}; choose from {', '.join(SUBSETS)}")
    bad = [s for s in sets if s not in SETS]
    if bad or not sets:
        raise ParameterError(f"unknown or empty set list {list(sets)}; choose from {', '.join(SETS)}")
    if not methods:
        raise ParameterError(f"no method given; choose from {', '.join(METHODS)}")
    if not (isinstance(jobs, (int, np.integer)) and jobs >= 1):
        raise ParameterError(f"jobs must be a whole number >= 1, got {jobs!r}")
    if not (isinstance(every, (int, np.integer)) and every >= 1):
        raise ParameterError(f"every must be a whole number >= 1, got {every!r}")
    methods = list(dict.fromkeys(methods))
    _check_methods(methods)
    corpus_dir = str(Path(corpus_dir).resolve())
    entries = [e for e in load_mixtures(corpus_dir)
               if e["set"] in sets and (subset == "full" or e.get("subset") == "quick")][::every]
    t_start = time.perf_counter()
    per_entry: list[list[dict] | None] = [None] * len(entries)
    log = None
    if checkpoint is not None:
        previous = _read_checkpoint(checkpoint, methods) if resume else {}
        for i, e in enumerate(entries):
            per_entry[i] = previous.get(json.dumps(e, sort_keys=True))
        log = _open_checkpoint(checkpoint, append=resume)
    todo = [i for i, rows in enumerate(per_entry) if rows is None]
    done = len(entries) - len(todo)

    def finished(i: int, rows: list[dict]) -> None:
        nonlocal done
        per_entry[i] = rows
        if log is not None:
            log.write(json.dumps({"entry": entries[i], "methods": methods, "rows": rows}, allow_nan=False) + "\n")
            log.flush()
        done += 1
        if progress is not None:
            progress(done / len(entries))

    try:
        if jobs == 1 or len(todo) <= 1:
            for i in todo:
                finished(i, _evaluate_one(corpus_dir, entries[i], methods))
        else:
            pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)))
            try:
                futures = {pool.submit(_evaluate_one, corpus_dir, entries[i], methods): i for i in todo}
                for fut in as_completed(futures):
                    finished(futures[fut], fut.result())
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)  # do not wait for the rest of the corpus
                raise
            pool.shutdown()
    finally:
        if log is not None:
            log.close()
    rows = [r for rs in per_entry for r in rs]
    summary, by_class = _summarise(rows, methods)
    return {
        "meta": {
            "corpus": corpus_dir,
            "subset": subset,
            "sets": list(sets),
            "methods": methods,
            "jobs": int(jobs),
            "n_mixtures": len(entries),
            "every": int(every),
            "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "wall_seconds": time.perf_counter() - t_start,
            "metric": (f"BSS Eval v3 sources (fast_bss_eval), whole clip, {FILTER_LENGTH}-tap filter, "
                       f"references [music, mixture - music], per-channel dB averaged, clamped to "
                       f"+-{DB_CAP:g} dB; NSDR/NSIR relative to the unprocessed mixture"),
            "versions": _versions(),
        },
        "summary": summary,
        "summary_by_class": by_class,
        "rows": rows,
    }


def _read_checkpoint(path: str | os.PathLike, methods: Sequence[str]) -> dict[str, list[dict]]:
    """Rows per mixture recipe (JSON text) from a checkpoint file; unreadable lines are ignored."""
    out: dict[str, list[dict]] = {}
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return out
    except OSError as exc:
        raise AudioReadError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from exc
    for line in lines:
        try:
            rec = json.loads(line)
            if rec["methods"] == list(methods):
                out[json.dumps(rec["entry"], sort_keys=True)] = rec["rows"]
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by an interrupted run
    return out


def _open_checkpoint(path: str | os.PathLike, *, append: bool):
    from .errors import AudioWriteError

    try:
        return open(path, "a" if append else "w")
    except OSError as exc:
        raise AudioWriteError(f"cannot write checkpoint {path}: {exc.strerror or exc}") from exc


def _versions() -> dict:
    from importlib import metadata

    from . import __version__

    out = {"cleantake": __version__}
    for pkg in ("numpy", "fast_bss_eval", "librosa", "noisereduce"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


# --------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------
def _fmt(x, width: int = 7, prec: int = 2) -> str:
    return f"{'—':>{width}}" if x is None else f"{x:>{width}.{prec}f}"


def _level_table(cells_by_row: dict, title: str) -> list[str]:
    """Rows: label → {LEVEL: cell}. Columns NSDR and NSIR at 0, -3, -6 dB, then n and s/mix."""
    w_label = max([len(title), 12] + [len(k) for k in cells_by_row])
    head1 = f"{title:<{w_label}}  {'NSDR (dB)':^23}   {'NSIR (dB)':^23}  {'n':>4}  {'s/mix':>6}"
    head2 = f"{'':<{w_label}}  " + " ".join(f"{lv + ' dB':>7}" for lv in LEVELS) + "   " + \
        " ".join(f"{lv + ' dB':>7}" for lv in LEVELS)
    lines = [head1, head2]
    for label, by_level in cells_by_row.items():
        cells = [by_level.get(lv) for lv in LEVELS]
        nsdr = " ".join(_fmt(c["nsdr"] if c else None) for c in cells)
        nsir = " ".join(_fmt(c["nsir"] if c else None) for c in cells)
        n = sum(c["n"] for c in cells if c)
        errors = sum(c.get("errors", 0) for c in cells if c)
        secs = _mean(c["seconds"] for c in cells if c)
        extra = f"  ({errors} failed)" if errors else ""
        lines.append(f"{label:<{w_label}}  {nsdr}   {nsir}  {n:>4}  {_fmt(secs, 6, 2)}{extra}")
    return lines


def format_table(results: dict) -> str:
    """The results in the paper's shape: per set, rows are methods, columns NSDR and NSIR at
    0, -3 and -6 dB, with the number of mixtures and the mean wall time per mixture; then the
    same per interference class; the clean set as SDR/SNR of output vs input and false events.

    Parameters
    ----------
    results : dict
        As returned by :func:`run` (or read back from results.json).

    Returns
    -------
    str
        Plain-text tables, one block per set.
    """
    out: list[str] = []
    summary, by_class = results["summary"], results.get("summary_by_class", {})
    for set_ in [s for s in SETS if s in summary]:
        if set_ == "clean":
            out.append("set clean (music alone; output should equal input)")
            out.append(f"{'method':<12}  {'SDR (dB)':>8}  {'SNR (dB)':>8}  {'false events':>12}  {'n':>4}  {'s/mix':>6}")
            for method, cells in summary[set_].items():
                c = cells["clean"]
                fe = "—" if c["false_events"] is None else str(c["false_events"])
                fail = f"  ({c['errors']} failed)" if c.get("errors") else ""
                out.append(f"{method:<12}  {_fmt(c['sdr'], 8)}  {_fmt(c.get('snr'), 8)}  {fe:>12}  {c['n']:>4}  "
                           f"{_fmt(c['seconds'], 6)}{fail}")
            out.append("")
            continue
        out.extend(_level_table(summary[set_], f"set {set_}"))
        out.append("")
        classes = sorted({cls for m in by_class.get(set_, {}).values() for cls in m})
        for cls in classes:
            rows = {m: by_class[set_][m][cls] for m in by_class[set_] if cls in by_class[set_][m]}
            out.extend(_level_table(rows, f"  {set_} / {cls}"))
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def write_results(results: dict, path: str | os.PathLike) -> None:
    """Write results as JSON atomically (a temporary file beside ``path``, then a rename).

    Raises
    ------
    AudioWriteError
        If the file cannot be written.
    """
    from .errors import AudioWriteError

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(results, indent=1, allow_nan=False) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AudioWriteError(f"cannot write results to {path}: {exc.strerror or exc}") from exc


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------
DEFAULT_METHODS = ("proposed", "nmf", "kam", "repet-sim", "noisereduce", "identity")


def _csv(kind: str, choices: Sequence[str]):
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"unknown {kind} {', '.join(bad) or '(none given)'}; choose from {', '.join(choices)}"
            )
        return items

    return parse


def _main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if not out.parent.is_dir():
        raise ParameterError(f"folder for --out does not exist: {out.parent}")
    bar = None
    progress = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=100, unit="%", desc="evaluate", leave=False)

        def progress(f: float) -> None:
            bar.n = round(100 * f)
            bar.refresh()

    checkpoint = out.with_name(out.name + ".partial.jsonl")
    try:
        results = run(args.corpus, subset=args.subset, sets=args.sets, methods=args.methods,
                      jobs=args.jobs, progress=progress, checkpoint=checkpoint, resume=args.resume,
                      every=args.every)
    except KeyboardInterrupt:
        print(f"cleantake evaluate: interrupted; the mixtures done are kept in {checkpoint}: "
              f"run the same command with --resume to go on", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    write_results(results, out)
    checkpoint.unlink(missing_ok=True)
    meta = results["meta"]
    print(f"cleantake evaluate: {meta['n_mixtures']} mixtures ({meta['subset']} subset), "
          f"methods {', '.join(meta['methods'])}, {meta['wall_seconds']:.0f} s, {meta['date_utc']}")
    print(meta["metric"])
    print()
    print(format_table(results), end="")
    failed = [r for r in results["rows"] if "error" in r]
    if failed:
        print(f"\n{len(failed)} method run(s) failed; first: {failed[0]['method']} on {failed[0]['id']}: "
              f"{failed[0]['error']}", file=sys.stderr)
        return 1
    print(f"\nresults written to {out}")
    return 0


def add_parser(subparsers) -> None:
    """Add the ``evaluate`` subcommand to an argparse subparsers object (sets ``func``)."""
    p = subparsers.add_parser(
        "evaluate",
        help="score methods on a mixture corpus (BSS Eval NSDR/NSIR)",
        description="Build the mixtures of a corpus (shared/corpus format), run each method, score each "
        "estimate of the music against the clean music with BSS Eval (SDR, SIR, SAR; NSDR and NSIR "
        "relative to the mixture), print a table and write results.json.",
    )
    p.add_argument("--corpus", required=True, help="corpus folder holding mixtures.json")
    p.add_argument("--out", required=True, help="results JSON file to write")
    p.add_argument("--subset", choices=SUBSETS, default="quick",
                   help="quick: the ~10%% quick subset (default); full: every mixture")
    p.add_argument("--sets", type=_csv("set", SETS), default=list(SETS),
                   help=f"comma-separated sets (default: {','.join(SETS)})")
    p.add_argument("--methods", type=_csv("method", tuple(METHODS)), default=list(DEFAULT_METHODS),
                   help=f"comma-separated methods from {','.join(METHODS)} (default: all)")
    p.add_argument("-j", "--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--every", type=int, default=1, metavar="N",
                   help="take every N-th selected mixture: a deterministic sample for slow methods (default 1)")
    p.add_argument("--resume", action="store_true",
                   help="keep the mixtures already done in OUT.partial.jsonl (written as a run goes, "
                   "deleted when it completes) and evaluate only the rest")
    p.set_defaults(func=_main)
