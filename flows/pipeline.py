"""Prefect flows: the whole pipeline, and one flow per stage, over the DVC stages.

    curate -> synthesize -> sft -> rl (+ one task run per RL round) -> evaluate -> promote

Runs of one workspace queue: the deployments' work pool has a concurrency limit of 1
(`prefect.yaml`, `flows/stack.py`), since two `dvc repro` in one workspace fail on DVC's lock.
"""

from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.settings import RunParams, write_params
from flows.tasks import close_parent_run, open_parent_run, report_round, run_stage

STAGES = ("curate", "synthesize", "sft", "rl", "evaluate", "promote")


def _run(stages: tuple[str, ...], run: RunParams) -> list[dict[str, Any]]:
    log = get_run_logger()
    changes = write_params(run)
    params = run.resolve()
    log.info(f"params.yaml: {changes or 'unchanged'}; config hash {params.config_hash()}")
    parent = open_parent_run(params, flow_run.get_name() or "local", changes)
    outcomes: list[dict[str, Any]] = []
    try:
        for stage in stages:
            outcomes.append(run_stage(stage, parent))
            if stage == "rl":
                for record in outcomes[-1]["metrics"].get("rounds", [])[1:]:  # round 0 is the SFT model
                    report_round(record)
    except BaseException:
        close_parent_run(params, parent, outcomes, failed=True)
        raise
    close_parent_run(params, parent, outcomes, failed=False)
    return outcomes


@flow(name="t1-pipeline", log_prints=True)
def pipeline(run: RunParams = RunParams()) -> list[dict[str, Any]]:
    """The whole pipeline, each stage through DVC (cached stages are skipped, dvc.lock records what ran)."""
    return _run(STAGES, run)


def _stage_flow(stage: str):
    @flow(name=f"t1-{stage}", log_prints=True)
    def one(run: RunParams = RunParams()) -> list[dict[str, Any]]:
        return _run((stage,), run)

    one.__doc__ = f"The `{stage}` stage alone, through DVC."
    return one


curate = _stage_flow("curate")
synthesize = _stage_flow("synthesize")
sft = _stage_flow("sft")
rl = _stage_flow("rl")
evaluate = _stage_flow("evaluate")
promote = _stage_flow("promote")
