"""SFT examples and length-bucketed, token-budgeted batches (padding does not waste the CPU)."""

import random
from dataclasses import dataclass

import torch

from t1core.models.chat import encode_example


@dataclass(frozen=True)
class Example:
    input_ids: list[int]
    labels: list[int]


def encode_traces(tokenizer, traces, max_len: int) -> tuple[list[Example], int]:
    """(examples, n_too_long): traces longer than max_len tokens are counted, not truncated."""
    out, too_long = [], 0
    for t in traces:
        ids, labels = encode_example(tokenizer, t.problem, t.response)
        if len(ids) > max_len:
            too_long += 1
            continue
        out.append(Example(ids, labels))
    return out, too_long


def bucket_batches(lengths: list[int], batch_tokens: int, seed: int, window: int = 64) -> list[list[int]]:
    """Shuffle, sort within windows of `window` batches' worth, cut at batch_tokens (max len x rows), shuffle batches.

    Every index appears in exactly one batch; a batch's padded size never exceeds
    batch_tokens unless a single example is longer.
    """
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    mean = max(1, sum(lengths) // max(1, len(lengths)))
    chunk = max(1, window * batch_tokens // mean)
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start:start + chunk], key=lambda i: lengths[i])
        batch: list[int] = []
        for i in part:
            if batch and (len(batch) + 1) * max(lengths[i], lengths[batch[-1]]) > batch_tokens:
                batches.append(batch)
                batch = []
            batch.append(i)
        if batch:
            batches.append(batch)
    rng.shuffle(batches)
    return batches


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded tensors; padding is masked in attention and ignored (-100) in the loss."""
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}
