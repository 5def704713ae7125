"""Tokenizer round trip, chat template, response-only loss, model save/load."""

import math

import pytest
import torch

from t1core.config import ModelConfig
from t1core.models.chat import ASSISTANT, END, USER, encode_example, prompt_text
from t1core.models.factory import build_tiny, load_pretrained, n_params, save_pretrained
from t1core.models.tokenizer import train_tokenizer
from t1core.sft.data import Example, bucket_batches, collate
from t1core.sft.schedule import warmup_cosine

TEXTS = [
    "Compute 347*28.\n347*28=347*20+347*8=6940+2776=9716\nCheck: 28*347=8400+1120+196=9716 ok",
    "Solve for x: -5x+7=-8.\nWait, the two sides differ. So the answer is \\boxed{3}.",
    "Find the integer x with x^3-2x^2-5x+6=0.\nx=-2: -8-8+10+6=0",
]
TINY = ModelConfig(hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, max_seq_len=128, vocab_size=300)


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(TEXTS * 20, vocab_size=320)


@pytest.mark.parametrize("text", TEXTS + ["unseen: é ∑ 12345 \\frac{1}{2}", "  spaces  and\ttabs\n"])
def test_tokenizer_round_trip(tok, text):
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text


def test_digits_are_single_tokens(tok):
    toks = tok.convert_ids_to_tokens(tok("9716", add_special_tokens=False)["input_ids"])
    assert toks == ["9", "7", "1", "6"]


def test_chat_template_and_specials(tok):
    assert prompt_text(tok, "Q?") == f"{USER}Q?{ASSISTANT}"
    assert tok.eos_token == END and tok.pad_token_id is not None
    full = tok.apply_chat_template([{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}], tokenize=False)
    assert full == f"{USER}Q{ASSISTANT}A{END}"


def test_encode_example_masks_the_prompt(tok):
    ids, labels = encode_example(tok, "Compute 1+2.", "1+2=3")
    n_prompt = len(tok(prompt_text(tok, "Compute 1+2."), add_special_tokens=False)["input_ids"])
    assert labels[:n_prompt] == [-100] * n_prompt
    assert labels[n_prompt:] == ids[n_prompt:] and ids[-1] == tok.eos_token_id
    assert tok.decode(ids[n_prompt:]) == "1+2=3" + END


def test_response_only_loss_hand_computed(tok):
    model = build_tiny(TINY, tok, seed=0)
    ids, labels = encode_example(tok, "Compute 12+30.", "12+30=42")
    batch = collate([Example(ids, labels)], tok.pad_token_id)
    # 1) zero logits: every position predicts uniformly, so the loss is exactly ln(V)
    with torch.no_grad():
        model.lm_head.weight.zero_()  # tied: embeddings are zero too, so logits are 0
    assert model(**batch).loss.item() == pytest.approx(math.log(len(tok)), abs=1e-5)
    # 2) random init: HF's loss equals a hand-written CE over response positions only
    model = build_tiny(TINY, tok, seed=1)
    out = model(**batch)
    logits, targets = out.logits[0, :-1], torch.tensor(labels[1:])
    keep = targets != -100
    manual = torch.nn.functional.cross_entropy(logits[keep], targets[keep])
    everything = torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:]))
    assert out.loss.item() == pytest.approx(manual.item(), abs=1e-5)
    assert abs(out.loss.item() - everything.item()) > 1e-3
    # padding does not change the loss
    padded = collate([Example(ids, labels), Example(ids + ids, labels + labels)], tok.pad_token_id)
    first_row = {k: v[:1] for k, v in padded.items()}
    assert model(**first_row).loss.item() == pytest.approx(out.loss.item(), abs=1e-5)


def test_factory_sizes_and_hf_round_trip(tok, tmp_path):
    model = build_tiny(TINY, tok, seed=0)
    assert model.config.model_type == "llama" and model.config.vocab_size == len(tok)
    assert n_params(model) == n_params(build_tiny(TINY, tok, seed=5))
    save_pretrained(model, tok, tmp_path / "m")
    assert (tmp_path / "m" / "model.safetensors").is_file()
    loaded, tok2 = load_pretrained(tmp_path / "m", TINY)
    x = torch.tensor([tok("Compute 1+1.")["input_ids"]])
    assert torch.equal(model(x).logits, loaded(x).logits)
    assert tok2.chat_template == tok.chat_template


def test_missing_model_path_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_pretrained(tmp_path / "nope", TINY)


def test_same_seed_same_init(tok):
    a, b = build_tiny(TINY, tok, seed=3), build_tiny(TINY, tok, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def test_bucket_batches_cover_everything_within_budget():
    lengths = [5 + (i * 37) % 90 for i in range(500)]
    batches = bucket_batches(lengths, batch_tokens=400, seed=0)
    assert sorted(i for b in batches for i in b) == list(range(500))
    assert all(len(b) * max(lengths[i] for i in b) <= 400 for b in batches)
    assert bucket_batches(lengths, 400, seed=0) == batches != bucket_batches(lengths, 400, seed=1)


def test_warmup_cosine():
    assert warmup_cosine(0, 100, 10, 0.1) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 10, 0.1) == pytest.approx(1.0)
    assert warmup_cosine(10, 100, 10, 0.1) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 10, 0.1) == pytest.approx(0.55)  # halfway: 0.1 + 0.9 * 0.5
    assert warmup_cosine(100, 100, 10, 0.1) == pytest.approx(0.1)
    assert warmup_cosine(500, 100, 10, 0.1) == pytest.approx(0.1)


def test_warmup_cosine_follows_the_cap_when_time_runs_ahead_of_the_steps():
    assert warmup_cosine(19, 100, 10, 0.1, time_share=0.5) == pytest.approx(0.55)  # steps 10 %, time 50 %: halfway
    assert warmup_cosine(55, 100, 10, 0.1, time_share=0.2) == pytest.approx(0.55)  # steps ahead: the step share rules
    assert warmup_cosine(30, 100, 10, 0.1, time_share=1.0) == pytest.approx(0.1)  # the cap reached: the floor
    assert warmup_cosine(4, 100, 10, 0.1, time_share=0.9) == pytest.approx(0.5)  # warmup stays by steps


def test_local_pairs_refuses_a_parameter_whole_in_one_model_and_a_shard_in_the_other():
    """ZeRO-3 marks a partitioned parameter with ds_id / ds_numel / ds_tensor and empties its data; two models
    partitioned differently (another persistence threshold) cannot be averaged shard by shard."""
    from t1core.models.engine import local_pairs

    whole, sharded = torch.nn.Linear(4, 2, bias=False), torch.nn.Linear(4, 2, bias=False)
    assert [t.shape for pair in local_pairs(whole, sharded) for t in pair] == [(2, 4), (2, 4)]
    p = sharded.weight
    p.ds_id, p.ds_numel, p.ds_tensor = 0, 8, torch.zeros(4)
    p.data = torch.empty(0)
    with pytest.raises(ValueError, match="8 elements is whole on this rank in one model and only a shard"):
        list(local_pairs(whole, sharded))
