"""Batched generation through HF `generate` (the fallback engine; issue #4 adds the fast sampler)."""

from typing import Any

import torch

from t1core.models.chat import prompt_text


@torch.no_grad()
def generate_responses(
    model: Any, tokenizer: Any, problems: list[str], max_new_tokens: int,
    temperature: float | None = None, batch_size: int = 64, seed: int = 0,
) -> list[str]:
    """One response per problem: greedy when temperature is None, else pure sampling at that temperature."""
    was_training = model.training
    model.eval()
    prompts = [prompt_text(tokenizer, p) for p in problems]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[str] = [""] * len(prompts)
    sampling = {"do_sample": False} if temperature is None else {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
            gen = model.generate(
                **enc, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id, **sampling,
            )
            texts = tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            for i, text in zip(idx, texts):
                out[i] = text
    model.train(was_training)
    return out
