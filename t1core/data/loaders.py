"""Row loaders: pure functions from one published JSON object to a `Problem`.

Each checks its fields (missing, wrong type, unexpected) and raises RowError naming
the field; `read_jsonl` adds the file and line. Gold answers are recovered the way
the publisher marks them: MATH/NuminaMath from the last \\boxed{} of the solution,
GSM8K from `#### N`, benchmarks from their `answer` field.
"""

import hashlib
import random
import re
from collections.abc import Callable
from typing import Any

from t1core.data.records import Problem, RowError
from t1core.grading import extract_marked

BENCHMARK_SUFFIX_RE = re.compile(
    r"\s*Please reason step by step,? and put your final answer within \\boxed\{\}\.?\s*$", re.IGNORECASE
)
_LEVEL_RE = re.compile(r"^Level (\d+)$")


def _fields(row: dict[str, Any], required: dict[str, type | tuple], optional: dict[str, type | tuple]) -> None:
    for name, typ in required.items():
        if name not in row:
            raise RowError(name, "missing field")
        _typed(row, name, typ)
    for name, typ in optional.items():
        if row.get(name) is not None:
            _typed(row, name, typ)
    extra = sorted(set(row) - set(required) - set(optional))
    if extra:
        raise RowError(extra[0], f"unexpected field (expected {sorted(required) + sorted(optional)})")


def _typed(row: dict[str, Any], name: str, typ: type | tuple) -> None:
    if not isinstance(row[name], typ) or isinstance(row[name], bool):
        want = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise RowError(name, f"expected {want}, got {type(row[name]).__name__}")
    if isinstance(row[name], str) and name in ("problem", "question") and not row[name].strip():
        raise RowError(name, "empty text")


def load_math(row: dict[str, Any], line: int, source: str = "math") -> Problem:
    """MATH: problem / level ('Level 3') / type / solution with the answer in \\boxed{}."""
    _fields(row, {"problem": str, "solution": str}, {"level": str, "type": str})
    m = _LEVEL_RE.match(row.get("level") or "")
    return Problem(
        id=f"{source}:{line}", source=source, problem=row["problem"], solution=row["solution"],
        answer=extract_marked(row["solution"]).answer, subject=row.get("type"), level=int(m.group(1)) if m else None,
    )


def load_numina(row: dict[str, Any], line: int, source: str = "numina") -> Problem:
    """NuminaMath-CoT: problem / solution / source / messages (chat list)."""
    _fields(row, {"problem": str, "solution": str}, {"source": str, "messages": list})
    return Problem(
        id=f"{source}:{line}", source=source, problem=row["problem"], solution=row["solution"],
        answer=extract_marked(row["solution"]).answer, subject=row.get("source"),
    )


def load_gsm8k(row: dict[str, Any], line: int, source: str = "gsm8k") -> Problem:
    """GSM8K: question / answer (steps with <<a=b>> notes, final line '#### N')."""
    _fields(row, {"question": str, "answer": str}, {})
    steps, sep, final = row["answer"].rpartition("####")
    if not sep:
        raise RowError("answer", "no '#### N' final answer line")
    return Problem(
        id=f"{source}:{line}", source=source, problem=row["question"], solution=steps.strip(),
        answer=final.strip().replace(",", "") or None,
    )


def load_benchmark(row: dict[str, Any], line: int, source: str = "benchmark") -> Problem:
    """Benchmark JSONL: problem / answer (+ MATH500's solution/subject/level/unique_id); the Qwen suffix is stripped."""
    _fields(
        row, {"problem": str, "answer": (str, int, float)},
        {"solution": str, "subject": str, "level": (int, str), "unique_id": str, "id": (str, int)},
    )
    key = row.get("unique_id") or row.get("id") or line
    level = row.get("level")
    return Problem(
        id=f"{source}:{key}", source=source, problem=strip_benchmark_suffix(row["problem"]),
        answer=str(row["answer"]).strip(), solution=row.get("solution"), subject=row.get("subject"),
        level=int(level) if isinstance(level, int) or (isinstance(level, str) and level.isdigit()) else None,
    )


def load_omni(row: dict[str, Any], line: int, source: str = "omni") -> Problem:
    """Omni-MATH: domain (list of 'A -> B -> C' paths) / difficulty (1-10) / problem / solution / answer / source."""
    _fields(row, {"problem": str, "answer": (str, int, float)},
            {"domain": list, "difficulty": (int, float), "solution": str, "source": str})
    domains = row.get("domain") or []
    difficulty = row.get("difficulty")
    return Problem(
        id=f"{source}:{line}", source=source, problem=row["problem"], answer=str(row["answer"]).strip(),
        solution=row.get("solution"), subject=str(domains[0]).split("->")[1].strip() if domains and "->" in str(domains[0]) else None,
        level=round(difficulty) if difficulty is not None else None,
        meta={"difficulty": difficulty, "origin": row.get("source")},
    )


GPQA_FIELDS = ("Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")
LETTERS = "ABCD"


def load_gpqa(row: dict[str, Any], line: int, source: str = "gpqa") -> Problem:
    """GPQA (the published CSV's columns as JSON): the question with its four options shuffled.

    The order is a hash of the record id (or the question), so it is the same on every
    run and machine; the gold answer is the letter the correct option landed on. The
    published file has ~40 more columns (explanations, annotator data): they are ignored.
    """
    for name in GPQA_FIELDS:
        if name not in row:
            raise RowError(name, "missing field")
        _typed(row, name, str)
    key = str(row.get("Record ID") or row["Question"])
    options = [row[f].strip() for f in GPQA_FIELDS[1:]]
    order = list(range(4))
    random.Random(hashlib.sha256(key.encode()).digest()).shuffle(order)
    shown = [options[i] for i in order]
    letter = LETTERS[order.index(0)]
    text = row["Question"].strip() + "\n\n" + "\n".join(f"({c}) {o}" for c, o in zip(LETTERS, shown))
    text += "\n\nAnswer with the letter of the correct option."
    return Problem(
        id=f"{source}:{key}", source=source, problem=text, answer=letter,
        subject=row.get("Subdomain") or row.get("High-level domain"), meta={"options": shown},
    )


def strip_benchmark_suffix(problem: str) -> str:
    return BENCHMARK_SUFFIX_RE.sub("", problem).strip()


LOADERS: dict[str, Callable[..., Problem]] = {
    "math": load_math, "numina": load_numina, "gsm8k": load_gsm8k, "benchmark": load_benchmark,
    "omni": load_omni, "gpqa": load_gpqa,
}
