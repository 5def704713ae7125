"""Rollout engines behind one protocol (`base.RolloutEngine`)."""

from typing import Any

from t1core.rollout.base import RolloutEngine, Rollouts


def make_rollout_engine(name: str, tokenizer: Any) -> RolloutEngine:
    """'cpu' (lean KV-cache sampler, Llama family), 'hf' (transformers generate) or 'vllm' (vLLM, colocated)."""
    if name == "cpu":
        from t1core.rollout.cpu_sampler import CPUSampler

        return CPUSampler(tokenizer.eos_token_id, tokenizer.pad_token_id)
    if name == "hf":
        from t1core.rollout.hf_engine import HFGenerateEngine

        return HFGenerateEngine(tokenizer.eos_token_id, tokenizer.pad_token_id)
    if name == "vllm":
        from t1core.rollout.vllm_engine import VLLMEngine

        return VLLMEngine(tokenizer)
    raise ValueError(f"unknown rollout engine {name!r} (cpu | hf | vllm)")


__all__ = ["RolloutEngine", "Rollouts", "make_rollout_engine"]
