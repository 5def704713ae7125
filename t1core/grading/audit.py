"""Verifier audit: grade a JSONL of (response, gold) pairs and report where the grader disagrees."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from t1core.data.jsonl import read_jsonl
from t1core.data.records import RowError
from t1core.grading.grader import Grader


@dataclass
class AuditReport:
    n: int = 0
    correct: int = 0
    reasons: Counter = field(default_factory=Counter)
    methods: Counter = field(default_factory=Counter)
    misses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n, "correct": self.correct, "accuracy": round(self.accuracy, 6),
            "reasons": dict(self.reasons), "methods": dict(self.methods), "misses": self.misses,
        }


def field_reader(answer_field: str, response_field: str):
    """A row parser that pulls two string fields (numbers are accepted as gold and stringified)."""

    def parse(row: dict[str, Any], line: int) -> tuple[int, str, str]:
        for name in (answer_field, response_field):
            if name not in row:
                raise RowError(name, "missing field")
        gold, resp = row[answer_field], row[response_field]
        if not isinstance(gold, (str, int, float)) or isinstance(gold, bool):
            raise RowError(answer_field, f"expected string or number, got {type(gold).__name__}")
        if not isinstance(resp, str):
            raise RowError(response_field, f"expected string, got {type(resp).__name__}")
        return line, str(gold), resp

    return parse


def audit(rows: Iterable[tuple[int, str, str]], grader: Grader) -> AuditReport:
    report = AuditReport()
    for line, gold, response in rows:
        r = grader(response, gold)
        report.n += 1
        report.correct += r.correct
        report.reasons[r.reason] += 1
        report.methods[r.method] += 1
        if not r.correct:
            report.misses.append({"line": line, "gold": gold, "extracted": r.extracted, "reason": r.reason})
    return report


def audit_file(path: str | Path, answer_field: str, response_field: str, grader: Grader) -> AuditReport:
    return audit(read_jsonl(path, field_reader(answer_field, response_field)), grader)
