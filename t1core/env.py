"""Process defaults: telemetry off and tool state inside the project, never in ~."""

import os
from pathlib import Path

OFFLINE_DEFAULTS = {
    "DO_NOT_TRACK": "true",  # MLflow honours 'true', not '1'
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "60",
    "DVC_NO_ANALYTICS": "1",
}


def apply_defaults(project_dir: str | Path = ".") -> None:
    """Set the defaults that the user has not set; tool state goes under the project."""
    for key, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(key, value)
    root = Path(project_dir).resolve()
    os.environ.setdefault("PREFECT_HOME", str(root / ".prefect"))
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(root / ".cache" / "torch_extensions"))  # DeepSpeed's compiled ops
