"""MLflow outages never cost a run's numbers (issue #9): a stage keeps training while the server is
down, its run is buffered locally and uploaded later, by `t1 tracking-sync` or by the next stage."""

import time

import pytest
from typer.testing import CliRunner

from t1core.cli import app
from t1core.config import load_params
from t1core.models.engine import free_port
from t1core.tracking.buffer import BUFFER_ENV, pending
from t1core.tracking.mlflow_run import StageRun
from tests.services.servers import mlflow_server

pytestmark = pytest.mark.integration


@pytest.fixture
def outage(project, tmp_path, monkeypatch):
    """(server root, port, params) for a server that the test starts and stops itself."""
    monkeypatch.setenv(BUFFER_ENV, str(tmp_path / "buffer"))
    port = free_port()
    params = load_params(project / "params.yaml", overrides=[f"tracking.mlflow_uri=http://127.0.0.1:{port}"])
    return tmp_path / "mlflow", port, params


def _sync(uri: str):
    return CliRunner().invoke(app, ["--set", f"tracking.mlflow_uri={uri}", "tracking-sync"])


def test_a_run_that_loses_the_server_mid_way_keeps_every_metric(outage, tmp_path):
    from mlflow import MlflowClient

    root, port, params = outage
    run = StageRun(params, "rl")
    with mlflow_server(root, port) as uri:
        run.__enter__()
        run.log_metrics({"loss": 1.0}, step=1)
        run_id = run.run_id
    t = time.monotonic()
    run.log_metrics({"loss": 0.5}, step=2)  # the server is gone: this call fails, the run goes offline
    run.log_metrics({"loss": 0.25}, step=3)  # buffered without trying the server again
    curve = tmp_path / "curve.json"
    curve.write_text("[1, 2]")
    run.log_artifact(curve)
    curve.write_text("overwritten later by the stage")  # the buffer holds the file as it was when logged
    run.__exit__(None, None, None)
    assert time.monotonic() - t < 20  # training was not held up by MLflow's retries
    assert len(pending(uri)) == 1

    res = _sync(uri)  # still down: a clear error, the buffer stays
    assert res.exit_code == 1 and "1 buffered run(s) stay in" in res.output and len(pending(uri)) == 1

    with mlflow_server(root, port) as uri:
        res = _sync(uri)
        assert res.exit_code == 0 and f"-> run {run_id}" in res.output, res.output
        client = MlflowClient(uri)
        history = sorted((m.step, m.value) for m in client.get_metric_history(run_id, "loss"))
        assert history == [(1, 1.0), (2, 0.5), (3, 0.25)]
        assert client.get_run(run_id).info.status == "FINISHED"
        local = client.download_artifacts(run_id, "curve.json", str(tmp_path / "dl"))
        assert open(local).read() == "[1, 2]"
        assert not pending(uri) and _sync(uri).output.startswith("nothing buffered")


def test_a_run_that_never_reached_the_server_is_created_by_the_next_stage(outage):
    from mlflow import MlflowClient

    root, port, params = outage
    with StageRun(params, "sft") as run:  # no server at all
        run.log_metrics({"train_loss": 2.0}, step=5)
        assert run.run_id is None
    uri = params.tracking.mlflow_uri
    assert len(pending(uri)) == 1
    with mlflow_server(root, port):
        with StageRun(params, "rl") as later:  # its start uploads what the earlier stage buffered
            later.log_metrics({"loss": 1.0}, step=1)
        runs = {r.info.run_name: r for r in MlflowClient(uri).search_runs(["1", *_experiments(uri)])}
        assert runs["sft"].data.metrics == {"train_loss": 2.0} and runs["sft"].data.params["rl.k"] == str(params.rl.k)
        assert runs["sft"].info.status == "FINISHED" and runs["rl"].info.status == "FINISHED"
        assert not pending(uri)


def _experiments(uri: str) -> list[str]:
    from mlflow import MlflowClient

    return [e.experiment_id for e in MlflowClient(uri).search_experiments()]


def test_an_upload_cut_half_way_never_logs_an_event_twice(project, tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from t1core.tracking.buffer import TrackingBuffer, replay

    monkeypatch.setenv(BUFFER_ENV, str(tmp_path / "buffer"))
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    start = {"op": "start", "experiment": "t1", "run_name": "rl", "tags": {"t1.stage": "rl"}, "params": {"rl.k": "8"}, "config": {}}
    buf = TrackingBuffer("rl", uri, start)
    for step in (1, 2, 3):
        buf.add({"op": "metrics", "metrics": {"loss": 1.0 / step}, "step": step, "timestamp_ms": 1000 * step})
    buf.add({"op": "end", "status": "FINISHED", "timestamp_ms": 4000})
    real = MlflowClient(uri)

    class CutAfterTwoBatches:  # the connection drops after the run and its first metric are written
        calls = 0

        def __getattr__(self, name):
            def call(*args, **kwargs):
                if name == "log_batch" and kwargs.get("metrics"):
                    CutAfterTwoBatches.calls += 1
                    if CutAfterTwoBatches.calls > 1:
                        raise ConnectionError("connection reset")
                return getattr(real, name)(*args, **kwargs)

            return call

    with pytest.raises(ConnectionError):
        replay(buf.path, CutAfterTwoBatches())
    run_id = replay(buf.path, real)
    assert sorted((m.step, m.value) for m in real.get_metric_history(run_id, "loss")) == [(1, 1.0), (2, 0.5), (3, 1 / 3)]
    assert len(real.search_runs([real.get_experiment_by_name("t1").experiment_id])) == 1
    assert real.get_run(run_id).info.status == "FINISHED" and not buf.path.exists()
