"""The MLflow model registry for t1: one version per evaluated model, aliases @challenger and @champion.

A version's source is the `model/` artifact (the HF checkpoint directory) of a
`register:<checkpoint>` run, nested under the promote run; its tags are the run manifest plus the gate numbers
(`t1.metric.*`). Registering is idempotent: a model whose weights and evaluation report
are already registered (same `t1.model_md5` and `t1.report_md5`) gets its existing version,
so reruns and DVC cache hits never duplicate versions.
"""

from pathlib import Path
from typing import Any

from t1core.config import Params
from t1core.tracking.gate import GateResult
from t1core.tracking.mlflow_run import experiment_id

METRIC_PREFIX = "t1.metric."


class ModelRegistry:
    def __init__(self, params: Params):
        from mlflow import MlflowClient

        self.params, self.name = params, params.tracking.registered_model
        self.client = MlflowClient(tracking_uri=params.tracking.mlflow_uri, registry_uri=params.tracking.mlflow_uri)

    # ------------------------------------------------------------ versions
    def find(self, tags: dict[str, str]) -> Any | None:
        """The version already registered for these weights and this report, if any."""
        hits = self.client.search_model_versions(f"name='{self.name}' and tags.`t1.model_md5` = '{tags['t1.model_md5']}'")
        same = [v for v in hits if v.tags.get("t1.report_md5") == tags["t1.report_md5"]]
        return max(same, key=lambda v: int(v.version)) if same else None

    def register(
        self, checkpoint: str, model_dir: Path, report: Path, tags: dict[str, str], numbers: dict[str, float], parent_run_id: str | None,
    ) -> tuple[Any, bool]:
        """(version, created): logs the checkpoint and its report to a `register:<checkpoint>` run, then a new version."""
        found = self.find(tags)
        if found is not None:
            return found, False
        run_id = self._artifact_run(checkpoint, model_dir, report, numbers, parent_run_id)
        self._ensure_model()
        all_tags = {**tags, "t1.checkpoint": checkpoint, **{METRIC_PREFIX + k: repr(v) for k, v in numbers.items()}}
        version = self.client.create_model_version(
            self.name, f"runs:/{run_id}/model", run_id=run_id, tags=all_tags,
            description=f"{checkpoint}: held-out greedy accuracy {numbers['accuracy']:.4f} ({model_dir})",
        )
        return version, True

    def _artifact_run(self, checkpoint: str, model_dir: Path, report: Path, numbers: dict[str, float], parent: str | None) -> str:
        """A finished run holding `model/` (the HF directory), the report and the gate numbers."""
        tags = {"t1.stage": f"register:{checkpoint}", **({"mlflow.parentRunId": parent} if parent else {})}
        exp = experiment_id(self.client, self.params.tracking.experiment)
        run_id = self.client.create_run(exp, run_name=f"register:{checkpoint}", tags=tags).info.run_id
        self.client.log_artifacts(run_id, str(model_dir), artifact_path="model")
        self.client.log_artifact(run_id, str(report))
        for key, value in numbers.items():
            self.client.log_metric(run_id, key, value)
        self.client.set_terminated(run_id)
        return run_id

    def _ensure_model(self) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(self.name)
        except MlflowException:
            self.client.create_registered_model(self.name, description="t1 policies; @champion passed the promotion gate")

    # ------------------------------------------------------------ aliases and gate records
    def by_alias(self, alias: str) -> Any | None:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version_by_alias(self.name, alias)
        except MlflowException:
            return None

    def set_alias(self, alias: str, version: Any) -> None:
        self.client.set_registered_model_alias(self.name, alias, str(version.version))

    def record_gate(self, version: Any, result: GateResult, champion: Any | None, moved: bool) -> None:
        """Why @champion moved or did not, on the candidate version's tags and description."""
        against = f"v{champion.version}" if champion is not None else "none"
        verdict = "promoted to @champion" if moved else "not promoted"
        for key, value in (("t1.gate", "passed" if result.passed else "failed"), ("t1.gate_against", against),
                           ("t1.gate_checks", result.summary()[:5000])):
            self.client.set_model_version_tag(self.name, str(version.version), key, value)
        text = f"{version.description or ''}\n\nGate vs champion {against}: {verdict}. {result.summary()}".strip()
        self.client.update_model_version(self.name, str(version.version), description=text[:5000])


def version_numbers(version: Any) -> dict[str, float]:
    """The gate numbers a version was registered with."""
    return {k[len(METRIC_PREFIX):]: float(v) for k, v in version.tags.items() if k.startswith(METRIC_PREFIX)}
