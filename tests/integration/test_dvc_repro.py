"""A real DVC repo: `dvc repro` runs the curate stage through the CLI, caches it, and reruns on param changes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from t1core.tracking.manifest import dvc_md5
from tests.conftest import REPO

pytestmark = pytest.mark.integration
COPY = ("t1core", "profiles", "params.yaml", "dvc.yaml", ".dvcignore", ".dvc/config", "pyproject.toml")


def _run(cmd, cwd, env):
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"{cmd}: {res.stdout}\n{res.stderr}"
    return res.stdout + res.stderr


@pytest.fixture
def dvc_repo(tmp_path):
    root = tmp_path / "repo"
    for name in COPY:
        src, dst = REPO / name, root / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst)
    text = (root / "params.yaml").read_text()
    text = text.replace("items_per_family_level: 4000", "items_per_family_level: 30")
    text = text.replace("heldout_items_per_family_level: 40", "heldout_items_per_family_level: 5")
    assert "items_per_family_level: 30" in text and "heldout_items_per_family_level: 5" in text
    (root / "params.yaml").write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "DVC_SITE_CACHE_DIR"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(root)
    _run(["git", "init", "-q"], root, env)
    _run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "init"], root, env)
    return root, env


def test_dvc_repro_runs_caches_and_reruns(dvc_repo):
    root, env = dvc_repo
    out = _run(["dvc", "repro", "curate"], root, env)
    assert "Running stage 'curate'" in out
    metrics = json.loads((root / "metrics/curate.json").read_text())
    assert metrics["splits"]["heldout"] == 2 * 2 * 5  # families x levels x held-out items
    assert (root / "data/curated/sft.jsonl").stat().st_size > 0
    lock = (root / "dvc.lock").read_text()
    assert "data/curated" in lock and "metrics/curate.json" in lock
    locked = {o["path"]: o["md5"] for o in yaml.safe_load(lock)["stages"]["curate"]["outs"]}
    assert dvc_md5(root / "data/curated") == locked["data/curated"]  # the registry manifest's data hash is DVC's own
    assert (root / ".dvc/site-cache").is_dir(), "DVC site cache must live inside the project"

    out = _run(["dvc", "repro", "curate"], root, env)
    assert "Running stage" not in out and "didn't change" in out

    (root / "params.yaml").write_text((root / "params.yaml").read_text().replace("seed: 1234", "seed: 99"))
    out = _run(["dvc", "repro", "curate"], root, env)
    assert "Running stage 'curate'" in out
    assert json.loads((root / "metrics/curate.json").read_text())["run"]["seed"] == 99
    shown = _run(["dvc", "metrics", "show", "--json"], root, env)
    assert "curate.json" in shown
