"""The Prefect stack for real, as a user drives it: `python -m flows.stack up` starts a Prefect server,
an MLflow server and a process worker on 127.0.0.1 and deploys prefect.yaml; a pipeline run is
started through the REST call the UI's Run form makes; it runs every stage through DVC, reports
each RL round as a task run, nests the stages' MLflow runs under one parent run, registers the
evaluated models and sets @champion; `down` stops everything."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.integration.test_sft_stage import TINY
from t1core.models.engine import free_port

pytestmark = pytest.mark.integration
COPY = ("t1core", "flows", "profiles", "params.yaml", "dvc.yaml", ".dvcignore", ".dvc/config", "prefect.yaml", "pyproject.toml")
TINY_OVERRIDES = [TINY[i + 1] for i in range(0, len(TINY), 2)]


def _api(url: str, body: dict | None = None, attempts: int = 6) -> dict | list:
    """One REST call; a 502/503 (the server busy on 2 cores: seen once in CI) is retried, as Prefect's own client does."""
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="GET" if body is None else "POST")
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            if e.code not in (502, 503) or attempt == attempts:
                raise
            time.sleep(2 * attempt)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("stack") / "project"
    for name in COPY:
        src, dst = REPO / name, root / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__")) if src.is_dir() else shutil.copy(src, dst))
    env = {k: v for k, v in os.environ.items() if k not in ("DVC_SITE_CACHE_DIR", "PREFECT_HOME", "PREFECT_API_URL")}
    env |= {"PYTHONPATH": str(root), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}", "PREFECT_HOME": str(root / ".prefect")}
    for cmd in (["git", "init", "-q"], ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "init"]):
        subprocess.run(cmd, cwd=root, env=env, check=True)
    ports = {"prefect": free_port(), "mlflow": free_port()}
    up = subprocess.run([sys.executable, "-m", "flows.stack", "up", "--prefect-port", str(ports["prefect"]),
                         "--mlflow-port", str(ports["mlflow"])], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        again = subprocess.run([sys.executable, "-m", "flows.stack", "up"], cwd=root, env=env, capture_output=True, text=True)
        assert again.returncode != 0 and "already up" in again.stderr  # never a second server or worker
        yield root, env, f"http://127.0.0.1:{ports['prefect']}/api", f"http://127.0.0.1:{ports['mlflow']}"
    finally:
        down = subprocess.run([sys.executable, "-m", "flows.stack", "down"], cwd=root, env=env, capture_output=True, text=True, timeout=120)
        assert "worker stopped" in down.stdout, down.stdout + down.stderr


def _wait_final(api: str, run_id: str, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = _api(f"{api}/flow_runs/{run_id}")
        if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        time.sleep(2)
    raise TimeoutError(f"flow run {run_id} still {run['state']['type']} after {timeout} s")


def _listening(port: int) -> set[str]:
    """The local addresses of the sockets listening on `port` (from /proc/net/tcp and tcp6), as hex."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).is_file():
            continue
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_servers_listen_on_loopback_only(stack):
    _, _, api, mlflow_uri = stack
    for url in (api, mlflow_uri):
        port = int(url.split(":")[2].split("/")[0])
        assert _listening(port) == {"0100007F"}, f"{url}: listening on {_listening(port)} (0100007F is 127.0.0.1)"


def test_pipeline_run_from_the_rest_api_the_ui_uses(stack):
    root, env, api, mlflow_uri = stack
    deployment = _api(f"{api}/deployments/name/t1-pipeline/pipeline")
    assert deployment["work_pool_name"] == "t1-local"
    overrides = [*TINY_OVERRIDES, f"tracking.mlflow_uri={mlflow_uri}", "promote.max_mean_tokens=48"]
    run = _api(f"{api}/deployments/{deployment['id']}/create_flow_run", {"parameters": {"run": {"rl_k": 3, "overrides": overrides}}})
    run = _wait_final(api, run["id"])
    logs = _api(f"{api}/logs/filter", {"logs": {"flow_run_id": {"any_": [run["id"]]}}, "limit": 200, "sort": "TIMESTAMP_DESC"})
    assert run["state"]["type"] == "COMPLETED", "\n".join(l["message"] for l in logs[::-1])[-4000:]
    assert run["parameters"]["run"]["rl_k"] == 3 and run["parameters"]["run"]["overrides"] == overrides

    tasks = _api(f"{api}/task_runs/filter", {"task_runs": {"flow_run_id": {"any_": [run["id"]]}}})
    names = sorted(t["name"].rsplit("-", 1)[0] if t["name"].endswith(tuple("0123456789abcdef")) and "parent" in t["name"] else t["name"]
                   for t in tasks)
    assert names == sorted(["open_parent_run", "curate", "synthesize", "sft", "rl", "rl-round-1", "rl-round-2", "evaluate",
                            "promote", "close_parent_run"]), names
    assert all(t["state_type"] == "COMPLETED" for t in tasks)

    # DVC lineage: every stage is in dvc.lock with the params the run set (written into params.yaml)
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    assert set(lock) == {"curate", "synthesize", "sft", "rl", "evaluate", "promote"}
    assert lock["rl"]["params"]["params.yaml"]["rl"]["k"] == 3
    assert json.loads((root / "metrics/rl.json").read_text())["k"] == 3

    # MLflow: one parent run; every stage run nested under it, across the dvc subprocesses
    import mlflow

    client = mlflow.MlflowClient(mlflow_uri, mlflow_uri)
    exp = client.get_experiment_by_name("t1")
    runs = client.search_runs([exp.experiment_id], max_results=100)
    parent = [r for r in runs if r.data.tags.get("t1.stage") == "pipeline"]
    assert len(parent) == 1 and parent[0].info.status == "FINISHED" and parent[0].data.params["rl.k"] == "3"
    pid = parent[0].info.run_id
    stages = {r.data.tags["t1.stage"] for r in runs if r.data.tags.get("mlflow.parentRunId") == pid}
    assert {"sft", "rl", "evaluate", "evaluate:sft", "promote"} <= stages
    assert all(parent[0].data.tags[f"t1.stage.{s}"] == "ran" for s in ("curate", "sft", "rl", "promote"))
    champion = client.get_model_version_by_alias("t1-policy", "champion")
    assert champion.tags["t1.checkpoint"] == "rl_100pct" and champion.tags["t1.dvc_data_md5"] == lock["curate"]["outs"][0]["md5"]

    # a second run with the same params: DVC skips every stage (lineage says cached); promote always checks
    again = _api(f"{api}/deployments/{deployment['id']}/create_flow_run", {"parameters": {"run": {"rl_k": 3, "overrides": overrides}}})
    again = _wait_final(api, again["id"])
    assert again["state"]["type"] == "COMPLETED"
    parents = [r for r in client.search_runs([exp.experiment_id], "tags.`t1.stage` = 'pipeline'")]
    latest = max(parents, key=lambda r: r.info.start_time)
    assert latest.data.tags["t1.stage.sft"] == "cached" and latest.data.tags["t1.stage.promote"] == "ran"
    assert len(client.search_model_versions("name='t1-policy'")) == 3  # sft, rl_50pct, rl_100pct: no duplicates


def test_bad_parameters_are_rejected_before_any_stage(stack):
    root, env, api, _ = stack
    deployment = _api(f"{api}/deployments/name/t1-curate/curate")
    run = _api(f"{api}/deployments/{deployment['id']}/create_flow_run", {"parameters": {"run": {"overrides": ["rl.kk=3"]}}})
    run = _wait_final(api, run["id"], timeout=300)
    assert run["state"]["type"] == "FAILED" and "rl.kk" in (run["state"]["message"] or "")
    tasks = _api(f"{api}/task_runs/filter", {"task_runs": {"flow_run_id": {"any_": [run["id"]]}}})
    assert not tasks


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_run_form_in_the_prefect_ui_starts_a_run(stack):
    """Headless Chromium (Debian's, installed by `make test`) fills the deployment's Run form and submits it."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (make test installs it where apt-get may)")
    from playwright.sync_api import expect, sync_playwright

    root, env, api, mlflow_uri = stack
    ui = api.removesuffix("/api")
    deployment = _api(f"{api}/deployments/name/t1-curate/curate")
    shots = os.environ.get("T1_SCREENSHOTS")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{ui}/deployments/deployment/{deployment['id']}/run")
        page.wait_for_load_state("networkidle")
        field = page.locator(".schema-form-property", has=page.locator(".schema-form-property__label", has_text="Seed (Optional)")).last
        field.get_by_role("button", name="int").click()
        field.locator("input[type=number]").fill("77")
        expect(field.locator("input[type=number]")).to_have_value("77")
        if shots:
            page.screenshot(path=f"{shots}/prefect_run_form.png")
        mine = _submit(page, api, deployment["id"], seed=77)
        assert len(mine) == 1, f"{len(mine)} runs with the form's seed; the page after Submit: {_page_state(page)}"
        page.wait_for_url(f"**/deployments/deployment/{deployment['id']}?tab=Runs", timeout=60000)
        run = _wait_final(api, mine[0]["id"], timeout=300)
        if shots:
            _screenshots(page, api, mlflow_uri, shots)
        browser.close()
    assert run["state"]["type"] == "COMPLETED"
    assert json.loads((root / "metrics/curate.json").read_text())["run"]["seed"] == 77  # the form's value reached the stage


def _submit(page, api: str, deployment_id: str, seed: int, tries: int = 3) -> list[dict]:
    """Click Submit until the API holds a run with the form's `seed`; click again only while none exists and the
    page is still the form (under the full suite the UI once stayed on the form for 180 s after one click)."""
    mine: list[dict] = []
    for _ in range(tries):
        page.get_by_role("button", name="Submit").click()
        mine = _form_runs(api, deployment_id, seed, timeout=90)  # the API, not the UI's redirect, says a run exists
        if mine or not page.url.endswith("/run"):
            break
    return mine


def _form_runs(api: str, deployment_id: str, seed: int, timeout: float) -> list[dict]:
    """The deployment's flow runs whose parameters carry `seed`, polled until one appears or `timeout` passes
    (the full suite on 2 cores once kept the UI from redirecting within 90 s; this tells a slow UI from a lost submit)."""
    deadline = time.monotonic() + timeout
    while True:
        runs = _api(f"{api}/flow_runs/filter", {"deployments": {"id": {"any_": [deployment_id]}}})
        mine = [r for r in runs if r["parameters"].get("run", {}).get("seed") == seed]
        if mine or time.monotonic() > deadline:
            return mine
        time.sleep(2)


def _page_state(page) -> str:
    """Where the page is and what it says, for a failure message."""
    try:
        return f"{page.url}: {page.inner_text('body', timeout=5000)[:800]!r}"
    except Exception as e:  # the page itself may be what hangs
        return f"{page.url} (text unreadable: {e})"


def _screenshots(page, api: str, mlflow_uri: str, out: str) -> None:
    """For docs/operations.md: the pipeline run of the first test (its RL round tasks) and the MLflow registry."""
    pipeline = _api(f"{api}/deployments/name/t1-pipeline/pipeline")
    runs = _api(f"{api}/flow_runs/filter", {"deployments": {"id": {"any_": [pipeline["id"]]}}, "sort": "START_TIME_ASC"})
    page.goto(f"{api.removesuffix('/api')}/runs/flow-run/{runs[0]['id']}?tab=Task+Runs")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)
    page.screenshot(path=f"{out}/prefect_pipeline_run.png")
    page.goto(f"{mlflow_uri}/#/models/t1-policy", wait_until="domcontentloaded")  # the MLflow UI polls: never network-idle
    page.get_by_text("Version 3").first.wait_for(timeout=30000)
    page.wait_for_timeout(1000)
    page.screenshot(path=f"{out}/mlflow_registry.png")


def test_two_runs_of_one_workspace_queue(stack):
    """The pool's concurrency limit of 1 makes a second run wait for the first: never two `dvc repro` at once."""
    _, _, api, _ = stack
    deployment = _api(f"{api}/deployments/name/t1-curate/curate")
    ids = [_api(f"{api}/deployments/{deployment['id']}/create_flow_run", {"parameters": {"run": {"seed": seed}}})["id"]
           for seed in (5, 6)]
    runs = sorted((_wait_final(api, i, timeout=300) for i in ids), key=lambda r: r["start_time"])
    assert [r["state"]["type"] for r in runs] == ["COMPLETED", "COMPLETED"]
    assert runs[0]["end_time"] <= runs[1]["start_time"], [(r["start_time"], r["end_time"]) for r in runs]


def test_a_stage_blocked_by_another_dvc_command_is_retried(stack):
    """DVC's lock held by another command (here: a lock entry owned by a live `sleep`, in DVC's own rwlock
    file) fails the stage's first attempt; once the holder is gone the task's retry completes."""
    root, _, api, _ = stack
    holder = subprocess.Popen(["sleep", "600"])
    threading.Thread(target=holder.wait, daemon=True).start()  # reaped when it ends: a zombie would hold the lock forever
    entry = {"pid": holder.pid, "cmd": "dvc repro (another terminal)"}
    (root / ".dvc/tmp").mkdir(exist_ok=True)
    (root / ".dvc/tmp/rwlock").write_text(json.dumps({"write": {str(root / "metrics/curate.json"): entry}, "read": {}}))
    deployment = _api(f"{api}/deployments/name/t1-curate/curate")
    run = _api(f"{api}/deployments/{deployment['id']}/create_flow_run", {"parameters": {"run": {"seed": 8}}})
    try:
        _wait_blocked(api, run["id"])
    finally:
        holder.kill()
    run = _wait_final(api, run["id"], timeout=300)
    assert run["state"]["type"] == "COMPLETED"
    tasks = _api(f"{api}/task_runs/filter", {"task_runs": {"flow_run_id": {"any_": [run["id"]]}}})
    curate = next(t for t in tasks if t["name"] == "curate")
    assert curate["run_count"] == 2  # one blocked attempt, one retry


def _wait_blocked(api: str, run_id: str, timeout: float = 180) -> None:
    """Until the flow run's `curate` task has failed once and waits for its retry."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tasks = _api(f"{api}/task_runs/filter", {"task_runs": {"flow_run_id": {"any_": [run_id]}}})
        if any(t["name"] == "curate" and t["run_count"] >= 1 and t["state_type"] == "SCHEDULED" for t in tasks):
            return
        time.sleep(1)
    raise TimeoutError(f"the curate task of {run_id} never waited for a retry")
