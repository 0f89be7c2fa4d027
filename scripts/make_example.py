"""Rebuild ``examples/organ_cough.flac``, the short example that ships with cleantake.

It is an 8-s excerpt (5.5 s to 13.5 s) of the corpus mixture ``stem_022__cough__+0dB``,
built exactly by the corpus rules (music + gain x event at the recipe's onsets), written as
24-bit FLAC. Usage: ``python scripts/make_example.py [--corpus ../shared/corpus]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
MIX_ID = "stem_022__cough__+0dB"
START_S, STOP_S = 5.5, 13.5


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = ap.parse_args(argv)
    recipe = next(m for m in json.loads((args.corpus / "mixtures.json").read_text())["mixtures"] if m["id"] == MIX_ID)
    music, sr = sf.read(args.corpus / recipe["music"], dtype="float64", always_2d=True)
    y = music.copy()
    for ev in recipe["events"]:
        e, _ = sf.read(args.corpus / ev["path"], dtype="float64")
        n0 = round(ev["onset_s"] * sr)
        y[n0 : n0 + len(e)] += ev["gain"] * np.outer(e, ev.get("pan", [1.0]))
    a, b = round(START_S * sr), round(STOP_S * sr)
    clip = 0.9 * y[a:b]
    # 20-ms fades: a cut in the middle of a note would itself be a click.
    fade = np.sin(0.5 * np.pi * np.linspace(0.0, 1.0, round(0.02 * sr)))[:, None]
    clip[: fade.size] *= fade
    clip[-fade.size :] *= fade[::-1]
    out = ROOT / "examples" / "organ_cough.flac"
    # Scaled by 0.9 so that the 0-dB coughs stay below full scale (never clipped).
    sf.write(out, clip, sr, subtype="PCM_24")
    print(f"wrote {out} ({(b - a) / sr:.1f} s, peak {0.9 * np.abs(y[a:b]).max():.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
