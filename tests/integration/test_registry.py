"""`t1 promote` against a real MLflow server: versions with run manifests, @challenger, and @champion
moving only when the gate passes (and why it did or did not, on the version)."""

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from t1core.cli import app
from t1core.tracking.manifest import dvc_md5
from t1core.tracking.mlflow_run import PARENT_ENV
from tests.services.servers import mlflow_server

pytestmark = pytest.mark.integration
GOOD = {"accuracy": 0.50, "mean_tokens": 150.0, "no_answer_rate": 0.02, "penalty_rates": {"overlong": 0.01, "repetitive": 0.0, "garbage": 0.0}}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as uri:
        yield uri


def _checkpoint(project: Path, name: str, weights: bytes, greedy: dict, fraction: float | None = None) -> None:
    """An evaluated checkpoint as the evaluate stage leaves it: model dir + reports/eval/<name>/report.json."""
    model = project / "models" / name
    model.mkdir(parents=True, exist_ok=True)
    (model / "config.json").write_text('{"model_type": "llama"}')
    (model / "model.safetensors").write_bytes(weights)
    report = {"checkpoint": name, "model_path": str(model.relative_to(project)), "data": "data/curated/heldout.jsonl",
              "n": 100, "greedy": greedy, **({"fraction": fraction} if fraction is not None else {})}
    (project / "reports/eval" / name).mkdir(parents=True, exist_ok=True)
    (project / "reports/eval" / name / "report.json").write_text(json.dumps(report))


def _promote(uri: str, *extra: str) -> dict:
    res = CliRunner().invoke(app, ["--set", f"tracking.mlflow_uri={uri}", *extra, "promote"])
    assert res.exit_code == 0, res.output
    return json.loads(Path("metrics/promote.json").read_text())


def test_registry_versions_manifest_and_gated_champion(project, server):
    import mlflow

    client = mlflow.MlflowClient(server, server)
    (project / "data/curated").mkdir(parents=True)
    (project / "data/curated/heldout.jsonl").write_text('{"id": "a", "problem": "1+1", "answer": "2"}\n')
    _checkpoint(project, "sft", b"sft-weights", {**GOOD, "accuracy": 0.40})
    _checkpoint(project, "rl_100pct", b"rl-weights-1", GOOD, fraction=1.0)
    parent = client.create_run(client.create_experiment("pipeline")).info.run_id
    os.environ[PARENT_ENV] = parent
    try:
        first = _promote(server)
    finally:
        del os.environ[PARENT_ENV]

    # every evaluated model is a version; the last evaluated is the candidate; no champion yet, so it passes
    assert {n: r["created"] for n, r in first["registered"].items()} == {"sft": True, "rl_100pct": True}
    v_rl = first["registered"]["rl_100pct"]["version"]
    assert first["candidate"] == "rl_100pct" and (first["champion_before"], first["champion_after"]) == (None, v_rl)
    version = client.get_model_version_by_alias("t1-policy", "champion")
    assert int(version.version) == v_rl and int(client.get_model_version_by_alias("t1-policy", "challenger").version) == v_rl
    tags = version.tags
    assert tags["t1.dvc_data_md5"] == dvc_md5(project / "data/curated") and tags["t1.dvc_data_md5"].endswith(".dir")
    assert tags["t1.model_md5"] == dvc_md5(project / "models/rl_100pct")
    for key in ("t1.git_sha", "t1.params_hash", "t1.grader_version", "t1.eval_data_md5"):
        assert tags[key], key
    assert tags["t1.gate"] == "passed" and float(tags["t1.metric.accuracy"]) == 0.5
    # the checkpoint is an artifact of a register run, nested under the promote run, itself under the pipeline run
    promote_run = client.get_run(version.run_id).data.tags["mlflow.parentRunId"]
    assert client.get_run(promote_run).data.tags["mlflow.parentRunId"] == parent
    assert {a.path for a in client.list_artifacts(version.run_id, "model")} == {"model/config.json", "model/model.safetensors"}

    # a rerun (or a DVC cache hit) registers nothing new and moves nothing
    again = _promote(server)
    assert not any(r["created"] for r in again["registered"].values()) and again["champion_after"] == v_rl
    assert len(client.search_model_versions("name='t1-policy'")) == 2

    # a worse candidate: new version, @challenger moves, @champion stays, and the version says why
    _checkpoint(project, "rl_100pct", b"rl-weights-2", {**GOOD, "accuracy": 0.45}, fraction=1.0)
    worse = _promote(server)
    v_worse = worse["candidate_version"]
    assert v_worse > v_rl and worse["champion_after"] == v_rl and not worse["gate"]["passed"]
    assert [c["name"] for c in worse["gate"]["checks"] if not c["passed"]] == ["accuracy"]
    assert int(client.get_model_version_by_alias("t1-policy", "challenger").version) == v_worse
    failed = client.get_model_version("t1-policy", str(v_worse))
    assert failed.tags["t1.gate"] == "failed" and failed.tags["t1.gate_against"] == f"v{v_rl}"
    assert "not promoted" in failed.description and "FAIL accuracy" in failed.description

    # more accurate but more often without an answer: a format regression fails the gate too
    _checkpoint(project, "rl_100pct", b"rl-weights-3", {**GOOD, "accuracy": 0.60, "no_answer_rate": 0.10}, fraction=1.0)
    sloppy = _promote(server)
    assert [c["name"] for c in sloppy["gate"]["checks"] if not c["passed"]] == ["no_answer_rate"]
    # too long for the budget (eval.max_new_tokens 448 -> 403 tokens by default)
    _checkpoint(project, "rl_100pct", b"rl-weights-4", {**GOOD, "accuracy": 0.60, "mean_tokens": 420.0}, fraction=1.0)
    assert [c["name"] for c in _promote(server)["gate"]["checks"] if not c["passed"]] == ["length"]

    # better on every count: @champion moves
    _checkpoint(project, "rl_100pct", b"rl-weights-5", {**GOOD, "accuracy": 0.55}, fraction=1.0)
    better = _promote(server, "--set", "promote.margin=0.02")
    assert better["gate"]["passed"] and better["champion_before"] == v_rl and better["champion_after"] == better["candidate_version"]
    assert int(client.get_model_version_by_alias("t1-policy", "champion").version) == better["candidate_version"]
    assert "promoted to @champion" in client.get_model_version("t1-policy", str(better["candidate_version"])).description


def test_promote_errors_name_what_is_missing(project):
    res = CliRunner().invoke(app, ["--set", "tracking.enabled=false", "promote"])
    assert res.exit_code == 2 and "tracking.enabled" in res.output
    res = CliRunner().invoke(app, ["--set", "tracking.mlflow_uri=sqlite:///m.db", "promote"])
    assert res.exit_code == 2 and "no evaluation reports" in res.output
    _checkpoint(project, "sft", b"w", GOOD)
    res = CliRunner().invoke(app, ["--set", "tracking.mlflow_uri=sqlite:///m.db", "--set", "promote.candidate=rl_9pct", "promote"])
    assert res.exit_code == 2 and "promote.candidate: 'rl_9pct' was not evaluated" in res.output
    (project / "reports/eval/sft/report.json").write_text('{"checkpoint": "sft",\n "greedy": }')
    res = CliRunner().invoke(app, ["--set", "tracking.mlflow_uri=sqlite:///m.db", "promote"])
    assert res.exit_code == 2 and "reports/eval/sft/report.json:2: not valid JSON" in res.output


def test_unchanged_local_registry_skips_mlflow_until_anything_changes(project):
    """The no-op fast path: a second promote with nothing changed returns the same result without opening
    MLflow (no new promote run); a registry write from outside, or a new evaluation, makes it run in full."""
    import mlflow

    uri = f"sqlite:///{project / 'm.db'}"
    (project / "data/curated").mkdir(parents=True)
    (project / "data/curated/heldout.jsonl").write_text('{"id": "a", "problem": "1+1", "answer": "2"}\n')
    _checkpoint(project, "sft", b"sft-weights", GOOD)
    client = mlflow.MlflowClient(uri, uri)

    def promote_runs() -> int:
        exp = client.get_experiment_by_name("t1")
        return len(client.search_runs([exp.experiment_id], "tags.`mlflow.runName` = 'promote'"))

    first = _promote(uri)
    assert Path(".t1/promote-state.json").is_file() and promote_runs() == 1
    assert _promote(uri) == first and promote_runs() == 1  # fast path: same result, MLflow untouched

    client.set_model_version_tag("t1-policy", str(first["candidate_version"]), "reviewed", "yes")  # a write from outside
    rerun = _promote(uri)
    assert rerun["registered"] == {"sft": {"version": 1, "created": False}} and promote_runs() == 2
    assert _promote(uri) and promote_runs() == 2

    _checkpoint(project, "rl_100pct", b"rl-weights", {**GOOD, "accuracy": 0.6}, fraction=1.0)  # a new evaluation
    third = _promote(uri)
    assert third["candidate"] == "rl_100pct" and third["registered"]["rl_100pct"]["created"] and promote_runs() == 3
