"""One generation per problem through a rollout engine (the lean CPU sampler for Llama-family models on CPU)."""

from typing import Any

from t1core.models.chat import prompt_text
from t1core.rollout import RolloutEngine, make_rollout_engine
from t1core.rollout.cpu_sampler import SUPPORTED


def default_engine(model: Any, tokenizer: Any) -> RolloutEngine:
    """The CPU sampler where it applies (Llama family on CPU), else HF generate."""
    on_cpu = next(model.parameters()).device.type == "cpu"
    return make_rollout_engine("cpu" if on_cpu and model.config.model_type in SUPPORTED else "hf", tokenizer)


def encode_prompts(tokenizer: Any, problems: list[str]) -> list[list[int]]:
    return [tokenizer(prompt_text(tokenizer, p), add_special_tokens=False)["input_ids"] for p in problems]


def generate_responses(
    model: Any, tokenizer: Any, problems: list[str], max_new_tokens: int,
    temperature: float | None = None, seed: int = 0, engine: RolloutEngine | None = None,
) -> list[str]:
    """One response per problem: greedy when temperature is None, else pure sampling at that temperature."""
    was_training = model.training
    model.eval()
    engine = engine or default_engine(model, tokenizer)
    out = engine.generate(model, encode_prompts(tokenizer, problems), max_new_tokens, temperature or 0.0, seed=seed)
    model.train(was_training)
    return tokenizer.batch_decode(out.tokens, skip_special_tokens=True)
