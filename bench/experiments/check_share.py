"""Run C (bench/experiments/mul_optional_check.sh): how often each checkpoint takes the check path, and how it fares.

    .venv/bin/python bench/experiments/check_share.py /tmp/t1-run-c/reports/eval

For every `reports/eval/<checkpoint>/items.jsonl` under the directory, over the greedy answers and over the
samples: the share of responses that recompute the product the other way round ("Other way:"), the accuracy of
those and of the rest, the mean length, and, where the two computations disagree, how often the first comparison
line says so (`Check: X!=Y`) instead of passing.
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
    }


def main(root: str) -> None:
    for items_path in sorted(Path(root).glob("*/items.jsonl")):
        items = [json.loads(line) for line in items_path.open()]
        for label, responses in (("greedy", [it["greedy"] for it in items]),
                                 ("samples", [r for it in items for r in it["samples"]])):
            stats = _path_stats(responses)
            print(f"{items_path.parent.name:>10} {label:>7} n={len(responses):4d} " + "  ".join(f"{k} {v}" for k, v in stats.items()))


if __name__ == "__main__":
    main(sys.argv[1])
