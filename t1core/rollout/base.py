"""The rollout-engine protocol: token ids in, sampled token ids and their log-probs out.

Every engine (the lean CPU sampler, HF `generate`, vLLM on GPUs) returns the same
`Rollouts`, so the RL trainer and the evaluator never branch on the engine.

Log-probs are those of the distribution actually sampled from: the policy's logits
divided by the temperature, before top-p truncation (the trainer recomputes the same
quantity). Greedy decoding (temperature 0) reports the temperature-1 log-probs.
"""

from collections.abc import Iterator
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

    @classmethod
    def empty(cls, prompts: list[list[int]]) -> "Rollouts":
        """One unfinished, empty row per prompt, for an engine to fill in."""
        n = len(prompts)
        return cls([list(p) for p in prompts], [[] for _ in range(n)], [[] for _ in range(n)], [False] * n)

    def put(self, i: int, tokens: list[int], logprobs: list[float], finished: bool) -> None:
        self.tokens[i], self.logprobs[i], self.finished[i] = tokens, logprobs, finished


class RolloutEngine(Protocol):
    def generate(
        self, model: Any, prompts: list[list[int]], max_new_tokens: int,
        temperature: float, top_p: float = 1.0, seed: int = 0,
    ) -> Rollouts:
        """Sample one continuation per prompt (repeat a prompt K times for K samples)."""
        ...


def length_batches(prompts: list[list[int]], batch_size: int) -> Iterator[list[int]]:
    """Prompt indices in batches of up to batch_size, shortest first: similar lengths share a batch."""
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def sampling_temperature(temperature: float | None) -> float:
    """0 (greedy) for None or 0; else the temperature itself."""
    return 0.0 if not temperature else float(temperature)
