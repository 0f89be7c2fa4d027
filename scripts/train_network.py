"""Train the detector's network (:class:`cleantake.detector.ConvNet`) by grouped cross-validation.

    python scripts/train_network.py             # = --seed 0 --n-train 3000 --epochs 8 --augment mask
    python scripts/train_network.py --augment '' --seed 0    # -> networks
    python scripts/train_network.py --augment '' --seed 1    # -> networks_s1 (--seed 2 -> networks_s2)

Networks trained before session 44 read the planes of every frame (``--planes all``); the
shipped mono network and its fold networks are those, and so are the fold networks of the
stereo recipe's seeds 0 and 1 (benchmarks/DETECTOR.md, "Session 47").

The shipped detector holds networks of one architecture and two recipes: the first command's
(frequency masking while training; ``benchmarks/results/networks_mask``) for mono recordings,
and the others' (no augmentation; ``benchmarks/results/networks``, ``networks_s1``,
``networks_s2``) for two-channel ones, three seeds pooled by their mean logit. Held out on all
1,264 cross-validation recordings (session 43, DETECTOR.md), masking gained on mono recordings
and lost on the stereo full mixes, so each kind of recording gets the recipe that was better on
it; a second seed of the stereo recipe moved the held-out mixes by half a dB (session 45), so
the shipped model pools three (session 46; pooling the mono recipe's seeds too cost the
learning from one example, DETECTOR.md).

The network reads the mixture's band spectrogram (:func:`cleantake.detector.network_bands`,
64 log-spaced bands of the analysis's magnitude) and gives every frame the probability that it
holds interference; the shipped detector averages it with the trees' probability
(:func:`cleantake.detector.interference_probabilities`). It needs no NMF, so its training
data are cheap: for fold k, ``--n-train`` augmented 10-s mixtures of
:func:`train_detector.training_recipe` whose music and interference lie outside fold k, plus
every held-out recording of the other folds (``cv_recipes(corpus, j, part="test")``, j != k:
none of their sources is in fold k), as the trees are cross-trained. The shipped network
(``final``) takes the shipped recipe's mixtures (fold None) and every fold's held-out
recordings. Frames are labelled as for the trees: positive where the true interference has at
least 15 % of the mixture's energy, negative under 1 %, ignored in between.

Writes ``--out/fold{k}.npz`` and ``--out/final.npz`` (arrays of
:func:`cleantake.detector.network_arrays`, batch normalisation folded in; each checked
against PyTorch's own forward pass), which ``scripts/train_detector.py --network DIR``
attaches to the detector models it fits and calibrates.

Training needs PyTorch (``pip install '.[train]'``, which pins the CPU build); the shipped
network is arrays evaluated in numpy. Deterministic for ``--seed`` on one software stack
(data from seeded generators; PyTorch's deterministic algorithms on ``--threads`` threads).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cleantake.analysis import spectrogram  # noqa: E402
from cleantake.atomic import atomic_file, atomic_write  # noqa: E402
from cleantake.corpus import cv_recipes  # noqa: E402
from cleantake.detector import (NETWORK_BANDS, ConvNet, network_arrays, network_bands,  # noqa: E402
                                network_logits, network_planes)
from cleantake.errors import CleantakeError  # noqa: E402
from cleantake.settings import Settings  # noqa: E402
from train_detector import (ALL_CLASSES, N_FOLDS, NEG_RATIO, POS_RATIO, SR, frame_truth,  # noqa: E402
                            test_recording, training_recipe)

#: Seeds of the network's training mixtures are offset from the trees' (train_detector's
#: seeds 0-3), so that the two see different augmentations of the same sources.
RECIPE_SEED = 100
CROP = 344  # frames per training crop (4 s)
WIDTHS = (8, 16, 24, 32)
HIDDEN = 64
DILATIONS = (1, 2, 4, 8)
KERNEL = 5


# --------------------------------------------------------------------------------------------
# data: band spectrogram + frame labels per recording, cached per fold
# --------------------------------------------------------------------------------------------
def example(mix: np.ndarray, events: list) -> tuple[np.ndarray, np.ndarray]:
    """Bands [shape=(NETWORK_BANDS, T)] and labels (1, 0, or -1 = ignored) [shape=(T,)]."""
    cfg = Settings().stft_config(SR)
    _, V = spectrogram(mix, cfg)
    ratio = frame_truth(mix, events, cfg, V)[0]
    y = np.where(ratio >= POS_RATIO, 1, np.where(ratio < NEG_RATIO, 0, -1)).astype(np.int8)
    return network_bands(V, cfg), y


def _train_job(a: tuple) -> tuple[np.ndarray, np.ndarray]:
    corpus, k, i, seed = a
    mix, events, _ = training_recipe(corpus, k, i, seed)
    return example(mix, events)


def _test_job(a: tuple) -> tuple[np.ndarray, np.ndarray]:
    corpus, entry = a
    mix, events, _ = test_recording(corpus, entry)
    return example(mix, events)


def _classes_job(a: tuple) -> list:
    corpus, k, i, seed = a
    return training_recipe(corpus, k, i, seed)[2]["classes"]


def _save(path: Path, exs: list) -> None:
    lengths = np.array([b.shape[1] for b, _ in exs], np.int64)
    with atomic_file(path, "wb", error=CleantakeError, what="network data cache") as fh:
        np.savez(fh, B=np.concatenate([b for b, _ in exs], axis=1), y=np.concatenate([y for _, y in exs]),
                 lengths=lengths)


def _load(path: Path) -> list:
    with np.load(path) as z:
        B, y, lengths = z["B"], z["y"], z["lengths"]
    edges = np.concatenate([[0], np.cumsum(lengths)])
    return [(B[:, a:b], y[a:b]) for a, b in zip(edges[:-1], edges[1:])]


def _map(fn, args: list, jobs: int) -> list:
    """``[fn(a) for a in args]``, in ``jobs`` processes when more than one."""
    if jobs > 1:
        from multiprocessing import Pool

        with Pool(jobs) as pool:
            return pool.map(fn, args, chunksize=8)
    return [fn(a) for a in args]


def cached(path: Path, fn, args: list, jobs: int) -> list:
    if path.is_file():
        return _load(path)
    t0 = time.perf_counter()
    exs = _map(fn, args, jobs)
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(path, exs)
    print(f"{path.name}: {len(exs)} recordings, {sum(b.shape[1] for b, _ in exs)} frames "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return exs


def held_out(corpus: Path, cache: Path, j: int, jobs: int) -> list:
    """Every held-out recording of fold ``j``."""
    return cached(cache / f"test_f{j}.npz", _test_job, [(corpus, e) for e in cv_recipes(corpus, j, part="test")], jobs)


def augmented(corpus: Path, cache: Path, k: int | None, n: int, seed: int, jobs: int) -> list:
    name = "final" if k is None else f"f{k}"
    return cached(cache / f"train_{name}_s{seed}_n{n}.npz", _train_job,
                  [(corpus, k, i, RECIPE_SEED + seed) for i in range(n)], jobs)


def recipe_classes(corpus: Path, cache: Path, k: int | None, n: int, seed: int, jobs: int) -> list[list[str]]:
    """The classes of the events in each of :func:`augmented`'s mixtures (cached as JSON).

    The recipe draws its classes between reading and placing the audio, so they are had only by
    building each mixture again (a few minutes a fold); ``--without`` needs them."""
    import json

    name = "final" if k is None else f"f{k}"
    path = cache / f"classes_{name}_s{seed}_n{n}.json"
    if path.is_file():
        return json.loads(path.read_text())
    args = [(corpus, k, i, RECIPE_SEED + seed) for i in range(n)]
    t0 = time.perf_counter()
    out = _map(_classes_job, args, jobs)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(out), error=CleantakeError, what="recipe classes cache")
    print(f"{path.name}: classes of {n} mixtures ({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


# --------------------------------------------------------------------------------------------
# augmentation of the input planes while training
# --------------------------------------------------------------------------------------------
#: Augmentations that ``--augment`` allows: ``eq``, a random smooth curve over the bands added
#: to the level plane (the music's and the event's spectral balance as another mix or
#: microphone would give them); ``mask``, half of the crops with 1-6 adjacent bands set to
#: their typical value (SpecAugment's frequency masking). Session 43 (DETECTOR.md): eq + mask
#: gained on mono recordings and lost on every fold's stereo mixes; mask alone gained more on
#: mono and lost less on stereo (the default, for the mono network).
AUGMENT = ("eq", "mask")
DEFAULT_AUGMENT = ("mask",)
EQ_TILT = 0.7   # nepers (about 6 dB) from the lowest band to the highest, at most, either way
EQ_BUMP = 0.7   # nepers, at most, either way: a bell 0.1-0.5 of the band range wide (std)
MASK_P = 0.5
MASK_BANDS = 6


def augment_planes(X: np.ndarray, rng: np.random.Generator, kinds: tuple = AUGMENT) -> np.ndarray:
    """Augment a batch of input planes in place.

    Parameters
    ----------
    X : np.ndarray [shape=(n, 2, NETWORK_BANDS, n_frames)], float32
        Planes of :func:`cleantake.detector.network_planes`.
    rng : np.random.Generator
    kinds : tuple of {"eq", "mask"}

    Returns
    -------
    np.ndarray
        ``X``. ``eq`` changes plane 1 only: plane 0 subtracts each band's own median, in which a
        fixed gain per band cancels.
    """
    n = X.shape[0]
    if "eq" in kinds:
        b = np.linspace(-1, 1, NETWORK_BANDS)[None, :]
        tilt = rng.uniform(-EQ_TILT, EQ_TILT, (n, 1)) * b
        c, w, h = rng.uniform(-1, 1, (n, 1)), rng.uniform(0.1, 0.5, (n, 1)), rng.uniform(-EQ_BUMP, EQ_BUMP, (n, 1))
        X[:, 1] += (tilt + h * np.exp(-0.5 * ((b - c) / w) ** 2)).astype(np.float32)[:, :, None]
    if "mask" in kinds:
        for r in range(n):
            if rng.random() < MASK_P:
                w = int(rng.integers(1, MASK_BANDS + 1))
                a = int(rng.integers(0, NETWORK_BANDS - w))
                X[r, :, a:a + w] = 0.0
    return X


# --------------------------------------------------------------------------------------------
# the network in PyTorch, and its export
# --------------------------------------------------------------------------------------------
def build(torch, dilations: tuple[int, ...] = DILATIONS):
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            layers, ci = [], 2
            for co in WIDTHS:
                layers += [nn.Conv2d(ci, co, 3, padding=1), nn.BatchNorm2d(co), nn.ReLU(), nn.MaxPool2d((2, 1))]
                ci = co
            self.conv = nn.Sequential(*layers)
            layers, ci = [], ci * (NETWORK_BANDS >> len(WIDTHS))
            for d in dilations:
                layers += [nn.Conv1d(ci, HIDDEN, KERNEL, dilation=d, padding=d * (KERNEL // 2)),
                           nn.BatchNorm1d(HIDDEN), nn.ReLU()]
                ci = HIDDEN
            self.temporal = nn.Sequential(*layers)
            self.out = nn.Conv1d(HIDDEN, 1, 1)

        def forward(self, x):
            h = self.conv(x)
            n, c, f, t = h.shape
            return self.out(self.temporal(h.reshape(n, c * f, t)))[:, 0]

    return Net()


def export(net) -> ConvNet:
    """The trained network (eval mode) with each batch normalisation folded into the
    convolution before it, as float32 arrays."""

    def fold(conv, bn):
        s = (bn.weight / (bn.running_var + bn.eps).sqrt()).detach().double().numpy()
        W = conv.weight.detach().double().numpy()
        b = conv.bias.detach().double().numpy()
        W = W * s.reshape((-1,) + (1,) * (W.ndim - 1))
        b = (b - bn.running_mean.detach().double().numpy()) * s + bn.bias.detach().double().numpy()
        return W.astype(np.float32), b.astype(np.float32)

    conv = tuple(fold(net.conv[i], net.conv[i + 1]) for i in range(0, len(net.conv), 4))
    temporal = tuple(fold(net.temporal[i], net.temporal[i + 1]) + (int(net.temporal[i].dilation[0]),)
                     for i in range(0, len(net.temporal), 3))
    out = (net.out.weight.detach().numpy()[0, :, 0].astype(np.float32), float(net.out.bias.detach().numpy()[0]))
    return ConvNet(conv, temporal, out)


def planes_of_all_frames(bands: np.ndarray) -> np.ndarray:
    """:func:`cleantake.detector.network_planes` as it was until session 44: the mean and the
    medians over every frame, digital silence included (``--planes all``).

    The networks trained before session 44's change (the shipped mono network, session 43's;
    the fold networks of the stereo recipe's seeds 0 and 1) were trained on these planes, and
    only these rebuild them bit for bit. The library reads every network with today's planes,
    which equal these wherever every frame sounds.

    Parameters
    ----------
    bands : np.ndarray [shape=(NETWORK_BANDS, n_frames)]

    Returns
    -------
    np.ndarray [shape=(2, NETWORK_BANDS, n_frames)], float32
    """
    B = np.asarray(bands, np.float64)
    if not B.size:
        return np.zeros((2,) + B.shape, np.float32)
    L = np.log(B + 1e-3 * float(B.mean()) + 1e-12)
    return np.stack([L - np.median(L, axis=1, keepdims=True), L - np.median(L)]).astype(np.float32)


#: The input planes ``--planes`` names: today's (the library's) or those before session 44.
PLANES = {"sounding": network_planes, "all": planes_of_all_frames}


def train(exs: list, seed: int, epochs: int, threads: int, log: str = "", augment: tuple = DEFAULT_AUGMENT,
          planes_fn: Callable[[np.ndarray], np.ndarray] = network_planes,
          dilations: tuple[int, ...] = DILATIONS) -> ConvNet:
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(seed)
    arng = np.random.default_rng(seed + 1000)  # the augmentation's own stream: crops as without it
    planes = [planes_fn(b) for b, _ in exs]
    labels = [y for _, y in exs]
    net = build(torch, dilations)
    batch = 16
    steps = epochs * int(np.ceil(len(exs) / batch))
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(3.0), reduction="none")
    t0 = time.perf_counter()
    for ep in range(epochs):
        net.train()
        order = rng.permutation(len(exs))
        total, n = 0.0, 0
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            X = np.zeros((len(idx), 2, NETWORK_BANDS, CROP), np.float32)
            Y = np.full((len(idx), CROP), -1, np.int8)
            for r, i in enumerate(idx):
                T = labels[i].size
                a = int(rng.integers(0, max(T - CROP, 0) + 1))
                L = min(CROP, T)
                X[r, :, :, :L] = planes[i][:, :, a:a + L]
                Y[r, :L] = labels[i][a:a + L]
            if augment:
                X = augment_planes(X, arng, augment)
            y = torch.from_numpy(Y.astype(np.float32))
            mask = y >= 0
            logits = net(torch.from_numpy(X))
            loss = (loss_fn(logits, y.clamp(min=0)) * mask).sum() / mask.sum().clamp(min=1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total, n = total + loss.item() * len(idx), n + len(idx)
        print(f"{log}epoch {ep + 1}/{epochs}: loss {total / n:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    net.eval()
    out = export(net)
    # the numpy forward pass must give PyTorch's logits
    x = planes[0][None]
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()[0]
    err = float(np.max(np.abs(network_logits(x[0], out) - ref)))
    if err > 1e-3:
        raise SystemExit(f"numpy forward pass differs from PyTorch's by {err}")
    return out


def save_network(net: ConvNet, path: Path) -> None:
    """Write ``net``'s arrays to ``path`` atomically: a complete file or none, and a link at
    ``path`` (a placeholder ``final.npz`` pointing at another directory's network) is replaced,
    never written through."""
    with atomic_file(path, "wb", error=CleantakeError, what="network") as fh:
        np.savez_compressed(fh, **network_arrays(net))


def frame_ap(net: ConvNet, exs: list) -> float:
    from sklearn.metrics import average_precision_score

    from cleantake.detector import network_probability

    p = np.concatenate([network_probability(b, net) for b, _ in exs])
    y = np.concatenate([y for _, y in exs])
    keep = y >= 0
    return float(average_precision_score(y[keep], p[keep]))


def default_out(augment: tuple, seed: int, without: tuple = (), dilations: tuple = DILATIONS) -> Path:
    """``--out``'s default: ``benchmarks/results/networks`` with a part for every choice that is
    not the shipped stereo recipe's (``_mask``, ``_s1``, ``_without_cough``, ``_d1-2-4-8-16-32``),
    so that a variant never lands on the networks of another recipe."""
    parts = ["networks", *augment] + ([f"s{seed}"] if seed else []) + (["without", *without] if without else [])
    if tuple(dilations) != DILATIONS:
        parts.append("d" + "-".join(map(str, dilations)))
    return ROOT / "benchmarks" / "results" / "_".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache" / "network")
    ap.add_argument("--out", type=Path, default=None,
                    help="default benchmarks/results/networks_<augmentations>[_s<seed>] (networks_mask by "
                    "default, networks with --augment '', networks_mask_s1 with --seed 1; --without and "
                    "--dilations add their own parts)")
    ap.add_argument("--folds", default="0,1,2,3,4,final", help="which networks to train")
    ap.add_argument("--n-train", type=int, default=3000, help="augmented mixtures per network")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2, help="processes building the data")
    ap.add_argument("--threads", type=int, default=2, help="PyTorch threads while training")
    ap.add_argument("--stage", choices=("all", "data"), default="all")
    ap.add_argument("--augment", default=",".join(DEFAULT_AUGMENT),
                    help="augmentations of the input planes while training, comma-separated from eq, mask "
                    "('' for none: session 41's recipe)")
    ap.add_argument("--planes", choices=tuple(PLANES), default="sounding",
                    help="the input planes trained on: the library's (over the sounding frames, since session "
                    "44) or over all frames, which rebuilds the networks trained before that (the shipped mono "
                    "network: --planes all with the defaults)")
    ap.add_argument("--without", default="", metavar="CLASS[,CLASS...]",
                    help="leave these classes out entirely: every training mixture with an event of them and "
                    "every held-out recording of them is dropped (the leave-one-class-out protocol of "
                    "train_detector.py --loco-networks); default out gains _without_<classes>")
    ap.add_argument("--dilations", default=",".join(map(str, DILATIONS)), metavar="D[,D...]",
                    help="dilations of the temporal convolutions, one layer each (default %(default)s: +-34 frames, "
                    "0.39 s of context; 1,2,4,8,16,32: +-130 frames, 1.5 s)")
    args = ap.parse_args(argv)
    try:
        dilations = tuple(int(d) for d in args.dilations.split(","))
    except ValueError:
        dilations = ()
    if not dilations or min(dilations) < 1:
        raise SystemExit(f"--dilations: give positive whole numbers separated by commas, got {args.dilations!r}")
    names = args.folds.split(",")
    without = tuple(c for c in args.without.split(",") if c)
    if set(without) - set(ALL_CLASSES):
        raise SystemExit(f"--without: unknown {sorted(set(without) - set(ALL_CLASSES))}; "
                         f"allowed: {', '.join(ALL_CLASSES)}")
    augment = tuple(a for a in args.augment.split(",") if a)
    if set(augment) - set(AUGMENT):
        raise SystemExit(f"--augment: unknown {sorted(set(augment) - set(AUGMENT))}; allowed: {', '.join(AUGMENT)}")
    args.out = args.out or default_out(augment, args.seed, without, dilations)
    tests = {j: held_out(args.corpus, args.cache, j, args.jobs) for j in range(N_FOLDS)}
    for name in names:
        k = None if name == "final" else int(name)
        exs = augmented(args.corpus, args.cache, k, args.n_train, args.seed, args.jobs)
        if args.stage == "data":
            continue
        others = [e for j in range(N_FOLDS) if j != k for e in tests[j]]
        if without:
            classes = recipe_classes(args.corpus, args.cache, k, args.n_train, args.seed, args.jobs)
            exs = [e for e, cs in zip(exs, classes) if not set(cs) & set(without)]
            others = [e for j in range(N_FOLDS) if j != k
                      for e, r in zip(tests[j], cv_recipes(args.corpus, j, part="test")) if r["class"] not in without]
            print(f"[{name}] without {', '.join(without)}: {len(exs)} training mixtures, "
                  f"{len(others)} held-out recordings of the other folds", flush=True)
        net = train(exs + others, args.seed, args.epochs, args.threads, log=f"[{name}] ", augment=augment,
                    planes_fn=PLANES[args.planes], dilations=dilations)
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"{'final' if k is None else f'fold{k}'}.npz"
        save_network(net, path)
        held = f", frame AP on fold {k}'s held-out recordings {frame_ap(net, tests[k]):.3f}" if k is not None else ""
        print(f"[{name}] {net.n_weights} weights -> {path}{held}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
