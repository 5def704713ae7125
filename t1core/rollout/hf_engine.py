"""The fallback RolloutEngine: transformers `generate`, for any causal LM."""

from typing import Any

import torch

from t1core.models.device import eval_mode, model_device
from t1core.rollout.base import Rollouts, length_batches, sampling_temperature


class HFGenerateEngine:
    name = "hf"

    def __init__(self, eos_id: int, pad_id: int, batch_size: int = 64):
        self.eos_id, self.pad_id, self.batch_size = eos_id, pad_id, batch_size

    @torch.no_grad()
    def generate(
        self, model: Any, prompts: list[list[int]], max_new_tokens: int,
        temperature: float, top_p: float = 1.0, seed: int = 0,
    ) -> Rollouts:
        temp = sampling_temperature(temperature)
        out = Rollouts.empty(prompts)
        with torch.random.fork_rng(), eval_mode(model):  # the RL policy is in train mode; generate expects eval
            torch.manual_seed(seed)
            for idx in length_batches(prompts, self.batch_size):
                self._batch(model, [prompts[i] for i in idx], idx, max_new_tokens, temp, top_p, out)
        return out

    def _batch(self, model: Any, prompts: list[list[int]], idx: list[int], max_new: int, temp: float, top_p: float, out: Rollouts) -> None:
        width = max(len(p) for p in prompts)
        device = model_device(model)
        ids = torch.tensor([[self.pad_id] * (width - len(p)) + p for p in prompts], device=device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
        sampling = {"do_sample": False} if temp == 0 else {"do_sample": True, "temperature": temp, "top_p": top_p, "top_k": 0}
        gen = model.generate(
            input_ids=ids, attention_mask=mask, max_new_tokens=max_new, pad_token_id=self.pad_id,
            eos_token_id=self.eos_id if self.eos_id >= 0 else None, output_logits=True, return_dict_in_generate=True, **sampling,
        )
        new = gen.sequences[:, width:].cpu()  # [n, steps]
        logits = torch.stack(gen.logits, dim=1).float()  # [n, steps, V], raw (before temperature / top-p)
        logp = torch.log_softmax(logits / (temp or 1.0), dim=-1).gather(-1, gen.sequences[:, width:, None]).squeeze(-1).cpu()
        for row, i in enumerate(idx):
            toks = new[row].tolist()
            n = toks.index(self.eos_id) + 1 if self.eos_id in toks else len(toks)
            out.put(i, toks[:n], logp[row, :n].tolist(), self.eos_id in toks[:n])
