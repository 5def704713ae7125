"""Which loader reads an evaluation JSONL: named, mapped by field names, or detected from the first row.

Detection compares the first row's field names with each published layout, most
specific first, so MATH500 (problem, solution, answer, ...) reads as a benchmark with a
gold `answer`, not as MATH (answer recovered from the solution). A file that matches
none of them is an error that lists the fields it has and how to map them.
"""

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from t1core.data.jsonl import model_parser, read_jsonl
from t1core.data.loaders import GPQA_FIELDS, LOADERS, RowError, _typed
from t1core.data.records import DataError, Problem

# (format, fields its rows always have), most specific first
SIGNATURES: list[tuple[str, frozenset[str]]] = [
    ("problem", frozenset({"id", "source", "problem", "answer"})),
    ("gpqa", frozenset(GPQA_FIELDS)),
    ("omni", frozenset({"problem", "answer", "domain", "difficulty"})),
    ("numina", frozenset({"problem", "solution", "messages"})),
    ("gsm8k", frozenset({"question", "answer"})),
    ("benchmark", frozenset({"problem", "answer"})),
    ("math", frozenset({"problem", "solution"})),
]
FORMATS = ["auto", *(name for name, _ in SIGNATURES)]


def detect_format(row: dict[str, Any]) -> str | None:
    keys = set(row)
    return next((name for name, needed in SIGNATURES if needed <= keys), None)


def mapped_loader(problem_field: str, answer_field: str, source: str) -> Callable[[dict[str, Any], int], Problem]:
    """A loader for any layout: the problem and gold answer come from the named fields; others are ignored."""

    def load(row: dict[str, Any], line: int) -> Problem:
        for name, typ in ((problem_field, str), (answer_field, (str, int, float))):
            if name not in row:
                raise RowError(name, f"missing field (found {sorted(row)})")
            _typed(row, name, typ)
        return Problem(id=f"{source}:{line}", source=source, problem=row[problem_field], answer=str(row[answer_field]).strip())

    return load


def _first_row(path: Path) -> tuple[int, dict[str, Any]]:
    """(line, object) of the first non-blank line; read_jsonl names file and line for anything unreadable."""
    rows = read_jsonl(path, lambda row, line: (line, row))
    try:
        first = next(rows, None)
    finally:
        rows.close()
    if first is None:
        raise DataError(str(path), 0, None, "no rows (only blank lines)")
    return first


def resolve_parser(
    path: Path, fmt: str = "auto", problem_field: str | None = None, answer_field: str | None = None,
) -> tuple[str, Callable[[dict[str, Any], int], Problem]]:
    """(format name, row parser) for `path`."""
    source = path.parent.name if path.stem in ("test", "train") else path.stem
    if problem_field or answer_field:
        if not (problem_field and answer_field):
            raise ValueError("--problem-field and --answer-field go together")
        return "mapped", mapped_loader(problem_field, answer_field, source)
    if fmt == "auto":
        lineno, row = _first_row(path)
        found = detect_format(row)
        if found is None:
            layouts = "; ".join(f"{name}: {', '.join(sorted(need))}" for name, need in SIGNATURES)
            raise DataError(str(path), lineno, None, f"unknown format: the first row has fields {sorted(row)}. "
                            f"Known layouts ({layouts}); or name the fields with --problem-field/--answer-field")
        fmt = found
    if fmt == "problem":
        return fmt, model_parser(Problem)
    if fmt not in LOADERS:
        raise ValueError(f"unknown format {fmt!r}; one of {FORMATS}")
    return fmt, partial(LOADERS[fmt], source=source)


def load_eval_set(
    path: str | Path, fmt: str = "auto", problem_field: str | None = None, answer_field: str | None = None,
    limit: int | None = None,
) -> tuple[str, list[Problem]]:
    """Every row of an evaluation file as a Problem (the first bad row raises, naming file, line and field)."""
    path = Path(path)
    name, parse = resolve_parser(path, fmt, problem_field, answer_field)

    def with_answer(row: dict[str, Any], line: int) -> Problem:
        p = parse(row, line)
        if p.answer is None:
            raise RowError("answer", "no gold answer could be recovered")
        return p

    problems = []
    for p in read_jsonl(path, with_answer):
        problems.append(p)
        if limit and len(problems) >= limit:
            break
    return name, problems
