"""The rollout engines: the lean CPU sampler agrees with HF and with the trainer's log-probs."""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from t1core.rl.batch import chunk_rows, pad_sequences, take_rows
from t1core.rl.trainer import recompute_logprobs
from t1core.rollout.cpu_sampler import CPUSampler
from t1core.rollout.hf_engine import HFGenerateEngine

EOS, PAD = 1, 0
PROMPTS = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14, 15, 16, 17, 18], [3, 4, 5]]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=40, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=128, tie_word_embeddings=True, pad_token_id=PAD, eos_token_id=EOS)
    m = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        m.model.embed_tokens.weight[EOS] *= 4  # EOS gets likely enough that some rows finish early
    return m


def test_greedy_matches_hf_generate_per_prompt(model):
    out = CPUSampler(EOS, PAD).generate(model, PROMPTS, 24, temperature=0)
    for p, toks, done in zip(PROMPTS, out.tokens, out.finished):
        ref = model.generate(torch.tensor([p]), max_new_tokens=24, do_sample=False, eos_token_id=EOS, pad_token_id=PAD)
        assert toks == ref[0, len(p):].tolist()[: len(toks)]
        assert done == (toks[-1] == EOS) and (done or len(toks) == 24)


def test_hf_engine_speaks_the_same_protocol(model):
    cpu = CPUSampler(EOS, PAD).generate(model, PROMPTS, 16, temperature=0)
    hf = HFGenerateEngine(EOS, PAD).generate(model, PROMPTS, 16, temperature=0)
    assert hf.tokens == cpu.tokens and hf.finished == cpu.finished
    for a, b in zip(hf.logprobs, cpu.logprobs):
        assert a == pytest.approx(b, abs=1e-5)


def test_hf_engine_generates_in_eval_mode_and_leaves_a_training_policy_training(model):
    """The RL policy is in train mode (gradient checkpointing recomputes only there); HF `generate` runs in eval."""
    seen = []
    generate = model.generate
    model.generate = lambda *a, **k: seen.append(model.training) or generate(*a, **k)
    try:
        model.train()
        HFGenerateEngine(EOS, PAD).generate(model, PROMPTS, 4, temperature=0)
        assert seen == [False] * len(seen) and seen and model.training
    finally:
        del model.generate
        model.eval()


@pytest.mark.parametrize(("temperature", "max_tokens"), [(1.2, 4096), (0.7, 4096), (1.2, 64)])
def test_sampler_logprobs_match_the_trainers_recomputation(model, temperature, max_tokens):
    prompts = PROMPTS * 8  # 32 rows: finished rows leave the batch and the cache is compacted along the way
    out = CPUSampler(EOS, PAD, batch_size=32).generate(model, prompts, 30, temperature=temperature, seed=3)
    assert any(out.finished) and not all(out.finished)
    batch = pad_sequences(prompts, out.tokens, PAD)
    recomputed = recompute_logprobs(model, batch, temperature, max_tokens)  # 64: many micro-batches of their own widths
    for i, (p, lps) in enumerate(zip(prompts, out.logprobs)):
        assert recomputed[i, len(p) - 1: len(p) - 1 + len(lps)].tolist() == pytest.approx(lps, abs=1e-5)
        assert batch["response_mask"][i].sum() == len(lps)


def test_micro_batches_are_cut_to_their_own_longest_row():
    batch = pad_sequences([[5, 6], [7], [8, 9, 10]], [[11, EOS], [12, 13, 14, 15, EOS], [16]], PAD)  # lengths 4, 6, 4
    assert batch["input_ids"].shape == (3, 6)
    short = torch.tensor([0, 2])
    mb = take_rows(batch, short)
    assert mb["input_ids"].tolist() == [[5, 6, 11, EOS], [8, 9, 10, 16]] and mb["attention_mask"].all()
    assert mb["targets"].shape == mb["response_mask"].shape == (2, 3)
    assert mb["response_mask"].tolist() == [[0, 1, 1], [0, 0, 1]]
    assert [c.tolist() for c in chunk_rows(batch, 8)] == [[0, 2], [1]]


def test_sampling_is_seeded_and_top_p_near_zero_is_greedy(model):
    s = CPUSampler(EOS, PAD)
    a = s.generate(model, PROMPTS, 12, temperature=1.0, seed=7)
    assert s.generate(model, PROMPTS, 12, temperature=1.0, seed=7).tokens == a.tokens
    assert s.generate(model, PROMPTS, 12, temperature=1.0, seed=8).tokens != a.tokens
    greedy = s.generate(model, PROMPTS, 12, temperature=0)
    assert s.generate(model, PROMPTS, 12, temperature=1.0, top_p=1e-9, seed=7).tokens == greedy.tokens


def test_unsupported_architectures_are_named(model):
    model.config.model_type = "gpt2"
    try:
        with pytest.raises(ValueError, match="use rollout engine 'hf'"):
            CPUSampler(EOS, PAD).generate(model, PROMPTS, 4, temperature=0)
    finally:
        model.config.model_type = "llama"
