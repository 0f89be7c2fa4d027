"""Regenerate the bundled interference dictionaries from the corpus' training sounds.

Usage::

    python scripts/build_presets.py [--corpus ../shared/corpus] [--rank 12]

Learns one dictionary per core class from ``CORPUS/interference/train/CLASS/*.flac`` (never
from ``eval/``), writes ``src/cleantake/presets/CLASS.npz`` and ``any.npz`` (all classes
stacked). Deterministic: the same corpus and settings give the same files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cleantake.dictionaries import combine, learn_dictionary, save_dictionary  # noqa: E402
from cleantake.spectral import StftConfig  # noqa: E402

CLASSES = ("cough", "door", "creak", "scream", "drop")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--rank", type=int, default=12, help="templates per class")
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "cleantake" / "presets")
    args = ap.parse_args(argv)
    sr = 44100
    cfg = StftConfig(sr)
    args.out.mkdir(parents=True, exist_ok=True)
    parts = []
    for cls in CLASSES:
        files = sorted((args.corpus / "interference" / "train" / cls).glob("*.flac"))
        if not files:
            print(f"no training files for {cls}", file=sys.stderr)
            return 1
        sigs = []
        for f in files:
            x, fs = sf.read(f, dtype="float64")
            if fs != sr:
                import soxr

                x = soxr.resample(x, fs, sr)
            sigs.append(x)
        d = learn_dictionary(
            sigs, sr, name=cls, rank=args.rank, cfg=cfg,
            meta={"source": f"corpus interference/train/{cls}", "files": [f.name for f in files]},
        )
        save_dictionary(d, args.out / f"{cls}.npz")
        parts.append(d)
        print(f"{cls:8s} {len(files):3d} files {d.meta['seconds_of_audio']:7.2f} s -> rank {d.rank}")
    save_dictionary(combine(parts, "any"), args.out / "any.npz")
    print(f"any      rank {sum(p.rank for p in parts)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
