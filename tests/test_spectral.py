import numpy as np
import pytest

from cleantake.errors import ParameterError
from cleantake.spectral import StftConfig, band_matrix, istft, stft


@pytest.mark.parametrize("sr", [8000, 22050, 44100, 48000, 96000, 192000])
def test_stft_roundtrip_any_rate(sr):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, sr // 3 + 17))
    cfg = StftConfig(sr)
    X = stft(x, cfg)
    assert X.shape == (2, cfg.n_freq, cfg.n_frames(x.shape[-1]))
    y = istft(X, cfg, x.shape[-1])
    np.testing.assert_allclose(y, x, atol=1e-5)


def test_sizes_in_ms_give_same_seconds_at_every_rate():
    a, b = StftConfig(44100), StftConfig(96000)
    assert abs(a.win_length / a.sr - b.win_length / b.sr) < 1e-3
    assert abs(a.frame_seconds - b.frame_seconds) < 1e-4


def test_frame_times_match_centres():
    cfg = StftConfig(16000)
    x = np.zeros(16000)
    x[8000] = 1.0  # impulse at 0.5 s
    X = np.abs(stft(x, cfg))
    t = cfg.frame_times(X.shape[-1])
    assert abs(t[np.argmax(X.sum(axis=0))] - 0.5) <= cfg.frame_seconds


def test_bad_sizes_refused():
    with pytest.raises(ParameterError, match="hop"):
        StftConfig(44100, window_ms=20, hop_ms=15)
    with pytest.raises(ParameterError, match="window"):
        StftConfig(44100, window_ms=1)


def test_band_matrix_covers_every_bin():
    cfg = StftConfig(44100)
    P = band_matrix(cfg, 128)
    assert P.shape == (128, cfg.n_freq)
    assert (P >= 0).all() and (P.sum(axis=0) > 0).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-5)
