"""Real servers on 127.0.0.1 for the service tests: MLflow tracking + registry (and, for flows, Prefect)."""

import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from flows.stack import wait_http
from t1core.models.engine import free_port

BIN = Path(sys.executable).parent


def stop(proc: subprocess.Popen, signals: tuple[int, ...] = (signal.SIGINT,), grace: float = 20) -> None:
    """Send each signal in turn (waiting up to `grace` s after each), then SIGKILL the process group."""
    for sig in signals:
        if proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            continue
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@contextmanager
def mlflow_server(root: Path, port: int | None = None) -> Iterator[str]:
    """`mlflow server` with a sqlite store and served artifacts under `root`; yields its URI.
    A second server on the same `root` and `port` serves the same runs (an outage and its recovery)."""
    port, log = port or free_port(), root / "mlflow-server.log"
    root.mkdir(parents=True, exist_ok=True)
    cmd = [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
           "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}", "--artifacts-destination", str(root / "artifacts")]
    with open(log, "a") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=root)
    try:
        uri = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{uri}/health", "mlflow server", proc=proc)
        except (RuntimeError, TimeoutError) as e:
            raise RuntimeError(f"{e}:\n{log.read_text()[-3000:]}") from None
        yield uri
    finally:
        stop(proc)
