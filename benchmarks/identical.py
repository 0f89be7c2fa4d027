"""Check that a refactor leaves the proposed method's output unchanged, bit for bit.

Builds a deterministic selection of the corpus's mixtures (every 16th ``stems`` mixture, the
first 6 ``clean`` and the first 3 ``mixes`` ones; the stems mixtures come 15 per stem, one per
class and level, so every 15th would be the same class and level each time) with :func:`cleantake.evaluate.build_mixture`,
runs ``Cleaner().clean`` on each, and writes per mixture a SHA-256 of ``removed`` (float64
bytes) and the event list to JSON. Run it before and after a change and compare::

    PYTHONPATH=src python benchmarks/identical.py --out /tmp/before.json
    PYTHONPATH=src python benchmarks/identical.py --out /tmp/after.json --compare /tmp/before.json

With ``--compare`` it prints the mixtures whose hash differs, the change in event count, and
(``--sdr``) the mean change of the SDR of the cleaned output against the clean music.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import cleantake  # noqa: E402
from cleantake.evaluate import build_mixture  # noqa: E402


def select(entries: list[dict]) -> list[dict]:
    """Every 16th stems mixture, 6 clean and 3 mixes ones (in file order)."""
    stems = [e for e in entries if e["set"] == "stems"][::16]
    clean = [e for e in entries if e["set"] == "clean"][:6]
    mixes = [e for e in entries if e["set"] == "mixes"][:3]
    return stems + clean + mixes


def sdr(ref: np.ndarray, est: np.ndarray) -> float:
    """Plain SDR in dB, ``10 log10(|ref|^2 / |ref - est|^2)``."""
    num = float(np.sum(ref**2))
    den = float(np.sum((ref - est) ** 2))
    return 10 * np.log10(max(num, 1e-20) / max(den, 1e-20))


def run(corpus: Path, want_sdr: bool) -> dict:
    entries = json.loads((corpus / "mixtures.json").read_text())["mixtures"]
    cl = cleantake.Cleaner()
    out = {}
    for e in select(entries):
        mix, music, _, sr = build_mixture(corpus, e)
        res = cl.clean(mix, sr)
        row = {
            "removed_sha256": hashlib.sha256(np.ascontiguousarray(res.removed, np.float64).tobytes()).hexdigest(),
            "events": [[ev.start_s, ev.end_s, ev.label, ev.confidence] for ev in res.events],
        }
        if want_sdr:
            row["sdr_mix"] = sdr(music, mix)
            row["sdr_out"] = sdr(music, res.cleaned)
        out[e["id"]] = row
        print(e["id"], len(res.events), row["removed_sha256"][:12], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--compare", type=Path)
    ap.add_argument("--sdr", action="store_true", help="also record the SDR of mixture and output")
    args = ap.parse_args()
    rows = run(args.corpus, args.sdr)
    args.out.write_text(json.dumps(rows, indent=1))
    if args.compare:
        old = json.loads(args.compare.read_text())
        diff = [k for k in rows if rows[k]["removed_sha256"] != old.get(k, {}).get("removed_sha256")]
        print(f"{len(rows) - len(diff)} of {len(rows)} identical")
        for k in diff:
            o, n = old.get(k, {}), rows[k]
            line = f"  {k}: events {len(o.get('events', []))} -> {len(n['events'])}"
            if "sdr_out" in o and "sdr_out" in n:
                line += f", SDR {o['sdr_out']:.2f} -> {n['sdr_out']:.2f} dB"
            print(line)
        both = [k for k in diff if "sdr_out" in rows[k] and "sdr_out" in old.get(k, {})]
        if both:
            d = np.mean([rows[k]["sdr_out"] - old[k]["sdr_out"] for k in both])
            print(f"mean SDR change over the {len(both)} changed mixtures: {d:+.3f} dB")


if __name__ == "__main__":
    main()
