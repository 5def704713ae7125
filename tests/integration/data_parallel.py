"""Worker for test_data_parallel: the same updates in one process and under `torchrun --nproc-per-node 2`.

- `rl`: one RL update over four fixed groups of unequal lengths (one process: all four; two ranks:
  groups 0, 2 on rank 0 and 1, 3 on rank 1), then one EMA step of the reference.
- `rl-zero3`: the same with policy and reference partitioned by ZeRO-3 (every parameter, however small).
- `sft`: three SFT steps, each over two fixed batches of unequal lengths (one process: both batches
  as one; two ranks: one batch each).

Rank 0 writes the parameters before and after (and the reference, the logged losses) to the path given;
the test compares them.

    python tests/integration/data_parallel.py {rl,rl-zero3,sft} OUT.pt
    python -m torch.distributed.run --nproc-per-node 2 tests/integration/data_parallel.py {rl,rl-zero3,sft} OUT.pt
"""

import copy
import sys
from pathlib import Path

import torch

from t1core.config import load_params
from t1core.data.records import Problem
from t1core.models.chat import encode_example
from t1core.models import engine as engine_module
from t1core.models.engine import (
    finish_distributed, full_weights, init_distributed, is_partitioned, make_engine, make_reference,
)
from t1core.models.factory import build_tiny
from t1core.models.tokenizer import train_tokenizer
from t1core.rl.batch import Group, pad_sequences
from t1core.rl.trainer import RLTrainer, recompute_logprobs
from t1core.sft.data import Example
from t1core.sft.trainer import SFTTrainer

REPO = Path(__file__).resolve().parents[2]
K = 4


def groups(trainer: RLTrainer, prompts: list[Problem]) -> list[Group]:
    """Four groups of K responses of different lengths, fixed by a seed; log-probs from the policy itself."""
    gen = torch.Generator().manual_seed(7)
    vocab = len(trainer.tokenizer)
    out = []
    for g, p in enumerate(prompts):
        ids = trainer.prompt_ids[g]
        tokens = [torch.randint(3, vocab, (5 + 3 * g + k,), generator=gen).tolist() for k in range(K)]
        batch = pad_sequences([ids] * K, tokens, trainer.tokenizer.pad_token_id)
        lp = recompute_logprobs(trainer.engine.module, batch, trainer.cfg.temperature, 10**6)
        logprobs = [lp[k, len(ids) - 1: len(ids) - 1 + len(t)].tolist() for k, t in enumerate(tokens)]
        score = [float((g + k) % 2) for k in range(K)]
        out.append(Group(ids, tokens, logprobs, score, [0.0] * K, score, [{}] * K))
    return out


def tiny_setup() -> tuple:
    params = load_params(REPO / "params.yaml", overrides=[
        "model.hidden_size=32", "model.intermediate_size=64", "model.num_layers=1", "model.num_heads=2",
        f"rl.k={K}", "rl.prompts_per_step=4", "rl.kl_coef=0.1", "rl.entropy_coef=0.01", "rl.ema_rate=0.5",
        "tracking.enabled=false"])
    texts = [f"What is {a} + {b}? The answer is {a + b}." for a in range(30) for b in range(10)]
    tok = train_tokenizer(texts, 300)
    policy = build_tiny(params.model, tok, seed=0)
    return params, tok, policy


def rl_update(params, tok, policy, rank: int, world: int, out: Path) -> tuple:
    reference = copy.deepcopy(policy)
    engine = make_engine(policy, torch.optim.SGD(policy.parameters(), lr=1.0), None, params.deepspeed, 1e6, "float32")
    reference = make_reference(reference, params.deepspeed, "float32")
    prompts = [Problem(id=f"p{i}", source="t", problem=f"What is {i} + {i + 1}?", answer=str(2 * i + 1)) for i in range(4)]
    # micro-batches of <= 48 tokens: rank 0 makes 4 forward passes over its groups, rank 1 (longer ones) 6
    trainer = RLTrainer(engine, reference, tok, prompts, params.rl, None, None, 0, out.parent / "ckpt", micro_batch_tokens=48)
    trainer._update(groups(trainer, prompts)[rank::world])
    trainer.move_anchor()  # under ZeRO-3: each rank's shards, no gather
    return engine, reference, []


def zero3(params):
    """ZeRO-3 partitioning every parameter (the default keeps those under 1e5 elements whole); SGD allowed."""
    base = engine_module.ds_config
    engine_module.ds_config = lambda *a: {**base(*a), "zero_allow_untested_optimizer": True}
    ds = params.deepspeed.model_copy(update={"zero_stage": 3, "param_persistence_threshold": 0})
    return params.model_copy(update={"deepspeed": ds})


def sft_steps(params, tok, policy, rank: int, world: int, out: Path) -> tuple:
    """Steps over batches of 3 and 5 examples whose responses differ in length, so a per-rank mean would weigh them wrongly."""
    examples = [Example(*encode_example(tok, f"What is {a} + {b}?", "The answer is " + f"{a + b} " * (1 + a % 4)))
                for a in range(8) for b in range(3)]
    engine = make_engine(policy, torch.optim.SGD(policy.parameters(), lr=0.5), None, params.deepspeed, 1e6, "float32")
    trainer = SFTTrainer(engine, examples, params.sft, tok.pad_token_id, seed=0, ckpt_dir=out.parent / "ckpt")
    pairs = [([0, 5, 9], [1, 2, 13, 17, 22]), ([3, 4, 7, 8, 11], [6, 23, 10]), ([12, 14, 15], [16, 18, 19, 20, 21])]
    losses = [trainer.train_step(a + b if world == 1 else (a, b)[rank]) for a, b in pairs]
    return engine, None, losses


def main(mode: str, out: Path) -> None:
    rank, world = init_distributed("gloo")
    params, tok, policy = tiny_setup()
    if mode == "rl-zero3" and world > 1:
        params = zero3(params)
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    step = {"rl": rl_update, "rl-zero3": rl_update, "sft": sft_steps}[mode]
    engine, reference, losses = step(params, tok, policy, rank, world, out)
    result = {"before": before, "after": gathered(engine.module), "losses": losses, "partitioned": is_partitioned(engine.module)}
    if reference is not None:
        result.update(reference=gathered(reference), reference_partitioned=is_partitioned(reference))
    if rank == 0:
        torch.save(result, out)
    finish_distributed()


def gathered(module) -> dict[str, torch.Tensor]:
    with full_weights(module):  # collective under ZeRO-3
        return {n: p.detach().clone() for n, p in module.named_parameters()}


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
