"""The same code on a CUDA device: the lean sampler, the DeepSpeed engine (ZeRO 0/2/3, fp32 and
bf16, NCCL, also with the optimizer offloaded to host memory) and one T1 RL step. Skipped where no
GPU is visible; run on a lent GPU with
`bench/gpu/check.sh` (results in docs/gpu.md).

Measured quantities (log-prob gaps, loss gaps) are written to $T1_GPU_REPORT when set,
so docs/gpu.md quotes numbers from the run, not from the tolerances below.
"""

import copy
import json
import os

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from t1core.config import DeepSpeedConfig, RLConfig
from t1core.grading import Grader
from t1core.models.device import compute_device, to_device
from t1core.models.engine import full_weights, make_engine, make_optimizer, make_reference
from t1core.rl.batch import pad_sequences
from t1core.rl.trainer import RLTrainer, recompute_logprobs
from t1core.rollout import make_rollout_engine
from t1core.rollout.cpu_sampler import CPUSampler
from t1core.sft.data import Example, collate
from tests.conftest import record_forwards

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
EOS, PAD = 1, 0
PROMPTS = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14, 15, 16, 17, 18], [3, 4, 5]] * 16  # 64 rows


def _record(key: str, value) -> None:
    path = os.environ.get("T1_GPU_REPORT")
    if not path:
        return
    data = json.load(open(path)) if os.path.exists(path) else {}
    data[key] = value
    with open(path, "w") as f:
        json.dump(data, f, indent=2)


def _tiny(dtype=torch.float32, seed=0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=64, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=True, pad_token_id=PAD, eos_token_id=EOS)
    m = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        m.model.embed_tokens.weight[EOS] *= 4  # some rows finish early, so the batch compacts
    return m.to(dtype)


def _gap(model, prompts, out, temperature) -> tuple[float, float]:
    """(max, mean) |sampler log-prob - trainer recomputed log-prob| over every generated token."""
    batch = pad_sequences(prompts, out.tokens, PAD)
    recomputed = recompute_logprobs(model, batch, temperature, 4096)
    diffs = torch.cat([(recomputed[i, len(p) - 1: len(p) - 1 + len(lp)] - torch.tensor(lp)).abs()
                       for i, (p, lp) in enumerate(zip(prompts, out.logprobs))])
    return float(diffs.max()), float(diffs.mean())


def test_sampler_on_cuda_matches_the_cpu_and_the_trainer_in_fp32():
    model = _tiny()
    cpu = CPUSampler(EOS, PAD).generate(model, PROMPTS, 40, temperature=0)
    gpu_model = copy.deepcopy(model).to(compute_device())
    gpu = CPUSampler(EOS, PAD).generate(gpu_model, PROMPTS, 40, temperature=0)
    same = sum(a == b for a, b in zip(cpu.tokens, gpu.tokens)) / len(PROMPTS)
    sampled = CPUSampler(EOS, PAD).generate(gpu_model, PROMPTS, 40, temperature=1.2, seed=3)
    assert any(sampled.finished) and not all(sampled.finished)
    worst, mean = _gap(gpu_model, PROMPTS, sampled, 1.2)
    _record("sampler_fp32", {"greedy_rows_identical_to_cpu": same, "logprob_gap_max": worst, "logprob_gap_mean": mean})
    assert same >= 0.95
    assert worst < 1e-3


def test_sampler_on_cuda_in_bf16_stays_close_to_the_trainer():
    model = _tiny(torch.bfloat16).to(compute_device())
    out = CPUSampler(EOS, PAD).generate(model, PROMPTS, 40, temperature=1.2, seed=3)
    worst, mean = _gap(model, PROMPTS, out, 1.2)
    _record("sampler_bf16", {"logprob_gap_max": worst, "logprob_gap_mean": mean})
    assert mean < 0.05  # bf16 keeps 8 mantissa bits; the two paths fuse matmuls differently


def test_hf_engine_on_cuda_speaks_the_protocol():
    model = _tiny().to(compute_device())
    hf = make_rollout_engine("hf", type("T", (), {"eos_token_id": EOS, "pad_token_id": PAD})()).generate(model, PROMPTS[:8], 16, 0)
    lean = CPUSampler(EOS, PAD).generate(model, PROMPTS[:8], 16, temperature=0)
    assert hf.tokens == lean.tokens


def _batch():
    rows = [Example(list(range(2, 2 + n)), [-100] * 2 + list(range(4, 2 + n))) for n in (12, 20, 30, 16)] * 4
    return collate(rows, PAD)


def _reference_losses(steps: int) -> list[float]:
    """Plain torch AdamW on the CPU in fp32: what every engine configuration should reproduce."""
    model, batch = _tiny().train(), _batch()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01, betas=(0.9, 0.95))
    losses = []
    for _ in range(steps):
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        losses.append(float(loss))
    return losses


@pytest.mark.parametrize(("zero", "dtype", "tol", "offload"),
                         [(0, "float32", 1e-4, False), (2, "float32", 1e-4, False), (3, "float32", 1e-4, False),
                          (2, "bfloat16", 5e-2, False), (3, "bfloat16", 5e-2, False),
                          (2, "float32", 1e-4, True), (3, "bfloat16", 5e-2, True)])  # offload: DeepSpeed's CPU Adam
def test_deepspeed_on_cuda_reproduces_plain_torch(zero, dtype, tol, offload):
    steps = 6
    ref = _reference_losses(steps)
    model = _tiny(getattr(torch, dtype)).train()
    ds = DeepSpeedConfig(zero_stage=zero, backend="nccl", offload_optimizer=offload)
    engine = make_engine(model, make_optimizer(model.parameters(), 1e-3, 0.01, ds), None, ds, 1.0, dtype)
    batch = to_device(_batch(), engine.device)
    losses = []
    for _ in range(steps):
        loss = engine(**batch).loss
        engine.backward(loss)
        engine.step()
        losses.append(float(loss))
    gap = max(abs(a - b) for a, b in zip(losses, ref))
    _record(f"deepspeed_zero{zero}_{dtype}{'_offload' if offload else ''}", {"max_loss_gap_vs_cpu_torch": gap, "losses": losses, "cpu_torch": ref})
    assert gap < tol
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("zero, dtype", [(0, "float32"), (3, "float32"), (3, "bfloat16")])
def test_one_t1_rl_step_on_cuda(zero, dtype, tmp_path):
    """The RL trainer end to end on the GPU: sampling, grading, reference pass, update, EMA; under ZeRO-3 with
    every parameter partitioned (policy and anchor), rollouts on the gathered policy, the anchor moved shard by
    shard. In bf16 the anchor is exactly the bf16 rounding of the float32 average (its float32 shadows)."""
    from t1core.data.records import Problem
    from t1core.models.factory import build_tiny
    from t1core.config import ModelConfig
    from t1core.models.tokenizer import train_tokenizer

    problems = [Problem(id=f"p{a}", source="t", problem=f"Compute {a}+1.", answer=str(a + 1)) for a in range(10, 30)]
    tok = train_tokenizer([f"{p.problem}\n\\boxed{{{p.answer}}}" for p in problems], vocab_size=300)
    model = build_tiny(ModelConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2, max_seq_len=128, vocab_size=300), tok, 0)
    model.to(getattr(torch, dtype))
    reference = copy.deepcopy(model).to(compute_device())
    cfg = RLConfig(k=4, prompts_per_step=4, max_new_tokens=8, lr=1e-2, drop_uniform_groups=False, ema_rate=0.5)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    ds = DeepSpeedConfig(zero_stage=zero, backend="nccl", param_persistence_threshold=0)
    engine = make_engine(model, opt, None, ds, 1.0, dtype)
    reference = make_reference(reference, ds, dtype)
    trainer = RLTrainer(engine, reference, tok, problems, cfg, Grader(), make_rollout_engine("cpu", tok), 5, tmp_path)
    before = _whole(engine.module)
    metrics = trainer.step()
    assert engine.device.type == "cuda" and next(reference.parameters()).device.type == "cuda"
    assert all(v == v for v in metrics.values())  # no NaN
    after, anchor = _whole(engine.module), _whole(reference)
    moved = sum(not torch.equal(after[n], before[n]) for n in before)
    # bf16: a norm weight of 1.0 whose step is below bf16's spacing there stays put (2 of 20 in a CPU run of this setup)
    assert moved == len(before) if dtype == "float32" else moved >= 0.8 * len(before)
    for n in before:  # the anchor moved halfway to the updated policy (ema_rate 0.5)
        half = (0.5 * before[n].float() + 0.5 * after[n].float()).to(anchor[n].dtype)
        torch.testing.assert_close(anchor[n], half, rtol=0, atol=1e-6 if dtype == "float32" else 0)
    _record(f"rl_step_zero{zero}_{dtype}", {k: metrics[k] for k in ("accuracy", "kl", "entropy", "loss", "step_s")})


def _whole(module) -> dict[str, torch.Tensor]:
    with full_weights(module):  # ZeRO-3: gathered
        return {n: p.detach().clone() for n, p in module.named_parameters()}


def test_activation_checkpointing_on_a_loaded_checkpoint_saves_memory_on_cuda(tmp_path):
    """RL and hf-profile SFT train a checkpoint from `load_pretrained` (eval mode, where HF skips recomputation):
    with `deepspeed.activation_checkpointing` the engine must recompute each layer in backward and hold less."""
    from t1core.config import ModelConfig
    from t1core.models.factory import build_tiny, load_pretrained, save_pretrained
    from t1core.models.tokenizer import train_tokenizer

    tok = train_tokenizer([f"{a}+{a}={2 * a}" for a in range(200)], vocab_size=300)
    cfg = ModelConfig(hidden_size=512, intermediate_size=1408, num_layers=8, num_heads=8, max_seq_len=1024, vocab_size=300)
    save_pretrained(build_tiny(cfg, tok, 0), tok, tmp_path / "m")
    ids = torch.randint(2, len(tok), (4, 1024), device=compute_device())  # the trained vocabulary is under 300
    peaks, calls = {}, []
    for recompute in (False, True):
        model, _ = load_pretrained(tmp_path / "m", cfg.model_copy(update={"kind": "hf", "path": str(tmp_path / "m")}))
        ds = DeepSpeedConfig(backend="nccl", activation_checkpointing=recompute)
        engine = make_engine(model, make_optimizer(model.parameters(), 1e-4, 0.0, ds), None, ds, 1.0, "float32")
        record_forwards(engine.module.model.layers[0].mlp, calls, recompute)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        held = torch.cuda.memory_allocated()  # weights (and anything the first engine left behind)
        engine.backward(engine(input_ids=ids, labels=ids).loss)
        torch.cuda.synchronize()
        peaks[recompute] = torch.cuda.max_memory_allocated() - held
        del engine, model
        torch.cuda.empty_cache()
    _record("activation_checkpointing", {"step_peak_bytes_stored": peaks[False], "step_peak_bytes_recomputed": peaks[True],
                                         "layer0_forwards": [calls.count(False), calls.count(True)]})
    assert calls.count(False) == 1 and calls.count(True) == 2  # recomputed in backward
    assert peaks[True] < 0.7 * peaks[False]
