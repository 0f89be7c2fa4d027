"""β-divergence NMF with multiplicative updates and a fixed (pre-learned) part of the dictionary.

Audio convention, the transpose of scikit-learn's: a magnitude spectrogram
``V [shape=(n_freq, n_frames)]`` is approximated as ``V ≈ W @ H`` with ``W
[shape=(n_freq, n_components)]`` the spectral templates and ``H [shape=(n_components,
n_frames)]`` their activations over frames. The first columns of ``W`` may be *fixed*
(an interference dictionary learned beforehand); the rest are *free* (learned from ``V``).
Only the activations of both parts and the free templates are updated: this is the
semi-supervised NMF of step 1 of the method.

The updates are the heuristic-free multiplicative updates of Févotte & Idier (2011), with
the exponent ``γ(β)`` that makes every update non-increasing for any β in [0, 2].
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .errors import ParameterError

__all__ = ["beta_divergence", "beta_divergence_frames", "interference_share", "semi_nmf", "learn_nmf", "NMFResult"]

EPS = np.float32(1e-9)


def interference_share(L_i: np.ndarray, L_m: np.ndarray) -> np.ndarray:
    """Per-frame share of the model explained by the interference part.

    Parameters
    ----------
    L_i, L_m : np.ndarray [shape=(n_freq, n_frames)]
        NMF models of interference (``W_i H_i``) and music (``W_m H_m``).

    Returns
    -------
    r : np.ndarray [shape=(n_frames,)], float32 in [0, 1]
    """
    ei = L_i.sum(axis=0, dtype=np.float64)
    em = L_m.sum(axis=0, dtype=np.float64)
    tot = ei + em
    return np.where(tot > 0, ei / np.where(tot > 0, tot, 1.0), 0.0).astype(np.float32)


def _gamma(beta: float) -> float:
    if beta < 1:
        return 1.0 / (2.0 - beta)
    if beta > 2:
        return 1.0 / (beta - 1.0)
    return 1.0


def beta_divergence_frames(V: np.ndarray, Lam: np.ndarray, beta: float) -> np.ndarray:
    """β-divergence ``d_β(V | Λ)`` summed over frequency, one value per frame.

    Parameters
    ----------
    V, Lam : np.ndarray [shape=(n_freq, n_frames)], non-negative
    beta : float in [0, 2]

    Returns
    -------
    np.ndarray [shape=(n_frames,)], float64
    """
    V = V.astype(np.float64) + EPS
    L = Lam.astype(np.float64) + EPS
    if beta == 1:
        D = V * np.log(V / L) - V + L
    elif beta == 0:
        R = V / L
        D = R - np.log(R) - 1
    else:
        D = (V**beta + (beta - 1) * L**beta - beta * V * L ** (beta - 1)) / (beta * (beta - 1))
    return D.sum(axis=0)


def beta_divergence(V: np.ndarray, Lam: np.ndarray, beta: float) -> float:
    """Sum over all entries of the β-divergence ``d_β(V | Λ)``.

    Parameters
    ----------
    V, Lam : np.ndarray [shape=(n_freq, n_frames)], non-negative
        Data and model. ``EPS`` is added to both, as the updates do.
    beta : float
        0 = Itakura-Saito, 1 = Kullback-Leibler, 2 = squared Euclidean (halved).

    Returns
    -------
    float
    """
    V = V.astype(np.float64) + EPS
    L = Lam.astype(np.float64) + EPS
    if beta == 1:
        return float(np.sum(V * np.log(V / L) - V + L))
    if beta == 0:
        R = V / L
        return float(np.sum(R - np.log(R) - 1))
    return float(np.sum((V**beta + (beta - 1) * L**beta - beta * V * L ** (beta - 1)) / (beta * (beta - 1))))


@dataclass
class NMFResult:
    """Outcome of :func:`semi_nmf`.

    Attributes
    ----------
    W : np.ndarray [shape=(n_freq, n_fixed + n_free)], float32
        Templates; the first ``n_fixed`` columns are the fixed dictionary, unchanged.
    H : np.ndarray [shape=(n_fixed + n_free, n_frames)], float32
        Activations.
    n_fixed : int
        Number of fixed columns.
    n_iter : int
        Iterations run.
    objective : list of float
        β-divergence after each iteration where it was recorded (see ``track``).
    """

    W: np.ndarray
    H: np.ndarray
    n_fixed: int
    n_iter: int
    objective: list

    @property
    def fixed_part(self) -> np.ndarray:
        """Model of the fixed (interference) part, ``W_fixed @ H_fixed``, shape ``(n_freq, n_frames)``."""
        k = self.n_fixed
        return self.W[:, :k] @ self.H[:k]

    @property
    def free_part(self) -> np.ndarray:
        """Model of the free (music) part, ``W_free @ H_free``, shape ``(n_freq, n_frames)``."""
        k = self.n_fixed
        return self.W[:, k:] @ self.H[k:]


def _check_V(V: np.ndarray) -> np.ndarray:
    V = np.asarray(V)
    if V.ndim != 2:
        raise ParameterError(f"spectrogram must be 2-D (n_freq, n_frames), got shape {V.shape}")
    if not np.all(np.isfinite(V)) or (V.size and V.min() < 0):
        raise ParameterError("spectrogram must be finite and non-negative")
    return V.astype(np.float32, copy=False)


def semi_nmf(
    V: np.ndarray,
    W_fixed: np.ndarray | None = None,
    *,
    n_free: int = 20,
    beta: float = 1.0,
    n_iter: int = 60,
    tol: float = 1e-4,
    random_state: int = 0,
    W_free_init: np.ndarray | None = None,
    H_init: np.ndarray | None = None,
    track: bool = False,
    threads: int = 1,
    block_frames: int = 1024,
) -> NMFResult:
    """Fit ``V ≈ [W_fixed, W_free] @ H`` with ``W_fixed`` held fixed.

    Parameters
    ----------
    V : np.ndarray [shape=(n_freq, n_frames)], non-negative
        Magnitude (or pooled-magnitude) spectrogram.
    W_fixed : np.ndarray [shape=(n_freq, n_fixed)] or None
        Fixed templates (the interference dictionary); ``None`` or zero columns fits a plain NMF.
    n_free : int >= 0
        Number of templates learned from ``V`` (the music part).
    beta : float in [0, 2]
        β of the divergence; 1 (Kullback-Leibler) by default.
    n_iter : int >= 1
        Maximum number of iterations.
    tol : float >= 0
        Stop when the relative decrease of the objective over 10 iterations falls below it
        (checked every 10 iterations).
    random_state : int
        Seed of the initialisation; equal seeds give equal results.
    W_free_init : np.ndarray [shape=(n_freq, n_free)] or None
        Starting free templates (for example from a previous block).
    H_init : np.ndarray [shape=(n_fixed + n_free, n_frames)] or None
        Starting activations, finite and non-negative (for example carried over from another
        fit; zeros start at a tiny positive value, which multiplicative updates can move);
        default random.
    track : bool
        Record the objective after every iteration.
    threads : int >= 1
        Threads working on blocks of frames at the same time (BLAS itself should then run
        single-threaded). The result does not depend on it.
    block_frames : int >= 1
        Frames per block. The result depends on it (by float rounding) only.

    Returns
    -------
    NMFResult
    """
    V = _check_V(V)
    if not 0.0 <= beta <= 2.0:
        raise ParameterError(f"beta must lie in [0, 2], got {beta}")
    if n_iter < 1:
        raise ParameterError(f"n_iter must be at least 1, got {n_iter}")
    if threads < 1 or block_frames < 1:
        raise ParameterError(f"threads and block_frames must be at least 1, got {threads} and {block_frames}")
    n_freq, n_frames = V.shape
    if W_fixed is None:
        W_fixed = np.zeros((n_freq, 0), np.float32)
    W_fixed = np.asarray(W_fixed, dtype=np.float32)
    if W_fixed.ndim != 2 or W_fixed.shape[0] != n_freq:
        raise ParameterError(
            f"fixed dictionary has {W_fixed.shape[0] if W_fixed.ndim == 2 else '?'} frequency rows, "
            f"the spectrogram has {n_freq}"
        )
    n_fixed = W_fixed.shape[1]
    if n_fixed + n_free == 0:
        raise ParameterError("need at least one template (fixed or free)")
    rng = np.random.default_rng(random_state)
    scale = np.float32(np.sqrt(max(V.mean(), 1e-12) / (n_fixed + n_free)))
    if W_free_init is not None:
        W_free = np.array(W_free_init, dtype=np.float32)
        W_free /= np.maximum(W_free.sum(axis=0, keepdims=True), EPS)
    else:
        W_free = rng.uniform(0.5, 1.5, size=(n_freq, n_free)).astype(np.float32)
        W_free /= W_free.sum(axis=0, keepdims=True)
    H = (rng.uniform(0.5, 1.5, size=(n_fixed + n_free, n_frames)) * scale * n_freq ** 0.5).astype(np.float32)
    if H_init is not None:
        if np.shape(H_init) != H.shape:
            raise ParameterError(f"starting activations must have shape {H.shape}, got {np.shape(H_init)}")
        if not np.all(np.isfinite(H_init)) or np.min(H_init, initial=0.0) < 0:
            raise ParameterError("starting activations must be finite and non-negative")
        # Multiplicative updates never move a zero: the smallest start is a tiny positive one.
        H = np.maximum(np.asarray(H_init, np.float32), np.float32(EPS))
    W = np.concatenate([W_fixed, W_free], axis=1)
    gamma = _gamma(beta)
    # Frames are processed in column blocks of a fixed size: the activations of a block depend
    # on that block only, the free templates on sums over blocks taken in block order. The
    # blocks may run in parallel threads (numpy releases the GIL) and the result does not
    # depend on how many.
    blocks = [slice(a, min(a + block_frames, n_frames)) for a in range(0, n_frames, block_frames)]

    def pass_over(b: slice, rescale: np.ndarray | None, want_objective: bool):
        """One iteration on the frames ``b``: returns (objective of the model before it,
        numerator and denominator of the free-template update)."""
        Hb, Vb = H[:, b], V[:, b]
        if rescale is not None:
            Hb[n_fixed:] *= rescale[:, None]
        Lam = W @ Hb
        Lam += EPS
        obj = beta_divergence(Vb, Lam - EPS, beta) if want_objective else 0.0
        if beta == 1:
            num = W.T @ np.divide(Vb, Lam, out=Lam)
            den = W.sum(axis=0)[:, None]
        else:
            num = W.T @ ((Vb + EPS) * Lam ** (beta - 2))
            den = W.T @ Lam ** (beta - 1)
        ratio = num / np.maximum(den, EPS)
        Hb *= ratio if gamma == 1 else ratio**gamma
        if not n_free:
            return obj, None, None
        Hf = Hb[n_fixed:]
        Lam = W @ Hb
        Lam += EPS
        if beta == 1:
            return obj, np.divide(Vb, Lam, out=Lam) @ Hf.T, Hf.sum(axis=1)[None, :]
        return obj, ((Vb + EPS) * Lam ** (beta - 2)) @ Hf.T, Lam ** (beta - 1) @ Hf.T

    pool = ThreadPoolExecutor(min(threads, len(blocks))) if threads > 1 and len(blocks) > 1 else None
    run = pool.map if pool is not None else map
    objective: list[float] = []
    last = None
    it = 0
    rescale = None
    try:
        for it in range(1, n_iter + 1):
            # The objective of the model after iteration it - 1 comes from this pass's model.
            check = tol > 0 and it > 1 and (it - 1) % 10 == 0
            want = track and it > 1 or check
            parts = list(run(lambda b: pass_over(b, rescale, want), blocks))
            rescale = None
            if want:
                cur = float(sum(p[0] for p in parts))
                if track:
                    objective.append(cur)
            if n_free:
                num = sum(p[1] for p in parts)
                den = sum(p[2] for p in parts)
                ratio = num / np.maximum(den, EPS)
                Wf = W[:, n_fixed:] * (ratio if gamma == 1 else ratio**gamma)
                # Free templates to unit sum, the scale moved into H (in the next pass):
                # W @ H unchanged.
                norm = np.maximum(Wf.sum(axis=0), EPS)
                W[:, n_fixed:] = Wf / norm
                rescale = norm
            if check:
                if last is not None and (last - cur) <= tol * abs(last):
                    break
                last = cur
    finally:
        if pool is not None:
            pool.shutdown()
    if rescale is not None:
        H[n_fixed:] *= rescale[:, None]
    if track:
        objective.append(beta_divergence(V, W @ H, beta))
    return NMFResult(W=W, H=H, n_fixed=n_fixed, n_iter=it, objective=objective)


def learn_nmf(
    V: np.ndarray, n_components: int, *, beta: float = 1.0, n_iter: int = 200, random_state: int = 0
) -> np.ndarray:
    """Learn ``n_components`` unit-sum templates from ``V`` (unsupervised NMF).

    Parameters
    ----------
    V : np.ndarray [shape=(n_freq, n_frames)], non-negative
    n_components : int >= 1
    beta, n_iter, random_state : see :func:`semi_nmf`.

    Returns
    -------
    W : np.ndarray [shape=(n_freq, n_components)], float32, columns summing to one.
    """
    if n_components < 1:
        raise ParameterError(f"rank must be at least 1, got {n_components}")
    res = semi_nmf(V, None, n_free=n_components, beta=beta, n_iter=n_iter, tol=1e-5, random_state=random_state)
    if res.n_iter == n_iter and n_iter < 50:
        warnings.warn(f"dictionary learning stopped after {n_iter} iterations; raise n_iter", stacklevel=2)
    return res.W
