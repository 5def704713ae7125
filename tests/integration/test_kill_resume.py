"""Resume after SIGKILL, and determinism (issue #9).

The tiny pipeline runs three times through the real CLI in separate processes:
A straight through, B straight through again (same seed, same params), and C with
SIGKILLs at random points of `t1 sft` and `t1 rl`: while a checkpoint is being written,
during start-up, and at random delays after a fresh checkpoint. C is resumed after
every kill. B's and C's metrics/*.json must equal A's in every field that is not a
wall-clock time.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from t1core.models.checkpoint import MANIFEST, complete_checkpoints, latest_checkpoint

pytestmark = pytest.mark.integration

TINY = [
    "--set", "tracking.enabled=false",
    "--set", "data.procedural.items_per_family_level=12", "--set", "data.procedural.heldout_items_per_family_level=2",
    "--set", "data.procedural.levels=[1]",
    "--set", "model.hidden_size=32", "--set", "model.intermediate_size=64", "--set", "model.num_layers=1",
    "--set", "model.num_heads=2", "--set", "model.vocab_size=300",
    "--set", "sft.epochs=40", "--set", "sft.batch_tokens=1024", "--set", "sft.lr=3e-3", "--set", "sft.max_minutes=null",
    "--set", "sft.eval_every_minutes=null", "--set", "sft.checkpoint_every=8", "--set", "sft.eval_limit=4",
    "--set", "rl.rounds=8", "--set", "rl.steps_per_round=2", "--set", "rl.prompts_per_step=2", "--set", "rl.k=3",
    "--set", "rl.max_new_tokens=24", "--set", "rl.eval_limit=4", "--set", "rl.drop_uniform_groups=false",
    "--set", "rl.max_minutes=null",
]
KILLS = {"sft": 6, "rl": 5}  # at least 10 across the two stages
# a kill after a fresh checkpoint waits up to this long: about one checkpoint interval of the tiny runs
# (SFT checkpoints every 0.1 s, RL rounds take 0.4 s here), so every such launch makes some progress and the
# run still has work left after KILLS of them (15 SFT checkpoints, 8 RL rounds)
AFTER_CHECKPOINT_S = {"sft": 0.1, "rl": 0.4}
STARTUP_S = 5.0  # imports, data and model loading take about 7 s
MAX_LAUNCHES = 30
TIME_KEYS = {"wall_s", "train_minutes", "minutes"}


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "t1core.cli", *TINY, *args]


def _run(project: Path, *args: str) -> None:
    res = subprocess.run(_cmd(*args), cwd=project, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]


def _timeless(obj):
    """The metrics without wall-clock fields (times, rates per second)."""
    if isinstance(obj, dict):
        return {k: _timeless(v) for k, v in obj.items() if k not in TIME_KEYS and not k.endswith(("_s", "_per_s"))}
    if isinstance(obj, list):
        return [_timeless(v) for v in obj]
    return obj


def _metrics(project: Path, names: tuple[str, ...] = ("sft", "rl")) -> dict:
    return {name: _timeless(json.loads((project / f"metrics/{name}.json").read_text())) for name in names}


def _ckpt_dir(project: Path, stage: str) -> Path:
    return project / f"models/{stage}/checkpoints"


def _newest(project: Path, stage: str) -> str | None:
    done = complete_checkpoints(_ckpt_dir(project, stage), "step_" if stage == "sft" else "round_")
    return done[-1].name if done else None


def _writing(project: Path, stage: str) -> bool:
    return any(p.name.endswith(".tmp") for p in _ckpt_dir(project, stage).glob("*"))


def _wait_then_kill(proc: subprocess.Popen, project: Path, stage: str, how: str, rng: random.Random) -> bool:
    """Kill `proc` at the point `how` picks; False if it finished first."""
    start, before = time.monotonic(), _newest(project, stage)
    delay = rng.uniform(0.0, STARTUP_S if how == "startup" else AFTER_CHECKPOINT_S[stage])
    fresh_at = None
    while proc.poll() is None:
        if how == "startup" and time.monotonic() - start >= delay:
            break
        if how == "mid_write" and _writing(project, stage):
            break
        if how == "after_checkpoint":
            if fresh_at is None and _newest(project, stage) != before:
                fresh_at = time.monotonic()
            if fresh_at is not None and time.monotonic() - fresh_at >= delay:
                break
        time.sleep(0.005)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def _run_with_kills(project: Path, stage: str, kills: int, rng: random.Random) -> list[str]:
    """Launch `t1 <stage>` until it completes, SIGKILLing it `kills` times first; returns how each kill was placed."""
    done: list[str] = []
    log = project / f"{stage}.log"
    for _ in range(MAX_LAUNCHES):
        how = None
        if len(done) < kills:
            how = "mid_write" if not done else rng.choice(["startup", "after_checkpoint", "after_checkpoint", "mid_write"])
        with open(log, "a") as err:
            proc = subprocess.Popen(_cmd(stage), cwd=project, stdout=subprocess.DEVNULL, stderr=err)
            if how is not None and _wait_then_kill(proc, project, stage, how, rng):
                done.append(how)
                continue
            assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
            return done
    raise AssertionError(f"{stage} did not complete in {MAX_LAUNCHES} launches (kills: {done})")


def _fresh_project(root: Path, project: Path, name: str) -> Path:
    """A copy of `project` (params, profiles, curated and synthesized data) without models or metrics."""
    dst = root / name
    shutil.copytree(project, dst, ignore=shutil.ignore_patterns("models", "metrics", "reports", "*.log"))
    return dst


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    """Run A: curate, synthesize, sft and rl straight through, in a project like `conftest.project`."""
    root = tmp_path_factory.mktemp("killres")
    a = root / "a"
    a.mkdir()
    (a / "params.yaml").write_text((REPO / "params.yaml").read_text())
    shutil.copytree(REPO / "profiles", a / "profiles")
    for stage in ("curate", "synthesize", "sft", "rl"):
        _run(a, stage)
    return root, a


def test_same_seed_same_params_give_identical_metrics(straight_run):
    root, a = straight_run
    b = _fresh_project(root, a, "b")
    _run(b, "sft")
    _run(b, "rl")
    assert _metrics(b) == _metrics(a)


def test_sigkill_at_random_points_then_resume_gives_the_uninterrupted_metrics(straight_run):
    root, a = straight_run
    c = _fresh_project(root, a, "c")
    seed = int(os.environ.get("T1_KILL_SEED") or time.time_ns() % 2**32)  # T1_KILL_SEED=<seed> replays a failure
    placed = {stage: _run_with_kills(c, stage, n, random.Random(seed)) for stage, n in KILLS.items()}
    assert {s: len(p) for s, p in placed.items()} == KILLS, f"T1_KILL_SEED={seed}: {placed}"
    assert _metrics(c) == _metrics(a), f"T1_KILL_SEED={seed}: {placed}"
    for stage, prefix in (("sft", "step_"), ("rl", "round_")):
        newest = latest_checkpoint(_ckpt_dir(c, stage), prefix)
        assert newest is not None and (newest / MANIFEST).is_file()


def test_a_corrupt_newest_checkpoint_is_skipped_for_the_previous_good_one(straight_run, capfd):
    root, a = straight_run
    ckpts = complete_checkpoints(_ckpt_dir(a, "sft"))
    assert len(ckpts) == 2  # keep_checkpoints=2
    d = _fresh_project(root, a, "d")
    shutil.copytree(a / "models", d / "models")
    newest, older = (_ckpt_dir(d, "sft") / p.name for p in (ckpts[-1], ckpts[-2]))
    weights = newest / "hf" / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte, size unchanged
    weights.write_bytes(bytes(raw))
    (_ckpt_dir(d, "sft") / "step_9999999.tmp").mkdir()  # a write that was killed: never read
    assert latest_checkpoint(_ckpt_dir(d, "sft")) == older
    assert f"skipping checkpoint {newest}: {weights}: SHA-256 differs from the manifest" in capfd.readouterr().err
    (newest / "state.json").unlink()
    assert latest_checkpoint(_ckpt_dir(d, "sft")) == older  # no state.json: not a checkpoint at all
    (older / "hf" / "model.safetensors").write_bytes(b"")
    assert latest_checkpoint(_ckpt_dir(d, "sft")) is None
    assert "0 bytes, the manifest says" in capfd.readouterr().err
    # the stage then starts over and still reaches run A's numbers
    _run(d, "sft")
    assert _metrics(d, ("sft",)) == _metrics(a, ("sft",))
