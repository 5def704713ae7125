"""What can be checked of docker/ without a Docker engine: the compose file parses and is wired up."""

from pathlib import Path

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
