"""scripts/rebuild_detector.py: the shipped detector's rebuild as one resumable command (the
rebuild itself takes hours and is recorded in benchmarks/DETECTOR.md, not run here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]


def _networks_written(plan: list, results: Path) -> dict[str, list[str]]:
    """Directory -> the networks (fold names) the plan's network steps write there."""
    out: dict[str, list[str]] = {}
    for name, cmd, _done in plan:
        if "train_network.py" not in cmd[1]:
            continue
        d = Path(cmd[cmd.index("--out") + 1])
        assert d.parent == results
        out.setdefault(d.name, []).extend(cmd[cmd.index("--folds") + 1].split(","))
    return out


@pytest.mark.parametrize("name", ["shipped", "short"])
def test_every_directory_gets_each_fold_and_a_final_once_and_the_fit_reads_them_all(tmp_path, name):
    rb = load_script("scripts/rebuild_detector.py")
    recipe = rb.RECIPES[name]
    plan = rb.steps(tmp_path, recipe=recipe)
    assert [n for n, _, _ in plan][0] == "features" and plan[-1][0] == "fit"
    written = _networks_written(plan, tmp_path)
    for d, folds in written.items():
        assert sorted(folds) == ["0", "1", "2", "3", "4", "final"], d
    fit = plan[-1][1]
    mono = fit[fit.index("--network") + 1].split(",")
    stereo = fit[fit.index("--stereo-network") + 1].split(",")
    assert {Path(p).name for p in mono + stereo} == set(written)
    assert len(stereo) == 3 and len(mono) == 1  # three stereo seeds pooled, one mono network
    assert fit[fit.index("--loco") + 1] == ""  # no leave-one-class-out runs in the shipped fit
    assert not any(done for _, _, done in plan)
    # each recipe's fold models in their own directory: a candidate never replaces the shipped one's
    assert Path(fit[fit.index("--fold-models") + 1]) == tmp_path / recipe.fold_models
    assert len({r.fold_models for r in rb.RECIPES.values()}) == len(rb.RECIPES)
    # only the shipped recipe writes the package's preset (train_detector.py's default, no --out)
    assert ("--out" not in fit) == (name == "shipped")
    if name != "shipped":
        assert Path(fit[fit.index("--out") + 1]).parent == tmp_path
    # the recipe replaced in session 57 differs from the shipped one in its stereo networks'
    # context alone: the same options and folds once the shipped runs' --dilations are dropped
    for run in recipe.stereo:
        assert ("--dilations" in run.options) == (name == "shipped")
    assert recipe.mono == rb.RECIPE.mono

    def plain(runs):
        out = []
        for r in runs:
            o = list(r.options)
            if "--dilations" in o:
                del o[o.index("--dilations"):o.index("--dilations") + 2]
            out.append((tuple(o), r.folds))
        return out
    assert plain(recipe.stereo) == plain(rb.RECIPE.stereo)


def _step_for(plan: list, d: Path) -> tuple:
    return next(s for s in plan if "--out" in s[1] and Path(s[1][s[1].index("--out") + 1]) == d)


def test_a_rebuild_cut_short_goes_on_with_only_the_missing_networks(tmp_path):
    rb = load_script("scripts/rebuild_detector.py")
    first = rb.RECIPE.runs[0]
    d = tmp_path / first.out
    d.mkdir()
    for f in first.folds[:2]:
        (d / f"fold{f}.npz").write_bytes(b"")
    plan = rb.steps(tmp_path)
    step = _step_for(plan, d)
    assert step[2] is False
    assert step[1][step[1].index("--folds") + 1].split(",") == list(first.folds[2:])
    for f in first.folds[2:]:
        (d / ("final.npz" if f == "final" else f"fold{f}.npz")).write_bytes(b"")
    done = _step_for(rb.steps(tmp_path), d)
    assert done[2] is True
    again = _step_for(rb.steps(tmp_path, force=True), d)
    assert again[2] is False and again[1][again[1].index("--folds") + 1].split(",") == list(first.folds)


def test_dry_run_lists_the_steps_and_runs_nothing(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "rebuild_detector.py"), "--dry-run",
                        "--results", str(tmp_path), "--out", str(tmp_path / "detector.npz")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("to do: features") and lines[-1].startswith("to do: fit")
    assert "--stereo-network" in lines[-1] and "--loco ''" in lines[-1]
    assert list(tmp_path.iterdir()) == []


def test_a_failing_step_stops_the_rebuild_with_its_exit_code_and_says_how_to_go_on(tmp_path, monkeypatch, capsys):
    rb = load_script("scripts/rebuild_detector.py")
    calls = []

    def fail(cmd, cwd=None):
        calls.append(cmd)
        return 3

    monkeypatch.setattr(rb.subprocess, "call", fail)
    assert rb.main(["--results", str(tmp_path), "--out", str(tmp_path / "detector.npz")]) == 3
    assert len(calls) == 1 and "--stage" in calls[0] and "features" in calls[0]  # nothing after the failure
    err = capsys.readouterr().err
    assert "'features' failed with exit code 3" in err and "run this script again" in err
