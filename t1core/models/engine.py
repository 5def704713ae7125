"""DeepSpeed engine setup, identical for SFT and RL, one process or many.

A single process gets the rendezvous variables torchrun/deepspeed would set
(RANK=0, WORLD_SIZE=1, a free MASTER_PORT on 127.0.0.1), so `python -m t1core.cli sft`
and `deepspeed --num_gpus 2 ...` / `torchrun --nproc-per-node 2 ...` run the same code.
"""

import os
import socket
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from t1core.config import DeepSpeedConfig
from t1core.models.device import compute_device

# module -> its ZeRO-3 parameter offload (DeepSpeed's owner of the gather/release hooks), for full_weights
_ZERO3_OFFLOAD: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()
ADAM_BETAS = (0.9, 0.95)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_distributed(backend: str) -> tuple[int, int]:
    """(rank, world_size); initialises torch.distributed through DeepSpeed once."""
    import deepspeed

    if "RANK" not in os.environ:
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(free_port()))
    if torch.cuda.is_available():
        torch.cuda.set_device(compute_device())  # one GPU per rank, before NCCL picks one
    if not torch.distributed.is_initialized():
        deepspeed.init_distributed(dist_backend=backend, verbose=False)
    return torch.distributed.get_rank(), torch.distributed.get_world_size()


def finish_distributed() -> None:
    """In a torchrun/deepspeed launch, wait for every rank and close the process group before exiting.

    Without it a rank that finishes first (SFT's non-zero ranks skip saving and metrics) exits while
    rank 0 still holds gloo connections, and can abort in the process group's destructor."""
    if torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def all_reduce(values: list[float], op: Any = None) -> list[float]:
    """`values` summed (or reduced by `op`) over the ranks in one collective; the values themselves in one process."""
    if not (torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1):
        return [float(v) for v in values]
    t = torch.tensor(values, dtype=torch.float64)
    torch.distributed.all_reduce(t, op=op or torch.distributed.ReduceOp.SUM)
    return t.tolist()


def make_optimizer(parameters: Any, lr: float, weight_decay: float, cfg: DeepSpeedConfig) -> torch.optim.Optimizer:
    """The trainers' AdamW (betas 0.9 / 0.95). Under ZeRO optimizer offload the state lives in host memory and
    DeepSpeed's CPU Adam takes the step (its C++ op is compiled at first use); DeepSpeed refuses a torch optimizer there."""
    if cfg.offload_optimizer:
        from deepspeed.ops.adam import DeepSpeedCPUAdam

        return DeepSpeedCPUAdam(parameters, lr=lr, betas=ADAM_BETAS, weight_decay=weight_decay, adamw_mode=True)
    return torch.optim.AdamW(parameters, lr=lr, betas=ADAM_BETAS, weight_decay=weight_decay)


def ds_config(cfg: DeepSpeedConfig, grad_clip: float, dtype: str) -> dict[str, Any]:
    zero: dict[str, Any] = {"stage": cfg.zero_stage}
    if cfg.zero_stage == 3:
        zero["stage3_param_persistence_threshold"] = cfg.param_persistence_threshold
    if cfg.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu"}
    return {
        "train_micro_batch_size_per_gpu": 1,  # batches are token-budgeted; DeepSpeed only uses this for bookkeeping
        "gradient_accumulation_steps": 1,
        "gradient_clipping": grad_clip,
        "zero_optimization": zero,
        "bf16": {"enabled": dtype == "bfloat16"},
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }


def make_engine(model: Any, optimizer: Any, scheduler: Any, cfg: DeepSpeedConfig, grad_clip: float, dtype: str) -> Any:
    import deepspeed

    init_distributed(cfg.backend)
    if cfg.activation_checkpointing:
        model.gradient_checkpointing_enable()
    model.train()  # load_pretrained hands back eval mode, where HF skips gradient checkpointing (no dropout in these models)
    engine, _, _, _ = deepspeed.initialize(
        model=model, optimizer=optimizer, lr_scheduler=scheduler, config=ds_config(cfg, grad_clip, dtype)
    )
    engine.checkpoint_engine.load = weights_only_load
    _remember_offload(engine)
    return engine


def _remember_offload(engine: Any) -> None:
    offload = getattr(engine.optimizer, "parameter_offload", engine.optimizer)  # training: stage-3 optimizer's
    if hasattr(offload, "setup_zero_stage3_hooks"):
        _ZERO3_OFFLOAD[engine.module] = offload


def make_reference(model: Any, cfg: DeepSpeedConfig, dtype: str) -> Any:
    """The RL reference model: `model` itself, or under ZeRO-3 partitioned like the policy (an inference-only
    DeepSpeed engine's module), so that no rank holds a whole second copy of a large model."""
    if cfg.zero_stage != 3:
        return model
    import deepspeed

    init_distributed(cfg.backend)
    engine, _, _, _ = deepspeed.initialize(model=model, config=ds_config(cfg, 0.0, dtype))
    _remember_offload(engine)
    return engine.module


def is_partitioned(module: Any) -> bool:
    """True when ZeRO-3 holds `module`'s parameters as shards (then forward passes and gathers are collective)."""
    return bool(_partitioned(module))


def _partitioned(module: Any) -> list[torch.nn.Parameter]:
    """The parameters of `module` that ZeRO-3 manages (DeepSpeed gives each a ds_id)."""
    return [p for p in module.parameters() if hasattr(p, "ds_id")]


@contextmanager
def full_weights(module: Any) -> Iterator[None]:
    """Every parameter of `module` materialised for code that reads weights outside a forward pass (the lean
    sampler, vLLM's weight sync, `save_pretrained`). A no-op unless ZeRO-3 partitioned them; otherwise
    collective: every rank must enter (then rank 0 may evaluate or save alone inside).

    While gathered, ZeRO-3's module hooks are off: calls into the module run on the whole weights without
    gathering again and without entering DeepSpeed's record of the training forward, which must be the same
    on every rank (rank 0's evals and HF generate's uneven step counts would make it differ)."""
    partitioned = _partitioned(module)
    if not partitioned:
        yield
        return
    import deepspeed

    with deepspeed.zero.GatheredParameters(partitioned), _hooks_off(module):
        yield


@contextmanager
def _hooks_off(module: Any) -> Iterator[None]:
    """DeepSpeed's ZeRO-3 forward/backward hooks removed from `module`, registered again on exit (which makes
    DeepSpeed re-record its trace on the next training forward, on every rank alike)."""
    offload = _ZERO3_OFFLOAD.get(module)
    if offload is None:
        yield
        return
    offload._remove_module_hooks()
    offload.forward_hooks, offload.backward_hooks = [], []
    try:
        yield
    finally:
        for p in module.parameters():
            p.ds_active_sub_modules.clear()
        offload.setup_zero_stage3_hooks()


def local_pairs(target: Any, source: Any) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(target, source) tensors in parameter order, for in-place element-wise updates of `target` from `source`
    (the EMA anchor): whole parameters, or under ZeRO-3 each rank's own shard (`ds_tensor`) of a parameter that
    is partitioned at the moment.

    Two models of the same shapes, partitioned over the same ranks, shard alike, so an element-wise update of
    the shards is the update of the whole parameters with no gather and no collective; what a rank writes into
    its shard is what the next forward pass gathers. Parameters ZeRO-3 keeps whole after their first use
    (`param_persistence_threshold`) are updated whole on every rank, from the same values. Call it outside any
    gather (`full_weights`)."""
    for t, s in zip(target.parameters(), source.parameters(), strict=True):
        sharded = _only_shard_here(t)
        if sharded != _only_shard_here(s):
            raise ValueError(f"a parameter of {t.ds_numel if hasattr(t, 'ds_numel') else t.numel()} elements is whole "
                             "on this rank in one model and only a shard in the other: give both models the same ZeRO "
                             "stage and param_persistence_threshold, and call outside any gather (full_weights)")
        yield (t.ds_tensor, s.ds_tensor) if sharded else (t.data, s.data)


def _only_shard_here(p: torch.nn.Parameter) -> bool:
    """True when ZeRO-3 holds only this rank's shard of `p` now (partitioned, not gathered or kept whole)."""
    return hasattr(p, "ds_id") and p.data.numel() != p.ds_numel


def load_weights(module: Any, state: dict[str, torch.Tensor]) -> None:
    """`module.load_state_dict(state)` that also fills ZeRO-3 partitioned parameters (collective then)."""
    partitioned = _partitioned(module)
    if not partitioned:
        module.load_state_dict(state)
        return
    import deepspeed

    with deepspeed.zero.GatheredParameters(partitioned, modifier_rank=0):
        module.load_state_dict(state)


def weights_only_load(path: str, map_location: Any = None) -> Any:
    """DeepSpeed's checkpoint reads, without pickle: tensors, dicts, lists and numbers only (DeepSpeed's own
    loader passes weights_only=False, so a crafted `ds/*.pt` could run code on resume)."""
    with torch.serialization.safe_globals(_deepspeed_state_classes()):
        return torch.load(path, map_location=map_location, weights_only=True)


def _deepspeed_state_classes() -> list[Any]:
    """The plain-data DeepSpeed classes that ZeRO-1/2/3 optimizer states pickle (found by loading each stage's files)."""
    from deepspeed.runtime.fp16.loss_scaler import DynamicLossScaler, LossScaler
    from deepspeed.runtime.zero.config import ZeroStageEnum
    from deepspeed.utils.tensor_fragment import fragment_address

    return [LossScaler, DynamicLossScaler, ZeroStageEnum, fragment_address]
