"""Shared test helpers: signal generators, file helpers and the corpus.

Functions here are imported by the test modules (``from conftest import organ, ...``);
fixtures are found by pytest. ``pytest -m "not slow"`` is the fast inner loop; tests over a
few seconds carry ``@pytest.mark.slow``. Temporary folders of passing tests are deleted at
once (``tmp_path_retention_policy = "failed"`` in pyproject.toml), so a run leaves little
behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def load_script(relpath: str):
    """A benchmark or script of the repository (``benchmarks/cv.py``, ...) as a module, to test
    its functions and ``main`` (they are not part of the package)."""
    import importlib.util

    path = REPO / relpath
    spec = importlib.util.spec_from_file_location(path.stem + "_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def corpus_dir() -> Path:
    """The corpus: ``$CLEANTAKE_CORPUS``, else ``<repo>/../shared/corpus``."""
    env = os.environ.get("CLEANTAKE_CORPUS")
    return Path(env) if env else REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The corpus folder (with ``mixtures.json``); the test is skipped without it."""
    d = corpus_dir()
    if not (d / "mixtures.json").is_file():
        pytest.skip(f"corpus not found at {d} (set CLEANTAKE_CORPUS)")
    return d


def corpus_mixtures(d: Path) -> list[dict]:
    """The corpus's mixture recipes (``mixtures.json``)."""
    return json.loads((d / "mixtures.json").read_text())["mixtures"]


def sha(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def files_in(folder: Path) -> list[str]:
    """Names of everything in ``folder`` (hidden files too), sorted."""
    return sorted(p.name for p in Path(folder).iterdir())


def grid16(n: int, channels: int, *, seed: int = 1234, amp: float = 0.9) -> np.ndarray:
    """Random samples on the 16-bit grid (exactly representable in every PCM/float subtype)."""
    rng = np.random.default_rng(seed)
    return np.round(rng.uniform(-amp, amp, (n, channels)) * 32768) / 32768


def organ(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """Repeating organ-like notes (period 2 s), shape (n,): every frame has similar frames
    elsewhere, as the method expects of music."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = np.zeros_like(t)
    for i, start in enumerate(np.arange(0, seconds, 0.5)):
        f = [220.0, 277.2, 329.6, 440.0][i % 4]
        seg = (t >= start) & (t < start + 0.5)
        env = np.minimum(1, (t[seg] - start) * 50) * np.exp(-(t[seg] - start) * 2)
        for h in range(1, 6):
            x[seg] += env * np.sin(2 * np.pi * f * h * t[seg]) / h
    return 0.2 * x / np.abs(x).max() + 1e-4 * rng.standard_normal(t.size)


def burst(sr: int, *, seed: int = 1, length_s: float = 0.3, level: float = 0.3) -> np.ndarray:
    """A decaying noise burst (a knock or a cough-like transient), shape (n,)."""
    rng = np.random.default_rng(seed)
    n = int(length_s * sr)
    return rng.standard_normal(n) * np.exp(-np.arange(n) / (0.06 * sr)) * level


def two_tones(seconds: float, sr: int, channels: int = 2) -> np.ndarray:
    """Two steady tones on the 16-bit grid, shape (n, channels): no interference at all."""
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 330 * t)
    return np.round(np.repeat(x[:, None], channels, axis=1) * 32768) / 32768


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium driven over the DevTools protocol (``chromium_cdp``); the test is
    skipped when Chromium is not installed."""
    from chromium_cdp import Chromium, find_chromium

    exe = find_chromium()
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with Chromium(exe) as c:
        yield c
