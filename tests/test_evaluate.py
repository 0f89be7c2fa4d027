"""Tests of cleantake.evaluate: BSS Eval scoring, corpus mixtures, and the evaluate command."""

from __future__ import annotations

import argparse
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cleantake import evaluate as ev
from cleantake.errors import AudioReadError, ParameterError

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
SR = 44100


def _signals(n: int = 2 * SR, channels: int = 1, seed: int = 0):
    """Tonal 'music' and a short noise-burst 'interference' (shape (n, channels))."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    music = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) / k for k, f in enumerate((220, 331, 447, 660), 1))
    music = 0.2 * music * (1 + 0.5 * np.sin(2 * np.pi * 1.5 * t))
    d = np.zeros(n)
    a = n // 3
    d[a : a + SR // 5] = 0.3 * rng.standard_normal(SR // 5) * np.exp(-np.arange(SR // 5) / 2000)
    pan = np.array([1.0, 0.6])[:channels] if channels > 1 else np.array([1.0])
    music = np.stack([np.roll(music, 17 * c) for c in range(channels)], axis=1)
    return music, np.outer(d, pan)


# --------------------------------------------------------------------------------------------
# metric code, cases with known answers
# --------------------------------------------------------------------------------------------
def test_estimate_equal_to_reference_scores_at_the_cap():
    m, d = _signals()
    s = ev.score(m, m, m + d)
    assert s["sdr"] == pytest.approx(ev.DB_CAP, abs=1e-3)
    assert s["sir"] == pytest.approx(ev.DB_CAP, abs=1e-3)
    assert s["nsdr"] > 50


def test_sdr_is_scale_invariant():
    m, d = _signals()
    rng = np.random.default_rng(1)
    est = m + 0.3 * d + 0.01 * rng.standard_normal(m.shape)  # interference and artifacts left
    a, b = ev.score(est, m, m + d), ev.score(0.25 * est, m, m + d)
    assert 0 < a["sdr"] < 60
    for k in ("sdr", "sir", "sar", "nsdr", "nsir"):
        assert b[k] == pytest.approx(a[k], abs=1e-6)


def test_mixture_itself_has_nsdr_zero():
    m, d = _signals(channels=2)
    s = ev.score(m + d, m, m + d)
    assert s["nsdr"] == 0.0 and s["nsir"] == 0.0
    assert s["sdr"] == pytest.approx(s["sdr_mix"]) and s["sdr"] < 60


def test_sdr_of_leftover_interference_is_the_energy_ratio():
    # estimate = music + g * interference: the distortion is all interference, so SDR = SIR =
    # 10 log10(|m|^2 / |g d|^2) (up to the tiny part of d that 512 taps of m can explain)
    m, d = _signals()
    for g in (1.0, 0.5, 0.1):
        s = ev.score(m + g * d, m, m + d)
        expected = 10 * np.log10(np.sum(m**2) / np.sum((g * d) ** 2))
        assert s["sdr"] == pytest.approx(expected, abs=0.05)
        assert s["sir"] == pytest.approx(expected, abs=0.05)
        assert s["sar"] > 60
        assert s["nsdr"] == pytest.approx(-20 * np.log10(g), abs=0.05)


def test_agrees_with_mir_eval_on_an_estimate_with_artifacts():
    mir_sep = pytest.importorskip("mir_eval.separation")
    m, d = _signals(n=SR)
    rng = np.random.default_rng(2)
    est = 0.8 * m + 0.2 * d + 0.02 * rng.standard_normal(m.shape)
    s = ev.score(est, m, m + d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # mir_eval 0.8 deprecates bss_eval_sources
        sdr, sir, sar, _ = mir_sep.bss_eval_sources(np.stack([m[:, 0], d[:, 0]]), np.stack([est[:, 0], d[:, 0]]),
                                                    compute_permutation=False)
    assert s["sdr"] == pytest.approx(sdr[0], abs=0.01)
    assert s["sir"] == pytest.approx(sir[0], abs=0.01)
    assert s["sar"] == pytest.approx(sar[0], abs=0.01)


def test_stereo_is_the_mean_over_channels():
    m, d = _signals(channels=2)
    rng = np.random.default_rng(3)
    est = m + np.array([0.2, 0.7]) * d + 0.01 * rng.standard_normal(m.shape)
    s = ev.score(est, m, m + d)
    per_ch = [ev.score(est[:, c], m[:, c : c + 1], (m + d)[:, c : c + 1]) for c in range(2)]
    assert per_ch[0]["sdr"] != pytest.approx(per_ch[1]["sdr"], abs=1)  # the channels do differ
    for k in ("sdr", "sir", "sar", "nsdr"):
        assert s[k] == pytest.approx(np.mean([p[k] for p in per_ch]), abs=1e-9)


def test_silent_estimate_scores_the_floor():
    m, d = _signals()
    s = ev.score(np.zeros_like(m), m, m + d)
    assert s["sdr"] == -ev.DB_CAP and np.isfinite(s["nsdr"]) and s["nsdr"] < -50


def test_score_many_equals_score_one_by_one():
    m, d = _signals()
    ests = [m + d, m + 0.5 * d, 0.9 * m]
    many = ev.score_many(ests, m, m + d)
    for e, s in zip(ests, many):
        assert s == pytest.approx(ev.score(e, m, m + d))


def test_clean_music_output_vs_input():
    m, _ = _signals()
    same, half, noisy = ev.score_many([m, 0.5 * m, m + 0.01 * np.random.default_rng(4).standard_normal(m.shape)], m, m)
    assert same["sdr"] == ev.DB_CAP and same["snr"] == ev.DB_CAP
    assert half["sdr"] == pytest.approx(ev.DB_CAP, abs=1e-3)  # BSS Eval forgives gain
    assert half["snr"] == pytest.approx(20 * np.log10(2), abs=1e-6)  # the plain ratio does not
    assert 10 < noisy["sdr"] < 60 and same["nsdr"] is None


def test_estimate_of_wrong_shape_is_refused():
    m, d = _signals()
    with pytest.raises(ParameterError, match="shape"):
        ev.score(m[:-5], m, m + d)


# --------------------------------------------------------------------------------------------
# the corpus
# --------------------------------------------------------------------------------------------
def _levels(entry, music, interference, sr):
    out = []
    for e in entry["events"]:
        n0 = round(e["onset_s"] * sr)
        L = sf.info(str(CORPUS / e["path"])).frames
        out.append(10 * np.log10(np.sum(interference[n0 : n0 + L] ** 2) / np.sum(music[n0 : n0 + L] ** 2)))
    return out


@pytest.mark.corpus
@pytest.mark.parametrize("set_, level", [("stems", -6), ("mixes", 0)])
def test_build_mixture_reproduces_level_on_corpus(set_, level):
    if not (CORPUS / "mixtures.json").is_file():
        pytest.skip(f"corpus absent at {CORPUS}")
    entry = next(e for e in ev.load_mixtures(CORPUS) if e["set"] == set_ and e["level_db"] == level)
    y, m, d, sr = ev.build_mixture(CORPUS, entry)
    assert sr == SR and y.dtype == np.float64 and y.shape == m.shape == d.shape
    assert y.shape[1] == (1 if set_ == "stems" else 2)
    assert np.array_equal(y - m, d) and np.any(d)
    levels = _levels(entry, m, d, sr)
    assert len(levels) == len(entry["events"]) >= 1
    assert np.allclose(levels, level, atol=0.05)
    # outside the events the mixture is the music, bit for bit
    mask = np.zeros(len(y), bool)
    for e in entry["events"]:
        n0 = round(e["onset_s"] * sr)
        mask[n0 : n0 + sf.info(str(CORPUS / e["path"])).frames] = True
    assert np.array_equal(y[~mask], m[~mask])


@pytest.mark.corpus
def test_build_clean_entry_is_the_music():
    if not (CORPUS / "mixtures.json").is_file():
        pytest.skip(f"corpus absent at {CORPUS}")
    entry = next(e for e in ev.load_mixtures(CORPUS) if e["set"] == "clean")
    y, m, d, _ = ev.build_mixture(CORPUS, entry)
    assert np.array_equal(y, m) and not np.any(d)


def test_missing_corpus_is_a_read_error(tmp_path):
    with pytest.raises(AudioReadError, match="mixtures.json"):
        ev.load_mixtures(tmp_path)


# --------------------------------------------------------------------------------------------
# end to end on a corpus built here
# --------------------------------------------------------------------------------------------
def _q16(x):
    return np.round(np.clip(x, -1, 1 - 2**-15) * 32768) / 32768


@pytest.fixture
def tiny_corpus(tmp_path):
    """Two 2-s mono mixtures (one event each, 0 and -6 dB) and one clean entry, in corpus format."""
    root = tmp_path / "corpus"
    (root / "music" / "stems").mkdir(parents=True)
    (root / "interference" / "eval" / "door").mkdir(parents=True)
    m, d = _signals()
    music = _q16(m[:, 0])
    event = _q16(d[d[:, 0] != 0, 0] / np.max(np.abs(d)) * 0.89)
    sf.write(root / "music" / "stems" / "stem_001.flac", music, SR, subtype="PCM_24")
    sf.write(root / "interference" / "eval" / "door" / "door_001.flac", event, SR, subtype="PCM_24")
    mixtures = []
    for level, onset in ((0, 0.5), (-6, 1.2)):
        n0 = round(onset * SR)
        gain = np.sqrt(10 ** (level / 10) * np.sum(music[n0 : n0 + event.size] ** 2) / np.sum(event**2))
        mixtures.append({"id": f"stem_001__door__{level:+d}dB", "set": "stems", "music": "music/stems/stem_001.flac",
                         "level_db": level, "class": "door", "subset": "quick",
                         "events": [{"path": "interference/eval/door/door_001.flac", "onset_s": onset,
                                     "gain": float(f"{gain:.6g}")}]})
    mixtures.append({"id": "stem_001__clean", "set": "clean", "music": "music/stems/stem_001.flac",
                     "level_db": None, "class": None, "subset": "quick", "events": []})
    mixtures.append({"id": "stem_001__door__-3dB", "set": "stems", "music": "music/stems/stem_001.flac",
                     "level_db": -3, "class": "door", "subset": "full", "events": []})  # not in quick
    (root / "mixtures.json").write_text(json.dumps({"version": 1, "sample_rate": SR, "mixtures": mixtures}))
    return root


def _cli(argv):
    parser = argparse.ArgumentParser(prog="cleantake")
    ev.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_evaluate_end_to_end(tiny_corpus, tmp_path, capsys):
    real = "kam"  # the pipeline's classic KAM: a real separating method that needs no extra
    out = tmp_path / "results.json"
    rc = _cli(["evaluate", "--corpus", str(tiny_corpus), "--out", str(out), "--subset", "quick",
               "--methods", f"identity,{real}"])
    assert rc == 0
    res = json.loads(out.read_text())
    assert not (tmp_path / "results.json.partial.jsonl").exists()  # the checkpoint goes when the run completes
    # the -3 dB entry is in the full subset only and must not be evaluated
    assert {r["id"] for r in res["rows"]} == {"stem_001__door__+0dB", "stem_001__door__-6dB", "stem_001__clean"}
    assert len(res["rows"]) == 3 * 2
    assert [r["method"] for r in res["rows"][:2]] == ["identity", real]
    for r in res["rows"]:
        assert {"id", "set", "class", "level_db", "method", "sdr", "sir", "sar", "nsdr", "nsir", "seconds"} <= set(r)
        assert r["seconds"] >= 0 and np.isfinite(r["sdr"])
    stems = res["summary"]["stems"]
    assert set(stems) == {"identity", real}
    assert set(stems["identity"]) == {"0", "-6"}
    for cell in stems["identity"].values():
        assert cell["n"] == 1 and cell["nsdr"] == 0.0 and cell["nsir"] == 0.0
    assert all(np.isfinite(stems[real][lv]["nsdr"]) for lv in ("0", "-6"))
    clean = res["summary"]["clean"]["identity"]["clean"]
    assert clean["sdr"] == ev.DB_CAP and clean["false_events"] == 0 and clean["n"] == 1
    assert res["summary_by_class"]["stems"]["identity"]["door"]["0"]["n"] == 1
    printed = capsys.readouterr().out
    assert "NSDR" in printed and "set stems" in printed and "identity" in printed and real in printed


def test_evaluate_counts_events_found_and_within_review(tiny_corpus, tmp_path, capsys):
    out = tmp_path / "results.json"
    assert _cli(["evaluate", "--corpus", str(tiny_corpus), "--out", str(out), "--subset", "quick",
                 "--methods", "identity,proposed"]) == 0
    res = json.loads(out.read_text())
    stems = res["summary"]["stems"]
    for lv in ("0", "-6"):
        ident, prop = stems["identity"][lv], stems["proposed"][lv]
        assert (ident["events_true"], ident["events_found"]) == (1, 0)  # finds nothing, has no candidates
        assert "events_in_reach" not in ident
        assert prop["events_true"] == 1 and prop["events_found"] <= prop["events_in_reach"] <= 1
        assert prop["candidates_per_minute"] >= 0
    assert "candidates_per_minute" in res["summary"]["clean"]["proposed"]["clean"]
    printed = capsys.readouterr().out
    assert "identity: events found 0.0 % (0/2)" in printed
    assert re.search(r"proposed: events found [\d.]+ % \(\d/2\); with the candidates for review", printed)


def test_evaluate_parallel_gives_the_same_rows_in_the_same_order(tiny_corpus):
    a = ev.run(tiny_corpus, subset="full", methods=["identity"], jobs=1)
    b = ev.run(tiny_corpus, subset="full", methods=["identity"], jobs=2)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert len(a["rows"]) == 4 and strip(a["rows"]) == strip(b["rows"])


def test_every_takes_a_deterministic_sample(tiny_corpus):
    whole = ev.run(tiny_corpus, subset="full", methods=["identity"])
    half = ev.run(tiny_corpus, subset="full", methods=["identity"], every=2)
    ids = [r["id"] for r in whole["rows"]]
    assert [r["id"] for r in half["rows"]] == ids[::2]
    assert half["meta"]["every"] == 2 and half["meta"]["n_mixtures"] == len(ids[::2])
    with pytest.raises(ParameterError, match="every"):
        ev.run(tiny_corpus, methods=["identity"], every=0)


def test_one_failing_method_does_not_end_the_run(tiny_corpus, tmp_path, monkeypatch):
    def broken(mixture, sr):
        raise RuntimeError("boom")

    monkeypatch.setitem(ev.METHODS, "broken", broken)
    res = ev.run(tiny_corpus, sets=["stems"], methods=["identity", "broken"])
    assert [r["method"] for r in res["rows"]] == ["identity", "broken"] * 2
    assert all("boom" in r["error"] and r["nsdr"] is None for r in res["rows"][1::2])
    assert res["summary"]["stems"]["broken"]["0"]["errors"] == 1
    assert res["summary"]["stems"]["identity"]["0"]["nsdr"] == 0.0
    assert "(2 failed)" in ev.format_table(res)


def test_bad_choices_are_refused(tiny_corpus, tmp_path, capsys):
    with pytest.raises(ParameterError, match="choose from"):
        ev.run(tiny_corpus, methods=["nope"])
    with pytest.raises(ParameterError, match="choose from"):
        ev.run(tiny_corpus, sets=["stemz"], methods=["identity"])
    with pytest.raises(SystemExit) as exc:
        _cli(["evaluate", "--corpus", str(tiny_corpus), "--out", str(tmp_path / "r.json"), "--methods", "magic"])
    assert exc.value.code == 2 and "choose from" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="does not exist"):
        _cli(["evaluate", "--corpus", str(tiny_corpus), "--out", str(tmp_path / "no" / "r.json"),
              "--methods", "identity"])


def test_checkpoint_lets_a_stopped_run_resume(tiny_corpus, tmp_path, monkeypatch):
    calls = []

    def counting(mixture, sr):
        calls.append(mixture.shape)
        return 0.5 * mixture, 0.5 * mixture, []

    monkeypatch.setitem(ev.METHODS, "counting", counting)
    ck = tmp_path / "r.json.partial.jsonl"
    kw = dict(sets=["stems"], checkpoint=ck)  # two mixtures
    full = ev.run(tiny_corpus, methods=["counting"], **kw)
    assert len(calls) == 2 and len(ck.read_text().splitlines()) == 2
    # a run stopped after its first mixture, in the middle of writing the second line
    first, second = ck.read_text().splitlines()
    ck.write_text(first + "\n" + second[: len(second) // 2])
    calls.clear()
    resumed = ev.run(tiny_corpus, methods=["counting"], resume=True, **kw)
    assert len(calls) == 1  # only the mixture not recorded
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(resumed["rows"]) == strip(full["rows"])
    # without resume, or with another method list, nothing is reused
    calls.clear()
    ev.run(tiny_corpus, methods=["counting"], **kw)
    assert len(calls) == 2
    calls.clear()
    ev.run(tiny_corpus, methods=["counting", "identity"], resume=True, **kw)
    assert len(calls) == 2


def test_cleantake_command_line_runs_evaluate(tiny_corpus, tmp_path, capsys):
    cli = pytest.importorskip("cleantake.cli")
    out = tmp_path / "r.json"
    assert cli.main(["evaluate", "--corpus", str(tiny_corpus), "--out", str(out), "--methods", "identity"]) == 0
    assert json.loads(out.read_text())["summary"]["stems"]["identity"]["0"]["nsdr"] == 0.0
    capsys.readouterr()
    assert cli.main(["evaluate", "--corpus", str(tmp_path / "nowhere"), "--out", str(out), "--methods", "identity"]) == 2
    assert "cleantake: error: no corpus" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# --given: what the method is told about the interference
# --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_given_spans_repairs_the_true_spans(tiny_corpus, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert _cli(["evaluate", "--corpus", str(tiny_corpus), "--out", str(out), "--sets", "stems,clean",
                 "--given", "spans"]) == 0  # default methods with spans: proposed, identity
    res = json.loads(out.read_text())
    assert res["meta"]["given"] == "spans" and res["meta"]["methods"] == ["proposed", "identity"]
    rows = {(r["id"], r["method"]): r for r in res["rows"]}
    for level in ("+0", "-6"):
        given = rows[(f"stem_001__door__{level}dB", "proposed")]
        assert given["given"] == "spans" and given["events"] >= 1
        assert given["nsdr"] > 3 and given["nsir"] > 3  # the repaired span really loses the burst
        assert rows[(f"stem_001__door__{level}dB", "identity")]["nsdr"] == 0.0
    clean = rows[("stem_001__clean", "proposed")]  # no span given: nothing changes
    assert clean["sdr"] == ev.DB_CAP and clean["false_events"] == 0
    assert "true spans given" in capsys.readouterr().out


def test_given_modes_refuse_what_they_cannot_run(tiny_corpus, tmp_path, capsys):
    plain = ev.run(tiny_corpus, sets=["stems"], methods=["identity"])
    assert plain["meta"]["given"] == "none" and "given" not in plain["rows"][0]
    with pytest.raises(ParameterError, match="only the methods proposed and identity"):
        ev.run(tiny_corpus, methods=["proposed", "nmf"], given="spans")
    with pytest.raises(ParameterError, match="only the methods proposed and identity"):
        ev.run(tiny_corpus, methods=["nmf"], given="first")
    with pytest.raises(ParameterError, match="choose from"):
        ev.run(tiny_corpus, methods=["proposed"], given="all")
    with pytest.raises(SystemExit) as exc:
        _cli(["evaluate", "--corpus", str(tiny_corpus), "--out", str(tmp_path / "r.json"), "--given", "some"])
    assert exc.value.code == 2
    assert not (tmp_path / "r.json").exists()


@pytest.mark.slow
def test_given_first_learns_from_the_first_event_and_reports_the_others():
    if not (CORPUS / "mixtures.json").is_file():
        pytest.skip(f"corpus absent at {CORPUS}")
    res = ev.run(CORPUS, subset="quick", sets=["stems_extra"], methods=["proposed"], given="first", every=12)
    rows = res["rows"]
    assert rows and all(len(next(e for e in ev.load_mixtures(CORPUS) if e["id"] == r["id"])["events"]) >= 2
                        for r in rows)
    for r in rows:
        assert "error" not in r, r.get("error")
        assert 0.0 <= r["others_found"] <= 1.0 and r["false_events_given"] >= 0 and r["events"] >= 1
    cell = res["summary"]["stems_extra"]["proposed"]["0"]
    assert cell["others_found"] is not None and cell["false_events_per_recording"] is not None


# --------------------------------------------------------------------------------------------
# --resolutions: the repair's time-frequency resolutions, as `clean --resolutions`
# --------------------------------------------------------------------------------------------
def test_resolutions_are_the_repair_of_clean_resolutions(tiny_corpus, tmp_path, capsys):
    """`evaluate --resolutions` runs cleantake's repair as `clean --resolutions` does: with the
    spans given, `one` scores what `Cleaner(span_windows_ms=())` leaves and differs from the
    default (three resolutions); the run records it, a checkpoint of another choice is not
    reused, and an unknown choice is refused."""
    import cleantake
    from cleantake.corpus import build_mixture, event_spans, load_mixtures
    from cleantake.scores import score

    kw = dict(sets=["stems"], methods=["proposed"], given="spans")
    ck = tmp_path / "r.json.partial.jsonl"
    default = ev.run(tiny_corpus, checkpoint=ck, **kw)
    one = ev.run(tiny_corpus, checkpoint=ck, resume=True, resolutions="one", **kw)
    assert (default["meta"]["resolutions"], one["meta"]["resolutions"]) == ("default", "one")
    entry = next(e for e in load_mixtures(tiny_corpus) if e["id"] == "stem_001__door__+0dB")
    mixture, music, _, sr = build_mixture(tiny_corpus, entry)
    cleaned = cleantake.Cleaner("any", span_windows_ms=()).clean(
        mixture[:, 0], sr, events=event_spans(tiny_corpus, entry)).cleaned
    want = score(cleaned[:, None], music, mixture)["nsdr"]
    got = {r["id"]: r["nsdr"] for r in one["rows"]}
    assert got["stem_001__door__+0dB"] == pytest.approx(want, abs=1e-6)
    assert any(abs(a["nsdr"] - b["nsdr"]) > 1e-3 for a, b in zip(default["rows"], one["rows"]))
    with pytest.raises(ParameterError, match="choose from"):
        ev.run(tiny_corpus, methods=["proposed"], resolutions="many")
    with pytest.raises(SystemExit) as exc:
        _cli(["evaluate", "--corpus", str(tiny_corpus), "--out", str(tmp_path / "x.json"), "--resolutions", "many"])
    assert exc.value.code == 2 and "resolutions" in capsys.readouterr().err


def test_resolutions_reach_what_given_first_finds(tiny_corpus):
    """`evaluate --given first --resolutions one` scores `clean -i none --like ... --resolutions
    one`: what the finder finds repaired at the analysis's STFT alone, unlike the default (at
    three resolutions, as given spans)."""
    import cleantake
    from cleantake.corpus import build_mixture, event_spans, load_mixtures
    from cleantake.scores import score

    doc = json.loads((tiny_corpus / "mixtures.json").read_text())
    two = dict(doc["mixtures"][0], id="stem_001__door__two")
    two["events"] = [dict(two["events"][0], onset_s=0.2), dict(two["events"][0], onset_s=1.2)]
    doc["mixtures"] = [two]
    (tiny_corpus / "mixtures.json").write_text(json.dumps(doc))
    kw = dict(sets=["stems"], methods=["proposed"], given="first")
    default, one = ev.run(tiny_corpus, **kw), ev.run(tiny_corpus, resolutions="one", **kw)
    (row,), (row_one,) = default["rows"], one["rows"]
    assert row["others_found"] == 1.0  # the second door was found like the first
    entry = load_mixtures(tiny_corpus)[0]
    mixture, music, _, sr = build_mixture(tiny_corpus, entry)
    first = sorted(event_spans(tiny_corpus, entry))[0]
    for r, windows in ((row, (92.0, 184.0)), (row_one, ())):
        cleaned = cleantake.Cleaner("none", span_windows_ms=windows).clean(mixture[:, 0], sr, like=[first]).cleaned
        assert r["nsdr"] == pytest.approx(score(cleaned[:, None], music, mixture)["nsdr"], abs=1e-6)
    assert abs(row_one["nsdr"] - row["nsdr"]) > 1e-3
