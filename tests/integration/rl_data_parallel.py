"""Worker for test_rl_stage's data-parallel check: one RL update over four fixed groups of unequal lengths,
either in one process (all four) or under `torchrun --nproc-per-node 2` (groups 0, 2 on rank 0; 1, 3 on
rank 1). Writes the updated policy's parameters (rank 0) to the path given; the test compares them.

    python tests/integration/rl_data_parallel.py OUT.pt
    python -m torch.distributed.run --nproc-per-node 2 tests/integration/rl_data_parallel.py OUT.pt
"""

import copy
import sys
from pathlib import Path

import torch

from t1core.config import load_params
from t1core.data.records import Problem
from t1core.models.engine import finish_distributed, init_distributed, make_engine
from t1core.models.factory import build_tiny
from t1core.models.tokenizer import train_tokenizer
from t1core.rl.batch import Group, pad_sequences
from t1core.rl.trainer import RLTrainer, recompute_logprobs

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


def main(out: Path) -> None:
    rank, world = init_distributed("gloo")
    params = load_params(REPO / "params.yaml", overrides=[
        "model.hidden_size=32", "model.intermediate_size=64", "model.num_layers=1", "model.num_heads=2",
        f"rl.k={K}", "rl.prompts_per_step=4", "rl.kl_coef=0.1", "rl.entropy_coef=0.01", "tracking.enabled=false"])
    texts = [f"What is {a} + {b}? The answer is {a + b}." for a in range(30) for b in range(10)]
    tok = train_tokenizer(texts, 300)
    policy = build_tiny(params.model, tok, seed=0)
    reference = copy.deepcopy(policy)
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    engine = make_engine(policy, torch.optim.SGD(policy.parameters(), lr=1.0), None, params.deepspeed, 1e6, "float32")
    prompts = [Problem(id=f"p{i}", source="t", problem=f"What is {i} + {i + 1}?", answer=str(2 * i + 1)) for i in range(4)]
    trainer = RLTrainer(engine, reference, tok, prompts, params.rl, None, None, 0, out.parent / "ckpt")
    mine = groups(trainer, prompts)[rank::world]
    trainer._update(mine)
    if rank == 0:
        after = {n: p.detach().clone() for n, p in engine.module.named_parameters()}
        torch.save({"before": before, "after": after}, out)
    finish_distributed()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
