"""benchmarks/cv.py: the cross-validated yardstick (issue 15) on a tiny selection of the corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import load_script

from cleantake import corpus as C
from cleantake import peers

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
pytestmark = [pytest.mark.corpus,
              pytest.mark.skipif(not (CORPUS / "metadata.csv").is_file(), reason=f"corpus absent at {CORPUS}")]


def _cv():
    return load_script("benchmarks/cv.py")


def test_fold_dictionary_never_hears_the_fold():
    folds = C.assign_folds(CORPUS)
    core = [f for f in C.corpus_files(CORPUS) if f.kind == "interference" and f.label in C.CORE_CLASSES]
    for k in range(5):
        files = C.fold_training_files(CORPUS, k)
        used = {p for ps in files.values() for p in ps}
        assert all(folds[p] != k for p in used)
        # and it hears everything else of the core classes, train/ and eval/ alike
        assert used == {f.path for f in core if folds[f.path] != k}
        for cls, ps in files.items():
            assert all(f"/{cls}/" in p for p in ps)


def test_event_metrics_count_found_false_and_labels():
    cv = _cv()
    from cleantake.locate import Event

    true = [(1.0, 2.0), (5.0, 5.5)]
    located = [Event(1.2, 1.4, "interference", 1.0), Event(1.5, 1.7, "interference", 1.0),  # 40 % covered
               Event(5.45, 5.5, "interference", 1.0),  # 10 %: not found
               Event(8.0, 8.2, "interference", 1.0)]  # false
    m = cv.event_metrics(true, located, "cough")
    assert (m["n_true"], m["found"], m["false_events"], m["n_located"]) == (2, 1, 1, 4)
    assert m["label_right"] is None  # "interference" is no class
    m = cv.event_metrics(true, [Event(1.0, 2.0, "door", 0.9), Event(5.0, 5.5, "cough", 0.9)], "cough")
    assert (m["found"], m["false_events"], m["label_right"]) == (2, 0, 1)


def _row(i: str, fold: int, set_: str, level, nsdr: float, found: int = 1, false: int = 0) -> dict:
    return {"id": i, "fold": fold, "set": set_, "level_db": level, "method": "proposed", "given": "none",
            "nsdr": nsdr, "found": found, "n_true": 2, "false_events": false}


def test_compare_pairs_mixtures_and_counts_events(tmp_path, capsys):
    cv = _cv()
    a = [_row(f"s{j}", j % 5, "stems", 0.0, 5.0 + j) for j in range(10)]
    a += [_row("m0", 0, "mixes", -6.0, 2.0), _row("c0", 0, "clean", None, 0.0, found=0, false=1),
          _row("only_a", 1, "stems", 0.0, 99.0)]
    b = [dict(r, nsdr=r["nsdr"] + (1.0 if r["id"] != "s3" else -0.5), found=2) for r in a if r["id"] != "only_a"]
    b[-1]["false_events"] = 0
    c = cv.compare(a, b)
    s0 = c["stems NSDR +0"]
    assert s0["n"] == 10  # the mixture only A measured is left out
    assert s0["diff"] == pytest.approx((9 * 1.0 - 0.5) / 10)
    assert (s0["better"], s0["worse"], s0["n_folds"]) == (9, 1, 5)
    assert s0["se"] == pytest.approx(np.std([1.0] * 9 + [-0.5], ddof=1) / np.sqrt(10))
    assert c["mixes NSDR -6"]["n"] == 1 and c["mixes NSDR -6"]["se"] is None
    assert c["events found"] == {"a": 11, "b": 22, "n": 22}
    assert c["clean with a false event"] == {"a": 1, "b": 0, "n": 1}
    # through the command line, a file with two runs needs the run named
    fa, fb = tmp_path / "a.json", tmp_path / "b.json"
    fa.write_text(json.dumps({"rows": a + [dict(r, given="spans") for r in a]}))
    fb.write_text(json.dumps({"rows": b}))
    assert cv.main(["--compare", str(fa), str(fb)]) == 0
    assert "+0.85" in capsys.readouterr().out
    fb.write_text(json.dumps({"rows": b + [dict(r, method="stack") for r in b]}))
    with pytest.raises(SystemExit, match="name one"):
        cv.main(["--compare", str(fa), str(fb)])
    assert cv.main(["--compare", str(fa), f"{fb}::stack"]) == 0


def test_reseeds_read_a_difference_against_the_baselines_own_spread(tmp_path, capsys):
    cv = _cv()
    a = [_row(f"s{j}", j % 5, "stems", 0.0, 5.0 + j) for j in range(10)]
    a += [_row(f"m{j}", j % 5, "mixes", 0.0, 3.0 + j) for j in range(10)]
    # a reseed of A's recipe: stems 0.4 dB lower, mixes unchanged, one event fewer
    r = [dict(x, nsdr=x["nsdr"] - (0.4 if x["set"] == "stems" else 0.0)) for x in a]
    r[0]["found"] = 0
    # the candidate: stems +0.2 over A (within the 0.4 the baselines lie apart), mixes +1.0 (beyond)
    b = [dict(x, nsdr=x["nsdr"] + (0.2 if x["set"] == "stems" else 1.0)) for x in a]
    n = cv.retrain_noise(a, b, [r])
    assert n["stems NSDR +0"]["diff"] == pytest.approx(0.2)
    assert n["stems NSDR +0"]["vs_each"] == pytest.approx([0.2, 0.6])
    assert n["stems NSDR +0"]["spread"] == pytest.approx(0.4)
    assert not n["stems NSDR +0"]["beyond"]
    assert n["mixes NSDR +0"]["spread"] == pytest.approx(0.0) and n["mixes NSDR +0"]["beyond"]
    assert n["events found"] == {"b": 20, "baselines": [20, 19], "n": 40}
    # a loss counts beyond the spread as a gain does: under every baseline run
    worse = cv.retrain_noise(a, [dict(x, nsdr=x["nsdr"] - 0.5) for x in a], [r])["stems NSDR +0"]
    assert worse["beyond"] and max(worse["vs_each"]) < 0
    with pytest.raises(ValueError, match="reseeded"):
        cv.retrain_noise(a, b, [])
    files = []
    for name, rows in (("a", a), ("b", b), ("r", r)):
        f = tmp_path / f"{name}.json"
        f.write_text(json.dumps({"rows": rows}))
        files.append(str(f))
    assert cv.main(["--compare", files[0], files[1], "--reseeds", files[2]]) == 0
    out = capsys.readouterr().out
    mixes = next(line for line in out.splitlines() if line.startswith("mixes NSDR +0") and "beyond" in line)
    assert "+1.00" in mixes
    assert "events found (stems, mixes): B 20, baselines 19 .. 20 of 40" in out
    with pytest.raises(SystemExit):
        cv.main(["--reseeds", files[2]])


def test_aggregate_retag_pools_one_method_over_samples(tmp_path, capsys):
    cv = _cv()
    files = []
    for tag, (j0, j1) in (("s1", (0, 5)), ("s2", (5, 10))):
        rows = [{**_row(f"s{j}", j % 5, "stems", 0.0, float(j)), "method": f"proposed [{tag}]", "class": "cough",
                 "nsir": 0.0, "label_right": None} for j in range(j0, j1)]
        f = tmp_path / f"{tag}.json"
        f.write_text(json.dumps({"meta": {"dictionary": "cv"}, "rows": rows}))
        files.append(str(f))
    out = tmp_path / "pooled.json"
    assert cv.main(["--aggregate", *files, "--retag", "both", "--out", str(out)]) == 0
    agg = json.loads(out.read_text())["aggregate"]
    assert list(agg) == ["proposed [both]"]
    # fold f holds mixtures f and f + 5: mean over folds of their means = mean of 0..9
    assert agg["proposed [both]"]["headline"]["stems NSDR +0"]["mean"] == pytest.approx(4.5)
    assert cv.main(["--aggregate", *files, "--out", str(out)]) == 0
    assert sorted(json.loads(out.read_text())["aggregate"]) == ["proposed [s1]", "proposed [s2]"]


@pytest.mark.slow
def test_main_writes_rows_and_headline(tmp_path, capsys):
    cv = _cv()
    out = tmp_path / "cv.json"
    # fold 0's first stems recipe and its first clean recording, two runs, the bundled presets
    n_stems = sum(r["set"] == "stems" for r in C.cv_recipes(CORPUS, 0, sets=("stems",)))
    rc = cv.main(["--corpus", str(CORPUS), "--folds", "0", "--sets", "stems,clean", "--every", str(n_stems),
                  "--methods", "proposed", "--given", "none,spans", "--dictionary", "bundled", "-j", "1",
                  "--out", str(out)])
    assert rc == 0
    assert not (tmp_path / "cv.json.partial.jsonl").exists()  # the rows written as it went go when it completes
    res = json.loads(out.read_text())
    rows = res["rows"]
    assert {(r["set"], r["given"]) for r in rows} == {("stems", "none"), ("stems", "spans"),
                                                       ("clean", "none"), ("clean", "spans")}
    for r in rows:
        assert {"id", "fold", "set", "class", "level_db", "method", "given", "events", "true_spans",
                "found", "false_events", "n_true", "seconds"} <= set(r)
        assert r["fold"] == 0 and 0 <= r["found"] <= r["n_true"]
    for r in rows:
        if r["set"] == "stems":
            assert np.isfinite(r["nsdr"]) and np.isfinite(r["nsir"]) and r["n_true"] >= 1
        else:
            assert isinstance(r["identical"], bool) and r["n_true"] == 0
    spans = next(r for r in rows if r["set"] == "stems" and r["given"] == "spans")
    assert spans["found"] == spans["n_true"] and spans["false_events"] == 0
    clean_spans = next(r for r in rows if r["set"] == "clean" and r["given"] == "spans")
    assert clean_spans["identical"] and clean_spans["events"] == []  # nothing given, nothing changed
    head = res["aggregate"]["proposed (given spans)"]["headline"]
    assert head["clean identical %"]["mean"] == 100.0
    assert "stems NSDR +0" in head and res["meta"]["dictionary"] == "bundled"
    assert "contaminated" in capsys.readouterr().out
    # the rows alone give the same aggregate again (later work re-aggregates from them)
    again = tmp_path / "again.json"
    assert cv.main(["--aggregate", str(out), "--out", str(again)]) == 0
    assert json.loads(again.read_text())["aggregate"] == res["aggregate"]


@pytest.mark.slow
def test_given_spans_change_the_audio_only_near_the_true_spans():
    recipe = next(r for r in C.cv_recipes(CORPUS, 1, sets=("stems",)) if len(r["events"]) >= 2)
    mixture, music, _, sr = C.build_mixture(CORPUS, recipe)
    true = C.event_spans(CORPUS, recipe)
    cleaned, removed, _ = peers.clean_given_spans(mixture, sr, true)
    assert np.allclose(cleaned + removed, mixture, atol=1e-12)
    near = np.zeros(len(mixture), bool)
    for a, b in true:
        near[max(0, int((a - 0.5) * sr)):int((b + 0.5) * sr)] = True
        assert np.any(removed[int(a * sr):int(b * sr)])  # every given span is repaired
    assert not np.any(removed[~near])


def test_subsample_keeps_every_cell_and_its_parts_make_the_whole():
    cv = _cv()
    recipes = [{"id": f"{m}-{c}-{lv}", "set": "stems", "class": c, "level_db": lv}
               for m in range(9) for c in ("cough", "door", "drop", "scream") for lv in (0, -3, -6)]
    parts = [cv.subsample(recipes, 4, o) for o in range(4)]
    ids = [[r["id"] for r in p] for p in parts]
    assert sorted(sum(ids, [])) == sorted(r["id"] for r in recipes)  # disjoint, and together the whole
    for p in parts:  # every class at every level, whatever the stride
        assert {(r["class"], r["level_db"]) for r in p} == {(c, lv) for c in ("cough", "door", "drop", "scream")
                                                            for lv in (0, -3, -6)}
    assert len({r["id"].split("-")[0] for r in parts[0]}) > 3  # music spread over the cells


def test_proposed_with_fold_dictionaries_needs_the_fold_detectors(tmp_path, capsys):
    cv = _cv()
    with pytest.raises(SystemExit) as exc:
        cv.main(["--corpus", str(CORPUS), "--folds", "0", "--methods", "proposed", "--detector-dir", str(tmp_path),
                 "--out", str(tmp_path / "cv.json")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "fold0.npz does not exist" in err and "train_detector.py" in err
    assert not (tmp_path / "cv.json").exists()


@pytest.mark.slow
def test_spatial_repair_beats_one_mask_on_corpus_stereo_mixes():
    """Real stereo mixes of the corpus with panned events, true spans given (fold 3's first
    three `mixes` recipes): the default spatial repair removes more interference and keeps more
    music than one mask for both channels (BENCHMARKS.md 0a: +1.4 / +1.9 dB held out)."""
    from cleantake import Cleaner
    from cleantake.scores import score_many

    recipes = [r for r in C.cv_recipes(CORPUS, 3, sets=("mixes",)) if r["set"] == "mixes"][:3]
    gains = []
    for r in recipes:
        mixture, music, _, sr = C.build_mixture(CORPUS, r)
        spans = C.event_spans(CORPUS, r)
        outs = [Cleaner("any", stereo_model=m).clean(mixture, sr, events=spans) for m in ("spatial", "mask")]
        for o in outs:
            np.testing.assert_allclose(o.cleaned + o.removed, mixture, atol=1e-12)
        spatial, mask = score_many([o.cleaned for o in outs], music, mixture)
        gains.append(spatial["nsdr"] - mask["nsdr"])
    assert np.mean(gains) > 0.5 and min(gains) > -0.5, gains


def test_robustness_table_compares_each_variant_with_the_plain_run(tmp_path, capsys):
    rb = load_script("benchmarks/robustness.py")
    plain = [_row(f"s{j}", j % 5, "stems", 0.0, 5.0 + j) for j in range(6)]
    plain.append(_row("c0", 0, "clean", None, 0.0, found=0, false=0))
    hall = [dict(r, nsdr=r["nsdr"] - 2.0) for r in plain]
    hall[-1]["false_events"] = 2
    det = str(tmp_path / "folds")
    for name, rows in (("plain", plain), ("hall", hall)):
        meta = {"every": 8, "clean_every": 2, "offset": 0, "detector_dir": det, "tag": name, "wall_seconds": 1.0}
        (tmp_path / f"{name}_e8c2o0.json").write_text(json.dumps({"meta": meta, "rows": rows}))
    # --reuse takes the runs of the same sample instead of running cv.py again
    assert rb.main(["--reuse", "--variants", "hall", "--out-dir", str(tmp_path), "--detector-dir", det]) == 0
    out = capsys.readouterr().out
    hall_line = next(line for line in out.splitlines() if line.startswith("| hall"))
    assert "-2.00 (0.00)" in hall_line and "1 of 1 |" in hall_line  # the clean recording now touched
    table = json.loads((tmp_path / "robustness.json").read_text())["variants"]
    assert table["hall"]["stems NSDR +0"]["diff"] == pytest.approx(-2.0)
    assert table["hall"]["options"] == ["--hall", "1.8", "-6"]
    with pytest.raises(SystemExit):
        rb.main(["--variants", "reverb", "--out-dir", str(tmp_path)])


@pytest.mark.parametrize("args", [["--span-tail", "0.9"], ["--given", "spans", "--span-tail", "-1"], ["--hall", "0", "-6"]])
def test_hall_and_span_tail_options_are_checked_before_any_run(tmp_path, args):
    cv = _cv()
    with pytest.raises(SystemExit) as exc:
        cv.main([*args, "--out", str(tmp_path / "r.json")])
    assert exc.value.code == 2 and not (tmp_path / "r.json").exists()


def test_empty_dictionary_runs_given_spans_only(tmp_path, capsys):
    """``--dictionary none`` measures ``-i none --events``: with anything but ``--given spans``
    it is refused before any run."""
    cv = _cv()
    with pytest.raises(SystemExit) as exc:
        cv.main(["--corpus", str(CORPUS), "--dictionary", "none", "--given", "none,spans",
                 "--out", str(tmp_path / "r.json")])
    assert exc.value.code == 2 and "--given spans alone" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_event_gain_makes_the_events_louder_and_leaves_the_music(tmp_path):
    """``--event-gain-db 12`` (a cough into a quiet passage): the same recipe with every event
    12 dB louder against the same music, so the mixture's own SDR (output SDR minus NSDR) is
    about 12 dB lower, and the true spans are the same."""
    cv = _cv()
    n_stems = sum(r["set"] == "stems" for r in C.cv_recipes(CORPUS, 0, sets=("stems",)))
    rows = {}
    for gain in (None, 12.0):
        out = tmp_path / f"cv{gain}.json"
        # (the loud run also sets a setting to infinity, its default: the JSON must still be written)
        extra = ["--event-gain-db", str(gain), "--set", "nmf_guard_release_db=inf"] if gain else []
        assert cv.main(["--corpus", str(CORPUS), "--folds", "0", "--sets", "stems", "--every", str(n_stems),
                        "--methods", "proposed", "--given", "spans", "--dictionary", "bundled", "-j", "1",
                        *extra, "--out", str(out)]) == 0
        res = json.loads(out.read_text())
        assert res["meta"]["event_gain_db"] == gain
        assert res["meta"]["overrides"] == ({"nmf_guard_release_db": "inf"} if gain else {})
        rows[gain] = res["rows"][0]
    plain, loud = rows[None], rows[12.0]
    assert plain["id"] == loud["id"] and plain["true_spans"] == loud["true_spans"]
    mix_sdr = lambda r: r["sdr"] - r["nsdr"]  # noqa: E731
    assert mix_sdr(plain) - mix_sdr(loud) == pytest.approx(12.0, abs=0.1)  # BSS Eval, not a plain SNR
