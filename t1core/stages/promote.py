"""Stage `promote`: every evaluated model becomes a registry version; @challenger marks the candidate;
@champion moves only when the promotion gate passes.

Reads reports/eval/<checkpoint>/report.json (the evaluate stage's output: the same files whether
that stage ran or DVC restored it), so versions and manifests describe exactly the evaluated
weights. Writes metrics/promote.json with every check and why @champion moved or stayed.
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from t1core.config import ConfigError, Params
from t1core.data.records import DataError
from t1core.stages.common import write_stage_metrics
from t1core.tracking.gate import GateResult, gate_numbers, promotion_gate
from t1core.tracking.manifest import run_manifest
from t1core.tracking.mlflow_run import StageRun
from t1core.tracking.registry import ModelRegistry, version_numbers
from t1core.tracking.snapshot import fingerprint, remember, unchanged_result


@dataclass(frozen=True)
class Evaluated:
    name: str
    report: Path
    model_dir: Path
    data: Path
    numbers: dict[str, float]
    order: float  # sft 0, RL rounds by their share of training


def run(params: Params) -> dict[str, Any]:
    if not params.tracking.enabled:
        raise ConfigError("tracking.enabled: promote needs the MLflow registry (set tracking.enabled=true)")
    evaluated = evaluated_models(params)
    name = params.promote.candidate or evaluated[-1].name
    if name not in [e.name for e in evaluated]:
        raise ConfigError(f"promote.candidate: {name!r} was not evaluated (evaluated: {[e.name for e in evaluated]})")
    inputs = [e.report for e in evaluated], [e.model_dir for e in evaluated]
    cached = unchanged_result(fingerprint(params, *inputs))
    if cached is not None:
        print("promote: the registry and the evaluated models are unchanged since the last promote; its result stands "
              "(MLflow not opened)", file=sys.stderr)
        write_stage_metrics(params, "promote", cached, None)
        return cached
    registry = ModelRegistry(params)
    with StageRun(params, "promote") as tracking:
        versions = {e.name: registry.register(e.name, e.model_dir, e.report,
                                               run_manifest(params, e.model_dir, e.data, e.report), e.numbers, tracking.run_id)
                    for e in evaluated}
        decision = decide(params, registry, versions[name][0])
        metrics = {"registered": {n: {"version": int(v.version), "created": c} for n, (v, c) in versions.items()},
                   "candidate": name, **decision}
        tracking.log_metrics({"candidate_version": decision["candidate_version"], "gate_passed": float(decision["gate"]["passed"])})
    write_stage_metrics(params, "promote", metrics, None)  # always runs: no wall time, so a no-op repro changes nothing
    remember(fingerprint(params, *inputs), metrics)  # taken after the run: its own registry writes are included
    return metrics


def decide(params: Params, registry: ModelRegistry, candidate: Any) -> dict[str, Any]:
    """Point @challenger at the candidate; run the gate against @champion; move @champion if it passes."""
    cfg = params.promote
    champion = registry.by_alias("champion")
    registry.set_alias("challenger", candidate)
    before = int(champion.version) if champion is not None else None
    if champion is not None and champion.version == candidate.version:
        return {"candidate_version": int(candidate.version), "champion_before": before, "champion_after": before,
                "gate": {"passed": True, "checks": [], "note": "the candidate is already @champion"}}
    same = champion is None or not cfg.same_eval_data or champion.tags.get("t1.eval_data_md5") == candidate.tags.get("t1.eval_data_md5")
    budget = cfg.max_mean_tokens or 0.9 * params.eval.max_new_tokens
    result = promotion_gate(version_numbers(candidate), version_numbers(champion) if champion is not None else None,
                            cfg.margin, cfg.rate_tolerance, budget, same)
    if result.passed:
        registry.set_alias("champion", candidate)
    registry.record_gate(candidate, result, champion, moved=result.passed)
    return {"candidate_version": int(candidate.version), "champion_before": before,
            "champion_after": int(candidate.version) if result.passed else before, "gate": _gate_json(result)}


def _gate_json(result: GateResult) -> dict[str, Any]:
    return {"passed": result.passed, "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in result.checks]}


def evaluated_models(params: Params) -> list[Evaluated]:
    """The evaluate stage's checkpoints, SFT first, then RL rounds in training order."""
    reports = sorted((Path(params.paths.reports_dir) / "eval").glob("*/report.json"))
    if not reports:
        raise DataError(str(Path(params.paths.reports_dir) / "eval"), 0, None, "no evaluation reports (run `t1 eval` first)")
    return sorted((_evaluated(path) for path in reports), key=lambda e: (e.order, e.name))


def _evaluated(path: Path) -> Evaluated:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(str(path), e.lineno, None, f"not valid JSON: {e.msg}") from None
    if not isinstance(report, dict):
        raise DataError(str(path), 1, None, f"expected a JSON object, got {type(report).__name__}")
    for field in ("checkpoint", "model_path", "data", "greedy"):
        if field not in report:
            raise DataError(str(path), 0, field, "missing from the evaluation report")
    model_dir = Path(report["model_path"])
    if not (model_dir / "config.json").is_file():
        raise DataError(str(path), 0, "model_path", f"{model_dir} is not a model directory (was it deleted?)")
    order = 0.0 if report["checkpoint"] == "sft" else float(report.get("fraction", 1.0))
    return Evaluated(report["checkpoint"], path, model_dir, Path(report["data"]), gate_numbers(report), order)
