"""Typed records shared by curation, synthesis, training and evaluation."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Problem(BaseModel):
    """One math problem with a checkable gold answer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="stable id: '<source>:<key>' (procedural: content hash; files: line number or published id)")
    source: str = Field(description="the SourceSpec name it came from")
    problem: str
    answer: str | None = Field(description="gold final answer (None: not recoverable; dropped by curation with a reason)")
    solution: str | None = None
    subject: str | None = Field(None, description="MATH type/subject or procedural family")
    level: int | None = Field(None, description="difficulty level where the data has one")
    meta: dict[str, Any] = Field(default_factory=dict, description="structured task data (procedural: operands) for synthesis")


class DataError(ValueError):
    """A bad input row: names the file, the 1-based line and the field."""

    def __init__(self, file: str, line: int, field: str | None, message: str):
        self.file, self.line, self.field, self.message = file, line, field, message
        where = f"{file}:{line}" + (f": field '{field}'" if field else "")
        super().__init__(f"{where}: {message}")


class RowError(ValueError):
    """Raised by a row loader; the reader adds the file and line."""

    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field = field
