"""One generation per problem through a rollout engine (the stage chooses which)."""

from typing import Any

from t1core.models.chat import prompt_ids
from t1core.models.device import eval_mode
from t1core.rollout import RolloutEngine


def generate_responses(
    model: Any, tokenizer: Any, engine: RolloutEngine, problems: list[str], max_new_tokens: int,
    temperature: float | None = None, seed: int = 0,
) -> list[str]:
    """One response per problem: greedy when temperature is None, else pure sampling at that temperature."""
    with eval_mode(model):
        out = engine.generate(model, [prompt_ids(tokenizer, p) for p in problems], max_new_tokens, temperature or 0.0, seed=seed)
    return tokenizer.batch_decode(out.tokens, skip_special_tokens=True)
