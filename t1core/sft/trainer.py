"""The SFT loop on a DeepSpeed engine: token-mean loss on response tokens, warmup-cosine lr,
gradient clipping, a wall-clock cap, periodic held-out evals and resumable checkpoints.

Checkpoints (`<ckpt_dir>/step_XXXXXXX/`) hold the DeepSpeed engine state (weights,
optimizer, scheduler), HF-format weights (`hf/`, safetensors) and `state.json` (step,
epoch, batch position, training seconds, torch RNG, eval history). They are written
to a `.tmp` directory and renamed, so a directory without `.tmp` is complete.
"""

import base64
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from tqdm import tqdm

from t1core.config import SFTConfig
from t1core.sft.data import Example, bucket_batches, collate


@dataclass
class TrainState:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    train_seconds: float = 0.0
    losses: list[float] = field(default_factory=list)  # one per step
    evals: list[dict[str, Any]] = field(default_factory=list)  # {"step", "minutes", ...metrics}


def steps_per_epoch(examples: list[Example], batch_tokens: int, seed: int, world: int) -> int:
    return len(bucket_batches([len(e.input_ids) for e in examples], batch_tokens, seed)) // world


def total_steps(cfg: SFTConfig, examples: list[Example], seed: int, world: int) -> int:
    return max(1, math.ceil(cfg.epochs * steps_per_epoch(examples, cfg.batch_tokens, seed, world)))


class SFTTrainer:
    def __init__(
        self, engine: Any, examples: list[Example], cfg: SFTConfig, pad_id: int, seed: int, ckpt_dir: Path,
        evaluate: Callable[[Any, bool], dict[str, Any]] | None = None, on_step: Callable[[int, dict], None] | None = None,
        tokenizer: Any = None, total: int | None = None,
    ):
        self.engine, self.examples, self.cfg, self.pad_id, self.seed = engine, examples, cfg, pad_id, seed
        self.ckpt_dir, self.evaluate, self.on_step, self.tokenizer = Path(ckpt_dir), evaluate, on_step, tokenizer
        self.rank = dist.get_rank() if dist.is_initialized() else 0
        self.world = dist.get_world_size() if dist.is_initialized() else 1
        self.total = total or total_steps(cfg, examples, seed, self.world)
        self.state = TrainState()

    # ------------------------------------------------------------ loop
    def train(self) -> TrainState:
        st = self.state
        bar = tqdm(total=self.total, initial=st.step, desc="sft", unit="step", disable=self.rank != 0, mininterval=1)
        next_eval = self._next_eval_minute()
        while st.step < self.total and not self._out_of_time():
            batches = self._epoch_batches(st.epoch)
            while st.batch_in_epoch < len(batches) and st.step < self.total and not self._out_of_time():
                loss = self._timed_step(batches[st.batch_in_epoch])
                st.batch_in_epoch += 1
                st.step += 1
                st.losses.append(loss)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", lr=f"{self.engine.get_lr()[0]:.2e}", min=f"{st.train_seconds / 60:.1f}")
                if self.on_step:
                    self.on_step(st.step, {"train_loss": loss, "lr": self.engine.get_lr()[0]})
                if next_eval is not None and st.train_seconds / 60 >= next_eval:
                    self._eval(final=False)
                    next_eval += self.cfg.eval_every_minutes
                if st.step % self.cfg.checkpoint_every == 0:
                    self.save_checkpoint()
            if st.batch_in_epoch >= len(batches):
                st.epoch, st.batch_in_epoch = st.epoch + 1, 0
        bar.close()
        self.save_checkpoint()
        return st

    def _next_eval_minute(self) -> float | None:
        every = self.cfg.eval_every_minutes
        if every is None or self.evaluate is None:
            return None
        return (math.floor(self.state.train_seconds / 60 / every) + 1) * every

    def _out_of_time(self) -> bool:
        cap = self.cfg.max_minutes
        return cap is not None and self.state.train_seconds >= cap * 60

    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        lengths = [len(e.input_ids) for e in self.examples]
        batches = bucket_batches(lengths, self.cfg.batch_tokens, self.seed * 1000 + epoch)
        per_rank = len(batches) // self.world
        return batches[self.rank::self.world][:per_rank]

    def _timed_step(self, batch: list[int]) -> float:
        t0 = time.monotonic()
        loss = self.train_step(batch)
        self.state.train_seconds += time.monotonic() - t0
        return loss

    def train_step(self, batch: list[int]) -> float:
        """One optimizer step; returns the token-mean response loss of this rank's batch."""
        inputs = collate([self.examples[i] for i in batch], self.pad_id)
        out = self.engine(**inputs)
        self.engine.backward(out.loss)
        self.engine.step()
        return float(out.loss.detach())

    def _eval(self, final: bool) -> dict[str, Any]:
        metrics = self.evaluate(self.engine.module, final) if self.rank == 0 else {}
        record = {"step": self.state.step, "minutes": round(self.state.train_seconds / 60, 3), **metrics}
        self.state.evals.append(record)
        if self.rank == 0:
            shown = ", ".join(f"{k}={v:.3f}" for k, v in metrics.items() if isinstance(v, float))
            tqdm.write(f"eval at step {record['step']} ({record['minutes']:.1f} train-min): {shown}", file=sys.stderr)
        return record

    def final_eval(self) -> dict[str, Any]:
        return self._eval(final=True) if self.evaluate else {}

    # ------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> Path:
        final = self.ckpt_dir / f"step_{self.state.step:07d}"
        tmp = final.with_name(final.name + ".tmp")
        if self.rank == 0:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        self._barrier()
        self.engine.save_checkpoint(str(tmp), tag="ds")
        if self.rank == 0:
            self.engine.module.save_pretrained(tmp / "hf", safe_serialization=True)
            if self.tokenizer is not None:  # so a resumed run tokenizes exactly as before
                self.tokenizer.save_pretrained(tmp / "hf")
            state = {**asdict(self.state), "rng": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode()}
            (tmp / "state.json").write_text(json.dumps(state))
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
            for old in complete_checkpoints(self.ckpt_dir)[: -self.cfg.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
        self._barrier()
        return final

    def resume(self, path: Path) -> None:
        self.engine.load_checkpoint(str(path), tag="ds")
        raw = json.loads((path / "state.json").read_text())
        rng = raw.pop("rng")
        torch.set_rng_state(torch.frombuffer(bytearray(base64.b64decode(rng)), dtype=torch.uint8))
        self.state = TrainState(**raw)

    def _barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def complete_checkpoints(ckpt_dir: Path) -> list[Path]:
    """Complete checkpoints (renamed directories holding state.json), oldest first."""
    return sorted(p for p in Path(ckpt_dir).glob("step_*") if not p.name.endswith(".tmp") and (p / "state.json").is_file())


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    done = complete_checkpoints(ckpt_dir)
    return done[-1] if done else None
