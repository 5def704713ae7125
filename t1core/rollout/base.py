"""The rollout-engine protocol: token ids in, sampled token ids and their log-probs out.

Every engine (the lean CPU sampler, HF `generate`, vLLM on GPUs) returns the same
`Rollouts`, so the RL trainer and the evaluator never branch on the engine.

Log-probs are those of the distribution actually sampled from: the policy's logits
divided by the temperature, before top-p truncation (the trainer recomputes the same
quantity). Greedy decoding (temperature 0) reports the temperature-1 log-probs.
"""

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass
class Rollouts:
    prompt_ids: list[list[int]]  # one row per sequence, as given
    tokens: list[list[int]]  # generated ids; ends with EOS when finished
    logprobs: list[list[float]]  # one per generated token
    finished: list[bool]  # EOS within max_new_tokens

    def __len__(self) -> int:
        return len(self.tokens)


class RolloutEngine(Protocol):
    def generate(
        self, model: Any, prompts: list[list[int]], max_new_tokens: int,
        temperature: float, top_p: float = 1.0, seed: int = 0,
    ) -> Rollouts:
        """Sample one continuation per prompt (repeat a prompt K times for K samples)."""
        ...


def sampling_temperature(temperature: float | None) -> float:
    """0 (greedy) for None or 0; else the temperature itself."""
    return 0.0 if not temperature else float(temperature)
