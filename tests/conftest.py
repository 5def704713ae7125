import os
import re
from pathlib import Path

import pytest

from t1core.env import apply_defaults

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

apply_defaults(REPO)
RENDEZVOUS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture(autouse=True)
def _no_inherited_rendezvous():
    """A test that builds an engine in this process leaves init_distributed's RANK / MASTER_PORT in os.environ;
    a `t1` or torchrun child of a later test would inherit them and try to listen on the port this process
    holds (DistNetworkError). Each test starts and ends without them."""
    for k in RENDEZVOUS:
        os.environ.pop(k, None)
    yield
    for k in RENDEZVOUS:
        os.environ.pop(k, None)


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


def record_forwards(module, calls: list, tag=1) -> None:
    """Append `tag` to `calls` at every forward of `module`, the recomputation in backward included: torch runs
    no module hooks when it recomputes a checkpointed layer, so this wraps `forward` itself."""
    forward = module.forward
    module.forward = lambda *a, **k: calls.append(tag) or forward(*a, **k)


def last_bar(err: str, desc: str) -> tuple[int, int]:
    """The last `done/total` a tqdm bar named `desc` rendered into captured stderr."""
    return tuple(int(x) for x in re.findall(rf"{desc}:[^|]*\|[^|]*\| *(\d+)/(\d+) \[", err)[-1])
