"""Data: typed records, strict JSONL I/O, loaders, the procedural task, filters and curation."""

from t1core.data.records import DataError, Problem

__all__ = ["DataError", "Problem"]
