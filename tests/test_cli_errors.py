"""Bad input through the command line: a clear error in the user's terms and exit code 2.

Every case calls ``cleantake.cli.main([...])`` exactly as the console script does, and checks
the exit code, that the message starts with ``cleantake: error:`` and says what is wrong,
and that nothing was written or modified.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import sha, two_tones

cli = pytest.importorskip("cleantake.cli")

SR = 22050


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run the CLI; argparse's own errors (SystemExit) count as their exit code."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def music(seconds: float = 0.5, channels: int = 2) -> np.ndarray:
    return two_tones(seconds, SR, channels)


@pytest.fixture
def good(tmp_path) -> Path:
    p = tmp_path / "take.wav"
    sf.write(str(p), music(), SR, subtype="PCM_16")
    return p


def assert_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert err.startswith("cleantake: error:") or "error:" in err, err
    assert "Traceback" not in err
    low = err.lower()
    for n in needles:
        assert n.lower() in low, (n, err)


def only(folder: Path, *names: str) -> bool:
    return sorted(p.name for p in folder.iterdir()) == sorted(names)


# --- the working path, for reference -------------------------------------------------


def test_clean_succeeds_and_keeps_input(tmp_path, good, capsys):
    before = sha(good)
    code, out, err = run(["clean", good, "-o", tmp_path / "out.wav", "-q"], capsys)
    assert code == 0, err
    assert sha(good) == before
    y, sr = sf.read(str(tmp_path / "out.wav"), always_2d=True)
    assert sr == SR and y.shape == (SR // 2, 2)
    assert sf.info(str(tmp_path / "out.wav")).subtype == "PCM_16"
    assert only(tmp_path, "take.wav", "out.wav")


# --- 3. bad input --------------------------------------------------------------------


def test_missing_input(tmp_path, capsys):
    code, _, err = run(["clean", tmp_path / "nope.wav", "-o", tmp_path / "o.wav"], capsys)
    assert_error(code, err, "not found", "nope.wav")
    assert only(tmp_path)


def test_input_is_a_folder(tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    code, _, err = run(["clean", tmp_path / "sub", "-o", tmp_path / "o.wav"], capsys)
    assert_error(code, err, "is a folder")


def test_non_audio_input(tmp_path, capsys):
    p = tmp_path / "notes.wav"
    p.write_text("shopping list\n" * 50)
    code, _, err = run(["clean", p, "-o", tmp_path / "o.wav"], capsys)
    assert_error(code, err, "notes.wav", "not an audio file", "FLAC")
    assert not (tmp_path / "o.wav").exists()


def test_empty_input(tmp_path, capsys):
    p = tmp_path / "empty.flac"
    p.write_bytes(b"")
    code, _, err = run(["clean", p, "-o", tmp_path / "o.wav"], capsys)
    assert_error(code, err, "empty")


@pytest.mark.parametrize("ext,subtype", [("wav", "PCM_16"), ("flac", "PCM_24")])
def test_truncated_input(tmp_path, capsys, ext, subtype):
    full = tmp_path / f"full.{ext}"
    sf.write(str(full), music(2.0), SR, subtype=subtype)
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    code, _, err = run(["clean", cut, "-o", tmp_path / "o.wav"], capsys)
    assert_error(code, err, "truncated")
    assert not (tmp_path / "o.wav").exists()


def test_nan_input(tmp_path, capsys):
    x = music(1.0)
    x[int(0.5 * SR), 0] = np.nan  # 0.5 s = sample 11025 exactly
    p = tmp_path / "nan.wav"
    sf.write(str(p), x, SR, subtype="FLOAT")
    code, _, err = run(["clean", p, "-o", tmp_path / "o.wav"], capsys)
    assert_error(code, err, "NaN", "0.500000 s")


def test_infinite_input(tmp_path, capsys):
    x = music(1.0)
    x[int(0.2 * SR), 1] = -np.inf
    p = tmp_path / "inf.wav"
    sf.write(str(p), x, SR, subtype="DOUBLE")
    code, _, err = run(["clean", p, "-o", tmp_path / "o.wav"], capsys)
    assert_error(code, err, "infinite", "0.200000 s")


def test_unknown_dictionary_lists_valid_names(tmp_path, good, capsys):
    code, _, err = run(["clean", good, "-o", tmp_path / "o.wav", "-i", "sneeze"], capsys)
    assert_error(code, err, "sneeze", "any", "cough", "door", "creak", "scream", "drop")
    assert not (tmp_path / "o.wav").exists()


def test_dictionary_file_of_wrong_kind(tmp_path, good, capsys):
    bogus = tmp_path / "weights.npz"
    np.savez(bogus, a=np.arange(3))
    code, _, err = run(["clean", good, "-o", tmp_path / "o.wav", "-i", bogus], capsys)
    assert_error(code, err, "not a cleantake dictionary")
    text = tmp_path / "readme.npz"
    text.write_text("not numpy at all")
    code, _, err = run(["clean", good, "-o", tmp_path / "o.wav", "-i", text], capsys)
    assert_error(code, err, "not a cleantake dictionary")
    assert not (tmp_path / "o.wav").exists()


def test_dictionary_file_of_wrong_version(tmp_path, good, capsys):
    from cleantake.dictionaries import resolve_dictionary, save_dictionary

    path = save_dictionary(resolve_dictionary("cough"), tmp_path / "cough_v1.npz")
    with np.load(path) as z:
        W, meta = z["W"], json.loads(str(z["meta"]))
    meta["version"] = 99
    future = tmp_path / "cough_v99.npz"
    np.savez(future, W=W, meta=np.array(json.dumps(meta)))
    code, _, err = run(["clean", good, "-o", tmp_path / "o.wav", "-i", future], capsys)
    assert_error(code, err, "version 99", "version 1")
    # the unmodified file works: the error is about the version only
    code, _, err = run(["clean", good, "-o", tmp_path / "o.wav", "-i", path, "-q"], capsys)
    assert code == 0, err


@pytest.mark.parametrize("option", ["--strength", "--sensitivity", "--review-level"])
@pytest.mark.parametrize("value", ["3", "-0.5", "abc", "nan"])
def test_strength_out_of_range(tmp_path, good, capsys, value, option):
    code, _, err = run(["clean", good, "-o", tmp_path / "o.wav", option, value], capsys)
    assert code == 2, err
    assert option.lstrip("-") in err and "0" in err and "1" in err, err
    assert not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_jobs_must_be_a_positive_whole_number(tmp_path, good, capsys, value):
    code, _, err = run(["clean", good, "-o", tmp_path / "o.wav", "-j", value], capsys)
    assert code == 2, err
    assert "jobs" in err and "whole number" in err, err
    assert not (tmp_path / "o.wav").exists()


def test_invalid_subtype_lists_valid(tmp_path, good, capsys):
    code, _, err = run(["clean", good, "-o", tmp_path / "o.flac", "--subtype", "FLOAT"], capsys)
    assert_error(code, err, "FLOAT", "PCM_16", "PCM_24")
    assert not (tmp_path / "o.flac").exists()


def test_unknown_output_extension(tmp_path, good, capsys):
    code, _, err = run(["clean", good, "-o", tmp_path / "o.xyz"], capsys)
    assert_error(code, err, ".xyz", ".wav", ".flac")


@pytest.mark.parametrize("argv_tail,needle", [
    (["-o", "{d}/o.xyz"], ".xyz"),
    (["-o", "{d}/o.flac", "--subtype", "FLOAT"], "FLOAT"),
    (["-o", "{d}/o.flac", "--clip", "float"], "float"),
    (["-o", "{d}/o.wav", "--removed", "{d}/r.xyz"], ".xyz"),
])
def test_output_options_refused_before_any_processing(tmp_path, good, capsys, monkeypatch,
                                                      argv_tail, needle):
    """A wrong output option must not cost the user an hour of processing first."""
    import cleantake.pipeline as pipeline

    def must_not_run(self, *a, **k):
        raise AssertionError("the recording was processed before the options were checked")

    monkeypatch.setattr(pipeline.Cleaner, "clean", must_not_run)
    argv = ["clean", good] + [a.format(d=tmp_path) for a in argv_tail]
    code, _, err = run(argv, capsys)
    assert_error(code, err, needle)


def test_output_folder_missing(tmp_path, good, capsys):
    code, _, err = run(["clean", good, "-o", tmp_path / "no" / "such" / "o.wav"], capsys)
    assert_error(code, err, "does not exist")


def test_output_folder_unwritable(tmp_path, good, capsys, monkeypatch):
    import tempfile

    def deny(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", deny)
    code, _, err = run(["clean", good, "-o", tmp_path / "o.wav"], capsys)
    assert_error(code, err, "not writable")


def test_disk_full(tmp_path, good, capsys, monkeypatch):
    out = tmp_path / "o.wav"
    out.write_bytes(b"previous result")

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sf.SoundFile, "write", full)
    code, _, err = run(["clean", good, "-o", out, "-y", "-q"], capsys)
    assert_error(code, err, "disk full while writing", "o.wav")
    assert out.read_bytes() == b"previous result"
    assert only(tmp_path, "take.wav", "o.wav")


# --- 4. output safety ------------------------------------------------------------------


def test_output_same_as_input_refused(tmp_path, good, capsys, monkeypatch):
    before = sha(good)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link.wav").symlink_to(good)
    for out in (good, "take.wav", "./sub/../take.wav", tmp_path / "link.wav"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        code, _, err = run(["clean", good, "-o", out, "-y"], capsys)
        assert_error(code, err, "is the input file itself")
    assert sha(good) == before


def test_existing_output_needs_y(tmp_path, good, capsys):
    out = tmp_path / "o.wav"
    out.write_bytes(b"keep me")
    code, _, err = run(["clean", good, "-o", out], capsys)
    assert_error(code, err, "already exists", "-y")
    assert out.read_bytes() == b"keep me"
    code, _, err = run(["clean", good, "-o", out, "-y", "-q"], capsys)
    assert code == 0, err
    assert sf.info(str(out)).frames == SR // 2


def test_removed_path_equal_to_input_refused(tmp_path, good, capsys):
    code, _, err = run(["clean", good, "-o", tmp_path / "o.wav", "--removed", good], capsys)
    assert_error(code, err, "is the input file itself")
    assert not (tmp_path / "o.wav").exists()


def test_clip_policy_option_validated(tmp_path, good, capsys):
    code, _, err = run(["clean", good, "-o", tmp_path / "o.wav", "--clip", "wrap"], capsys)
    assert code == 2 and "clip" in err
    code, _, err = run(["clean", good, "-o", tmp_path / "o.flac", "--clip", "float"], capsys)
    assert_error(code, err, "float")
    assert not (tmp_path / "o.flac").exists()
    code, _, err = run(["clean", good, "-o", tmp_path / "o.wav", "--clip", "float", "-q"], capsys)
    assert code == 0, err
    assert sf.info(str(tmp_path / "o.wav")).subtype == "FLOAT"


# --- 2. signals through the CLI ----------------------------------------------------------


def test_too_short_input_returned_unchanged_with_warning(tmp_path):
    # In a real process (pytest would otherwise capture the warning before the CLI prints it).
    x = music(0.01)  # 10 ms, shorter than one analysis window
    p = tmp_path / "blip.wav"
    sf.write(str(p), x, SR, subtype="PCM_16")
    out = tmp_path / "o.wav"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    r = subprocess.run([sys.executable, "-m", "cleantake.cli", "clean", str(p), "-o", str(out), "-q"],
                       capture_output=True, text=True, env=env, timeout=120)
    code, err = r.returncode, r.stderr
    assert code == 0, err
    assert "warning" in err and "shorter than one analysis window" in err and "unchanged" in err
    np.testing.assert_array_equal(sf.read(str(out), dtype="int16")[0], sf.read(str(p), dtype="int16")[0])


def test_too_short_input_api_warns(tmp_path):
    import cleantake

    x = music(0.01)
    with pytest.warns(UserWarning, match="shorter than one analysis window"):
        res = cleantake.clean(x, SR)
    np.testing.assert_array_equal(res.cleaned, x)
    np.testing.assert_array_equal(res.removed, np.zeros_like(x))


@pytest.mark.parametrize("sr,channels", [(8000, 1), (192000, 2), (44100, 8)])
def test_rates_and_channels_through_cli(tmp_path, capsys, sr, channels):
    t = np.arange(int(0.3 * sr)) / sr
    x = np.round(0.2 * np.sin(2 * np.pi * 440 * t)[:, None] * np.ones(channels) * 2**23) / 2**23
    p = tmp_path / "in.flac"
    sf.write(str(p), x, sr, subtype="PCM_24")
    code, _, err = run(["clean", p, "-o", tmp_path / "o.flac", "-q"], capsys)
    assert code == 0, err
    info = sf.info(str(tmp_path / "o.flac"))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (sr, channels, len(x), "PCM_24")


def test_unsupported_rate_through_cli(tmp_path, capsys):
    p = tmp_path / "in.wav"
    sf.write(str(p), np.zeros(4000), 4000, subtype="PCM_16")
    code, _, err = run(["clean", p, "-o", tmp_path / "o.wav"], capsys)
    assert_error(code, err, "4000 Hz", "8000 Hz to 192000 Hz")


# --- interruption ---------------------------------------------------------------------

_DRIVER = (
    "import sys, cleantake.cli as c; print('ready', flush=True); "
    "sys.exit(c.main(sys.argv[1:]))"
)


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_interrupted_run_leaves_nothing(tmp_path, signame):
    """Ctrl-C or `kill` during a run: exit 130, no output, no temporary file, old output kept."""
    import signal
    import time

    p = tmp_path / "long.wav"
    # Long enough that the run is still going when the signal arrives, however fast the machine,
    # with a noise burst every 2 s so that no block is screened out before its analysis.
    x = music(100.0)
    rng = np.random.default_rng(0)
    for a in range(SR, len(x) - SR, 2 * SR):
        x[a:a + SR // 10] += 0.3 * rng.standard_normal((SR // 10, x.shape[1]))
    sf.write(str(p), np.clip(x, -1, 1), SR, subtype="PCM_16")
    out = tmp_path / "o.wav"
    out.write_bytes(b"old output")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    proc = subprocess.Popen([sys.executable, "-c", _DRIVER, "clean", str(p), "-o", str(out), "-y", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        proc.send_signal(getattr(signal, signame))
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (proc.returncode, err)
    assert "interrupted" in err and "Traceback" not in err
    assert out.read_bytes() == b"old output"
    assert only(tmp_path, "long.wav", "o.wav")
