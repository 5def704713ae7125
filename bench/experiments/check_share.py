"""Run C (bench/experiments/mul_optional_check.sh): how often each checkpoint takes the check path, and how it fares.

    .venv/bin/python bench/experiments/check_share.py /tmp/t1-run-c/reports/eval

For every `reports/eval/<checkpoint>/items.jsonl` under the directory, over the greedy answers and over the
samples: the share of responses that recompute the product the other way round ("Other way:"), the accuracy of
those and of the rest, the mean length, and, where the two computations disagree, how often the first comparison
line says so (`Check: X!=Y`) instead of passing, and the responses that then redo a*b (their accuracy and length). For the samples also the within-item difference RLOO sees: over the
items whose samples take both paths, the mean of (accuracy of that item's checked samples - of its others).
"""

import json
import re
import sys
from pathlib import Path

RESULT = re.compile(r"so (-?\d+)\.")  # the value a computation ends with
COMPARE = re.compile(r"Check: (-?\d+)(!?=)(-?\d+)")


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}" if whole else "  n/a"


def _path_stats(responses: list[dict]) -> dict[str, str]:
    checked = [r for r in responses if "Other way" in r["response"]]
    once = [r for r in responses if "Other way" not in r["response"]]
    redone = [r for r in checked if "Wait" in r["response"]]  # a caught mismatch, then a*b again
    caught = differ = 0
    for r in checked:
        results, first = RESULT.findall(r["response"]), COMPARE.search(r["response"])
        if len(results) < 2 or first is None:
            continue
        x, y = results[0], results[1]
        differ += x != y
        caught += x != y and first.group(2) == "!="
    return {
        "check %": _pct(len(checked), len(responses)),
        "acc check": _pct(sum(r["correct"] for r in checked), len(checked)),
        "acc once": _pct(sum(r["correct"] for r in once), len(once)),
        "tokens": f"{sum(r['tokens'] for r in responses) / max(1, len(responses)):5.0f}",
        "results differ": f"{differ:3d}",
        "mismatch caught": f"{caught:3d}",
        "redone (acc, tokens)": f"{len(redone):3d} ({_pct(sum(r['correct'] for r in redone), len(redone))}, "
                                f"{sum(r['tokens'] for r in redone) / max(1, len(redone)):3.0f})",
    }


def _within_items(items: list[dict]) -> str:
    """Mean over items with both kinds of sample of acc(checked) - acc(answered at once), and how many items."""
    diffs = []
    for it in items:
        paths = [[r["correct"] for r in it["samples"] if ("Other way" in r["response"]) == checked] for checked in (True, False)]
        if all(paths):
            diffs.append(sum(paths[0]) / len(paths[0]) - sum(paths[1]) / len(paths[1]))
    return f"{100 * sum(diffs) / len(diffs):+5.1f} points over {len(diffs)} items" if diffs else "n/a"


def main(root: str) -> None:
    found = sorted(Path(root).glob("*/items.jsonl"))
    if not found:
        sys.exit(f"check_share: no <checkpoint>/items.jsonl under {root} (give a run's reports/eval directory)")
    for items_path in found:
        items = [json.loads(line) for line in items_path.open()]
        for label, responses in (("greedy", [it["greedy"] for it in items]),
                                 ("samples", [r for it in items for r in it["samples"]])):
            stats = _path_stats(responses)
            if label == "samples":
                stats["within items, check - once"] = _within_items(items)
            print(f"{items_path.parent.name:>10} {label:>7} n={len(responses):4d} " + "  ".join(f"{k} {v}" for k, v in stats.items()))


if __name__ == "__main__":
    main(sys.argv[1])
