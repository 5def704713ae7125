"""From rollouts to training tensors: scored groups, padded sequences and response masks."""

from dataclasses import dataclass

import torch

from t1core.rollout import Rollouts


@dataclass
class Group:
    """The K responses to one prompt and what the grader and penalties made of them."""

    prompt_ids: list[int]
    tokens: list[list[int]]  # K responses
    logprobs: list[list[float]]  # sampler log-probs, per token
    reward: list[float]  # rule reward, 0/1
    penalty: list[float]  # 0 or −1 after the switches
    score: list[float]  # reward combined with the penalty
    flags: list[dict[str, bool]]  # which penalties fired (before switches)

    @property
    def uniform(self) -> bool:
        """All K scores equal: the RLOO advantage is zero for every response."""
        return max(self.score) == min(self.score)


def split_groups(rollouts: Rollouts, k: int) -> list[tuple[list[int], list[int]]]:
    """Rollouts of prompts repeated K times (prompt-major) -> per-group index lists with the prompt ids."""
    return [(rollouts.prompt_ids[g * k], list(range(g * k, g * k + k))) for g in range(len(rollouts) // k)]


def micro_batches(lengths: list[int], max_tokens: int) -> list[list[int]]:
    """Consecutive index chunks whose padded size (rows x longest) stays within max_tokens (one row at least)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    chunks: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        if cur and (len(cur) + 1) * lengths[i] > max_tokens:
            chunks.append(cur)
            cur = []
        cur.append(i)
    if cur:
        chunks.append(cur)
    return chunks


def pad_sequences(prompts: list[list[int]], responses: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded prompt+response rows.

    input_ids, attention_mask: [N, L]; targets, response_mask: [N, L-1], aligned with
    logits[:, :-1] (position t predicts token t+1; the mask is 1 on response tokens).
    """
    rows = [p + r for p, r in zip(prompts, responses)]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    resp = torch.zeros((len(rows), width), dtype=torch.float32)
    for i, (p, r) in enumerate(zip(prompts, responses)):
        ids[i, : len(p) + len(r)] = torch.tensor(p + r, dtype=torch.long)
        attn[i, : len(p) + len(r)] = 1
        resp[i, len(p): len(p) + len(r)] = 1.0
    return {"input_ids": ids, "attention_mask": attn, "targets": ids[:, 1:], "response_mask": resp[:, 1:]}


def response_values(values: list[list[float]], prompts: list[list[int]], width: int) -> torch.Tensor:
    """Per-response-token values placed like pad_sequences' targets: [N, width], response i at len(prompt)-1 on."""
    out = torch.zeros((len(values), width))
    for i, (vals, p) in enumerate(zip(values, prompts)):
        out[i, len(p) - 1: len(p) - 1 + len(vals)] = torch.tensor(vals)
    return out


def chunk_rows(batch: dict[str, torch.Tensor], max_tokens: int) -> list[torch.Tensor]:
    """Row-index micro-batches of a padded batch (see micro_batches)."""
    lengths = batch["attention_mask"].sum(dim=1).tolist()
    return [torch.tensor(c) for c in micro_batches(lengths, max_tokens)]


def take_rows(batch: dict[str, torch.Tensor], rows: torch.Tensor) -> dict[str, torch.Tensor]:
    """Rows of a right-padded batch cut to their own longest row: a micro-batch of short rows
    does not pay for the batch's longest one. targets/response_mask keep one column fewer."""
    width = int(batch["attention_mask"][rows].sum(dim=1).max())
    return {k: v[rows, : width - (k in ("targets", "response_mask"))] for k, v in batch.items()}
