"""The run manifest every registered model version carries: what data, code, config and grader made it.

Hashes are computed from the files themselves, never copied from dvc.lock, so a manifest is
true whether a stage ran, was restored from DVC's run cache, or ran outside DVC. `dvc_md5`
reproduces DVC 3's own hash (md5 of a file; for a directory, md5 of the sorted JSON list of
{md5, relpath} with a `.dir` suffix), so the data hash can be checked against dvc.lock.
"""

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from t1core.config import Params
from t1core.grading import GRADER_VERSION
from t1core.identity import run_identity

CODE_PATHS = ("t1core", "flows", "profiles", "pyproject.toml")  # what `+dirty` refers to


def _file_md5(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


def dvc_md5(path: str | Path) -> str:
    """DVC 3's hash of a file or directory."""
    path = Path(path)
    if path.is_file():
        return _file_md5(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: nothing to hash")
    entries = [{"md5": _file_md5(p), "relpath": p.relative_to(path).as_posix()} for p in sorted(path.rglob("*")) if p.is_file()]
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"


def git_sha(root: str | Path = ".") -> str:
    """HEAD's sha, `+dirty` when tracked code differs from it; 'unknown' outside a git checkout."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS],
                                 cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+dirty" if changed else "")


def run_manifest(params: Params, model_dir: Path, eval_data: Path, report: Path) -> dict[str, str]:
    """Registry tags (`t1.*`) for one evaluated model."""
    identity: dict[str, Any] = run_identity(params)
    return {
        "t1.dvc_data_md5": dvc_md5(params.paths.curated_dir),
        "t1.eval_data_md5": dvc_md5(eval_data),
        "t1.model_md5": dvc_md5(model_dir),
        "t1.report_md5": dvc_md5(report),
        "t1.git_sha": git_sha(),
        "t1.params_hash": identity["config_hash"],
        "t1.grader_version": GRADER_VERSION,
        "t1.profile": identity["profile"],
        "t1.t1_version": identity["t1_version"],
    }
