"""curate -> synthesize -> sft -> rl -> eval through the CLI on a tiny config: files, metrics keys, MLflow, resume."""

import json

import pytest
from typer.testing import CliRunner

from t1core.cli import app

pytestmark = pytest.mark.integration

TINY = [
    "--set", "data.procedural.items_per_family_level=12", "--set", "data.procedural.heldout_items_per_family_level=2",
    "--set", "data.procedural.levels=[1]",
    "--set", "model.hidden_size=32", "--set", "model.intermediate_size=64", "--set", "model.num_layers=1",
    "--set", "model.num_heads=2", "--set", "model.vocab_size=300",
    "--set", "sft.epochs=5", "--set", "sft.batch_tokens=2048", "--set", "sft.lr=3e-3", "--set", "sft.max_minutes=null",
    "--set", "sft.eval_every_minutes=null", "--set", "sft.checkpoint_every=3",
    "--set", "eval.max_new_tokens=48", "--set", "eval.budgets=[16,48]",
    "--set", "rl.rounds=2", "--set", "rl.steps_per_round=1", "--set", "rl.prompts_per_step=2", "--set", "rl.k=3",
    "--set", "rl.max_new_tokens=24", "--set", "rl.eval_limit=4", "--set", "rl.drop_uniform_groups=false",
    "--set", "eval.n_samples=2", "--set", "eval.forced_answer_tokens=4",
]


def _ok(args):
    res = CliRunner().invoke(app, [*TINY, *args])
    assert res.exit_code == 0, res.output
    return res


def test_stage_chain_writes_model_and_metrics(project):
    _ok(["curate"])
    _ok(["synthesize"])
    syn = json.loads((project / "metrics/synthesize.json").read_text())
    assert syn["traces"] == syn["problems"] > 0 and syn["no_producer"] == 0 and 0 < syn["slip_fraction"] < 1
    first = [json.loads(l) for l in (project / "data/synth/sft.jsonl").read_text().splitlines()][0]
    assert set(first) >= {"problem", "response", "answer", "has_slip", "producer"}

    _ok(["sft"])
    m = json.loads((project / "metrics/sft.json").read_text())
    for key in ("heldout_accuracy_greedy", "heldout_pass1_t1", "heldout_n", "self_corrected_rate", "steps", "train_minutes"):
        assert key in m
    assert m["heldout_n"] == 2 * 1 * 2 and 0.0 <= m["heldout_accuracy_greedy"] <= 1.0
    assert m["steps"] == m["planned_steps"] and m["stopped_by_cap"] is False  # no cap: the whole schedule ran
    assert m["final_lr"] == pytest.approx(3e-3 * 0.1)  # sft.min_lr_ratio of the peak
    final = project / "models/sft/final"
    assert (final / "model.safetensors").is_file() and (final / "tokenizer.json").is_file()
    ckpts = sorted(p.name for p in (project / "models/sft/checkpoints").iterdir())
    assert len(ckpts) <= 2 and ckpts[-1] == f"step_{m['steps']:07d}"  # keep_checkpoints=2

    # the run is in the local MLflow store with its params, per-step loss and the curve artifact
    import mlflow

    mlflow.set_tracking_uri("sqlite:///mlruns.db")
    runs = mlflow.search_runs(experiment_names=["t1"])
    assert list(runs["tags.mlflow.runName"]) == ["sft"] and runs["status"][0] == "FINISHED"
    assert runs["params.sft.epochs"][0] == "5.0" and runs["metrics.heldout_n"][0] == 4
    client = mlflow.tracking.MlflowClient()
    assert client.get_metric_history(runs["run_id"][0], "train_loss")
    assert sorted(a.path for a in client.list_artifacts(runs["run_id"][0])) == ["params.json", "sft_curve.json"]

    # a second run resumes from the last checkpoint: no steps left, same step count
    _ok(["sft"])
    assert json.loads((project / "metrics/sft.json").read_text())["steps"] == m["steps"]

    _ok(["rl"])
    r = json.loads((project / "metrics/rl.json").read_text())
    for key in ("heldout_accuracy_greedy", "heldout_pass1_t1", "start", "delta_greedy", "rounds", "last_steps_mean"):
        assert key in r
    assert r["steps"] == 2 and [x["round"] for x in r["rounds"]] == [0, 1, 2] and r["k"] == 3
    assert r["start"]["heldout_accuracy_greedy"] == m["heldout_accuracy_greedy"]  # same model, same greedy eval
    for key in ("accuracy", "kl", "entropy", "penalty_rate_overlong", "zero_variance_fraction", "rollout_tokens_per_s"):
        assert key in r["last_steps_mean"]
    rounds = sorted(p.name for p in (project / "models/rl/checkpoints").iterdir())
    assert rounds == ["round_01", "round_02"] and (project / "models/rl/final/model.safetensors").is_file()
    rl_run = mlflow.search_runs(experiment_names=["t1"], filter_string="tags.`t1.stage` = 'rl'")
    assert len(rl_run) == 1 and rl_run["params.rl.k"][0] == "3" and rl_run["params.rl.temperature"][0] == "1.2"
    assert len(client.get_metric_history(rl_run["run_id"][0], "reward_mean")) == 2
    _ok(["rl"])  # resumes after the last complete round: nothing left to do
    assert json.loads((project / "metrics/rl.json").read_text())["steps"] == 2

    _ok(["eval"])  # the evaluate stage: SFT + the RL rounds nearest 30/60/90/100 % (of 2: rounds 1 and 2)
    e = json.loads((project / "metrics/eval.json").read_text())
    assert sorted(e["checkpoints"]) == ["rl_100pct", "rl_50pct", "sft"]
    assert [e["checkpoints"][n].get("round") for n in ("rl_50pct", "rl_100pct")] == [1, 2]
    sft_eval = e["checkpoints"]["sft"]
    assert sft_eval["greedy_accuracy"] == m["heldout_accuracy_greedy"]  # same greedy generation as the SFT stage
    assert set(sft_eval) >= {"pass@1", "pass@2", "maj@2", "budget_accuracy", "wait_rate", "greedy_mean_tokens"}
    assert list(sft_eval["budget_accuracy"]) == ["16", "48"] and "gain_above_sft_length" in e
    items = (project / "reports/eval/rl_100pct/items.jsonl").read_text().splitlines()
    assert len(items) == 4 and len(json.loads(items[0])["samples"]) == 2
    assert (project / "reports/scaling.png").is_file() and sorted(p.name for p in (project / "reports/scaling").iterdir()) == [
        "rl_100pct.json", "rl_50pct.json", "sft.json"]
    ev_runs = mlflow.search_runs(experiment_names=["t1"], filter_string="tags.`t1.stage` LIKE 'evaluate%'")
    assert sorted(ev_runs["tags.mlflow.runName"]) == ["evaluate", "evaluate:rl_100pct", "evaluate:rl_50pct", "evaluate:sft"]

    # promote: every evaluated model is a version; the untrained tiny model talks to the length limit, so the
    # length budget is lifted here (the gate itself is tested against a real server in test_registry.py)
    _ok(["--set", "promote.max_mean_tokens=48", "promote"])
    p = json.loads((project / "metrics/promote.json").read_text())
    assert sorted(p["registered"]) == ["rl_100pct", "rl_50pct", "sft"] and p["candidate"] == "rl_100pct"
    assert p["gate"]["passed"] and p["champion_after"] == p["registered"]["rl_100pct"]["version"]
    version = client.get_model_version_by_alias("t1-policy", "champion")
    assert version.tags["t1.checkpoint"] == "rl_100pct" and version.tags["t1.params_hash"] == p["run"]["config_hash"]

    # any model on any JSONL, with explicit fields and budgets
    data = project / "custom.jsonl"
    data.write_text('{"q": "Compute 2+3.", "gold": 5}\n{"q": "Compute 4+4.", "gold": "8"}\n')
    res = _ok(["eval", "--model", "models/rl/final", "--data", str(data), "--problem-field", "q", "--answer-field", "gold",
               "--samples", "3", "--temperature", "0.7", "--budgets", "8,16", "--out", "adhoc"])
    report = json.loads((project / "adhoc/report.json").read_text())
    assert report["n"] == 2 and report["sampled"]["n_samples"] == 3 and report["sampled"]["temperature"] == 0.7
    assert [r["budget"] for r in report["budgets"]] == [8, 16] and report["format"] == "mapped"
    assert '"pass@3"' in res.output
    bad = CliRunner().invoke(app, [*TINY, "eval", "--model", "models/rl/final", "--data", str(data)])
    assert bad.exit_code == 2 and "unknown format" in bad.output and "['gold', 'q']" in bad.output
    fields = ["--problem-field", "q", "--answer-field", "gold"]
    bad = CliRunner().invoke(app, [*TINY, "eval", "--model", "models/rl/final", "--data", str(data), *fields, "--budgets", "8,x"])
    assert bad.exit_code == 2 and "--budgets: expected comma-separated integers, got '8,x'" in bad.output
    bad = CliRunner().invoke(app, [*TINY, "eval", "--model", "models/rl/final", "--data", str(data), *fields, "--budgets", "99"])
    assert bad.exit_code == 2 and "99 must be in 1..eval.max_new_tokens (48)" in bad.output


def test_missing_or_bad_stage_inputs_name_file_line_field(project):
    res = CliRunner().invoke(app, [*TINY, "synthesize"])
    assert res.exit_code == 2 and "data/curated/sft.jsonl:0: file not found" in res.output
    _ok(["curate"])
    bad = project / "data/curated/sft.jsonl"
    lines = bad.read_text().splitlines()
    lines[1] = lines[1].replace('"level": 1', '"level": "one"')
    bad.write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(app, [*TINY, "synthesize"])
    assert res.exit_code == 2 and "data/curated/sft.jsonl:2: field 'level'" in res.output
    res = CliRunner().invoke(app, [*TINY, "sft"])
    assert res.exit_code == 2 and "data/synth/sft.jsonl:0: file not found" in res.output
    res = CliRunner().invoke(app, [*TINY, "rl"])
    assert res.exit_code == 2 and "models/sft/final/config.json:0: no SFT model to start RL from" in res.output


def test_two_process_torchrun_sft_and_rl(project):
    """`torchrun --nproc-per-node 2` runs the same SFT and RL stages: two gloo ranks, one model, one metrics file."""
    import subprocess
    import sys

    import torch
    from safetensors.torch import load_file

    _ok(["curate"])
    _ok(["synthesize"])
    from t1core.models.engine import free_port

    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(free_port()),
           "-m", "t1core.cli", *TINY, "--set", "tracking.enabled=false", "sft"]
    res = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    m = json.loads((project / "metrics/sft.json").read_text())
    assert m["world_size"] == 2 and m["steps"] > 0 and m["final_train_loss"] < 10
    assert (project / "models/sft/final/model.safetensors").is_file()

    # the RL stage, data parallel on the same two ranks: each samples half the prompts of a step
    cmd[-1:] = ["--set", "rl.prompts_per_step=4", "rl"]
    res = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    m = json.loads((project / "metrics/rl.json").read_text())
    assert m["world_size"] == 2 and m["steps"] == 2 and len(m["rounds"]) == 3
    assert all("heldout_accuracy_greedy" in r for r in m["rounds"])  # rank 0 evaluated every round
    assert (project / "models/rl/checkpoints/round_02/manifest.json").is_file()
    assert (project / "models/rl/final/model.safetensors").is_file()
    odd = subprocess.run(cmd[:-3] + ["--set", "rl.prompts_per_step=3", "--set", "rl.resume=false", "rl"], cwd=project,
                         capture_output=True, text=True, timeout=600)
    assert odd.returncode != 0 and "rl.prompts_per_step=3 must be a multiple of the 2 ranks" in odd.stderr

    # ZeRO-3, every parameter partitioned: rollouts and evals on gathered weights (the lean sampler and HF
    # generate), the EMA on partitioned anchors, checkpoints and the final model whole
    for engine in ("cpu", "hf"):
        zero3 = ["--set", "deepspeed.zero_stage=3", "--set", "deepspeed.param_persistence_threshold=0",
                 "--set", f"rl.rollout_engine={engine}", "--set", "rl.resume=false"]
        res = subprocess.run(cmd[:-3] + [*zero3, "--set", "rl.prompts_per_step=4", "rl"], cwd=project,
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]
        m = json.loads((project / "metrics/rl.json").read_text())
        assert m["world_size"] == 2 and m["steps"] == 2 and all("heldout_accuracy_greedy" in r for r in m["rounds"])
        saved = load_file(project / "models/rl/final/model.safetensors")
        reference = load_file(project / "models/rl/checkpoints/round_02/reference/model.safetensors")
        assert saved.keys() == reference.keys() and all(t.numel() > 1 for t in saved.values())  # whole, not shards
        assert any(not torch.equal(saved[k], reference[k]) for k in saved)  # the anchor trails the policy
    # resume under ZeRO-3: the partitioned anchor is filled from round_02's whole weights, one more round runs
    res = subprocess.run(cmd[:-3] + [*zero3[:-2], "--set", "rl.prompts_per_step=4", "--set", "rl.rounds=3", "rl"],
                         cwd=project, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    m = json.loads((project / "metrics/rl.json").read_text())
    assert m["steps"] == 3 and [r["round"] for r in m["rounds"]] == [0, 1, 2, 3]
