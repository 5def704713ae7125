"""RolloutEngine on vLLM, colocated with the trainer (one process, the same device).

The first call writes the policy (HF format, with its tokenizer) to a scratch directory and
starts a vLLM `LLM` on it; every later call first reloads the policy's current weights into
vLLM's model in place (the workers' `reload_weights`, which also redoes any kernel repacking,
e.g. the CPU backend's) and drops the prefix cache, so rollouts always come from the weights
being trained. vLLM's engine core runs in this process
(VLLM_ENABLE_V1_MULTIPROCESSING=0, set before vLLM is imported) so the weights are handed
over without serialisation.

Sampling matches the lean sampler: temperature, top-p, no top-k, stop at EOS, one
continuation per prompt (repeat a prompt K times for K samples), a seed per request.
Log-probs are vLLM's `processed_logprobs`: the sampled token's log-probability under
logits / temperature, which is the trainer's quantity when top_p = 1 (every profile); with
top_p < 1 vLLM reports it after the top-p truncation. Greedy (temperature 0) reports the
temperature-1 log-probs, as the protocol says.
"""

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from t1core.rollout.base import Rollouts, sampling_temperature


class VLLMEngine:
    name = "vllm"

    def __init__(self, tokenizer: Any, gpu_memory_utilization: float = 0.3, max_model_len: int | None = None):
        self.tokenizer, self.eos_id = tokenizer, tokenizer.eos_token_id
        self.gpu_memory_utilization, self.max_model_len = gpu_memory_utilization, max_model_len
        self.llm: Any = None
        self._dir: tempfile.TemporaryDirectory | None = None

    def generate(
        self, model: Any, prompts: list[list[int]], max_new_tokens: int,
        temperature: float, top_p: float = 1.0, seed: int = 0,
    ) -> Rollouts:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        self._sync(model)
        temp = sampling_temperature(temperature)
        params = [SamplingParams(temperature=temp, top_p=top_p, top_k=0, max_tokens=max_new_tokens, logprobs=0,
                                 seed=seed * 1_000_003 + i, stop_token_ids=[self.eos_id], ignore_eos=self.eos_id < 0,
                                 detokenize=False)
                  for i in range(len(prompts))]
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=list(p)) for p in prompts], params, use_tqdm=False)
        out = Rollouts.empty(prompts)
        for i, o in enumerate(outputs):
            c = o.outputs[0]
            tokens = list(c.token_ids)
            logprobs = [step[tok].logprob for step, tok in zip(c.logprobs, tokens)]
            out.put(i, tokens, logprobs, bool(tokens) and tokens[-1] == self.eos_id)
        return out

    def _sync(self, model: Any) -> None:
        """Start vLLM on the policy the first time; afterwards load its current weights in place."""
        if self.llm is None:
            self.llm = self._start(model)
            return
        weights = [(name, t.detach()) for name, t in model.state_dict().items()]
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": weights})
        self.llm.reset_prefix_cache()  # cached prompt KV was computed with the old weights

    def _start(self, model: Any) -> Any:
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # the engine core in this process
        from vllm import LLM

        self._dir = tempfile.TemporaryDirectory(prefix="t1-vllm-")
        path = Path(self._dir.name)
        model.save_pretrained(path, safe_serialization=True)
        self.tokenizer.save_pretrained(path)
        dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
        kwargs = {"gpu_memory_utilization": self.gpu_memory_utilization} if torch.cuda.is_available() else {}
        return LLM(model=str(path), dtype=dtype, enforce_eager=True, logprobs_mode="processed_logprobs",
                   max_model_len=self.max_model_len or model.config.max_position_embeddings, seed=0, **kwargs)
