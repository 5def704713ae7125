"""Where tensors live (the GPU of this process's local rank when CUDA is visible, else the CPU), and the
mode a model generates in.

DeepSpeed places the engine's module on the same device (its accelerator is CUDA when
one is visible), so batches, the reference model, the evaluator's models and the
sampler's buffers all follow `compute_device()` and the same code runs on both.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch


def compute_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def model_device(model: torch.nn.Module) -> torch.device:
    """The device a model's weights are on."""
    return next(model.parameters()).device


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """The same batch with every tensor on `device` (non-blocking from pinned memory is not worth it at these sizes)."""
    return {k: v.to(device) for k, v in batch.items()}


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """`model` in eval mode for the block, then back in the mode it had. The module a DeepSpeed engine trains
    stays in train mode (HF recomputes checkpointed layers only there); generation runs in eval mode."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
