"""Strict JSONL I/O: every bad line is an error naming file, line and field, or a counted quarantine."""

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from t1core.data.records import DataError, RowError

T = TypeVar("T")


class Quarantine:
    """Collects bad rows instead of raising; `write` puts them in a JSONL file."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, err: DataError, raw: str) -> None:
        self.rows.append({"file": err.file, "line": err.line, "field": err.field, "error": err.message, "raw": raw[:10_000]})

    def __len__(self) -> int:
        return len(self.rows)

    def write(self, path: Path) -> None:
        write_jsonl(path, self.rows)


def read_jsonl(path: str | Path, parse: Callable[[dict[str, Any], int], T], quarantine: Quarantine | None = None) -> Iterator[T]:
    """Yield parse(obj, lineno) per line. Without a quarantine the first bad line raises DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(str(path), 0, None, "file not found")
    if path.stat().st_size == 0:
        err = DataError(str(path), 0, None, "empty file")
        if quarantine is None:
            raise err
        quarantine.add(err, "")
        return
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            item, err = _parse_line(str(path), lineno, raw, parse)
            if err is None:
                if item is not None:
                    yield item
            elif quarantine is None:
                raise err
            else:
                quarantine.add(err, raw.decode("utf-8", errors="replace"))


def _parse_line(file: str, lineno: int, raw: bytes, parse: Callable[[dict[str, Any], int], T]) -> tuple[T | None, DataError | None]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, DataError(file, lineno, None, f"not UTF-8 (byte {e.start}: {raw[e.start:e.start + 1]!r})")
    if not text.strip():
        return None, None  # blank lines carry nothing
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        return None, DataError(file, lineno, None, f"malformed JSON: {e.msg} at column {e.colno}")
    if not isinstance(obj, dict):
        return None, DataError(file, lineno, None, f"expected a JSON object, got {type(obj).__name__}")
    try:
        return parse(obj, lineno), None
    except RowError as e:
        return None, DataError(file, lineno, e.field, str(e))


def model_parser(model: type[BaseModel]) -> Callable[[dict[str, Any], int], Any]:
    """A `read_jsonl` parser that validates rows against a pydantic model (errors name the field)."""

    def parse(row: dict[str, Any], _line: int) -> Any:
        try:
            return model.model_validate(row)
        except ValidationError as e:
            first = e.errors()[0]
            raise RowError(".".join(str(p) for p in first["loc"]) or None, first["msg"]) from None

    return parse


def write_jsonl(path: str | Path, rows: Any) -> int:
    """Write rows atomically (temp file, fsync, rename); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return n


def write_json(path: str | Path, obj: Any) -> None:
    """Atomic pretty JSON (metrics files)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
