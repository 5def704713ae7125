"""Atomic training checkpoints shared by SFT and RL.

A checkpoint directory holds the DeepSpeed engine state (`ds/`: weights, optimizer,
scheduler), HF-format weights (`hf/`, safetensors, with the tokenizer), any extra
models (e.g. the RL reference, `reference/`) and `state.json` (the trainer's own
state plus the torch RNG). It is written under `<name>.tmp` and renamed, so a
directory without `.tmp` that holds state.json is complete.
"""

import base64
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist


def _barrier() -> None:
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def _is_rank0() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def write_checkpoint(
    engine: Any, final: Path, state: dict[str, Any], tokenizer: Any = None, extra_models: dict[str, Any] | None = None,
) -> Path:
    """Every rank calls this (DeepSpeed saves collectively); rank 0 writes the HF files and renames."""
    final = Path(final)
    tmp = final.with_name(final.name + ".tmp")
    if _is_rank0():
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    _barrier()
    engine.save_checkpoint(str(tmp), tag="ds")
    if _is_rank0():
        engine.module.save_pretrained(tmp / "hf", safe_serialization=True)
        if tokenizer is not None:  # so a resumed run tokenizes exactly as before
            tokenizer.save_pretrained(tmp / "hf")
        for name, model in (extra_models or {}).items():
            model.save_pretrained(tmp / name, safe_serialization=True)
        rng = base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode()
        (tmp / "state.json").write_text(json.dumps({**state, "rng": rng}))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    _barrier()
    return final


def read_checkpoint(engine: Any, path: Path) -> dict[str, Any]:
    """Load the engine state and the torch RNG; returns the trainer state written with it."""
    engine.load_checkpoint(str(path), tag="ds")
    raw = json.loads((Path(path) / "state.json").read_text())
    rng = raw.pop("rng")
    torch.set_rng_state(torch.frombuffer(bytearray(base64.b64decode(rng)), dtype=torch.uint8))
    return raw


def complete_checkpoints(ckpt_dir: Path, prefix: str = "step_") -> list[Path]:
    """Complete checkpoints (renamed directories holding state.json), oldest first."""
    return sorted(
        p for p in Path(ckpt_dir).glob(f"{prefix}*") if not p.name.endswith(".tmp") and (p / "state.json").is_file()
    )


def latest_checkpoint(ckpt_dir: Path, prefix: str = "step_") -> Path | None:
    done = complete_checkpoints(ckpt_dir, prefix)
    return done[-1] if done else None


def prune(ckpt_dir: Path, keep: int, prefix: str = "step_") -> None:
    if _is_rank0():
        for old in complete_checkpoints(ckpt_dir, prefix)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
