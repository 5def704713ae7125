import os
from pathlib import Path

import pytest

from t1core.env import apply_defaults

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

apply_defaults(REPO)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A scratch project dir holding params.yaml and profiles/ from the repo; cwd is set to it."""
    for name in ("params.yaml",):
        (tmp_path / name).write_text((REPO / name).read_text())
    (tmp_path / "profiles").mkdir()
    for prof in (REPO / "profiles").glob("*.yaml"):
        (tmp_path / "profiles" / prof.name).write_text(prof.read_text())
    monkeypatch.chdir(tmp_path)
    os.environ.setdefault("PREFECT_HOME", str(tmp_path / ".prefect"))
    return tmp_path
