"""`promote`'s fast path: a cheap fingerprint of everything the stage reads.

`promote` always runs under `dvc repro` (the registry lives outside the workspace), and importing
MLflow and opening its store is most of a no-op repro. For a local sqlite registry, the
fingerprint covers the evaluation reports, the evaluated model files (size and mtime), the
promote-related params, and the registry file itself (size, mtime, its journal, and the sqlite header
with its file change counter). When it
equals the one stored after the last complete promote, nothing promote reads has changed, so its
result cannot change either: the stage rewrites that result and skips MLflow. Any registry write
(a UI alias change, another run, a server on the same file) changes the file and forces a full
promote. Servers and other stores are never fingerprinted; neither are runs with MLflow events
still waiting in the offline buffer.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

from t1core.config import Params
from t1core.tracking.buffer import buffer_dir

STATE = Path(".t1/promote-state.json")
SQLITE_HEADER = 100  # bytes


def local_store(uri: str) -> Path | None:
    """The file behind a `sqlite:///` URI; None for anything else."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix):]) if uri.startswith(prefix) else None


def fingerprint(params: Params, reports: list[Path], model_dirs: list[Path]) -> str | None:
    """sha256 over what promote reads; None when the registry cannot be fingerprinted."""
    store = local_store(params.tracking.mlflow_uri)
    pending = buffer_dir().is_dir() and any(buffer_dir().glob("*.jsonl"))
    if store is None or not store.is_file() or pending:
        return None
    h = hashlib.sha256()
    relevant = {"profile": params.profile, "tracking": params.tracking.model_dump(), "promote": params.promote.model_dump(),
                "eval_max_new_tokens": params.eval.max_new_tokens}
    h.update(json.dumps(relevant, sort_keys=True).encode())
    for report in sorted(reports):
        h.update(f"{report}\0".encode() + report.read_bytes())
    model_files = sorted(f for d in model_dirs for f in d.rglob("*") if f.is_file())
    journal = [store.with_name(store.name + suffix) for suffix in ("-journal", "-wal")]
    for f in [*model_files, store, *journal]:
        if f.exists():
            st = f.stat()
            h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    with store.open("rb") as f:
        h.update(f.read(SQLITE_HEADER))  # holds the file change counter, bumped by every committed write
    return h.hexdigest()


def unchanged_result(key: str | None) -> dict[str, Any] | None:
    """The stored result of the last promote, if its fingerprint equals `key`."""
    if key is None or not STATE.is_file():
        return None
    try:
        state = json.loads(STATE.read_text())
    except json.JSONDecodeError:
        return None
    return state.get("metrics") if state.get("fingerprint") == key else None


def remember(key: str | None, metrics: dict[str, Any]) -> None:
    """Store the fingerprint taken after a complete promote, with its result."""
    if key is None:
        STATE.unlink(missing_ok=True)
        return
    STATE.parent.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps({"fingerprint": key, "metrics": metrics}, indent=1) + "\n")
