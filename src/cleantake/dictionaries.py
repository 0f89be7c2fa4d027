"""Interference dictionaries: learning, storing with metadata, loading and the bundled presets.

A dictionary is a set of non-negative spectral templates ``W [shape=(n_freq, rank)]`` (audio
convention: columns are spectra) learned by NMF from example recordings of one or more
interference classes. Each column carries the class it was learned from, so that a located
event can be labelled. Files are ``.npz`` with a JSON metadata record checked on load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .atomic import atomic_file
from .errors import DictionaryError, ParameterError
from .nmf import learn_nmf
from .spectral import StftConfig, stft

__all__ = [
    "Dictionary",
    "PRESETS",
    "learn_dictionary",
    "load_dictionary",
    "dictionary_from_arrays",
    "save_dictionary",
    "resolve_dictionary",
    "combine",
    "NONE",
    "empty_dictionary",
]

FORMAT = "cleantake-dictionary"
VERSION = 1
#: ``format`` field of a like model file (:func:`cleantake.like.save_like_model`), told apart here.
LIKE_MODEL_FORMAT = "cleantake-like-model"
PRESETS = ("any", "cough", "door", "creak", "scream", "drop")
#: Name of the empty dictionary: no bundled templates, only what the user marks
#: (``like=`` spans) or the spans given to ``events=``.
NONE = "none"


@dataclass
class Dictionary:
    """Interference templates with what is needed to use them correctly.

    Attributes
    ----------
    W : np.ndarray [shape=(n_freq, rank)], float32
        Templates, each column summing to one, on the frequency grid of ``stft``.
    labels : list of str, length rank
        Interference class of every column.
    name : str
        Name of the dictionary (``"cough"``, ``"any"``, or the user's).
    stft : StftConfig
        Analysis settings the templates were learned with.
    beta : float
        β of the divergence used to learn them.
    meta : dict
        Free-form provenance (sources, durations, ...).
    """

    W: np.ndarray
    labels: list[str]
    name: str
    stft: StftConfig
    beta: float = 1.0
    meta: dict = field(default_factory=dict)

    @property
    def rank(self) -> int:
        return int(self.W.shape[1])

    @property
    def classes(self) -> list[str]:
        """Distinct class names in column order."""
        return list(dict.fromkeys(self.labels))

    def templates_for(self, cfg: StftConfig) -> np.ndarray:
        """Templates resampled to the frequency grid of ``cfg``.

        Bins are matched in hertz (linear interpolation); above the Nyquist frequency of the
        dictionary's own sample rate the templates are set to zero, as nothing is known there.

        Parameters
        ----------
        cfg : StftConfig
            Analysis settings of the recording.

        Returns
        -------
        np.ndarray [shape=(cfg.n_freq, rank)], float32, columns summing to one
        """
        src = self.stft
        if src.sr == cfg.sr and src.n_fft == cfg.n_fft:
            return self.W
        f_src = src.freqs()
        f_dst = cfg.freqs()
        out = np.empty((f_dst.size, self.rank), np.float32)
        for j in range(self.rank):
            out[:, j] = np.interp(f_dst, f_src, self.W[:, j], right=0.0)
        out /= np.maximum(out.sum(axis=0, keepdims=True), 1e-12)
        return out

    def metadata(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "labels": list(self.labels),
            "stft": self.stft.to_dict(),
            "n_fft": self.stft.n_fft,
            "rank": self.rank,
            "beta": self.beta,
            "meta": self.meta,
        }


def save_dictionary(d: Dictionary, path: str | Path) -> Path:
    """Write ``d`` to ``path`` (``.npz``), atomically.

    Returns
    -------
    Path
        The path written (``.npz`` appended if missing).
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    with atomic_file(path, "wb", error=DictionaryError, what="dictionary") as fh:
        np.savez_compressed(fh, W=d.W.astype(np.float32), meta=np.array(json.dumps(d.metadata())))
    return path


def load_dictionary(path: str | Path) -> Dictionary:
    """Read a dictionary file written by :func:`save_dictionary`, checking its metadata.

    Raises
    ------
    DictionaryError
        Missing file, not a cleantake dictionary, an unsupported format version, or
        metadata that does not match the templates.
    """
    path = Path(path)
    if not path.is_file():
        raise DictionaryError(f"dictionary file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            W = np.asarray(z["W"], dtype=np.float32)
            meta = json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise DictionaryError(
            f"{path} is not a cleantake dictionary (expected an .npz written by `cleantake learn`)"
        ) from exc
    fmt = meta.get("format") if isinstance(meta, dict) else None
    if fmt == LIKE_MODEL_FORMAT:
        raise DictionaryError(f"{path} is a like model (`cleantake learn --like`), not a dictionary: give it to "
                              "--like-model")
    if fmt != FORMAT:
        raise DictionaryError(f"{path} is not a cleantake dictionary (format field is {fmt!r})")
    return dictionary_from_arrays(W, meta, path)


def dictionary_from_arrays(W: np.ndarray, meta: dict, path: str | Path) -> Dictionary:
    """The :class:`Dictionary` of templates ``W`` and their :meth:`Dictionary.metadata`, checked
    (as :func:`load_dictionary` reads them; ``path`` names the file in messages).

    Raises
    ------
    DictionaryError
        An unsupported format version, or metadata that does not match the templates.
    """
    W = np.asarray(W, dtype=np.float32)
    if not isinstance(meta, dict):
        raise DictionaryError(f"{path}: damaged metadata (not a mapping)")
    if meta.get("version") != VERSION:
        raise DictionaryError(
            f"{path} is a version {meta.get('version')} dictionary; this cleantake reads version {VERSION}. "
            "Learn it again with `cleantake learn`."
        )
    try:
        cfg = StftConfig(**meta["stft"])
        labels = [str(x) for x in meta["labels"]]
        name = str(meta["name"])
        beta = float(meta.get("beta", 1.0))
    except (KeyError, TypeError, ParameterError) as exc:
        raise DictionaryError(f"{path}: damaged metadata ({exc})") from exc
    if W.ndim != 2 or W.shape != (cfg.n_freq, len(labels)) or int(meta.get("n_fft", cfg.n_fft)) != cfg.n_fft:
        raise DictionaryError(
            f"{path}: templates of shape {W.shape} do not match the metadata "
            f"({cfg.n_freq} frequency bins x {len(labels)} templates)"
        )
    if not np.all(np.isfinite(W)) or W.min() < 0:
        raise DictionaryError(f"{path}: templates must be finite and non-negative")
    return Dictionary(W=W, labels=labels, name=name, stft=cfg, beta=beta, meta=dict(meta.get("meta", {})))


def combine(dicts: Sequence[Dictionary], name: str) -> Dictionary:
    """Stack several dictionaries (learned with the same settings) into one."""
    if not dicts:
        raise ParameterError("nothing to combine")
    cfg = dicts[0].stft
    for d in dicts[1:]:
        if d.stft != cfg:
            raise DictionaryError(f"cannot combine {d.name!r} ({d.stft}) with {dicts[0].name!r} ({cfg})")
    return Dictionary(
        W=np.concatenate([d.W for d in dicts], axis=1),
        labels=[lab for d in dicts for lab in d.labels],
        name=name,
        stft=cfg,
        beta=dicts[0].beta,
        meta={"parts": [d.name for d in dicts]},
    )


def empty_dictionary(cfg: StftConfig | None = None) -> Dictionary:
    """The dictionary :data:`NONE`: no templates (``W`` of shape ``(n_freq, 0)``).

    With it the method knows no interference of its own: it repairs the spans given to
    ``events=`` or learns from the spans given to ``like=`` (:mod:`cleantake.like`), and
    refuses to run without either.
    """
    cfg = cfg or StftConfig(44100)
    return Dictionary(W=np.zeros((cfg.n_freq, 0), np.float32), labels=[], name=NONE, stft=cfg, beta=1.0,
                      meta={"empty": True})


def _preset_path(name: str) -> Path:
    return Path(str(resources.files("cleantake") / "presets" / f"{name}.npz"))


def resolve_dictionary(spec: str | Path | Dictionary) -> Dictionary:
    """Turn a preset name, a path or a :class:`Dictionary` into a :class:`Dictionary`.

    Parameters
    ----------
    spec : str, Path or Dictionary
        One of :data:`PRESETS`, :data:`NONE` (the empty dictionary, :func:`empty_dictionary`),
        a path to an ``.npz`` file, or a dictionary.

    Raises
    ------
    DictionaryError
        An unknown name (the valid ones are listed) or an unreadable file.
    """
    if isinstance(spec, Dictionary):
        return spec
    s = str(spec)
    if s == NONE and not isinstance(spec, Path):
        return empty_dictionary()
    if s in PRESETS:
        p = _preset_path(s)
        if not p.is_file():
            raise DictionaryError(f"bundled dictionary {s!r} is missing from the installation ({p})")
        return load_dictionary(p)
    p = Path(s)
    if p.suffix == ".npz" or p.exists():
        return load_dictionary(p)
    raise DictionaryError(
        f"unknown interference dictionary {s!r}: use one of {', '.join(PRESETS)}, {NONE} (only what like= "
        "or events= marks) or a path to an .npz "
        "file made by `cleantake learn`"
    )


def learn_dictionary(
    signals: Iterable[np.ndarray],
    sr: int,
    *,
    name: str,
    rank: int = 12,
    cfg: StftConfig | None = None,
    beta: float = 1.0,
    n_iter: int = 300,
    random_state: int = 0,
    meta: dict | None = None,
) -> Dictionary:
    """Learn interference templates from example recordings of one class.

    Parameters
    ----------
    signals : iterable of np.ndarray [shape=(n_samples,) or (n_samples, n_channels)]
        Example recordings at sample rate ``sr`` (channels are averaged).
    sr : int
        Sample rate in Hz.
    name : str
        Class name stored with the templates and used as the label of located events.
    rank : int >= 1
        Number of templates.
    cfg : StftConfig, optional
        Analysis settings; the defaults for ``sr`` if omitted.
    beta, n_iter, random_state : see :func:`cleantake.nmf.semi_nmf`.

    Returns
    -------
    Dictionary
    """
    cfg = cfg or StftConfig(sr)
    if cfg.sr != sr:
        raise ParameterError(f"analysis settings are for {cfg.sr} Hz but the examples are at {sr} Hz")
    specs = []
    total = 0
    for x in signals:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 2:
            x = x.mean(axis=1)
        total += x.size
        S = np.abs(stft(x, cfg))
        # Keep frames that carry the sound (drop near-silent padding frames).
        e = S.sum(axis=0)
        if e.size:
            keep = e > 1e-3 * e.max()
            specs.append(S[:, keep])
    if not specs or sum(s.shape[1] for s in specs) < rank:
        raise ParameterError(
            f"not enough example audio to learn {rank} templates ({total / sr:.2f} s given); "
            "give more or longer examples, or a smaller rank"
        )
    V = np.concatenate(specs, axis=1)
    W = learn_nmf(V, rank, beta=beta, n_iter=n_iter, random_state=random_state)
    info = {"seconds_of_audio": round(total / sr, 3)}
    info.update(meta or {})
    return Dictionary(W=W, labels=[name] * rank, name=name, stft=cfg, beta=beta, meta=info)
