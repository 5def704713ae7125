"""Start and stop the local stack on 127.0.0.1: Prefect server, a process worker, and an MLflow server.

    python -m flows.stack up [--prefect-port 4200] [--mlflow-port 5000]
    python -m flows.stack status
    python -m flows.stack down

`up` also creates the work pool `t1-local` (concurrency limit 1) and deploys prefect.yaml.
State (pids, logs) lives in .stack/; Prefect's in .prefect/ (PREFECT_HOME). A background
Prefect worker needs two SIGINTs to stop; `down` sends them, then SIGKILL if it must.
"""

import argparse
import json
import os
import signal
import subprocess
import time
import urllib.request

from flows.settings import BIN, PROJECT, with_bin
from t1core.config import load_params
from t1core.env import apply_defaults

STATE = PROJECT / ".stack"
POOL = "t1-local"


def _env(prefect_port: int) -> dict[str, str]:
    apply_defaults(PROJECT)
    return with_bin({**os.environ, "PREFECT_API_URL": f"http://127.0.0.1:{prefect_port}/api", "T1_PROJECT_DIR": str(PROJECT)})


def _spawn(name: str, cmd: list[str], env: dict[str, str]) -> int:
    STATE.mkdir(exist_ok=True)
    with open(STATE / f"{name}.log", "a") as log:
        proc = subprocess.Popen(cmd, cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return proc.pid


def wait_http(url: str, what: str, timeout: float = 120, proc: subprocess.Popen | None = None) -> None:
    """Poll `url` until it answers 200; fail early if `proc` (the server) exits, or when the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{what} did not answer at {url} within {timeout} s")


def _cli(args: list[str], env: dict[str, str]) -> None:
    res = subprocess.run([str(BIN / "prefect"), *args], cwd=PROJECT, env=env, capture_output=True, text=True)
    if res.returncode != 0 and "already exists" not in res.stdout + res.stderr:
        raise SystemExit(f"prefect {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}")


def up(prefect_port: int, mlflow_port: int) -> dict[str, object]:
    running = _running()
    if running:
        raise SystemExit(f"stack: already up ({', '.join(running)}); `python -m flows.stack down` first")
    env = _env(prefect_port)
    store = load_params(PROJECT / "params.yaml").tracking.mlflow_uri
    pids = {"prefect-server": _spawn("prefect-server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                                                        "--port", str(prefect_port)], env)}
    pids["mlflow-server"] = _spawn("mlflow-server", [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(mlflow_port),
                                                      "--workers", "1", "--backend-store-uri", store], env)
    _save(pids, prefect_port, mlflow_port)
    wait_http(f"http://127.0.0.1:{prefect_port}/api/health", f"prefect-server (log: {STATE / 'prefect-server.log'})")
    wait_http(f"http://127.0.0.1:{mlflow_port}/health", f"mlflow-server (log: {STATE / 'mlflow-server.log'})")
    _cli(["work-pool", "create", POOL, "--type", "process"], env)
    _cli(["work-pool", "set-concurrency-limit", POOL, "1"], env)
    _cli(["--no-prompt", "deploy", "--all"], env)
    pids["worker"] = _spawn("worker", [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--type", "process"], env)
    return _save(pids, prefect_port, mlflow_port)


def _save(pids: dict[str, int], prefect_port: int, mlflow_port: int) -> dict[str, object]:
    state = {"pids": pids, "prefect_ui": f"http://127.0.0.1:{prefect_port}", "mlflow_ui": f"http://127.0.0.1:{mlflow_port}"}
    STATE.mkdir(exist_ok=True)
    (STATE / "stack.json").write_text(json.dumps(state, indent=2))
    return state


def _state() -> dict[str, object]:
    path = STATE / "stack.json"
    return json.loads(path.read_text()) if path.is_file() else {"pids": {}}


def _running() -> list[str]:
    return [name for name, pid in _state()["pids"].items() if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def down(grace: float = 15) -> None:
    pids = _state()["pids"]
    if not pids:
        print("stack: nothing to stop")
        return
    for name in ("worker", "prefect-server", "mlflow-server"):  # the worker first: it reports to the server
        pid = pids.get(name)
        for sig in (signal.SIGINT, signal.SIGINT, signal.SIGKILL):
            if pid is None or not _alive(pid):
                break
            os.killpg(pid, sig)
            deadline = time.monotonic() + grace
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
        print(f"stack: {name} stopped")
    (STATE / "stack.json").unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description="local Prefect + MLflow stack on 127.0.0.1")
    ap.add_argument("command", choices=["up", "down", "status"])
    ap.add_argument("--prefect-port", type=int, default=4200)
    ap.add_argument("--mlflow-port", type=int, default=5000)
    args = ap.parse_args()
    if args.command == "up":
        print(json.dumps(up(args.prefect_port, args.mlflow_port), indent=2))
    elif args.command == "down":
        down()
    else:
        state = _state()
        print(json.dumps({**state, "alive": {n: _alive(p) for n, p in state["pids"].items()}}, indent=2))


if __name__ == "__main__":
    main()
