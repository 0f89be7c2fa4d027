"""Tests of cleantake.io: every real-world file handled, every bad input refused clearly.

Each test corresponds to a row of docs/input-handling.md. Fixtures are written with soundfile
directly (not with the code under test) unless the test is about the writer.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import sys
import textwrap
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cleantake import io as cio
from conftest import grid16, sha
from cleantake.errors import AudioReadError, AudioWriteError, CleantakeError, ParameterError

REPO = Path(__file__).resolve().parents[1]

# Subprocesses import cleantake.io without running cleantake/__init__ (which loads the whole
# pipeline and scipy): they start in a fraction of a second.
_FAST_IO_IMPORT = textwrap.dedent("""
    import sys, types
    _pkg = types.ModuleType("cleantake")
    _pkg.__path__ = [{src!r}]
    sys.modules.setdefault("cleantake", _pkg)
    from cleantake import io as cio
    from cleantake.errors import AudioReadError, AudioWriteError
""").format(src=str(REPO / "src" / "cleantake"))


def write_fixture(path: Path, data: np.ndarray, sr: int = 44100, subtype: str | None = None,
                  format: str | None = None) -> Path:
    sf.write(str(path), data, sr, subtype=subtype, format=format)
    return path


def no_part_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".part")]


# ======================================================================================
# 1. Formats
# ======================================================================================

LOSSLESS = [
    ("wav", "WAV", "PCM_16"),
    ("wav", "WAV", "PCM_24"),
    ("wav", "WAV", "PCM_32"),
    ("wav", "WAV", "FLOAT"),
    ("wav", "WAV", "DOUBLE"),
    ("wav", "WAV", "PCM_U8"),
    ("flac", "FLAC", "PCM_16"),
    ("flac", "FLAC", "PCM_24"),
    ("aiff", "AIFF", "PCM_24"),
    ("w64", "W64", "FLOAT"),
    ("rf64", "RF64", "PCM_24"),
    ("caf", "CAF", "PCM_16"),
]


@pytest.mark.parametrize("ext,fmt,subtype", LOSSLESS)
def test_lossless_formats_read_exactly_and_keep_subtype(tmp_path, ext, fmt, subtype):
    x = grid16(3000, 2)
    if subtype == "PCM_U8":
        x = np.round(x * 128) / 128
    src = write_fixture(tmp_path / f"in.{ext}", x, 48000, subtype=subtype, format=fmt)
    audio, info = cio.read_audio(src)
    assert info.format == fmt and info.subtype == subtype
    assert (info.samplerate, info.channels, info.frames) == (48000, 2, 3000)
    assert audio.dtype == np.float64 and audio.shape == (3000, 2)
    np.testing.assert_array_equal(audio, x)
    # identity processing written back "like" the input: same container, subtype, samples
    out = tmp_path / f"out.{ext}"
    cio.write_audio(out, audio, info.samplerate, like=info)
    back = sf.info(str(out))
    assert (back.format, back.subtype) == (fmt, subtype)
    np.testing.assert_array_equal(sf.read(str(out), always_2d=True)[0], x)


def test_pcm16_identity_is_bit_exact_including_full_scale(tmp_path):
    ints = np.array([-32768, -32767, -1, 0, 1, 32766, 32767], dtype=np.int16)[:, None]
    src = tmp_path / "in.wav"
    sf.write(str(src), ints, 8000, subtype="PCM_16")
    audio, info = cio.read_audio(src)
    out = tmp_path / "out.wav"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # values read from a PCM file never count as clipping
        cio.write_audio(out, audio, info.samplerate, like=info)
    np.testing.assert_array_equal(sf.read(str(out), dtype="int16", always_2d=True)[0], ints)


@pytest.mark.parametrize("ext,fmt,subtype", [("ogg", "OGG", "VORBIS"), ("mp3", "MP3", "MPEG_LAYER_III")])
def test_lossy_formats_are_read(tmp_path, ext, fmt, subtype):
    sr = 44100
    t = np.arange(sr) / sr
    x = 0.5 * np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)], axis=1)
    src = write_fixture(tmp_path / f"in.{ext}", x, sr, subtype=subtype, format=fmt)
    audio, info = cio.read_audio(src)
    assert (info.format, info.subtype, info.channels) == (fmt, subtype, 2)
    assert audio.shape == (info.frames, 2) and abs(info.frames - sr) <= 2 * 1152
    assert np.all(np.isfinite(audio))
    # lossy, but clearly the same signal
    n = min(len(audio), sr)
    assert np.corrcoef(audio[:n, 0], x[:n, 0])[0, 1] > 0.9 or _lagged_corr(audio[:, 0], x[:, 0]) > 0.9


def _lagged_corr(a, b):
    best = 0.0
    for lag in range(0, 3000, 1):
        n = min(len(a) - lag, len(b))
        if n < 1000:
            break
        best = max(best, float(np.corrcoef(a[lag:lag + n], b[:n])[0, 1]))
    return best


@pytest.mark.parametrize("ext,fmt,default", [
    ("wav", "WAV", "PCM_24"), ("flac", "FLAC", "PCM_24"), ("ogg", "OGG", "VORBIS"),
    ("opus", "OGG", "OPUS"), ("aiff", "AIFF", "PCM_24"), ("aif", "AIFF", "PCM_24"),
    ("w64", "W64", "PCM_24"), ("rf64", "RF64", "PCM_24"), ("caf", "CAF", "PCM_24"),
    ("WAV", "WAV", "PCM_24"),
])
def test_output_format_follows_extension_and_keeps_subtype(tmp_path, ext, fmt, default):
    like = cio.AudioInfo(Path("in.wav"), 48000, 2, 100, "WAV", "PCM_24")
    assert cio.output_format(tmp_path / f"x.{ext}", like=like, subtype=None) == (fmt, default)


def test_output_format_sensible_defaults_when_subtype_cannot_be_kept(tmp_path):
    fl = cio.AudioInfo(Path("in.wav"), 44100, 2, 100, "WAV", "FLOAT")
    assert cio.output_format(tmp_path / "x.flac", like=fl, subtype=None) == ("FLAC", "PCM_24")
    vorbis = cio.AudioInfo(Path("in.ogg"), 44100, 2, 100, "OGG", "VORBIS")
    assert cio.output_format(tmp_path / "x.wav", like=vorbis, subtype=None) == ("WAV", "PCM_16")
    p24 = cio.AudioInfo(Path("in.wav"), 44100, 2, 100, "WAV", "PCM_24")
    assert cio.output_format(tmp_path / "x.ogg", like=p24, subtype=None) == ("OGG", "VORBIS")
    # no input known: container default
    assert cio.output_format(tmp_path / "x.wav", like=None, subtype=None) == ("WAV", "PCM_16")


def test_subtype_option_changes_subtype_and_invalid_one_lists_valid(tmp_path):
    like = cio.AudioInfo(Path("in.wav"), 44100, 2, 100, "WAV", "PCM_16")
    assert cio.output_format(tmp_path / "x.wav", like=like, subtype="float") == ("WAV", "FLOAT")
    with pytest.raises(ParameterError) as ei:
        cio.output_format(tmp_path / "x.flac", like=like, subtype="FLOAT")
    msg = str(ei.value)
    assert "FLOAT" in msg and "PCM_16" in msg and "PCM_24" in msg
    with pytest.raises(ParameterError, match="valid subtypes"):
        cio.output_format(tmp_path / "x.wav", like=like, subtype="PCM_12")


def test_unknown_output_extension_lists_valid_ones(tmp_path):
    for name in ("x.txt", "x"):
        with pytest.raises(AudioWriteError) as ei:
            cio.output_format(tmp_path / name, like=None, subtype=None)
        assert ".wav" in str(ei.value) and ".flac" in str(ei.value)


def test_mp3_output_only_if_libsndfile_can_write_it(tmp_path):
    x = grid16(44100, 1, amp=0.3)
    if ".mp3" in cio.supported_extensions():
        cio.write_audio(tmp_path / "o.mp3", x, 44100)
        assert sf.info(str(tmp_path / "o.mp3")).format == "MP3"
    else:
        with pytest.raises(AudioWriteError, match=".mp3"):
            cio.output_format(tmp_path / "o.mp3", like=None, subtype=None)


def test_wav_writer_switches_to_rf64_when_output_would_pass_4gb(tmp_path, monkeypatch):
    # Pretend the WAV limit is 10 kB so that the decision can be tested without 4 GB of disk.
    monkeypatch.setattr(cio.write, "WAV_LIMIT_BYTES", 10_000)
    x = grid16(4000, 2)  # 16 000 bytes of PCM_16
    cio.write_audio(tmp_path / "big.wav", x, 44100, subtype="PCM_16")
    assert sf.info(str(tmp_path / "big.wav")).format == "RF64"
    np.testing.assert_array_equal(cio.read_audio(tmp_path / "big.wav")[0], x)
    cio.write_audio(tmp_path / "small.wav", x[:100], 44100, subtype="PCM_16")
    assert sf.info(str(tmp_path / "small.wav")).format == "WAV"


def test_wav_writer_refuses_to_grow_past_4gb_with_a_wrong_length_hint(tmp_path, monkeypatch):
    monkeypatch.setattr(cio.write, "WAV_LIMIT_BYTES", 10_000)
    out = tmp_path / "o.wav"
    with pytest.raises(AudioWriteError, match="4 GB"):
        with cio.AtomicAudioWriter(out, samplerate=8000, channels=1, format="WAV",
                                   subtype="PCM_16", frames=100) as w:
            for _ in range(10):
                w.write(np.zeros(1000))
    assert not out.exists() and no_part_files(tmp_path)


def test_streaming_wav_without_length_is_rf64_downgraded_to_plain_riff(tmp_path):
    out = tmp_path / "o.wav"
    with cio.AtomicAudioWriter(out, samplerate=8000, channels=2, subtype="PCM_16") as w:
        w.write(grid16(500, 2))
    assert out.read_bytes()[:4] == b"RIFF"
    assert sf.info(str(out)).format in ("WAV", "WAVEX")
    np.testing.assert_array_equal(cio.read_audio(out)[0], grid16(500, 2))


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("CLEANTAKE_BIG_TESTS") != "1",
                    reason="writes > 4 GB; set CLEANTAKE_BIG_TESTS=1 to run")
@pytest.mark.parametrize("hint", [True, False])
def test_real_wav_output_past_4gb_becomes_rf64(tmp_path, hint):  # pragma: no cover - manual
    frames = (4 * 2**30) // 8 + 1_000_000  # stereo FLOAT = 8 bytes/frame
    block = np.full((2**20, 2), 0.25)
    with cio.AtomicAudioWriter(tmp_path / "huge.wav", samplerate=48000, channels=2,
                               subtype="FLOAT", frames=frames if hint else None) as w:
        left = frames
        while left:
            n = min(left, len(block))
            w.write(block[:n])
            left -= n
    info = cio.probe(tmp_path / "huge.wav")
    assert info.format == "RF64" and info.frames == frames


@pytest.mark.parametrize("ext,sr,channels,what", [
    ("flac", 65537, 1, "multiple of 10"), ("flac", 192001 - 1, 1, None), ("mp3", 96000, 1, "MP3 stores only"),
    ("mp3", 44100, 3, "at most 2 channels"), ("opus", 44100, 1, "Opus stores only"),
])
def test_container_limits_refused_before_writing(tmp_path, ext, sr, channels, what):
    if ext == "mp3" and ".mp3" not in cio.supported_extensions():
        pytest.skip("no MP3 encoder in this libsndfile")
    out = tmp_path / f"o.{ext}"
    x = np.zeros((2000, channels))
    if what is None:
        cio.write_audio(out, x, sr)
        assert sf.info(str(out)).samplerate == sr
        return
    with pytest.raises(AudioWriteError, match=what):
        cio.write_audio(out, x, sr)
    assert not out.exists() and no_part_files(tmp_path)
    like = cio.AudioInfo(Path("in.wav"), sr, channels, 2000, "WAV", "PCM_16")
    with pytest.raises(AudioWriteError, match=what):  # known before any processing
        cio.output_format(out, like=like, subtype=None)


def test_eight_bit_aiff_refused(tmp_path):
    """libsndfile writes 8-bit AIFF of odd length wrongly (an extra sample on reading back)."""
    with pytest.raises(ParameterError, match="PCM_16"):
        cio.output_format(tmp_path / "o.aiff", like=None, subtype="PCM_S8")
    with pytest.raises(ParameterError):
        cio.write_audio(tmp_path / "o.aiff", np.zeros(3), 8000, subtype="PCM_U8")
    like = cio.AudioInfo(Path("i.wav"), 8000, 1, 3, "WAV", "PCM_U8")
    assert cio.output_format(tmp_path / "o.aiff", like=like, subtype=None) == ("AIFF", "PCM_16")
    cio.write_audio(tmp_path / "o.aiff", np.zeros(3), 8000, like=like)
    assert cio.read_audio(tmp_path / "o.aiff")[0].shape == (3, 1)


# --- full scale policy -----------------------------------------------------------------


def test_clip_policy_clip_clips_without_wraparound_and_warns(tmp_path):
    x = np.zeros((8000, 1))
    x[1000] = 1.5
    x[1001] = -3.0
    x[4000] = 1.0  # exactly full scale is also beyond the largest 16-bit value
    out = tmp_path / "o.wav"
    with pytest.warns(cio.ClippingWarning) as rec:
        cio.write_audio(out, x, 8000, subtype="PCM_16", clip="clip")
    msg = str(rec[0].message)
    assert "3 sample" in msg and "0.125 s" in msg
    y = sf.read(str(out), dtype="int16", always_2d=True)[0][:, 0]
    assert y[1000] == 32767 and y[1001] == -32768 and y[4000] == 32767  # no wrap to the other sign


@pytest.mark.parametrize("subtype", ["PCM_24", "PCM_32", "ULAW", "ALAW"])
def test_clip_policy_handles_every_integer_subtype(tmp_path, subtype):
    # libsndfile's u-law encoder crashes the process on large values: cleantake must clip first.
    x = np.array([[0.0], [40.0], [-40.0], [1.0], [0.5]])
    out = tmp_path / "o.wav"
    with pytest.warns(cio.ClippingWarning, match="3 sample"):
        cio.write_audio(out, x, 8000, subtype=subtype)
    y = sf.read(str(out), always_2d=True)[0][:, 0]
    assert y[1] > 0.9 and y[2] < -0.9 and y[3] > 0.9 and abs(y[4] - 0.5) < 0.02


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_U8", "FLOAT", "VORBIS"])
def test_full_scale_range_is_what_the_writer_keeps(tmp_path, subtype):
    rng = cio.full_scale_range(subtype)
    if subtype == "FLOAT":
        assert rng is None
        return
    x = np.array([[-5.0], [rng[0]], [rng[1]], [5.0]])
    ext = "ogg" if subtype == "VORBIS" else "wav"
    with pytest.warns(cio.ClippingWarning, match="2 sample"):  # only the two beyond the range
        cio.write_audio(tmp_path / f"o.{ext}", x, 44100, subtype=subtype)
    if ext == "wav":
        np.testing.assert_array_equal(cio.read_audio(tmp_path / "o.wav")[0][:, 0],
                                      [rng[0], rng[0], rng[1], rng[1]])


def test_clip_policy_error_refuses_and_writes_nothing(tmp_path):
    out = tmp_path / "o.flac"
    x = np.zeros((44100, 2))
    x[22050, 1] = 1.2
    with pytest.raises(AudioWriteError) as ei:
        cio.write_audio(out, x, 44100, clip="error")
    assert "0.500 s" in str(ei.value) and "full scale" in str(ei.value)
    assert not out.exists() and no_part_files(tmp_path)


def test_clip_policy_float_keeps_values_and_requires_float(tmp_path):
    x = np.array([[0.0], [1.5], [-2.25], [0.125]])
    out = tmp_path / "o.wav"
    like = cio.AudioInfo(Path("i.wav"), 8000, 1, 4, "WAV", "PCM_16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cio.write_audio(out, x, 8000, like=like, clip="float")
    assert sf.info(str(out)).subtype == "FLOAT"
    np.testing.assert_array_equal(sf.read(str(out), always_2d=True)[0], x)
    with pytest.raises(ParameterError, match="float subtype"):
        cio.write_audio(tmp_path / "p.wav", x, 8000, subtype="PCM_16", clip="float")
    with pytest.raises(ParameterError, match="float"):
        cio.write_audio(tmp_path / "p.flac", x, 8000, clip="float")
    with pytest.raises(ParameterError, match="clip, error, float"):
        cio.write_audio(tmp_path / "p.wav", x, 8000, clip="wrap")
    assert not (tmp_path / "p.wav").exists() and not (tmp_path / "p.flac").exists()


def test_float_subtypes_are_never_clipped(tmp_path):
    x = np.array([[3.0, -4.0], [0.5, 1e-9]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cio.write_audio(tmp_path / "o.wav", x, 8000, subtype="DOUBLE", clip="clip")
        cio.write_audio(tmp_path / "e.wav", x, 8000, subtype="FLOAT", clip="error")
    np.testing.assert_array_equal(sf.read(str(tmp_path / "o.wav"))[0], x)
    np.testing.assert_allclose(sf.read(str(tmp_path / "e.wav"))[0], x, rtol=1e-7)


# ======================================================================================
# 2. Signals
# ======================================================================================


@pytest.mark.parametrize("sr", [8000, 11025, 22050, 44100, 48000, 96000, 192000])
def test_supported_sample_rates(tmp_path, sr):
    x = grid16(sr // 10, 1)
    src = write_fixture(tmp_path / "a.wav", x, sr, subtype="PCM_16")
    audio, info = cio.read_audio(src)
    assert info.samplerate == sr and abs(info.duration_s - 0.1) < 1e-3
    np.testing.assert_array_equal(audio, x)


@pytest.mark.parametrize("sr", [4000, 7999, 192001, 384000])
def test_unsupported_sample_rates_refused_with_range(tmp_path, sr):
    src = write_fixture(tmp_path / "a.wav", grid16(1000, 1), sr, subtype="PCM_16")
    with pytest.raises(AudioReadError) as ei:
        cio.probe(src)
    assert f"{sr} Hz" in str(ei.value) and "8000 Hz to 192000 Hz" in str(ei.value)


@pytest.mark.parametrize("channels", range(1, 9))
def test_one_to_eight_channels(tmp_path, channels):
    x = grid16(500, channels, seed=channels)
    src = write_fixture(tmp_path / "a.flac", x, 44100, subtype="PCM_24")
    audio, info = cio.read_audio(src)
    assert audio.shape == (500, channels) and info.channels == channels
    np.testing.assert_array_equal(audio, x)
    cio.write_audio(tmp_path / "o.wav", audio, 44100, like=info)
    np.testing.assert_array_equal(cio.read_audio(tmp_path / "o.wav")[0], x)


def test_more_than_eight_channels_refused(tmp_path):
    src = write_fixture(tmp_path / "a.wav", grid16(100, 9), 44100, subtype="PCM_16")
    with pytest.raises(AudioReadError, match="9 channels.*1 to 8"):
        cio.read_audio(src)


def test_mono_is_2d(tmp_path):
    src = write_fixture(tmp_path / "a.wav", grid16(100, 1)[:, 0], 44100, subtype="PCM_16")
    audio, _ = cio.read_audio(src)
    assert audio.shape == (100, 1)


def test_single_sample_file(tmp_path):
    src = write_fixture(tmp_path / "a.wav", np.array([[0.25, -0.25]]), 44100, subtype="PCM_16")
    audio, info = cio.read_audio(src)
    assert audio.shape == (1, 2) and info.frames == 1


@pytest.mark.parametrize("name,signal", [
    ("silence", np.zeros((4410, 2))),
    ("dc_offset", np.full((4410, 2), 0.5)),
    ("clipped", np.clip(3 * np.sin(np.arange(4410) / 10), -1, 1 - 2**-15)[:, None] * np.ones(2)),
    ("very_quiet", np.round(np.sin(np.arange(4410) / 10) * 3)[:, None] / 32768 * np.ones(2)),
    ("full_scale_square", np.where(np.arange(4410) % 100 < 50, 1 - 2**-15, -1.0)[:, None] * np.ones(2)),
])
def test_extreme_signals_roundtrip_exactly(tmp_path, name, signal):
    signal = np.round(signal * 32768) / 32768  # on the 16-bit grid
    src = write_fixture(tmp_path / "a.wav", signal, 44100, subtype="PCM_16")
    audio, info = cio.read_audio(src)
    np.testing.assert_array_equal(audio, signal)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cio.write_audio(tmp_path / "o.wav", audio, 44100, like=info)
    np.testing.assert_array_equal(cio.read_audio(tmp_path / "o.wav")[0], audio)


def test_float_file_with_loud_and_tiny_values(tmp_path):
    x = np.array([[1e-30], [8.0], [-8.0], [0.0]])
    src = write_fixture(tmp_path / "a.wav", x, 44100, subtype="DOUBLE")
    audio, info = cio.read_audio(src)
    np.testing.assert_array_equal(audio, x)
    cio.write_audio(tmp_path / "o.wav", audio, 44100, like=info)  # kept: DOUBLE, never clipped
    np.testing.assert_array_equal(cio.read_audio(tmp_path / "o.wav")[0], x)


def test_out_of_memory_is_a_clear_error(tmp_path, monkeypatch):
    src = write_fixture(tmp_path / "a.wav", grid16(8000, 2), 8000, subtype="PCM_16")

    def no_memory(self, *a, **k):
        raise MemoryError

    monkeypatch.setattr(sf.SoundFile, "read", no_memory)
    with pytest.raises(AudioReadError, match="GB of memory"):
        cio.read_audio(src)


def test_read_time_range(tmp_path):
    x = grid16(8000, 2)
    src = write_fixture(tmp_path / "a.flac", x, 8000, subtype="PCM_16")
    part, info = cio.read_audio(src, start_s=0.25, stop_s=0.5)
    np.testing.assert_array_equal(part, x[2000:4000])
    assert info.frames == 8000
    tail, _ = cio.read_audio(src, start_s=0.75, stop_s=99)
    np.testing.assert_array_equal(tail, x[6000:])
    for kw in ({"start_s": 2.0}, {"start_s": 0.5, "stop_s": 0.25}, {"start_s": -1},
               {"stop_s": float("nan")}):
        with pytest.raises(ParameterError):
            cio.read_audio(src, **kw)


@pytest.mark.parametrize("block_s,overlap_s", [(0.1, 0.0), (0.1, 0.03), (0.05, 0.049), (5.0, 1.0)])
def test_iter_blocks_covers_file_with_overlap(tmp_path, block_s, overlap_s):
    sr = 8000
    x = grid16(sr + 123, 2)
    src = write_fixture(tmp_path / "a.wav", x, sr, subtype="PCM_16")
    block_n, overlap_n = round(block_s * sr), round(overlap_s * sr)
    rebuilt = np.full_like(x, np.nan)
    prev_start = None
    for start, block in cio.iter_blocks(src, block_s=block_s, overlap_s=overlap_s):
        assert block.dtype == np.float64 and block.ndim == 2 and block.shape[1] == 2
        assert 0 < len(block) <= block_n
        if prev_start is not None:
            assert start - prev_start == block_n - overlap_n
        np.testing.assert_array_equal(block, x[start:start + len(block)])
        rebuilt[start:start + len(block)] = block
        prev_start = start
    assert start + len(block) == len(x)
    np.testing.assert_array_equal(rebuilt, x)


def test_iter_blocks_rejects_bad_parameters(tmp_path):
    src = write_fixture(tmp_path / "a.wav", grid16(100, 1), 8000, subtype="PCM_16")
    for b, o in ((0, 0), (1, 1), (1, -0.1), (1, 2), (float("inf"), 0)):
        with pytest.raises(ParameterError):
            list(cio.iter_blocks(src, block_s=b, overlap_s=o))


def test_iter_blocks_memory_is_bounded_by_block_size(tmp_path):
    # 20 minutes at 8 kHz mono (9.6 M samples, 77 MB as float64) streamed in 1-s blocks.
    sr, minutes = 8000, 20
    src = tmp_path / "long.wav"
    chunk = (np.sin(np.arange(sr * 60) * 0.01) * 0.5)[:, None]
    with sf.SoundFile(str(src), "w", sr, 1, "PCM_16") as f:
        for _ in range(minutes):
            f.write(chunk)
    total = 0
    tracemalloc.start()
    try:
        for start, block in cio.iter_blocks(src, block_s=1.0, overlap_s=0.25):
            total = start + len(block)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == sr * 60 * minutes
    assert peak < 20 * sr * 8  # a few blocks of 64 kB, far below the 77 MB of the whole file


# ======================================================================================
# 3. Bad input
# ======================================================================================


def test_missing_file(tmp_path):
    with pytest.raises(AudioReadError, match="not found.*nope.wav"):
        cio.probe(tmp_path / "nope.wav")


def test_directory(tmp_path):
    with pytest.raises(AudioReadError, match="is a folder"):
        cio.read_audio(tmp_path)


def test_broken_symlink(tmp_path):
    (tmp_path / "link.wav").symlink_to(tmp_path / "gone.wav")
    with pytest.raises(AudioReadError, match="broken symbolic link"):
        cio.probe(tmp_path / "link.wav")


def test_pipe_or_device_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    for p in (fifo, Path("/dev/null")):
        with pytest.raises(AudioReadError, match="not a regular file"):
            cio.probe(p)


def test_empty_file(tmp_path):
    (tmp_path / "e.wav").write_bytes(b"")
    with pytest.raises(AudioReadError, match="empty file"):
        cio.probe(tmp_path / "e.wav")


def test_wav_header_without_samples(tmp_path):
    src = write_fixture(tmp_path / "h.wav", np.zeros((0, 2)), 44100, subtype="PCM_16")
    with pytest.raises(AudioReadError, match="no audio samples"):
        cio.read_audio(src)


@pytest.mark.parametrize("content", [
    b"This is a text file, not audio.\n" * 20,
    b"%PDF-1.4\n" + bytes(range(256)) * 4,
    bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)),
])
def test_non_audio_file_lists_supported_formats(tmp_path, content):
    p = tmp_path / "notes.wav"
    p.write_bytes(content)
    with pytest.raises(AudioReadError) as ei:
        cio.read_audio(p)
    msg = str(ei.value)
    assert "notes.wav" in msg and "WAV" in msg and "FLAC" in msg and "MP3" in msg


def _setpriv_works() -> bool:
    if not shutil.which("setpriv"):
        return False
    r = subprocess.run(["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                        "--bounding-set=-dac_override,-dac_read_search", "true"], capture_output=True)
    return r.returncode == 0


def check_without_privileges(check: str) -> None:
    """Run ``check`` (Python using cio, AudioReadError, AudioWriteError) with file permissions
    enforced: in-process for a normal user; for root in a subprocess that has dropped the
    capabilities that bypass permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)."""
    if os.geteuid() != 0:
        exec(textwrap.dedent(check), {"cio": cio, "AudioReadError": AudioReadError,
                                      "AudioWriteError": AudioWriteError, "pytest": pytest})
        return
    if not _setpriv_works():
        pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE (no setpriv)")
    code = _FAST_IO_IMPORT + "import pytest\n" + textwrap.dedent(check)
    r = subprocess.run(["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                        "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c", code],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_unreadable_file(tmp_path):
    src = write_fixture(tmp_path / "a.wav", grid16(100, 1), subtype="PCM_16")
    src.chmod(0)
    try:
        check_without_privileges(f"""
            with pytest.raises(AudioReadError, match="permission denied"):
                cio.probe({str(src)!r})
        """)
    finally:
        src.chmod(0o644)


@pytest.mark.parametrize("ext,fmt,subtype", [
    ("wav", "WAV", "PCM_16"), ("wav", "WAV", "FLOAT"), ("aiff", "AIFF", "PCM_24"),
    ("w64", "W64", "PCM_16"), ("rf64", "RF64", "PCM_16"), ("flac", "FLAC", "PCM_24"),
    ("ogg", "OGG", "VORBIS"), ("mp3", "MP3", "MPEG_LAYER_III"), ("caf", "CAF", "PCM_16"),
])
def test_truncated_file_refused(tmp_path, ext, fmt, subtype):
    full = write_fixture(tmp_path / f"full.{ext}", grid16(3 * 44100, 2, amp=0.5), 44100,
                         subtype=subtype, format=fmt)
    data = full.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioReadError) as ei:
        cio.read_audio(cut)
    assert "truncated" in str(ei.value) or "corrupt" in str(ei.value)
    with pytest.raises(AudioReadError):
        list(cio.iter_blocks(cut, block_s=0.5, overlap_s=0.1))


def test_corrupt_flac_refused(tmp_path):
    full = write_fixture(tmp_path / "f.flac", grid16(3 * 44100, 2), 44100, subtype="PCM_16")
    data = bytearray(full.read_bytes())
    k = len(data) // 3
    data[k:k + 4000] = bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8))
    bad = tmp_path / "bad.flac"
    bad.write_bytes(bytes(data))
    with pytest.raises(AudioReadError, match="corrupt"):
        cio.read_audio(bad)


def _patch_wav_sizes(path: Path, riff: int | None, data_size: int) -> None:
    data = bytearray(path.read_bytes())
    pos = data.find(b"data")
    data[pos + 4:pos + 8] = data_size.to_bytes(4, "little")
    if riff is not None:
        data[4:8] = riff.to_bytes(4, "little")
    path.write_bytes(bytes(data))


def test_wav_streaming_header_with_unknown_size_is_read(tmp_path):
    """Streaming writers put 0xFFFFFFFF as sizes: libsndfile reads the data that is there."""
    x = grid16(1000, 1)
    src = write_fixture(tmp_path / "a.wav", x, 8000, subtype="PCM_16")
    _patch_wav_sizes(src, 0xFFFFFFFF, 0xFFFFFFFF)
    audio, _ = cio.read_audio(src)
    np.testing.assert_array_equal(audio, x)


def test_wav_with_wrong_riff_size_but_complete_data_is_read(tmp_path):
    """Some writers put a wrong overall RIFF size; the audio data is complete, so read it."""
    x = grid16(1000, 2)
    src = write_fixture(tmp_path / "a.wav", x, 8000, subtype="PCM_16")
    data = bytearray(src.read_bytes())
    data[4:8] = (len(data) + 5000).to_bytes(4, "little")
    src.write_bytes(bytes(data))
    np.testing.assert_array_equal(cio.read_audio(src)[0], x)


def test_wav_with_unfinished_header_refused_with_repair_hint(tmp_path):
    """A recorder that crashed can leave data size 0 in the header although audio follows."""
    src = write_fixture(tmp_path / "a.wav", grid16(1000, 1), 8000, subtype="PCM_16")
    _patch_wav_sizes(src, None, 0)
    with pytest.raises(AudioReadError, match="not finished properly.*sox --ignore-length"):
        cio.read_audio(src)


@pytest.mark.parametrize("bad,kind", [(np.nan, "NaN"), (np.inf, "infinite"), (-np.inf, "infinite")])
@pytest.mark.parametrize("subtype", ["FLOAT", "DOUBLE"])
def test_non_finite_samples_refused_with_time(tmp_path, bad, kind, subtype):
    x = np.zeros((8000, 2))
    x[6000, 1] = bad
    x[7000, 0] = bad
    src = write_fixture(tmp_path / "n.wav", x, 8000, subtype=subtype)
    with pytest.raises(AudioReadError) as ei:
        cio.read_audio(src)
    assert kind in str(ei.value) and "0.750000 s" in str(ei.value)
    with pytest.raises(AudioReadError, match="0.750000 s"):
        list(cio.iter_blocks(src, block_s=0.2, overlap_s=0.05))


# ======================================================================================
# 4. Output safety
# ======================================================================================


@pytest.fixture
def wav_in(tmp_path) -> Path:
    return write_fixture(tmp_path / "in.wav", grid16(4410, 2), 44100, subtype="PCM_24")


def test_input_never_modified(tmp_path, wav_in):
    before, mtime = sha(wav_in), wav_in.stat().st_mtime_ns
    audio, info = cio.read_audio(wav_in)
    list(cio.iter_blocks(wav_in, block_s=0.01, overlap_s=0.002))
    cio.write_audio(tmp_path / "out.wav", audio * 0.5, info.samplerate, like=info)
    assert sha(wav_in) == before and wav_in.stat().st_mtime_ns == mtime


def test_output_equal_to_input_refused_in_every_spelling(tmp_path, wav_in, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "alias.wav").symlink_to(wav_in)
    os.link(wav_in, tmp_path / "hardlink.wav")
    spellings = [wav_in, "in.wav", "./in.wav", "sub/../in.wav", str(wav_in.resolve()),
                 tmp_path / "alias.wav", "hardlink.wav"]
    for out in spellings:
        with pytest.raises(AudioWriteError, match="is the input file itself"):
            cio.check_output(wav_in, out, overwrite=True)
        with pytest.raises(AudioWriteError, match="is the input file itself"):
            cio.check_output("alias.wav", out, overwrite=True)


def test_existing_output_kept_unless_overwrite(tmp_path, wav_in):
    out = tmp_path / "out.wav"
    out.write_bytes(b"precious")
    with pytest.raises(AudioWriteError, match="use -y to overwrite"):
        cio.check_output(wav_in, out, overwrite=False)
    with pytest.raises(AudioWriteError, match="use -y"):
        cio.write_audio(out, np.zeros((10, 1)), 8000)
    assert out.read_bytes() == b"precious"
    cio.check_output(wav_in, out, overwrite=True)
    cio.write_audio(out, np.zeros((10, 1)), 8000, overwrite=True)
    assert sf.info(str(out)).frames == 10
    assert no_part_files(tmp_path)


def test_output_appearing_during_write_is_not_clobbered(tmp_path):
    out = tmp_path / "o.wav"
    with pytest.raises(AudioWriteError, match="already exists"):
        with cio.AtomicAudioWriter(out, samplerate=8000, channels=1) as w:
            w.write(np.zeros(100))
            out.write_bytes(b"someone else's file")
    assert out.read_bytes() == b"someone else's file" and no_part_files(tmp_path)


def test_a_copy_instead_must_read_back_as_the_samples_written(tmp_path):
    src = tmp_path / "src.wav"
    sf.write(src, np.full(50, 0.25), 8000, subtype="PCM_16")
    out = tmp_path / "o.wav"
    with cio.AtomicAudioWriter(out, samplerate=8000, channels=1, subtype="PCM_16") as w:
        w.write(np.full(50, 2.0))  # clipped as written, not in the copy
        w.copy_instead(src)
    assert out.read_bytes() == src.read_bytes() and w.clipped == 0
    with pytest.raises(AudioWriteError, match="does not read back"):
        with cio.AtomicAudioWriter(tmp_path / "short.wav", samplerate=8000, channels=1) as w:
            w.write(np.zeros(100))
            w.copy_instead(src)
    assert not (tmp_path / "short.wav").exists() and no_part_files(tmp_path)
    with pytest.raises(AudioReadError, match="cannot copy the input .*gone.wav.*nothing was written"):
        with cio.AtomicAudioWriter(tmp_path / "g.wav", samplerate=8000, channels=1, subtype="PCM_16") as w:
            w.write(np.zeros(50))
            w.copy_instead(tmp_path / "gone.wav")
    assert not (tmp_path / "g.wav").exists() and no_part_files(tmp_path)


def test_a_held_clip_refusal_is_raised_unless_the_output_becomes_a_copy(tmp_path):
    src = tmp_path / "src.wav"
    sf.write(src, np.full(50, 0.25), 8000, subtype="PCM_16")
    with cio.AtomicAudioWriter(tmp_path / "c.wav", samplerate=8000, channels=1, subtype="PCM_16",
                               clip="error") as w:
        w.hold_clip_errors = True
        w.write(np.full(50, 2.0))
        w.copy_instead(src)
    assert (tmp_path / "c.wav").read_bytes() == src.read_bytes()
    for release in (True, False):  # released when something is removed, or at the end
        with pytest.raises(AudioWriteError, match="exceeds full scale at 0.003 s"):
            with cio.AtomicAudioWriter(tmp_path / "e.wav", samplerate=8000, channels=1, subtype="PCM_16",
                                       clip="error") as w:
                w.hold_clip_errors = True
                w.write(np.r_[np.zeros(20), np.full(30, 2.0)])
                if release:
                    w.release_clip_errors()
                w.write(np.zeros(10))
        assert not (tmp_path / "e.wav").exists() and no_part_files(tmp_path)


@pytest.mark.parametrize("ext", ["wav", "flac"])
def test_silence_instead_keeps_the_length_format_and_tags(tmp_path, ext):
    info = cio.AudioInfo(tmp_path / "in.wav", samplerate=8000, channels=2, frames=70_000, format="WAV",
                         subtype="PCM_24", tags=(("title", "take 3"),))
    out = tmp_path / f"s.{ext}"
    with cio.AtomicAudioWriter(out, samplerate=8000, channels=2, subtype="PCM_24", like=info) as w:
        w.write(np.full((70_000, 2), 0.5))
        w.silence_instead()
    y, sr = sf.read(out)
    assert y.shape == (70_000, 2) and sr == 8000 and not np.any(y)
    assert sf.info(str(out)).subtype == "PCM_24" and sf.SoundFile(str(out)).title == "take 3"


def test_output_folder_problems(tmp_path, wav_in):
    with pytest.raises(AudioWriteError, match="does not exist"):
        cio.check_output(wav_in, tmp_path / "missing" / "o.wav", overwrite=False)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(AudioWriteError, match="not a folder"):
        cio.check_output(wav_in, tmp_path / "afile" / "o.wav", overwrite=False)
    with pytest.raises(AudioWriteError, match="is a folder"):
        cio.check_output(wav_in, tmp_path, overwrite=True)
    with pytest.raises(AudioWriteError, match="does not exist"):
        cio.write_audio(tmp_path / "missing" / "o.wav", np.zeros(10), 8000)


def test_unwritable_folder_detected_by_trying(tmp_path, wav_in, monkeypatch):
    # Works as root too (os.access lies for root and on read-only mounts): creation fails.
    def deny(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", deny)
    with pytest.raises(AudioWriteError, match="not writable"):
        cio.check_output(wav_in, tmp_path / "o.wav", overwrite=False)
    with pytest.raises(AudioWriteError, match="permission denied"):
        cio.write_audio(tmp_path / "o.wav", np.zeros(10), 8000)


def test_read_only_folder(tmp_path, wav_in):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        check_without_privileges(f"""
            with pytest.raises(AudioWriteError, match="not writable"):
                cio.check_output({str(wav_in)!r}, {str(ro / "o.wav")!r}, overwrite=False)
            with pytest.raises(AudioWriteError, match="permission denied|not writable"):
                cio.write_audio({str(ro / "o.wav")!r}, [0.0, 0.1], 8000)
        """)
    finally:
        ro.chmod(0o755)
    assert list(ro.iterdir()) == []


def test_read_only_existing_output_not_overwritten(tmp_path, wav_in):
    out = tmp_path / "o.wav"
    out.write_bytes(b"keep")
    out.chmod(0o444)
    check_without_privileges(f"""
        with pytest.raises(AudioWriteError, match="read-only"):
            cio.check_output({str(wav_in)!r}, {str(out)!r}, overwrite=True)
    """)
    assert out.read_bytes() == b"keep"


def test_temp_file_is_hidden_part_file_in_same_folder(tmp_path):
    out = tmp_path / "o.flac"
    with cio.AtomicAudioWriter(out, samplerate=8000, channels=1) as w:
        w.write(np.zeros(100))
        parts = [p for p in tmp_path.iterdir() if p != out]
        assert len(parts) == 1
        assert parts[0].name.startswith(".o.flac.") and parts[0].name.endswith(".part")
        assert not out.exists()
    assert out.exists() and no_part_files(tmp_path)
    assert sf.info(str(out)).format == "FLAC"


def test_final_file_permissions_follow_umask(tmp_path):
    old = os.umask(0o022)
    try:
        cio.write_audio(tmp_path / "o.wav", np.zeros(10), 8000)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "o.wav").stat().st_mode) == 0o644


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_exception_inside_writer_leaves_old_output_and_no_temp(tmp_path, exc):
    out = tmp_path / "o.wav"
    out.write_bytes(b"old output")
    with pytest.raises(type(exc)):
        with cio.AtomicAudioWriter(out, samplerate=8000, channels=1, overwrite=True) as w:
            w.write(np.zeros(1000))
            raise exc
    assert out.read_bytes() == b"old output" and no_part_files(tmp_path)


@pytest.mark.parametrize("ext", ["aiff", "wav", "w64", "caf"])
@pytest.mark.parametrize("n", [1, 2, 5, 100])
def test_very_short_float_outputs_read_back(tmp_path, ext, n):
    """libsndfile writes a broken AIFF header for short float files without a PEAK chunk."""
    x = np.linspace(-0.5, 0.5, n * 2).reshape(n, 2)
    cio.write_audio(tmp_path / f"o.{ext}", x, 8000, subtype="FLOAT")
    np.testing.assert_allclose(cio.read_audio(tmp_path / f"o.{ext}")[0], x, atol=1e-7)


def test_nan_in_output_refused(tmp_path):
    x = np.zeros((8000, 1))
    x[4000] = np.nan
    with pytest.raises(AudioWriteError, match="NaN.*0.500 s"):
        cio.write_audio(tmp_path / "o.wav", x, 8000)
    assert not (tmp_path / "o.wav").exists() and no_part_files(tmp_path)


def test_wrong_block_shape_refused(tmp_path):
    with pytest.raises(ParameterError, match=r"\(n, 2\)"):
        with cio.AtomicAudioWriter(tmp_path / "o.wav", samplerate=8000, channels=2) as w:
            w.write(np.zeros((10, 3)))
    assert no_part_files(tmp_path) and not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_disk_full_simulated(tmp_path, monkeypatch, where):
    out = tmp_path / "o.wav"
    out.write_bytes(b"old output")
    if where == "write":
        def full(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(sf.SoundFile, "write", full)
    else:
        def full(fd):
            raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(AudioWriteError) as ei:
        cio.write_audio(out, np.zeros((1000, 1)), 8000, overwrite=True)
    assert "disk full while writing" in str(ei.value) and "o.wav" in str(ei.value)
    assert out.read_bytes() == b"old output" and no_part_files(tmp_path)


def _can_mount_tmpfs() -> bool:
    if not shutil.which("unshare"):
        return False
    r = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k none /mnt"],
                       capture_output=True)
    return r.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="cannot mount a small tmpfs here")
@pytest.mark.parametrize("ext,subtype", [("wav", "PCM_32"), ("flac", "PCM_24"), ("ogg", "VORBIS")])
def test_disk_full_real_tmpfs(tmp_path, ext, subtype):
    """A real ENOSPC: write MBs into a 256 kB tmpfs (private mount namespace).

    The Ogg encoder ignores write errors; the writer's read-back check catches it.
    """
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = _FAST_IO_IMPORT + textwrap.dedent(f"""
        import numpy as np, sys
        from pathlib import Path
        out = Path({str(mnt)!r}) / "o.{ext}"
        out.write_bytes(b"old output")
        x = np.random.default_rng(0).uniform(-0.5, 0.5, (1_300_000, 1))
        try:
            cio.write_audio(out, x, 44100, subtype={subtype!r}, overwrite=True)
        except AudioWriteError as e:
            print("ERR", e)
        print("OLD", out.read_bytes() == b"old output")
        print("FILES", sorted(p.name for p in out.parent.iterdir()))
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    r = subprocess.run(["unshare", "-rm", "sh", "-c",
                        f"mount -t tmpfs -o size=256k none {mnt} && {sys.executable} -c \"$0\"",
                        script], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "ERR disk full while writing" in r.stdout, r.stdout
    assert "OLD True" in r.stdout and f"FILES ['o.{ext}']" in r.stdout


_KILL_SCRIPT = _FAST_IO_IMPORT + textwrap.dedent("""
    import sys, numpy as np
    out = sys.argv[1]
    block = np.full((48000, 2), 0.25)
    with cio.AtomicAudioWriter(out, samplerate=48000, channels=2, subtype="PCM_24",
                               overwrite=True) as w:
        w.write(block)
        print("writing", flush=True)
        while True:          # a very long recording: killed long before it ends
            w.write(block)
""")


@pytest.mark.parametrize("old", [None, b"old output that must survive"])
def test_sigkill_mid_write_leaves_no_partial_output(tmp_path, old):
    out = tmp_path / "out.wav"
    if old is not None:
        out.write_bytes(old)
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        deadline = time.monotonic() + 20
        part = []
        while time.monotonic() < deadline:  # wait until a few MB are on disk
            part = [p for p in tmp_path.glob(".out.wav.*.part")]
            if part and part[0].stat().st_size > 3_000_000:
                break
            time.sleep(0.01)
        assert part, "writer never created its temporary file"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    if old is None:
        assert not out.exists()
    else:
        assert out.read_bytes() == old
    # only the hidden temporary file can be left behind (documented)
    assert all(p.name.startswith(".out.wav.") for p in tmp_path.iterdir() if p != out)


_INTERRUPT_SCRIPT = textwrap.dedent("""
    import sys, numpy as np
    from cleantake import io as cio
    from cleantake.cli.signals import termination_as_interrupt
    out = sys.argv[1]
    block = np.full((48000, 2), 0.25)
    try:
        with termination_as_interrupt():
            with cio.AtomicAudioWriter(out, samplerate=48000, channels=2, subtype="PCM_24",
                                       overwrite=True) as w:
                w.write(block)
                print("writing", flush=True)
                while True:
                    w.write(block)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_ctrl_c_or_termination_mid_write_removes_temp_and_keeps_old(tmp_path, sig):
    out = tmp_path / "out.wav"
    out.write_bytes(b"old output")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    proc = subprocess.Popen([sys.executable, "-c", _INTERRUPT_SCRIPT, str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        time.sleep(0.2)
        assert list(tmp_path.glob(".out.wav.*.part"))
        proc.send_signal(sig)
        rest, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in rest
    assert out.read_bytes() == b"old output"
    assert only_files(tmp_path) == ["out.wav"]


def only_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_termination_handler_restores_previous_handlers():
    before = signal.getsignal(signal.SIGTERM)
    from cleantake.cli.signals import termination_as_interrupt

    with termination_as_interrupt():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_writes_are_deterministic(tmp_path):
    x = grid16(5000, 2)
    for ext, st in (("wav", "PCM_16"), ("wav", "FLOAT"), ("flac", "PCM_24"), ("aiff", "PCM_16"),
                    ("w64", "DOUBLE"), ("caf", "FLOAT"), ("rf64", "DOUBLE")):
        a, b = tmp_path / f"a.{ext}", tmp_path / f"b.{ext}"
        cio.write_audio(a, x, 44100, subtype=st)
        time.sleep(0.01)
        cio.write_audio(b, x, 44100, subtype=st)
        assert sha(a) == sha(b), (ext, st)
        a.unlink()
        b.unlink()


def test_all_errors_are_cleantake_errors():
    for cls in (AudioReadError, AudioWriteError, ParameterError):
        assert issubclass(cls, CleantakeError)


# ======================================================================================
# Real-world files: the evaluation corpus (skipped when absent)
# ======================================================================================

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


@pytest.mark.corpus
def test_corpus_files_probe_read_and_roundtrip(tmp_path):
    if not (CORPUS / "music").is_dir():
        pytest.skip("corpus not found at ../shared/corpus")
    files = sorted(CORPUS.rglob("*.flac"))
    assert files
    for p in files:  # headers of every file
        info = cio.probe(p)
        assert info.samplerate == 44100 and info.subtype == "PCM_24" and info.frames > 0
    stem = sorted((CORPUS / "music" / "stems").glob("*.flac"))[0]
    mix = sorted((CORPUS / "music" / "mixes").glob("*.flac"))[0]
    for p, channels, seconds in ((stem, 1, 20.0), (mix, 2, 30.0)):
        before = sha(p)
        audio, info = cio.read_audio(p)
        assert audio.shape == (int(seconds * 44100), channels) and info.duration_s == seconds
        assert np.all(np.abs(audio) <= 10 ** (-1 / 20) + 2**-15)  # README: peak -1 dBFS (16-bit grid)
        out = tmp_path / f"copy_{p.stem}.flac"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cio.write_audio(out, audio, info.samplerate, like=info)
        np.testing.assert_array_equal(cio.read_audio(out)[0], audio)  # bit-exact
        streamed = np.concatenate([b[: min(len(b), 44100 * 5 - 4410)] if s + len(b) < len(audio) else b
                                   for s, b in cio.iter_blocks(p, block_s=5.0, overlap_s=0.1)])
        np.testing.assert_array_equal(streamed, audio)
        assert sha(p) == before


# -- FileSamples: a file read on demand, indexed like an array --------------------------------

def _fs_file(tmp_path, n=5000, channels=2, name="fs.wav", sr=8000):
    rng = np.random.default_rng(7)
    x = np.round(rng.uniform(-0.9, 0.9, (n, channels)) * 32768) / 32768
    p = tmp_path / name
    sf.write(p, x, sr, subtype="PCM_16")
    return p, x


@pytest.mark.parametrize("key", [slice(0, 10), slice(1234, 4321), slice(4990, None), slice(None, None),
                                 slice(-7, None), slice(30, 30)])
def test_file_samples_slices_are_the_file_rows(tmp_path, key):
    p, x = _fs_file(tmp_path)
    fs = cio.FileSamples(p)
    assert fs.shape == x.shape and len(fs) == x.shape[0] and fs.ndim == 2
    got = fs[key]
    assert got.dtype == np.float64 and got.shape == x[key].shape
    np.testing.assert_array_equal(got, x[key])


def test_file_samples_row_arrays_keep_their_order_and_repeats(tmp_path):
    p, x = _fs_file(tmp_path)
    idx = np.array([4999, 3, 3, 2500, 0])
    np.testing.assert_array_equal(cio.FileSamples(p)[idx], x[idx])
    assert cio.FileSamples(p)[np.array([], dtype=int)].shape == (0, 2)


def test_file_samples_minus_and_length(tmp_path):
    p, x = _fs_file(tmp_path)
    q, y = _fs_file(tmp_path, name="other.wav")
    y = sf.read(q, always_2d=True)[0]
    d = cio.FileSamples(p, minus=cio.FileSamples(q))
    np.testing.assert_array_equal(d[100:900], x[100:900] - y[100:900])
    longer = cio.FileSamples(p, length=5100)
    tail = longer[4900:5100]
    np.testing.assert_array_equal(tail[:100], x[4900:])
    assert not tail[100:].any()
    assert cio.FileSamples(p, length=10)[:].shape == (10, 2)


def test_file_samples_refuse_what_they_cannot_do(tmp_path):
    p, _ = _fs_file(tmp_path)
    q, _ = _fs_file(tmp_path, n=4000, name="short.wav")
    with pytest.raises(ParameterError, match="cannot be subtracted"):
        cio.FileSamples(p, minus=cio.FileSamples(q))
    fs = cio.FileSamples(p)
    with pytest.raises(ParameterError, match="contiguous"):
        fs[::2]
    with pytest.raises(ParameterError, match="rows"):
        fs[np.array([0, 5000])]
    with pytest.raises(ParameterError, match="length"):
        cio.FileSamples(p, length=-1)
    with pytest.raises(AudioReadError, match="not found"):
        cio.FileSamples(tmp_path / "missing.wav")
