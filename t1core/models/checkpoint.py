"""Atomic training checkpoints shared by SFT and RL.

A checkpoint directory holds the DeepSpeed engine state (`ds/`: weights, optimizer,
scheduler), HF-format weights (`hf/`, safetensors, with the tokenizer), any extra
models (e.g. the RL reference, `reference/`), `state.json` (the trainer's own
state plus the torch RNG) and `manifest.json` (size and SHA-256 of every other file).

Writing is atomic: everything goes under `<name>.tmp`, every file is fsynced, the
manifest is written last, then the directory is renamed and its parent fsynced. A
SIGKILL at any point leaves either the previous checkpoints alone or a `.tmp`
directory that is never read. Reading verifies the manifest: a checkpoint with a
missing, truncated or altered file is skipped with a message naming the file, and
the newest one that verifies is used.
"""

import base64
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from t1core.models.engine import full_weights

MANIFEST = "manifest.json"


def _barrier() -> None:
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def _is_rank0() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def write_checkpoint(
    engine: Any, final: Path, state: dict[str, Any], tokenizer: Any = None, extra_models: dict[str, Any] | None = None,
    rank_tensors: dict[str, list[torch.Tensor | None]] | None = None,
) -> Path:
    """Every rank calls this (DeepSpeed saves collectively); rank 0 writes the HF files and renames.
    `rank_tensors`: this rank's own tensors by name, written to `<name>.rank<R>.pt` (`read_rank_tensors`)."""
    final = Path(final)
    tmp = final.with_name(final.name + ".tmp")
    if _is_rank0():
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    _barrier()
    engine.save_checkpoint(str(tmp), tag="ds")
    for name, tensors in (rank_tensors or {}).items():
        torch.save([None if t is None else t.detach().cpu() for t in tensors], tmp / _rank_file(name))
    _barrier()  # every rank's shards are on disk before rank 0 hashes them
    for name, model in (("hf", engine.module), *(extra_models or {}).items()):
        with full_weights(model):  # ZeRO-3: every rank gathers, rank 0 writes the HF weights
            if _is_rank0():
                model.save_pretrained(tmp / name, safe_serialization=True)
    if _is_rank0():
        if tokenizer is not None:  # so a resumed run tokenizes exactly as before
            tokenizer.save_pretrained(tmp / "hf")
        rng = base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode()
        (tmp / "state.json").write_text(json.dumps({**state, "rng": rng}))
        _seal(tmp)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    _barrier()
    return final


def _rank_file(name: str) -> str:
    return f"{name}.rank{dist.get_rank() if dist.is_initialized() else 0}.pt"


def read_rank_tensors(path: Path, name: str) -> list[torch.Tensor | None] | None:
    """This rank's tensors saved under `name` by `write_checkpoint` (on the CPU), or None when the checkpoint has none."""
    f = Path(path) / _rank_file(name)
    return torch.load(f, map_location="cpu", weights_only=True) if f.is_file() else None


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)


def _seal(root: Path) -> None:
    """fsync every file and directory under `root`, then write the manifest (itself fsynced) last."""
    files = _files(root)
    for f in files:
        with open(f, "rb+") as fh:
            os.fsync(fh.fileno())
    manifest = {str(f.relative_to(root)): {"bytes": f.stat().st_size, "sha256": _sha256(f)} for f in files}
    with open(root / MANIFEST, "w") as fh:
        json.dump(manifest, fh, indent=0, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    for d in {f.parent for f in files} | {root}:
        _fsync_dir(d)


def checkpoint_problem(path: Path) -> str | None:
    """Why the checkpoint at `path` cannot be used (naming the file), or None when every file matches its manifest."""
    path = Path(path)
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except FileNotFoundError:
        return f"{path / MANIFEST}: missing (an incomplete checkpoint, or one written before manifests)"
    except (ValueError, UnicodeDecodeError) as e:
        return f"{path / MANIFEST}: unreadable ({e})"
    for rel, want in manifest.items():
        f = path / rel
        if not f.is_file():
            return f"{f}: missing"
        if f.stat().st_size != want["bytes"]:
            return f"{f}: {f.stat().st_size} bytes, the manifest says {want['bytes']}"
        if _sha256(f) != want["sha256"]:
            return f"{f}: SHA-256 differs from the manifest"
    return None


def read_checkpoint(engine: Any, path: Path) -> dict[str, Any]:
    """Load the engine state and the torch RNG; returns the trainer state written with it."""
    engine.load_checkpoint(str(path), tag="ds")
    raw = json.loads((Path(path) / "state.json").read_text())
    rng = raw.pop("rng")
    torch.set_rng_state(torch.frombuffer(bytearray(base64.b64decode(rng)), dtype=torch.uint8))
    return raw


def complete_checkpoints(ckpt_dir: Path, prefix: str = "step_") -> list[Path]:
    """Renamed checkpoint directories (not `.tmp`) holding state.json, oldest first; contents not yet verified."""
    return sorted(
        p for p in Path(ckpt_dir).glob(f"{prefix}*") if not p.name.endswith(".tmp") and (p / "state.json").is_file()
    )


def verified_checkpoints(ckpt_dir: Path, prefix: str = "step_") -> list[Path]:
    """Complete checkpoints whose files match their manifest, oldest first; each one skipped is reported on stderr."""
    good = []
    for path in complete_checkpoints(ckpt_dir, prefix):
        problem = checkpoint_problem(path)
        if problem is None:
            good.append(path)
        elif _is_rank0():
            print(f"t1: skipping checkpoint {path}: {problem}", file=sys.stderr)
    return good


def latest_checkpoint(ckpt_dir: Path, prefix: str = "step_") -> Path | None:
    """The newest checkpoint that verifies (a corrupt newer one is skipped with a message), or None."""
    good = verified_checkpoints(ckpt_dir, prefix)
    return good[-1] if good else None


def prune(ckpt_dir: Path, keep: int, prefix: str = "step_") -> None:
    if _is_rank0():
        for old in complete_checkpoints(ckpt_dir, prefix)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
