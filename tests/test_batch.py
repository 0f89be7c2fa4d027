"""Batch processing on a real Dask LocalCluster (2 worker processes on loopback).

One cluster serves the whole module. Files are 2-3 s long so the module runs in seconds.
The per-file work is the real ``cleantake.files.clean_file``; fault-injection tests pass
their own per-file function (``clean_fn``) that wraps it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("distributed")
import cloudpickle  # noqa: E402  (installed with distributed)
import dask  # noqa: E402
from distributed import LocalCluster  # noqa: E402

import cleantake  # noqa: E402
from cleantake import batch as B  # noqa: E402
from cleantake.errors import ParameterError  # noqa: E402
from cleantake.files import clean_file  # noqa: E402

# Functions defined here must reach worker processes, which cannot import this test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

SR = 44100
# Dask starts its workers with one thread for numerical libraries; single-file references
# are made the same way (results of the method may differ by rounding with other counts).
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def clean_one(*args, **kwargs):
    """The single-file function (what ``cleantake clean`` runs)."""
    return clean_file(*args, **kwargs)


def _make_cleaner():
    return cleantake.Cleaner("any")


# ------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    with dask.config.set({"distributed.scheduler.allowed-failures": 1,
                          "distributed.scheduler.worker-saturation": 1.0}):
        c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                         dashboard_address=None, silence_logs=40,
                         scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
    yield c
    c.close()


@pytest.fixture(scope="module")
def cleaner():
    return _make_cleaner()


def _tone(seconds: float, channels: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    music = 0.2 * np.sin(2 * np.pi * (220 + 40 * seed) * t) + 0.01 * rng.standard_normal(t.size)
    burst = slice(int(0.9 * SR), int(1.05 * SR))  # a short broadband "knock"
    music[burst] += 0.1 * rng.standard_normal(burst.stop - burst.start)
    out = np.stack([music * (0.8 + 0.2 * c) for c in range(channels)], axis=1)
    return np.clip(out, -0.9, 0.9)


def _make_tree(root: Path) -> dict[str, Path]:
    """Good files at the top and in nested folders, one corrupt file, and things to ignore."""
    files = {
        "a.wav": (2.0, 1, "PCM_16"),
        "b.flac": (2.5, 2, "PCM_24"),
        "sub/c.wav": (3.0, 2, "PCM_16"),
        "sub/deeper/d.flac": (2.0, 1, "PCM_16"),
    }
    made = {}
    for i, (rel, (secs, ch, subtype)) in enumerate(files.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), _tone(secs, ch, i), SR, subtype=subtype)
        made[rel] = path
    (root / "sub" / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + os.urandom(200))
    made["sub/broken.wav"] = root / "sub" / "broken.wav"
    (root / ".hidden.wav").write_bytes((root / "a.wav").read_bytes())
    (root / ".cache").mkdir()
    (root / ".cache" / "x.wav").write_bytes((root / "a.wav").read_bytes())
    (root / "notes.txt").write_text("not audio")
    return made


GOOD = ["a.wav", "b.flac", "sub/c.wav", "sub/deeper/d.flac"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Outputs of single-file ``cleantake clean`` (cleaned, removed, labels) for the good files.

    Run as the command line in a separate process with one numerical thread, like a Dask
    worker. ``_make_tree`` writes the same bytes every time, so these are the references for
    every test's tree.
    """
    root = tmp_path_factory.mktemp("reference")
    _make_tree(root / "in")
    calls = []
    for rel in GOOD:
        stem, ext = Path(rel).with_suffix(""), Path(rel).suffix
        (root / "out" / rel).parent.mkdir(parents=True, exist_ok=True)
        calls.append(["clean", str(root / "in" / rel), "-o", str(root / "out" / rel),
                      "--removed", str(root / "out" / f"{stem}_removed{ext}"),
                      "--labels", str(root / "out" / f"{stem}.txt"), "-q"])
    code = ("import json, sys\nfrom cleantake.cli import main\n"
            "sys.exit(max(main(a) for a in json.loads(sys.argv[1])))")
    src = str(Path(cleantake.__file__).resolve().parents[1])
    env = {**os.environ, **ONE_THREAD,
           "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code, json.dumps(calls)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out: dict[str, bytes] = {}
    for rel in GOOD:
        stem, ext = Path(rel).with_suffix(""), Path(rel).suffix
        for out_rel in (rel, f"{stem}_removed{ext}", f"{stem}.txt"):
            out[out_rel] = (root / "out" / out_rel).read_bytes()
    return out


@pytest.fixture
def tree(tmp_path):
    in_dir = tmp_path / "in"
    in_dir.mkdir()
    made = _make_tree(in_dir)
    return in_dir, tmp_path / "out", made


def _run(in_dir, out_dir, cluster, cleaner, **kw):
    kw.setdefault("progress", False)
    return B.run_batch(in_dir, out_dir, cleaner=cleaner, scheduler=cluster.scheduler_address, **kw)


def _status(summary):
    return {r["input"]: r["status"] for r in summary["files"]}


# ------------------------------------------------------------------------------------------
# discovery and planning (no cluster)
# ------------------------------------------------------------------------------------------
def test_discovery_skips_hidden_non_audio_and_nested_output(tree):
    in_dir, _, _ = tree
    nested_out = in_dir / "cleaned"
    nested_out.mkdir()
    sf.write(str(nested_out / "a.wav"), np.zeros(100), SR)
    found = B.find_audio_files(in_dir, exclude=nested_out)
    rels = sorted(p.relative_to(in_dir).as_posix() for p in found)
    assert rels == sorted(GOOD + ["sub/broken.wav"])
    assert [p.name for p in B.find_audio_files(in_dir, pattern="*.FLAC")] == ["b.flac", "d.flac"]
    assert [p.relative_to(in_dir).as_posix() for p in B.find_audio_files(in_dir, pattern="sub/*.wav")] \
        == ["sub/broken.wav", "sub/c.wav"]  # '*' crosses '/' only in path patterns
    with pytest.raises(ParameterError, match="not a folder"):
        B.find_audio_files(in_dir / "a.wav")


def test_plan_templates_and_collisions(tree):
    in_dir, out_dir, _ = tree
    elsewhere = in_dir.parent / "elsewhere.wav"
    sf.write(str(elsewhere), np.zeros(100), SR)
    (in_dir / "sub" / "link.wav").symlink_to(elsewhere)  # a link to a file outside IN_DIR
    inputs = B.find_audio_files(in_dir)
    linked = [p for p in B.plan_outputs(in_dir, out_dir, inputs) if p["rel"].name == "link.wav"]
    assert linked[0]["cleaned"] == out_dir.resolve() / "sub" / "link.wav"
    (in_dir / "sub" / "link.wav").unlink()
    inputs = B.find_audio_files(in_dir)
    plans = {p["rel"].as_posix(): p for p in
             B.plan_outputs(in_dir, out_dir, inputs, removed=True, labels=True)}
    c = plans["sub/deeper/d.flac"]
    assert c["cleaned"] == out_dir.resolve() / "sub/deeper/d.flac"
    assert c["removed"] == out_dir.resolve() / "sub/deeper/d_removed.flac"
    assert c["labels"] == out_dir.resolve() / "sub/deeper/d.txt"
    flat = B.plan_outputs(in_dir, out_dir, inputs, filename="{stem}_clean.flac")
    assert {p["cleaned"].name for p in flat} == {"a_clean.flac", "b_clean.flac", "c_clean.flac",
                                                 "d_clean.flac", "broken_clean.flac"}
    # two inputs, one output name
    sf.write(str(in_dir / "a.flac"), np.zeros(100), SR)
    with pytest.raises(ParameterError, match="both write"):
        B.plan_outputs(in_dir, out_dir, B.find_audio_files(in_dir), filename="{relpath}/{stem}.wav")
    for bad, msg in [("{relpath}/{nope}.wav", "unknown field"), ("../{stem}.wav", "inside OUT_DIR"),
                     ("/abs/{stem}.wav", "relative"), ("{relpath}/{stem}.txt", "extension")]:
        with pytest.raises(ParameterError, match=msg):
            B.plan_outputs(in_dir, out_dir, inputs, filename=bad)
    # an output that is an input: OUT_DIR == a subfolder that mirrors onto the inputs
    with pytest.raises(ParameterError, match="input file"):
        B.plan_outputs(in_dir, in_dir / "sub", inputs, filename="{name}")


def test_bad_arguments_fail_before_any_work(tree, cleaner):
    in_dir, out_dir, _ = tree
    with pytest.raises(ParameterError, match="different folder"):
        B.run_batch(in_dir, in_dir, cleaner=cleaner, progress=False)
    with pytest.raises(ParameterError, match="jobs"):
        B.run_batch(in_dir, out_dir, cleaner=cleaner, jobs=0, progress=False)
    with pytest.raises(ParameterError, match="does not exist"):
        B.run_batch(in_dir / "missing", out_dir, cleaner=cleaner, progress=False)
    assert not out_dir.exists()


def test_fingerprint_changes_with_settings(cleaner):
    a = B.settings_fingerprint(cleaner)
    assert a["hash"] == B.settings_fingerprint(cleaner)["hash"]
    assert a["hash"] != B.settings_fingerprint(cleaner, subtype="PCM_24")["hash"]
    if hasattr(cleaner, "with_settings"):
        assert a["hash"] != B.settings_fingerprint(cleaner.with_settings(strength=0.5))["hash"]


def test_fingerprint_holds_the_like_model(tree):
    from cleantake.files import learn_like_file

    in_dir, _, made = tree
    c = cleantake.Cleaner("none")
    m1 = learn_like_file(made["a.wav"], cleaner=c, like=[(0.9, 1.05)])
    m2 = learn_like_file(made["sub/c.wav"], cleaner=c, like=[(0.9, 1.05)])
    plain = B.settings_fingerprint(c)
    assert plain["hash"] == B.settings_fingerprint(c, like_model=None)["hash"] and "like_model" not in plain
    h1 = B.settings_fingerprint(c, like_model=m1)["hash"]
    assert h1 == B.settings_fingerprint(c, like_model=learn_like_file(made["a.wav"], cleaner=c,
                                                                      like=[(0.9, 1.05)]))["hash"]
    assert len({plain["hash"], h1, B.settings_fingerprint(c, like_model=m2)["hash"]}) == 3
    # another method cannot use it: refused before anything is created
    out_dir = in_dir.parent / "never"
    with pytest.raises(ParameterError, match=r"like_model= \(--like-model\) works with the proposed method only"):
        B.run_batch(in_dir, out_dir, cleaner=cleantake.Cleaner("none", method="nmf"), like_model=m1)
    assert not out_dir.exists()


# ------------------------------------------------------------------------------------------
# on the cluster
# ------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_batch_with_a_like_model_finds_what_clean_finds_in_every_file(tree, cluster):
    from cleantake.files import learn_like_file

    in_dir, out_dir, made = tree
    c = cleantake.Cleaner("none")
    model = learn_like_file(made["a.wav"], cleaner=c, like=[(0.9, 1.05)])
    summary = _run(in_dir, out_dir, cluster, c, labels=True, like_model=model)
    assert _status(summary) == {**{g: "done" for g in GOOD}, "sub/broken.wav": "failed"}
    for rel in GOOD:
        single = clean_file(made[rel], out_dir.parent / "single.wav", cleaner=c, like_model=model, overwrite=True,
                            workers=1)
        assert any(e.start_s < 1.0 < e.end_s for e in single.events), rel  # every file's knock
        row = next(r for r in summary["files"] if r["input"] == rel)
        assert row["n_events"] == len(single.events), rel
    again = _run(in_dir, out_dir, cluster, c, labels=True, like_model=model)
    assert again["counts"]["skipped"] == 4  # the same model: nothing to redo
    other = learn_like_file(made["sub/c.wav"], cleaner=c, like=[(0.9, 1.05)])
    changed = _run(in_dir, out_dir, cluster, c, labels=True, like_model=other)
    # another model: the outputs are another run's, kept unless --overwrite
    assert changed["counts"]["skipped"] == 0 and changed["counts"]["failed"] == 5
    assert sum("different settings" in r["reason"] for r in changed["files"]) == 4


@pytest.mark.slow
def test_batch_equals_single_file_and_reports_corrupt(tree, cluster, cleaner, reference):
    in_dir, out_dir, made = tree
    summary = _run(in_dir, out_dir, cluster, cleaner, removed=True, labels=True)
    st = _status(summary)
    assert st == {**{g: "done" for g in GOOD}, "sub/broken.wav": "failed"}
    assert summary["counts"] == {"done": 4, "skipped": 0, "failed": 1, "pending": 0, "total": 5}
    broken = next(r for r in summary["files"] if r["status"] == "failed")
    assert "broken.wav" in broken["reason"] or "read" in broken["reason"].lower()
    assert summary["cluster"]["scheduler"].startswith("tcp://127.0.0.1:")
    assert summary["cluster"]["workers"] == 2
    # both workers took part (files are spread, not run in one process)
    assert len({r["worker"] for r in summary["files"] if r["status"] == "done"}) == 2
    on_disk = json.loads((out_dir / B.SUMMARY_NAME).read_text())
    assert on_disk["counts"] == summary["counts"]
    # bit-for-bit equal to the single-file function run here, in this process
    ref_bytes = reference
    for rel in GOOD:
        stem, ext = Path(rel).with_suffix(""), Path(rel).suffix
        for out_rel in (rel, f"{stem}_removed{ext}", f"{stem}.txt"):
            assert (out_dir / out_rel).read_bytes() == ref_bytes[out_rel], out_rel
        row = next(r for r in summary["files"] if r["input"] == rel)
        assert row["duration_s"] == pytest.approx(sf.info(str(made[rel])).duration)
        assert row["n_events"] == len(ref_bytes[f"{stem}.txt"].decode().splitlines())
    # no temporary files left behind; nothing written for hidden or non-audio files
    leftovers = [p for p in out_dir.rglob("*") if B.PARTIAL_MARK in p.name]
    assert leftovers == []
    assert not (out_dir / ".hidden.wav").exists() and not (out_dir / "notes.txt").exists()
    assert not (out_dir / "sub" / "broken.wav").exists()


@pytest.mark.slow
def test_second_run_skips_everything_and_settings_change_is_protected(tree, cluster, cleaner):
    in_dir, out_dir, _ = tree
    (in_dir / "sub" / "broken.wav").unlink()
    first = _run(in_dir, out_dir, cluster, cleaner)
    assert first["counts"]["done"] == 4
    mtimes = {p: p.stat().st_mtime_ns for p in out_dir.rglob("*.*") if p.suffix in (".wav", ".flac")}
    second = _run(in_dir, out_dir, cluster, cleaner)
    assert second["counts"] == {"done": 0, "skipped": 4, "failed": 0, "pending": 0, "total": 4}
    assert second["cluster"]["workers"] is None  # nothing to do: no cluster contacted
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    # other settings: existing outputs are not replaced without --overwrite ...
    other = _run(in_dir, out_dir, cluster, cleaner, subtype="PCM_24")
    assert other["counts"]["failed"] == 4
    assert all("different settings" in r["reason"] for r in other["files"])
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    # ... and are with it
    forced = _run(in_dir, out_dir, cluster, cleaner, subtype="PCM_24", overwrite=True)
    assert forced["counts"]["done"] == 4
    assert sf.info(str(out_dir / "a.wav")).subtype == "PCM_24"
    # a changed input is reprocessed only with --overwrite, too
    sf.write(str(in_dir / "a.wav"), _tone(2.2, 1, 9), SR)
    changed = _run(in_dir, out_dir, cluster, cleaner, subtype="PCM_24")
    assert _status(changed)["a.wav"] == "failed" and "input file changed" in changed["files"][0]["reason"]
    assert changed["counts"]["skipped"] == 3


@pytest.mark.slow
def test_moved_out_dir_still_skips_and_new_outputs_never_clobber(tree, cluster, cleaner):
    in_dir, out_dir, _ = tree
    (in_dir / "sub" / "broken.wav").unlink()
    assert _run(in_dir, out_dir, cluster, cleaner)["counts"]["done"] == 4
    moved = out_dir.parent / "moved"
    out_dir.rename(moved)
    assert _run(in_dir, moved, cluster, cleaner)["counts"]["skipped"] == 4
    # asking for labels later reprocesses, but never over a file cleantake did not write
    (moved / "a.txt").write_text("my own notes")
    with_labels = _run(in_dir, moved, cluster, cleaner, labels=True)
    st = _status(with_labels)
    assert st == {"a.wav": "failed", "b.flac": "done", "sub/c.wav": "done", "sub/deeper/d.flac": "done"}
    assert "a.txt" in with_labels["files"][0]["reason"]
    assert (moved / "a.txt").read_text() == "my own notes"
    assert (moved / "sub" / "c.txt").exists()


def _warn_about_output(input_path, output_path, **kw):
    warnings.warn(f"something odd in {output_path}", UserWarning)
    return clean_one(input_path, output_path, **kw)


@pytest.mark.slow
def test_foreign_output_is_never_replaced_and_warnings_are_kept(tree, cluster, cleaner):
    in_dir, out_dir, _ = tree
    (out_dir / "sub").mkdir(parents=True)
    (out_dir / "sub" / "c.wav").write_bytes(b"the user's own file")
    summary = _run(in_dir, out_dir, cluster, cleaner, clean_fn=_warn_about_output)
    a = next(r for r in summary["files"] if r["input"] == "a.wav")
    assert a["warnings"] == [f"something odd in {(out_dir / 'a.wav').resolve()}"]  # real name
    row = next(r for r in summary["files"] if r["input"] == "sub/c.wav")
    assert row["status"] == "failed" and "--overwrite" in row["reason"]
    assert (out_dir / "sub" / "c.wav").read_bytes() == b"the user's own file"
    assert _status(summary)["a.wav"] == "done"


def _fail_some(input_path, output_path, **kw):
    """Per-file function of an interrupted run: files named c.* or d.* never finish."""
    if Path(input_path).stem in ("c", "d"):
        Path(output_path).write_bytes(b"half written")  # a partial output, as after a kill
        raise OSError("simulated crash in the middle of writing")
    return clean_one(input_path, output_path, **kw)


@pytest.mark.slow
def test_interrupted_run_resumes_with_only_missing_files(tree, cluster, cleaner, reference):
    in_dir, out_dir, made = tree
    (in_dir / "sub" / "broken.wav").unlink()
    first = _run(in_dir, out_dir, cluster, cleaner, clean_fn=_fail_some)
    assert _status(first) == {"a.wav": "done", "b.flac": "done",
                              "sub/c.wav": "failed", "sub/deeper/d.flac": "failed"}
    assert "simulated crash" in next(r for r in first["files"] if r["input"] == "sub/c.wav")["reason"]
    assert not (out_dir / "sub" / "c.wav").exists()  # the partial file never took the real name
    # a run killed after writing the record but before renaming its outputs into place
    rec = json.loads((out_dir / B.RECORDS_DIR / "records" / "b.flac.json").read_text())
    (out_dir / "b.flac").unlink()
    # and a stray partial from a killed worker
    (out_dir / "sub").mkdir(exist_ok=True)
    stray = out_dir / "sub" / f".c{B.PARTIAL_MARK}deadbeef.wav"
    stray.write_bytes(b"x")
    stray_writer_tmp = out_dir / "sub" / f"..c{B.PARTIAL_MARK}deadbeef.wav.k3j4.part"
    stray_writer_tmp.write_bytes(b"x")
    unrelated = out_dir / "sub" / ".c.wav.notes"
    unrelated.write_bytes(b"keep me")
    second = _run(in_dir, out_dir, cluster, cleaner)
    assert _status(second) == {"a.wav": "skipped", "b.flac": "done",
                               "sub/c.wav": "done", "sub/deeper/d.flac": "done"}
    assert not stray.exists() and not stray_writer_tmp.exists()
    assert unrelated.read_bytes() == b"keep me"
    assert rec["outputs"]["cleaned"]["path"] == "b.flac"  # relative: OUT_DIR may move
    for rel in GOOD:
        assert (out_dir / rel).read_bytes() == reference[rel], rel
    # a record whose output was later truncated is not complete
    with open(out_dir / "a.wav", "r+b") as fh:
        fh.truncate(100)
    third = _run(in_dir, out_dir, cluster, cleaner)
    assert _status(third)["a.wav"] == "done" and third["counts"]["skipped"] == 3


def _die_once_or_always(input_path, output_path, **kw):
    """Kills its worker process: c.* once (retried and done), d.* every time (fails)."""
    stem = Path(input_path).stem
    marker = Path(output_path).parent.parent / f"died-{stem}" if stem == "c" else None
    if stem == "d" or (marker is not None and not marker.exists()):
        if marker is not None:
            marker.write_text("x")
        os._exit(1)
    return clean_one(input_path, output_path, **kw)


@pytest.mark.slow
def test_dead_worker_is_retried_once(tree, cluster, cleaner):
    # Two runs, so that the always-dying file cannot take the retried one down with it (a
    # task queued on a worker that dies counts as suspicious too: timing-dependent).
    in_dir, out_dir, _ = tree
    (in_dir / "sub" / "broken.wav").unlink()
    d_file = in_dir / "sub" / "deeper" / "d.flac"
    d_bytes = d_file.read_bytes()
    d_file.unlink()
    summary = _run(in_dir, out_dir, cluster, cleaner, clean_fn=_die_once_or_always)
    assert _status(summary) == {"a.wav": "done", "b.flac": "done", "sub/c.wav": "done"}
    assert (out_dir / "died-c").exists()  # c really killed a worker once
    cluster.wait_for_workers(2, timeout=60)
    d_file.write_bytes(d_bytes)
    summary = _run(in_dir, out_dir, cluster, cleaner, clean_fn=_die_once_or_always)
    st = _status(summary)
    assert st["sub/deeper/d.flac"] == "failed" and st["sub/c.wav"] == "skipped"
    assert "KilledWorker" in next(r for r in summary["files"] if r["input"] == "sub/deeper/d.flac")["reason"]
    cluster.wait_for_workers(2, timeout=60)


@pytest.mark.slow
def test_cli_local_cluster_exit_codes(tree, capsys):
    """The subcommand end to end with its own LocalCluster (-j 2)."""
    from cleantake.cli import build_parser

    in_dir, out_dir, _ = tree
    parser = build_parser()
    args = parser.parse_args(["batch", str(in_dir), "-o", str(out_dir), "-j", "1", "--labels"])
    assert args.func(args) == 1  # the corrupt file failed
    out = capsys.readouterr()
    assert "4 done, 0 skipped, 1 failed" in out.out
    assert "sub/broken.wav" in out.err
    assert (out_dir / "sub" / "deeper" / "d.txt").exists()
    (in_dir / "sub" / "broken.wav").unlink()
    args = parser.parse_args(["batch", str(in_dir), "-o", str(out_dir), "-j", "1", "--labels", "-q"])
    assert args.func(args) == 0
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert json.loads((out_dir / B.SUMMARY_NAME).read_text())["counts"]["skipped"] == 4


@pytest.mark.slow
def test_progress_bars_over_files_and_audio_seconds(tree, cluster, cleaner, capfd):
    in_dir, out_dir, _ = tree
    summary = _run(in_dir, out_dir, cluster, cleaner, progress=True)
    err = capfd.readouterr().err
    assert summary["counts"]["done"] == 4
    total_s = 2.0 + 2.5 + 3.0 + 2.0  # header durations of the good files (the corrupt one has none)
    assert "files: 100%" in err and "5/5" in err
    assert "audio: 100%" in err and f"{total_s:.0f}/{total_s:.0f} s" in err
    quiet = tree[0].parent / "out2"
    _run(in_dir, quiet, cluster, cleaner, progress=False)
    assert "files:" not in capfd.readouterr().err


@pytest.mark.slow
def test_plain_progress_lines_when_stderr_is_not_a_terminal(tree, cluster, cleaner, capfd, monkeypatch):
    import cleantake.progress

    monkeypatch.setattr(cleantake.progress, "LINE_EVERY_S", 0.0)  # every update, not every 10 s
    in_dir, out_dir, _ = tree
    _run(in_dir, out_dir, cluster, cleaner, progress=None)  # pytest's stderr is not a terminal
    lines = [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("cleantake: 5 files:")]
    assert lines and all(re.search(r"\d+% \(\d+:\d\d elapsed, (~\d+:\d\d left|time left unknown)\)$", ln)
                         for ln in lines), lines


class _CountingCleaner:
    """Appends a line to a file every time it is unpickled (i.e. received by a process)."""

    def __init__(self, inner, log: str) -> None:
        self.inner = inner
        self.log = log

    def __getstate__(self):
        return {"inner": self.inner, "log": self.log}

    def __setstate__(self, state):
        self.__dict__.update(state)
        with open(state["log"], "a") as fh:
            fh.write(f"{os.getpid()}\n")


def _clean_with_inner(input_path, output_path, *, cleaner, **kw):
    return clean_one(input_path, output_path, cleaner=cleaner.inner, **kw)


@pytest.mark.slow
def test_cleaner_is_sent_once_per_worker_and_nested_out_dir_is_not_searched(tree, cluster, cleaner):
    in_dir, _, _ = tree
    (in_dir / "sub" / "broken.wav").unlink()
    for i in range(2):  # 6 files for 2 workers
        sf.write(str(in_dir / f"extra{i}.wav"), _tone(2.0, 1, 10 + i), SR)
    log = in_dir.parent / "unpickled.log"
    out_dir = in_dir / "cleaned"  # inside IN_DIR
    counting = _CountingCleaner(cleaner, str(log))
    summary = _run(in_dir, out_dir, cluster, counting, clean_fn=_clean_with_inner)
    assert summary["counts"]["done"] == 6
    pids = log.read_text().split()
    assert 1 <= len(pids) <= 2 and len(set(pids)) == len(pids)  # once per worker, not per file
    again = _run(in_dir, out_dir, cluster, counting, clean_fn=_clean_with_inner)
    assert again["counts"] == {"done": 0, "skipped": 6, "failed": 0, "pending": 0, "total": 6}


_KILLED_CLIENT = r"""
import sys, time
import cleantake
from cleantake.batch import run_batch
from cleantake.files import clean_file

def slow_clean_file(input_path, output_path, **kw):  # the real work, a little slower
    time.sleep(0.3)
    return clean_file(input_path, output_path, **kw)

if __name__ == "__main__":
    run_batch(sys.argv[1], sys.argv[2], cleaner=cleantake.Cleaner("any"), scheduler=sys.argv[3],
              clean_fn=slow_clean_file, progress=False)
"""


@pytest.mark.slow
def test_run_killed_with_sigkill_resumes(tree, cluster, cleaner, reference):
    """A real ``kill -9`` of the submitting process mid-run; the same command then finishes."""
    import time

    in_dir, out_dir, _ = tree
    (in_dir / "more").mkdir()
    for i in range(8):
        sf.write(str(in_dir / "more" / f"t{i}.wav"), _tone(2.0, 1, 20 + i), SR)
    total_good = len(GOOD) + 8
    records = out_dir / B.RECORDS_DIR / "records"
    src = str(Path(cleantake.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    script = in_dir.parent / "killed_client.py"
    script.write_text(_KILLED_CLIENT)
    proc = subprocess.Popen([sys.executable, str(script), str(in_dir), str(out_dir),
                             cluster.scheduler_address], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if records.is_dir() and len(list(records.rglob("*.json"))) >= 2:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the batch finished before it could be killed"
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    n_before = len(list(records.rglob("*.json")))
    assert 2 <= n_before < total_good
    # every output under its real name is claimed by a record (tasks may still be running,
    # since the workers outlive the killed client, but they write the record first)
    visible = [p for p in out_dir.rglob("*.wav") if not p.name.startswith(".")]
    for p in visible:
        assert (records / (p.relative_to(out_dir).as_posix() + ".json")).is_file(), p
    summary = _run(in_dir, out_dir, cluster, cleaner)
    st = _status(summary)
    assert st.pop("sub/broken.wav") == "failed"
    assert set(st.values()) <= {"done", "skipped"} and len(st) == total_good
    assert summary["counts"]["skipped"] >= 2 and summary["counts"]["done"] >= 1
    for rel in GOOD:
        assert (out_dir / rel).read_bytes() == reference[rel], rel
    again = _run(in_dir, out_dir, cluster, cleaner)
    assert again["counts"]["skipped"] == total_good


@pytest.mark.slow
def test_unwritable_out_dir_and_vanished_input_are_reported(tree, cluster, cleaner, monkeypatch):
    from cleantake.errors import AudioWriteError

    in_dir, out_dir, _ = tree
    blocker = in_dir.parent / "a_file"
    blocker.write_text("x")
    with pytest.raises(AudioWriteError, match="OUT_DIR"):
        _run(in_dir, blocker / "out", cluster, cleaner)  # its parent is a file
    # an input that disappears after discovery fails alone, as a read error
    real_find = B.find_audio_files

    def find_then_delete(*a, **k):
        found = real_find(*a, **k)
        (in_dir / "b.flac").unlink()
        return found

    monkeypatch.setattr(B.run, "find_audio_files", find_then_delete)  # as run_batch looks it up
    summary = _run(in_dir, out_dir, cluster, cleaner)
    b = next(r for r in summary["files"] if r["input"] == "b.flac")
    assert b["status"] == "failed" and b["reason"].startswith("AudioReadError")
    assert _status(summary)["a.wav"] == "done"


# ------------------------------------------------------------------------------------------
# HTML reports
# ------------------------------------------------------------------------------------------
def test_report_names_are_unique_and_readable():
    names = {B.report_name_for(r) for r in ("x/take.wav", "y/take.wav", "x__take.wav", "take.wav")}
    assert len(names) == 4
    assert all(n.endswith(".html") and "/" not in n for n in names)
    assert B.report_name_for("2019/x/take.wav").startswith("2019__x__take.wav-")
    assert B.report_name_for("x/take.wav") == B.report_name_for(Path("x") / "take.wav")


def _index_links(index: Path) -> dict[str, str]:
    """``{link text: href}`` of the index page's links, parsed as HTML."""
    from html.parser import HTMLParser

    links: dict[str, str] = {}

    class P(HTMLParser):
        href: str | None = None

        def handle_starttag(self, tag, attrs):
            if tag == "a":
                self.href = dict(attrs).get("href")

        def handle_data(self, data):
            if self.href is not None:
                links[data] = self.href
                self.href = None

    P().feed(index.read_text(encoding="utf-8"))
    return links


@pytest.mark.slow
def test_batch_report_one_page_per_file_and_index(tmp_path, cluster, cleaner):
    """Same base name in two folders → two reports; the index links both; failures listed."""
    in_dir, out_dir, rep = tmp_path / "in", tmp_path / "out", tmp_path / "rep"
    sr = 16000
    t = np.arange(int(1.5 * sr)) / sr
    for i, rel in enumerate(("x/take.wav", "y/take.wav")):
        (in_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        audio = 0.2 * np.sin(2 * np.pi * (220 + 110 * i) * t)
        audio[int(0.6 * sr):int(0.7 * sr)] += 0.2 * np.random.default_rng(i).standard_normal(int(0.1 * sr))
        sf.write(str(in_dir / rel), audio, sr, subtype="PCM_16")
    (in_dir / "y" / "bad.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + os.urandom(100))
    summary = _run(in_dir, out_dir, cluster, cleaner, report_dir=rep)
    assert _status(summary) == {"x/take.wav": "done", "y/take.wav": "done", "y/bad.wav": "failed"}
    rows = {r["input"]: r for r in summary["files"]}
    reports = {rel: Path(rows[rel]["report"]) for rel in ("x/take.wav", "y/take.wav")}
    assert len(set(reports.values())) == 2
    for path in reports.values():
        assert path.parent == rep.resolve() and path.is_file()
        assert "<html" in path.read_text(encoding="utf-8")[:500].lower()
    assert "report" not in rows["y/bad.wav"]
    index = rep / "index.html"
    assert summary["report_index"] == str(index.resolve())
    on_disk = json.loads((out_dir / B.SUMMARY_NAME).read_text())
    assert {r["input"]: r.get("report") for r in on_disk["files"]} == {
        "x/take.wav": str(reports["x/take.wav"]), "y/take.wav": str(reports["y/take.wav"]), "y/bad.wav": None}
    links = _index_links(index)
    assert set(links) == {"x/take.wav", "y/take.wav"}  # the failed file has no report to link
    for rel, href in links.items():
        assert (rep / href).resolve() == reports[rel]
    text = index.read_text(encoding="utf-8")
    for rel in ("x/take.wav", "y/take.wav"):  # each file's row shows its event count
        row_html = text[text.index(f">{rel}</a>"):].split("</tr>")[0]
        assert f"<td>{rows[rel]['n_events']}</td>" in row_html
    bad_row = text[text.index("y/bad.wav"):].split("</tr>")[0]
    assert "failed" in bad_row and "AudioReadError" in bad_row
    # a second run skips everything and its index still links the earlier reports
    again = _run(in_dir, out_dir, cluster, cleaner, report_dir=rep)
    assert _status(again)["x/take.wav"] == "skipped"
    links2 = _index_links(index)
    assert links2 == links
    again_rows = {r["input"]: r for r in again["files"]}
    assert again_rows["y/take.wav"]["n_events"] == rows["y/take.wav"]["n_events"]
    assert f"<td>{rows['x/take.wav']['n_events']}</td>" in \
        index.read_text(encoding="utf-8").split(">x/take.wav</a>")[1].split("</tr>")[0]


def test_default_clean_fn_cleans_blocks_one_at_a_time():
    from cleantake.batch import run as batch_run

    plugin = batch_run._plugin_class()(None, None)
    plugin.setup(None)
    assert plugin.clean_fn.func is clean_file and plugin.clean_fn.keywords == {"workers": 1}
