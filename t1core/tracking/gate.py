"""The promotion gate: may a candidate model replace the @champion? Pure functions over flat numbers.

The numbers are a model's held-out greedy results from the evaluate stage (`gate_numbers`),
stored as `t1.metric.*` tags on its registry version so a later gate can read the champion's.
"""

from dataclasses import dataclass
from typing import Any

from t1core.rl.penalties import KINDS

RATES = ("no_answer_rate", *(f"penalty_{k}" for k in KINDS))


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateResult:
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def summary(self) -> str:
        return "; ".join(f"{'pass' if c.passed else 'FAIL'} {c.name}: {c.detail}" for c in self.checks)


def gate_numbers(report: dict[str, Any]) -> dict[str, float]:
    """accuracy, mean_tokens and the format/penalty rates of a report's greedy block."""
    greedy = report["greedy"]
    rates = greedy.get("penalty_rates", {})
    return {
        "accuracy": float(greedy["accuracy"]),
        "mean_tokens": float(greedy["mean_tokens"]),
        "no_answer_rate": float(greedy["no_answer_rate"]),
        **{f"penalty_{k}": float(rates.get(k, 0.0)) for k in KINDS},
    }


def promotion_gate(
    candidate: dict[str, float], champion: dict[str, float] | None, margin: float, rate_tolerance: float,
    max_mean_tokens: float, same_data: bool = True,
) -> GateResult:
    """Length within budget; and, if a champion exists: same held-out data, accuracy >= champion + margin,
    no format or penalty rate above the champion's + rate_tolerance. A rate the champion was registered
    without (a penalty added after it) counts as 0 for the champion."""
    tokens = candidate["mean_tokens"]
    checks = [Check("length", tokens <= max_mean_tokens, f"mean greedy tokens {tokens:.1f} (budget {max_mean_tokens:g})")]
    if champion is None:
        return GateResult((*checks, Check("accuracy", True, f"{candidate['accuracy']:.4f}, no champion yet")))
    checks.append(Check("same held-out data", same_data, "identical" if same_data else "the champion was scored on other data"))
    need = champion["accuracy"] + margin
    checks.append(Check("accuracy", candidate["accuracy"] >= need - 1e-12,
                        f"{candidate['accuracy']:.4f} vs champion {champion['accuracy']:.4f} + margin {margin:g}"))
    for rate in RATES:
        limit = champion.get(rate, 0.0) + rate_tolerance
        checks.append(Check(rate, candidate[rate] <= limit + 1e-12, f"{candidate[rate]:.4f} (limit {limit:.4f})"))
    return GateResult(tuple(checks))
