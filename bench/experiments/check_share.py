"""Runs C-C6 (bench/experiments/mul_optional_check.sh): how often each checkpoint takes the check path, and how it fares.

    .venv/bin/python bench/experiments/check_share.py /tmp/t1-run-c/reports/eval

For every `reports/eval/<checkpoint>/items.jsonl` under the directory, over the greedy answers and over the
samples: the share of responses that check (recompute the product the other way round, "Other way:", or cast out
nines or threes, "Mod 9:" / "Mod 3:"), the accuracy of those and of the rest, the mean length, and the responses that redo a*b after a
failed check (their accuracy and length). Other way: where the two computations disagree, how often the first
comparison line says so (`Check: X!=Y`) instead of passing. Nines: where the first computation is wrong, how often
the first cast says so (`4!=7`, or `4-7=6 fails`), and how often it fails a right one (false alarms). For the samples also the
within-item difference RLOO sees: over the items whose samples take both paths, the mean of (accuracy of that
item's checked samples - of its others). Last, per checkpoint over greedy answers and samples together, the work's own
slips before any check: wrong column additions (`4+6+1=11`) and wrong digit products (`4*8+5=37`).
"""

import json
import re
import sys
from pathlib import Path

RESULT = re.compile(r"so (-?\d+)\.")  # the value a computation ends with
COMPARE = re.compile(r"Check: (-?\d+)(!?=)(-?\d+)")
NINES = re.compile(r"^Mod \d: .*; \d+(!=|=|-\d+=\d+ (?:ok|fails))", re.M)  # a cast's verdict: 4!=7 or 4-7=6 fails (4=4, 4-4=0 ok)
MARKERS = ("Other way", "Mod 9:", "Mod 3:")  # what a checked response says, per check kind
ADD = re.compile(r"(?<![\d*])(\d+)\+(\d+)(?:\+(\d+))?=(\d+)")  # a column sum, with its carry
DIGIT_PRODUCT = re.compile(r"(?<!\d)(\d)\*(\d)(?:\+(\d+))?=(\d+)")  # a digit product, with its carry


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}" if whole else "  n/a"


def _other_way_caught(checked: list[dict]) -> dict[str, str]:
    caught = differ = 0
    for r in checked:
        results, first = RESULT.findall(r["response"]), COMPARE.search(r["response"])
        if len(results) < 2 or first is None:
            continue
        x, y = results[0], results[1]
        differ += x != y
        caught += x != y and first.group(2) == "!="
    return {"results differ": f"{differ:3d}", "mismatch caught": f"{caught:3d}"}


def _nines_caught(checked: list[dict]) -> dict[str, str]:
    """First product wrong (against the item's answer): caught by the first cast; first product right: failed."""
    wrong = caught = right = false_alarm = 0
    for r in checked:
        results, first = RESULT.findall(r["response"]), NINES.search(r["response"])
        if not results or first is None:
            continue
        fails = first.group(1) == "!=" or first.group(1).endswith("fails")
        if results[0] == r["answer"]:
            right, false_alarm = right + 1, false_alarm + fails
        else:
            wrong, caught = wrong + 1, caught + fails
    return {"first wrong, caught": f"{wrong:3d}, {caught:3d}", "first right, failed": f"{right:3d}, {false_alarm:3d}"}


def _path_stats(responses: list[dict], marker: str) -> dict[str, str]:
    checked = [r for r in responses if marker in r["response"]]
    once = [r for r in responses if marker not in r["response"]]
    redone = [r for r in checked if "Wait" in r["response"]]  # a caught mismatch, then a*b again
    return {
        "check %": _pct(len(checked), len(responses)),
        "acc check": _pct(sum(r["correct"] for r in checked), len(checked)),
        "acc once": _pct(sum(r["correct"] for r in once), len(once)),
        "tokens": f"{sum(r['tokens'] for r in responses) / max(1, len(responses)):5.0f}",
        **(_other_way_caught(checked) if marker == "Other way" else _nines_caught(checked)),
        "redone (acc, tokens)": f"{len(redone):3d} ({_pct(sum(r['correct'] for r in redone), len(redone))}, "
                                f"{sum(r['tokens'] for r in redone) / max(1, len(redone)):3.0f})",
    }


def _within_items(items: list[dict], marker: str) -> str:
    """Mean over items with both kinds of sample of acc(checked) - acc(answered at once), and how many items."""
    diffs = []
    for it in items:
        paths = [[r["correct"] for r in it["samples"] if (marker in r["response"]) == checked] for checked in (True, False)]
        if all(paths):
            diffs.append(sum(paths[0]) / len(paths[0]) - sum(paths[1]) / len(paths[1]))
    return f"{100 * sum(diffs) / len(diffs):+5.1f} points over {len(diffs)} items" if diffs else "n/a"


def _work_slips(responses: list[dict]) -> str:
    """Wrong steps in the work before the first check or answer line: column additions and digit products."""
    counts = {"additions": [0, 0], "digit products": [0, 0]}  # kind -> [steps, wrong]
    for r in responses:
        work = re.split(r"\n(?:Mod \d|Other way|So the answer)", r["response"])[0]
        for kind, pattern in (("additions", ADD), ("digit products", DIGIT_PRODUCT)):
            for x, y, c, z in pattern.findall(work):
                counts[kind][0] += 1
                counts[kind][1] += int(z) != (int(x) + int(y) if kind == "additions" else int(x) * int(y)) + int(c or 0)
    return "  ".join(f"wrong {k} {w} of {n} ({_pct(w, n)} %)" for k, (n, w) in counts.items())


def main(root: str) -> None:
    found = sorted(Path(root).glob("*/items.jsonl"))
    if not found:
        sys.exit(f"check_share: no <checkpoint>/items.jsonl under {root} (give a run's reports/eval directory)")
    for items_path in found:
        items = [json.loads(line) for line in items_path.open()]
        for it in items:  # each response carries its item's answer (the nines counts grade the first product)
            for r in [it["greedy"], *it["samples"]]:
                r["answer"] = it["answer"]
        text = " ".join(r["response"] for it in items for r in [it["greedy"], *it["samples"]])
        marker = max(MARKERS, key=text.count)
        for label, responses in (("greedy", [it["greedy"] for it in items]),
                                 ("samples", [r for it in items for r in it["samples"]])):
            stats = _path_stats(responses, marker)
            if label == "samples":
                stats["within items, check - once"] = _within_items(items, marker)
            print(f"{items_path.parent.name:>10} {label:>7} n={len(responses):4d} " + "  ".join(f"{k} {v}" for k, v in stats.items()))
        print(f"{items_path.parent.name:>10}    work " + _work_slips([r for it in items for r in [it["greedy"], *it["samples"]]]))


if __name__ == "__main__":
    main(sys.argv[1])
