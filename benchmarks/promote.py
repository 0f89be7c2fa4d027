"""Would the detector's candidates be worth repairing in recordings where it is sure of an event?

A diagnostic for issue 15 (events found): the learned detector keeps an event when its
calibrated confidence reaches ``Settings.sensitivity`` and lists the ones from
``review_level`` up as candidates for review. The confidence is calibrated over all events
pooled; a recording where one event is sure (confidence >= ``C1``) holds interference, and
its candidates may be real more often than the pooled calibration says. This script reads
the rows of a located ``benchmarks/cv.py`` run (``--given none``, ideally with ``--set
review_level=0.1`` so that low candidates are recorded; the events do not depend on it) and,
for a grid of rules "in a recording with an event of confidence >= C1, candidates of
confidence >= C2 [of the same class label] are repaired too", reports the events found and
the false events per recording.

Each fold's rule is chosen on the OTHER folds' rows (their detector outputs are held out:
fold j's recordings are scored by fold j's detector, which never heard them): the most events
found among the rules that add at most ``--max-added-false`` false events per recording with
interference. Clean recordings cannot gain a first event by construction (a rule only acts
where an event was kept), so the share of clean recordings touched does not change.

Usage::

    PYTHONPATH=src python benchmarks/promote.py benchmarks/results/cv_s24_review01.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections import namedtuple
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cv import event_metrics  # noqa: E402

Ev = namedtuple("Ev", "start_s end_s label confidence")

C1 = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.01)  # 1.01: never (today's behaviour)
C2 = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45)


def promoted(row: dict, c1: float, c2: float, same_label: bool) -> list:
    """The row's events plus the candidates the rule repairs."""
    events = [Ev(*e) for e in row["events"]]
    sure = [e for e in events if e.confidence >= c1]
    if not sure:
        return events
    labels = {e.label for e in sure}
    extra = [Ev(*c) for c in row.get("candidates", []) if c[3] >= c2 and (not same_label or c[2] in labels)]
    return events + extra


def tally(rows: list[dict], rule) -> dict:
    """Events found, false events per recording with interference, events on clean recordings."""
    n_true = found = false = n_int = clean_events = n_clean = 0
    for r in rows:
        ev = promoted(r, *rule)
        if r["set"] == "clean":
            n_clean += 1
            clean_events += len(ev)
            continue
        m = event_metrics([tuple(t) for t in r["true_spans"]], ev, r["class"])
        n_true += m["n_true"]
        found += m["found"]
        false += m["false_events"]
        n_int += 1
    return {"found": found / max(n_true, 1), "false_per_rec": false / max(n_int, 1),
            "clean_events_per_rec": clean_events / max(n_clean, 1), "n_true": n_true, "n_rec": n_int,
            "n_clean": n_clean}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", help="benchmarks/cv.py result files (located runs)")
    ap.add_argument("--max-added-false", type=float, default=0.05,
                    help="false events per recording with interference a rule may add (default 0.05)")
    ap.add_argument("--out", type=Path, default=None, help="write the tables as JSON")
    args = ap.parse_args(argv)
    rows = []
    for p in args.results:
        doc = json.loads(Path(p).read_text())
        rows += [r for r in doc["rows"] if r["given"] == "none" and r["method"].startswith("proposed")
                 and "error" not in r]
    folds = sorted({r["fold"] for r in rows})
    rules = [(1.01, 1.0, False)] + [(c1, c2, s) for c1, c2, s in itertools.product(C1[:-1], C2, (False, True))]
    base = tally(rows, rules[0])
    print(f"{len(rows)} recordings ({base['n_rec']} with interference, {base['n_clean']} clean); "
          f"today: found {100 * base['found']:.1f} %, {base['false_per_rec']:.3f} false events per recording")
    print("\nAll folds pooled (for orientation; the choice below is cross-fitted):\n")
    print("| C1 | C2 | same label | found | false / rec | events / clean rec |\n|---|---|---|---|---|---|")
    table = []
    for rule in rules:
        t = tally(rows, rule)
        table.append({"rule": rule, **t})
        if rule[0] <= 1.0 and rule[1] in (0.1, 0.2, 0.3, 0.4) or rule == rules[0]:
            print(f"| {rule[0]:g} | {rule[1]:g} | {'yes' if rule[2] else 'no'} | {100 * t['found']:.1f} % | "
                  f"{t['false_per_rec']:.3f} | {t['clean_events_per_rec']:.3f} |")
    print("\nCross-fitted: each fold's rule chosen on the other folds' rows, judged on its own:\n")
    print("| fold | rule (C1, C2, same label) | found today | found | false / rec today | false / rec |\n"
          "|---|---|---|---|---|---|")
    judged = []
    for k in folds:
        other = [r for r in rows if r["fold"] != k]
        mine = [r for r in rows if r["fold"] == k]
        b = tally(other, rules[0])
        ok = [(tally(other, rule), rule) for rule in rules]
        ok = [(t, rule) for t, rule in ok if t["false_per_rec"] <= b["false_per_rec"] + args.max_added_false]
        best = max(ok, key=lambda tr: (round(tr[0]["found"], 6), -tr[0]["false_per_rec"]))[1]
        t0, t1 = tally(mine, rules[0]), tally(mine, best)
        judged.append({"fold": k, "rule": best, "today": t0, "promoted": t1})
        print(f"| {k} | {best[0]:g}, {best[1]:g}, {'yes' if best[2] else 'no'} | {100 * t0['found']:.1f} % | "
              f"{100 * t1['found']:.1f} % | {t0['false_per_rec']:.3f} | {t1['false_per_rec']:.3f} |")
    n = sum(j["today"]["n_true"] for j in judged)
    f0 = sum(j["today"]["found"] * j["today"]["n_true"] for j in judged) / n
    f1 = sum(j["promoted"]["found"] * j["promoted"]["n_true"] for j in judged) / n
    r = sum(j["today"]["n_rec"] for j in judged)
    x0 = sum(j["today"]["false_per_rec"] * j["today"]["n_rec"] for j in judged) / r
    x1 = sum(j["promoted"]["false_per_rec"] * j["promoted"]["n_rec"] for j in judged) / r
    print(f"| all | | {100 * f0:.1f} % | {100 * f1:.1f} % | {x0:.3f} | {x1:.3f} |")
    if args.out:
        args.out.write_text(json.dumps({"pooled": table, "crossfit": judged}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
