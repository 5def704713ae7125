"""The SFT loop on a DeepSpeed engine: token-mean loss on response tokens, warmup-cosine lr,
gradient clipping, a wall-clock cap, periodic held-out evals and resumable checkpoints.

Checkpoints (`<ckpt_dir>/step_XXXXXXX/`, see t1core.models.checkpoint) hold the
DeepSpeed engine state, HF-format weights and `state.json` (step, epoch, batch
position, training seconds, torch RNG, eval history).
"""

import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch.distributed as dist
from tqdm import tqdm

from t1core.config import SFTConfig
from t1core.models.checkpoint import prune, read_checkpoint, write_checkpoint
from t1core.models.device import to_device
from t1core.models.engine import all_reduce, full_weights
from t1core.progress import bar_total, cap_projection, rate_is_trusted
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
        warned = False
        while st.step < self.total and not self._out_of_time():
            batches = self._epoch_batches(st.epoch)
            while st.batch_in_epoch < len(batches) and st.step < self.total and not self._out_of_time():
                loss = self._timed_step(batches[st.batch_in_epoch])
                st.batch_in_epoch += 1
                st.step += 1
                st.losses.append(loss)
                bar.total = bar_total(self.total, st.step, st.train_seconds, self.cfg.max_minutes)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", lr=f"{self.engine.get_lr()[0]:.2e}", min=f"{st.train_seconds / 60:.1f}")
                if self.on_step:
                    self.on_step(st.step, {"train_loss": loss, "lr": self.engine.get_lr()[0]})
                if not warned:
                    warned = self._warn_if_cap_will_cut()
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

    def _warn_if_cap_will_cut(self) -> bool:
        """Once a tenth of the cap has run: if the steps so far project past the cap while the cosine runs by steps,
        say where it will stop. Returns whether the check is done (it runs once)."""
        cap = self.cfg.max_minutes
        if cap is None or self.cfg.anneal_within_cap:
            return True
        st = self.state
        if not rate_is_trusted(st.train_seconds, cap):
            return False
        reach = cap_projection(self.total, st.step, st.train_seconds, cap)
        if reach is not None and self.rank == 0:
            tqdm.write(
                f"sft: at {st.step / st.train_seconds:.1f} steps/s the {cap}-minute cap will stop training near step "
                f"{reach} of {self.total}, before the cosine ends; sft.anneal_within_cap=true anneals within the cap",
                file=sys.stderr,
            )
        return True

    def warn_if_cut(self) -> None:
        """After training: a run the cap stopped before its step schedule ended stops at a higher lr than planned; say so."""
        lr = self.engine.get_lr()[0]
        if self.stopped_by_cap() and not self.cfg.anneal_within_cap and self.rank == 0:
            tqdm.write(
                f"sft: the {self.cfg.max_minutes}-minute cap stopped training at step {self.state.step} of {self.total}, "
                f"with the lr at {lr:.2e} ({lr / self.cfg.lr:.0%} of the peak) instead of its floor; "
                "set sft.anneal_within_cap=true to end annealed, or raise sft.max_minutes or lower sft.epochs",
                file=sys.stderr,
            )

    def cap_share(self) -> float:
        """The share of `max_minutes` trained so far when the schedule anneals within the cap, else 0
        (the config refuses anneal_within_cap without max_minutes)."""
        return self.state.train_seconds / (self.cfg.max_minutes * 60) if self.cfg.anneal_within_cap else 0.0

    def stopped_by_cap(self) -> bool:
        """True when the wall-clock cap, not the planned steps, ended training."""
        return self.state.step < self.total and self._out_of_time()

    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        lengths = [len(e.input_ids) for e in self.examples]
        batches = bucket_batches(lengths, self.cfg.batch_tokens, self.seed * 1000 + epoch)
        per_rank = len(batches) // self.world
        return batches[self.rank::self.world][:per_rank]

    def _timed_step(self, batch: list[int]) -> float:
        t0 = time.monotonic()
        loss = self.train_step(batch)
        elapsed = self.state.train_seconds + time.monotonic() - t0
        self.state.train_seconds = all_reduce([elapsed], dist.ReduceOp.MAX)[0]  # one clock: every rank stops at the same step
        return loss

    def train_step(self, batch: list[int]) -> float:
        """One optimizer step; returns the token-mean response loss over the batches of every rank.

        The loss is normalised by the response tokens of all ranks. DeepSpeed averages the ranks'
        gradients, so each rank's share is scaled by the world size: N ranks make the update that one
        process makes on their batches together (tests/integration/test_data_parallel.py)."""
        inputs = to_device(collate([self.examples[i] for i in batch], self.pad_id), self.engine.device)
        out = self.engine(**inputs)  # HF's loss: the mean over this batch's shifted labels
        n = float((inputs["labels"][:, 1:] != -100).sum())
        total, loss_sum = all_reduce([n, n * float(out.loss.detach())])
        self.engine.backward(out.loss * (self.world * n / max(1.0, total)))
        self.engine.step()
        return loss_sum / max(1.0, total)

    def _eval(self, final: bool) -> dict[str, Any]:
        with full_weights(self.engine.module):  # ZeRO-3: every rank gathers, rank 0 evaluates
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
        final = write_checkpoint(self.engine, self.ckpt_dir / f"step_{self.state.step:07d}", asdict(self.state), self.tokenizer)
        prune(self.ckpt_dir, self.cfg.keep_checkpoints)
        return final

    def resume(self, path: Path) -> None:
        self.state = TrainState(**read_checkpoint(self.engine, path))
