"""Rebuild the shipped detector (``src/cleantake/presets/detector.npz``) with one command.

    python scripts/rebuild_detector.py              # every step not done yet, in order
    python scripts/rebuild_detector.py --dry-run    # list the steps, and which are done
    python scripts/rebuild_detector.py --recipe short  # sessions 46-56's detector -> benchmarks/results

The shipped model is the output of several runs of two scripts: the analyses of
``train_detector.py --stage features``, the networks of ``train_network.py`` (one recipe for
mono recordings, three seeds of another for stereo ones, each a network per cross-validation
fold and a ``final`` one; the stereo ones with 1.5 s of temporal context since session 57), then
``train_detector.py --stage fit`` with every network attached.
This script runs them in that order, as recorded in :data:`RECIPE` (benchmarks/DETECTOR.md,
"Since session 46", gives the measurements behind each choice). A step whose outputs all exist
is skipped, and a network run is given only the folds still missing, so a rebuild cut short
(a session's end, a killed job) goes on where it stopped: every network and every analysis is
written atomically when it is done. ``--force`` trains every network again; the features stage
always reuses the analyses in its cache (give another ``--cache`` to make them anew).

On 2 cores the whole rebuild takes three to four hours, either recipe (sessions 54-56, nothing
else running: the features 21-32 minutes; each network 7-10 minutes, 2.3-3 of them building its
data, which the networks of the same seed and fold share (the mono recipe and stereo seed 0),
five of them training, eight epochs; 24 networks; the fit 2-10 minutes). Four epochs instead of
eight lost frame AP (DETECTOR.md, "Session 55"), so that is not a way to shorten it.
Deterministic for the recorded seeds on one software stack, not across machines (DETECTOR.md,
"Session 48", "Session 55" and "Session 56": the same network's frame AP on a fold moved by up
to 0.02 on the mono recipe and by 0.17 on one stereo fold); fold models and the shipped file
rebuilt on another machine are that machine's, and benchmarks judge with the fold models of the
machine that runs them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
RESULTS = ROOT / "benchmarks" / "results"
FOLDS = ("0", "1", "2", "3", "4")


class NetworkRun(NamedTuple):
    """One run of ``train_network.py``: its options and the networks it writes into ``out``."""

    out: str  # directory under benchmarks/results
    options: tuple[str, ...]
    folds: tuple[str, ...]


class Recipe(NamedTuple):
    """The network runs of one detector: those for mono recordings and those for stereo ones."""

    mono: tuple[NetworkRun, ...]
    stereo: tuple[NetworkRun, ...]
    fold_models: str = "detector_folds"  # the fit's fold models, under benchmarks/results
    out: str | None = None  # the fitted file under benchmarks/results; None: the shipped preset

    @property
    def runs(self) -> tuple[NetworkRun, ...]:
        return self.mono + self.stereo


#: The mono recipe (since session 44): one network trained with frequency bands masked, on the
#: input planes of every frame (``--planes all``, how it was trained in session 43).
MONO = (NetworkRun("networks_mask", ("--planes", "all"), FOLDS + ("final",)),)
#: The stereo recipe of sessions 46-56: three seeds without augmentation, pooled; seeds 0 and 1's
#: fold networks on the planes of every frame, their finals and all of seed 2's on today's planes
#: (DETECTOR.md, "Session 47"). 0.39 s of temporal context.
STEREO_SHORT = (
    NetworkRun("networks", ("--augment", "", "--seed", "0", "--planes", "all"), FOLDS),
    NetworkRun("networks", ("--augment", "", "--seed", "0"), ("final",)),
    NetworkRun("networks_s1", ("--augment", "", "--seed", "1", "--planes", "all"), FOLDS),
    NetworkRun("networks_s1", ("--augment", "", "--seed", "1"), ("final",)),
    NetworkRun("networks_s2", ("--augment", "", "--seed", "2"), FOLDS + ("final",)),
)
#: The shipped stereo recipe since session 57 (measured in session 53, DETECTOR.md): the same
#: three seeds and planes as :data:`STEREO_SHORT`, with 1.5 s of temporal context
#: (``--dilations``): better on the held-out stereo mixes (+0.19 / +0.46 dB, 45 % fewer false
#: events) on one machine's paired comparison.
LONG = ("--dilations", "1,2,4,8,16,32")
STEREO_LONG = (
    NetworkRun("networks_long", ("--augment", "", "--seed", "0", "--planes", "all", *LONG), FOLDS),
    NetworkRun("networks_long", ("--augment", "", "--seed", "0", *LONG), ("final",)),
    NetworkRun("networks_s1_long", ("--augment", "", "--seed", "1", "--planes", "all", *LONG), FOLDS),
    NetworkRun("networks_s1_long", ("--augment", "", "--seed", "1", *LONG), ("final",)),
    NetworkRun("networks_s2_long", ("--augment", "", "--seed", "2", *LONG), FOLDS + ("final",)),
)
#: The shipped detector's recipe (since session 57): the mono network and the long stereo pool.
RECIPE = Recipe(MONO, STEREO_LONG)
#: Every recipe by name: the shipped one, and the one it replaced (sessions 46-56), whose fold
#: models and fitted file go beside the shipped ones, never over them.
RECIPES = {"shipped": RECIPE, "short": Recipe(MONO, STEREO_SHORT, "detector_folds_short", "detector_short.npz")}


def _dirs(runs: tuple[NetworkRun, ...], results: Path) -> str:
    seen: list[str] = []
    for r in runs:
        if r.out not in seen:
            seen.append(r.out)
    return ",".join(str(results / d) for d in seen)


def steps(results: Path = RESULTS, out: Path | None = None, force: bool = False,
          cache: Path | None = None, recipe: Recipe = RECIPE) -> list[tuple[str, list[str], bool]]:
    """The rebuild's steps in order: ``(name, command, done)``.

    Parameters
    ----------
    results : Path
        Where the networks and fold models go (``benchmarks/results``).
    out : Path, optional
        The fitted file to write; by default the recipe's (a candidate's under ``results``, so
        that it never replaces the shipped one) or, for the shipped recipe,
        ``train_detector.py``'s default, the package's preset.
    force : bool
        Count no step as done.
    cache : Path, optional
        ``train_detector.py --cache`` (its default ``.cache/detector``).
    recipe : Recipe
        The networks to train and attach (:data:`RECIPE`, the shipped one, by default).

    Returns
    -------
    list of (str, list of str, bool)
        A name, the command (``sys.executable`` first), and whether its outputs all exist. A
        network step not done lists only its missing folds.
    """
    py = sys.executable
    if out is None and recipe.out is not None:
        out = results / recipe.out
    cache_opt = ["--cache", str(cache)] if cache else []
    # never counted as done: the features stage itself skips the analyses its cache holds, so
    # running it again costs seconds once they are all there
    found = [("features", [py, str(SCRIPTS / "train_detector.py"), "--stage", "features", *cache_opt], False)]
    for r in recipe.runs:
        missing = [f for f in r.folds
                   if force or not (results / r.out / ("final.npz" if f == "final" else f"fold{f}.npz")).is_file()]
        cmd = [py, str(SCRIPTS / "train_network.py"), *r.options, "--out", str(results / r.out),
               "--folds", ",".join(missing or r.folds)]
        found.append((f"{r.out} {','.join(r.folds)}", cmd, not missing))
    fit = [py, str(SCRIPTS / "train_detector.py"), "--stage", "fit", "--models", "hgb", "--loco", "",
           "--network", _dirs(recipe.mono, results), "--stereo-network", _dirs(recipe.stereo, results),
           "--fold-models", str(results / recipe.fold_models), *cache_opt] + (["--out", str(out)] if out else [])
    found.append(("fit", fit, False))
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=RESULTS, help="networks and fold models (default %(default)s)")
    ap.add_argument("--out", type=Path, default=None, help="the fitted file to write (default: "
                    "train_detector.py's, src/cleantake/presets/detector.npz; with --recipe short, "
                    "detector_short.npz under --results)")
    ap.add_argument("--cache", type=Path, default=None, help="train_detector.py's analyses (default .cache/detector)")
    ap.add_argument("--dry-run", action="store_true", help="list the steps and which are done; run nothing")
    ap.add_argument("--force", action="store_true", help="train every network again, even those that exist (the features stage still reuses the "
                    "analyses in its --cache)")
    ap.add_argument("--recipe", choices=tuple(RECIPES), default="shipped",
                    help="the networks to train: the shipped detector's (default), or 'short', the one it "
                    "replaced in session 57 (0.39 s of context for stereo recordings; DETECTOR.md), whose fold "
                    "models go to detector_folds_short and fitted file to detector_short.npz under --results, never over "
                    "the shipped one unless --out says so")
    args = ap.parse_args(argv)
    plan = steps(args.results, args.out, args.force, args.cache, RECIPES[args.recipe])
    for name, cmd, done in plan:
        shown = " ".join(repr(c) if c == "" else c for c in cmd[1:])
        print(f"{'done' if done else 'to do'}: {name}: python {shown}", flush=True)
        if done or args.dry_run:
            continue
        rc = subprocess.call(cmd, cwd=ROOT)
        if rc:
            print(f"step {name!r} failed with exit code {rc}; the steps before it are kept, "
                  "run this script again to go on", file=sys.stderr)
            return rc
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
