"""The T1 RL loop on a DeepSpeed engine (DESIGN.md §2).

One step: draw B prompts, sample K responses each at temperature τ through the
rollout engine, grade them, apply the penalties, drop groups with no signal and refill
them (`oversample`: each call draws about B / (1 - u) prompts plus a margin, u the
uniform-group rate seen so far, so a refill call is rarely needed), then one (or
`updates_per_batch`) policy update on the RLOO advantages of the KL-shaped returns with
an entropy bonus, then move the EMA reference.

Log-probs, KL and entropy are all taken at the rollout temperature (logits / τ): the
policy being optimised is the one that is sampled from. The sampler's log-probs are
the current policy's (the test suite checks they match a recomputation), so the
sequence KL needs only a reference forward pass.

Training runs in rounds of `steps_per_round`; after each round a checkpoint
(`round_XX/`: DeepSpeed state, HF policy, HF reference, a bf16 reference's float32 copies, state.json
with the prompt cursor and the RNG) is written and a quick held-out eval is run. A run resumes from
the newest complete round.

Data parallel (torchrun / deepspeed launcher, ZeRO 0-3): every rank walks the same prompt
order and samples its own share (prompt i of a draw goes to rank i mod world), keeps up to
B / world groups, and refills until every rank has its share. The loss is normalised by the
response tokens of all ranks together, so the averaged gradient equals the one-process
token-mean over the same groups; each rank then moves its own copy of the EMA anchor from
identical weights. Rank 0 evaluates and logs; metrics are averaged over the ranks.

ZeRO-3 partitions the policy and the reference alike. Rollouts and evals then run on weights
gathered for the step (every rank enters), the EMA moves the anchor one gathered parameter
at a time, and every rank makes the same number of forward/backward passes per update (a rank
with fewer micro-batches adds zero-weight ones), because each pass gathers collectively.
"""

import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from tqdm import tqdm

from t1core.config import RLConfig
from t1core.data.records import Problem
from t1core.grading import Grader
from t1core.models.chat import prompt_ids
from t1core.models.checkpoint import read_checkpoint, read_rank_tensors, write_checkpoint
from t1core.models.device import model_device, to_device
from t1core.models.engine import all_reduce, full_weights, is_partitioned, load_weights, local_pairs
from t1core.progress import bar_total
from t1core.rl import objectives as obj
from t1core.rl.batch import Group, chunk_rows, pad_sequences, response_values, split_groups, take_rows
from t1core.rl.penalties import KINDS, flags
from t1core.rollout import RolloutEngine

MAX_REFILLS = 2  # extra sampling passes to replace dropped uniform groups
UNIFORM_RATE_MEMORY = 0.7  # the running uniform-group rate: u <- 0.7 u + 0.3 (this step's rate); the first step's rate as is
MAX_UNIFORM_RATE = 0.8  # over-sampling draws at most 5x the prompts needed
UPDATE_KEYS = ("loss", "entropy", "kl", "adv_mean", "adv_std", "adv_abs_max", "ref_s", "update_s", "train_tokens")


@dataclass
class RLState:
    step: int = 0
    round: int = 0  # completed rounds
    epoch: int = 0  # passes over the prompt pool
    cursor: int = 0  # next prompt in this epoch's order
    uniform_rate: float | None = None  # running share of sampled groups with equal rewards (sizes the over-sampling)
    train_seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)  # one per step
    rounds: list[dict[str, Any]] = field(default_factory=list)  # per-round eval records


class RLTrainer:
    def __init__(
        self, engine: Any, reference: Any, tokenizer: Any, prompts: list[Problem], cfg: RLConfig, grader: Grader,
        rollout: RolloutEngine, seed: int, ckpt_dir: Path, micro_batch_tokens: int = 16384,
        evaluate: Callable[[Any, bool], dict[str, Any]] | None = None, on_step: Callable[[int, dict], None] | None = None,
    ):
        if not prompts:
            raise ValueError("RL needs at least one prompt")
        self.engine, self.reference, self.tokenizer, self.cfg = engine, reference, tokenizer, cfg
        self.grader, self.rollout, self.seed, self.ckpt_dir = grader, rollout, seed, Path(ckpt_dir)
        self.micro_batch_tokens, self.evaluate, self.on_step = micro_batch_tokens, evaluate, on_step
        self.prompts = prompts
        self.prompt_ids = [prompt_ids(tokenizer, p.problem) for p in prompts]
        self.rank, self.world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
        if cfg.prompts_per_step % self.world:
            raise ValueError(f"rl.prompts_per_step={cfg.prompts_per_step} must be a multiple of the {self.world} ranks")
        self.state = RLState()
        self._anchor_shadows: list[torch.Tensor | None] | None = None  # float32 copies of a low-precision anchor
        self._saved_shadows: list[torch.Tensor | None] | None = None  # those of the checkpoint resumed, until used
        for p in self.reference.parameters():
            p.requires_grad_(False)
        self.reference.eval()

    # ------------------------------------------------------------ loop
    def train(self) -> RLState:
        st, cfg = self.state, self.cfg
        planned = cfg.rounds * cfg.steps_per_round
        bar = tqdm(total=planned, initial=st.step, desc="rl", unit="step", mininterval=1, disable=self.rank != 0)
        while st.round < cfg.rounds and not self._out_of_time():
            end = (st.round + 1) * cfg.steps_per_round
            while st.step < end and not self._out_of_time():
                t0 = time.monotonic()
                metrics = self.step()
                st.train_seconds = self._reduce(st.train_seconds + time.monotonic() - t0, dist.ReduceOp.MAX)  # one cap for all
                st.step += 1
                st.history.append(metrics)
                bar.total = bar_total(planned, st.step, st.train_seconds, cfg.max_minutes)
                bar.update(1)
                bar.set_postfix(acc=f"{metrics['accuracy']:.2f}", kl=f"{metrics['kl']:.3f}", min=f"{st.train_seconds / 60:.1f}")
                if self.on_step:
                    self.on_step(st.step, metrics)
            st.round += 1  # a round cut short by the time cap still ends with a checkpoint and an eval
            self._end_round()
        bar.close()
        return st

    def _out_of_time(self) -> bool:
        cap = self.cfg.max_minutes
        return cap is not None and self.state.train_seconds >= cap * 60

    def _end_round(self) -> None:
        record: dict[str, Any] = {"round": self.state.round, "step": self.state.step, "minutes": round(self.state.train_seconds / 60, 3)}
        if self.evaluate is not None:
            with full_weights(self.engine.module):  # ZeRO-3: every rank gathers, rank 0 evaluates
                record.update(self.evaluate(self.engine.module, False) if self.rank == 0 else {})
            if self.rank == 0:
                shown = ", ".join(f"{k}={v:.3f}" for k, v in record.items() if isinstance(v, float))
                tqdm.write(f"round {self.state.round}: {shown}", file=sys.stderr)
        self.state.rounds.append(record)
        self.save_checkpoint()

    # ------------------------------------------------------------ one step
    def step(self) -> dict[str, float]:
        t0 = time.monotonic()
        with full_weights(self.engine.module):  # ZeRO-3: the whole policy for the sampler, on every rank
            groups, sampled, stats = self._collect()
        t1 = time.monotonic()
        if groups:
            update = self._update(groups)
        elif self.world > 1:  # the update is collective: a rank left without groups joins with zero weight
            update = self._update(sampled[:1], weight=0.0)
        else:
            update = dict.fromkeys(UPDATE_KEYS, 0.0)  # every step logs the same keys
        if not self.cfg.frozen_reference and (self.state.step + 1) % self.cfg.ref_update_every == 0:
            self.move_anchor()
        return self._step_metrics(sampled, groups, stats, update, t1 - t0, time.monotonic() - t0)

    def move_anchor(self) -> None:
        """One EMA step of the reference towards the policy. An anchor below float32 (bf16 profiles) averages in
        float32 copies made at its first step and holds their rounding, so it neither drifts nor stalls."""
        pairs = list(local_pairs(self.reference, self.engine.module))
        if self._anchor_shadows is None:
            self._anchor_shadows = _fitting(self._saved_shadows, pairs, self.rank) or [
                r.float() if r.dtype != torch.float32 else None for r, _ in pairs]
            self._saved_shadows = None
        obj.ema_update_(pairs, self.cfg.ema_rate, self._anchor_shadows)

    def _collect(self) -> tuple[list[Group], list[Group], dict[str, float]]:
        """(groups to train on, every group sampled, timing); refills dropped uniform groups up to MAX_REFILLS times."""
        cfg, keep, sampled = self.cfg, [], []
        stats = {"rollout_s": 0.0, "grade_s": 0.0, "rollout_tokens": 0, "prompts": 0, "calls": 0}
        quota = cfg.prompts_per_step // self.world
        need = quota
        for attempt in range(1 + (MAX_REFILLS if cfg.drop_uniform_groups else 0)):
            draw = self._draw_size(int(self._reduce(need)))
            mine = self._next_prompts(draw)[self.rank::self.world]  # every rank draws the same prompts
            groups = self._sample_groups(mine, attempt, stats) if mine else []
            stats["prompts"] += draw
            stats["calls"] += 1
            sampled += groups
            keep += [g for g in groups if not (cfg.drop_uniform_groups and g.uniform)]
            need = max(0, quota - len(keep))
            if self._reduce(need) <= 0:
                break
        if cfg.drop_uniform_groups and sampled:
            self._track_uniform_rate(sampled)
        return keep[:quota], sampled, stats

    def _track_uniform_rate(self, sampled: list[Group]) -> None:
        """The running uniform-group rate (over every rank's groups): this step's rate first, then its EMA."""
        uniform, total = all_reduce([sum(g.uniform for g in sampled), len(sampled)])  # one collective
        rate, last = uniform / total, self.state.uniform_rate
        self.state.uniform_rate = rate if last is None else UNIFORM_RATE_MEMORY * last + (1 - UNIFORM_RATE_MEMORY) * rate

    def _draw_size(self, need: int) -> int:
        """Prompts to draw for `need` groups (all ranks): `need` itself, or with over-sampling the expected
        number at the running uniform rate u plus one standard deviation of the uniform count (the first step,
        with no rate seen yet, draws `need`)."""
        if not self.cfg.oversample or self.state.uniform_rate is None:  # the config refuses oversample without dropping
            return need
        return oversampled(need, min(self.state.uniform_rate, MAX_UNIFORM_RATE))

    def _reduce(self, x: float, op: Any = None) -> float:
        """x summed (or `op`) over the ranks; x itself in one process."""
        return all_reduce([x], op)[0]

    def _next_prompts(self, n: int) -> list[int]:
        st, out = self.state, []
        while len(out) < n:
            order = list(range(len(self.prompts)))
            random.Random(self.seed * 7919 + st.epoch).shuffle(order)
            take = order[st.cursor: st.cursor + n - len(out)]
            out += take
            st.cursor += len(take)
            if st.cursor >= len(order):
                st.epoch, st.cursor = st.epoch + 1, 0
        return out

    def _sample_groups(self, idx: list[int], attempt: int, stats: dict[str, float]) -> list[Group]:
        k, cfg = self.cfg.k, self.cfg
        t0 = time.monotonic()
        seed = ((self.seed * 1_000_003 + self.state.step) * 10 + attempt) * self.world + self.rank
        out = self.rollout.generate(
            self.engine.module, [self.prompt_ids[i] for i in idx for _ in range(k)], cfg.max_new_tokens,
            cfg.temperature, cfg.top_p, seed=seed,
        )
        t1 = time.monotonic()
        stats["rollout_s"] += t1 - t0
        stats["rollout_tokens"] += sum(len(t) for t in out.tokens)
        groups = [self._score_group(self.prompts[idx[g]], prompt, [out.tokens[j] for j in rows],
                                    [out.logprobs[j] for j in rows], [out.finished[j] for j in rows])
                  for g, (prompt, rows) in enumerate(split_groups(out, k))]
        stats["grade_s"] += time.monotonic() - t1
        return groups

    def _score_group(self, problem: Problem, prompt: list[int], tokens, logprobs, finished) -> Group:
        cfg, eos = self.cfg, self.tokenizer.eos_token_id
        texts = [self.tokenizer.decode(t[:-1] if (done and t and t[-1] == eos) else t) for t, done in zip(tokens, finished)]
        fl = [flags(t, text, done, cfg) for t, text, done in zip(tokens, texts, finished)]
        reward = [float(self.grader(text, problem.answer or "").correct) for text in texts]
        penalty = [f.value(cfg) for f in fl]
        score = obj.combine_penalty(torch.tensor(reward), torch.tensor(penalty), cfg.penalty_mode).tolist()
        return Group(prompt, tokens, logprobs, reward, penalty, score, [asdict(f) for f in fl])

    # ------------------------------------------------------------ update
    def _update(self, groups: list[Group], weight: float = 1.0) -> dict[str, float]:
        cfg = self.cfg
        prompts = [g.prompt_ids for g in groups for _ in g.tokens]
        responses = [t for g in groups for t in g.tokens]
        batch = pad_sequences(prompts, responses, self.tokenizer.pad_token_id)
        sampler_lp = response_values([lp for g in groups for lp in g.logprobs], prompts, batch["targets"].shape[1])
        mask = batch["response_mask"]
        t0 = time.monotonic()
        chunks = self._micro_batches(batch)
        ref_lp = logprobs_over(self.reference, batch, cfg.temperature, chunks)
        seq_kl = ((sampler_lp - ref_lp) * mask).sum(dim=1).view(len(groups), cfg.k)  # d_k [B, K]
        score = torch.tensor([g.score for g in groups])  # [B, K]
        adv = obj.rloo_advantages(obj.shaped_returns(score, seq_kl, cfg.kl_coef)).view(-1)  # [B*K]
        t1 = time.monotonic()
        loss = entropy = 0.0
        for _ in range(cfg.updates_per_batch):
            old = sampler_lp if cfg.updates_per_batch > 1 else None
            loss, entropy = self._policy_step(batch, adv, old, weight, chunks)
        return {
            "loss": loss, "entropy": entropy, "kl": float(seq_kl.mean()), "adv_mean": float(adv.mean()),
            "adv_std": float(adv.std()) if adv.numel() > 1 else 0.0, "adv_abs_max": float(adv.abs().max()),
            "ref_s": t1 - t0, "update_s": time.monotonic() - t1, "train_tokens": float(batch["attention_mask"].sum()),
        }

    def _micro_batches(self, batch: dict[str, torch.Tensor]) -> list[tuple[torch.Tensor, float]]:
        """(rows, weight) of every forward pass over this update's batch: its micro-batches, and under ZeRO-3
        (where each pass gathers collectively) zero-weight repeats up to the largest count of any rank."""
        own = chunk_rows(batch, self.micro_batch_tokens)
        passes = int(self._reduce(len(own), dist.ReduceOp.MAX)) if is_partitioned(self.engine.module) else len(own)
        return padded_passes(own, passes)

    def _policy_step(
        self, batch: dict[str, torch.Tensor], adv: torch.Tensor, old_lp: torch.Tensor | None, weight: float,
        chunks: list[tuple[torch.Tensor, float]],
    ) -> tuple[float, float]:
        """One optimizer step over the micro-batches `chunks` (`_micro_batches`); the loss is a token-mean over the
        whole batch of every rank. DeepSpeed averages the ranks' gradients, so each rank's share is scaled by the
        world size; a zero-weight pass (ZeRO-3 padding) only takes part in the collectives."""
        cfg, engine, mask = self.cfg, self.engine, batch["response_mask"]
        total = max(1.0, self._reduce(weight * float(mask.sum())))
        loss_sum = ent_sum = 0.0
        for i, (rows, pass_weight) in enumerate(chunks):
            engine.set_gradient_accumulation_boundary(i == len(chunks) - 1)
            mb = to_device(take_rows(batch, rows), engine.device)
            logits = engine(input_ids=mb["input_ids"], attention_mask=mb["attention_mask"]).logits[:, :-1]
            m, width = mb["response_mask"], mb["targets"].shape[1]
            logp, ent = obj.logprobs_and_entropy(logits, mb["targets"], cfg.temperature)
            share = float(m.sum()) / total  # token-mean over the whole batch, not per micro-batch
            old = None if old_lp is None else old_lp[rows, :width].to(engine.device)
            pg = obj.policy_loss(logp, adv[rows].to(engine.device), m, old, cfg.clip_ratio)
            ent_mean = obj.masked_mean(ent, m)
            loss = self.world * weight * pass_weight * share * (pg - cfg.entropy_coef * ent_mean)
            engine.backward(loss)
            loss_sum += float(loss.detach())
            ent_sum += pass_weight * share * float(ent_mean.detach())
        engine.step()
        return loss_sum, ent_sum

    # ------------------------------------------------------------ metrics
    def _step_metrics(self, sampled: list[Group], used: list[Group], stats: dict, update: dict, collect_s: float, step_s: float) -> dict[str, float]:
        n = max(1, sum(len(g.score) for g in sampled))
        every = [f for g in sampled for f in g.flags]
        lengths = [len(t) for g in sampled for t in g.tokens]
        train_s = update["ref_s"] + update["update_s"]
        metrics = {
            "accuracy": sum(r for g in sampled for r in g.reward) / n,
            "reward_mean": sum(s for g in sampled for s in g.score) / n,
            **{f"penalty_rate_{k}": sum(f[k] for f in every) / n for k in KINDS},
            "zero_variance_fraction": sum(g.uniform for g in sampled) / max(1, len(sampled)),
            "groups_used": float(len(used)),
            "prompts_sampled": float(stats["prompts"]), "sampling_calls": float(stats["calls"]),
            "response_len": sum(lengths) / max(1, len(lengths)),
            "rollout_tokens_per_s": stats["rollout_tokens"] / max(1e-9, stats["rollout_s"]),
            "train_tokens_per_s": update["train_tokens"] / max(1e-9, train_s),
            "rollout_s": stats["rollout_s"], "grade_s": stats["grade_s"], "step_s": step_s,
            **{k: float(v) for k, v in update.items() if k != "train_tokens"},
        }
        if self.world > 1:  # the mean over the ranks, in one collective
            metrics = {k: v / self.world for k, v in zip(metrics, all_reduce(list(metrics.values())))}
        return {k: round(v, 6) for k, v in metrics.items()}

    # ------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> Path:
        path = self.ckpt_dir / f"round_{self.state.round:02d}"
        low = self._anchor_shadows and any(m is not None for m in self._anchor_shadows)
        shadows = {"anchor_fp32": self._anchor_shadows} if low else None  # bf16 anchors: resume exactly
        return write_checkpoint(
            self.engine, path, asdict(self.state), self.tokenizer, {"reference": self.reference}, shadows)

    def resume(self, path: Path) -> None:
        self.state = RLState(**read_checkpoint(self.engine, path))
        dtype = next(self.reference.parameters()).dtype
        saved = type(self.reference).from_pretrained(Path(path) / "reference", dtype=dtype, use_safetensors=True)
        load_weights(self.reference, saved.state_dict())
        self._anchor_shadows, self._saved_shadows = None, read_rank_tensors(path, "anchor_fp32")


def _fitting(
    saved: list[torch.Tensor | None] | None, pairs: list[tuple[torch.Tensor, torch.Tensor]], rank: int,
) -> list[torch.Tensor | None] | None:
    """`saved` (a resumed checkpoint's anchor copies) on the anchor's devices when it matches the anchor's `pairs`
    (a copy for each tensor below float32, of its shape); else None, said on stderr, and the copies restart from
    the saved anchor (one rounding)."""
    if saved is None:
        return None
    if len(saved) != len(pairs) or any(
            (m is None) != (r.dtype == torch.float32) or (m is not None and m.shape != r.shape)
            for m, (r, _) in zip(saved, pairs)):
        print(f"rank {rank}: the checkpoint's anchor_fp32 copies do not match the anchor's parameters; restarting "
              "them from the saved anchor", file=sys.stderr)
        return None
    return [None if m is None else m.to(r.device) for m, (r, _) in zip(saved, pairs)]


def recompute_logprobs(model: Any, batch: dict[str, torch.Tensor], temperature: float, max_tokens: int) -> torch.Tensor:
    """Per-token log-probs [N, L-1] (on the CPU) of a padded batch's targets under `model` at `temperature`, over
    micro-batches of at most `max_tokens` tokens."""
    return logprobs_over(model, batch, temperature, padded_passes(chunk_rows(batch, max_tokens), 0))


@torch.no_grad()
def logprobs_over(
    model: Any, batch: dict[str, torch.Tensor], temperature: float, chunks: list[tuple[torch.Tensor, float]],
) -> torch.Tensor:
    """`recompute_logprobs` over given (rows, weight) passes (`RLTrainer._micro_batches`); a zero-weight pass is
    made (ZeRO-3 ranks pass together) and its result discarded."""
    out = torch.zeros(batch["targets"].shape)
    device = model_device(model)
    for rows, keep in chunks:
        mb = to_device(take_rows(batch, rows), device)
        logits = model(input_ids=mb["input_ids"], attention_mask=mb["attention_mask"]).logits
        if keep:
            out[rows, : mb["targets"].shape[1]] = obj.token_logprobs(logits[:, :-1], mb["targets"], temperature).float().cpu()
    return out


def oversampled(need: int, uniform_rate: float) -> int:
    """Prompts whose groups keep `need` non-uniform ones on average plus one standard deviation, when each group
    is uniform with probability `uniform_rate` (< 1): (need + sqrt(need * u / (1 - u))) / (1 - u), rounded up."""
    if need <= 0 or uniform_rate <= 0:
        return max(need, 0)
    keep = 1 - uniform_rate
    return math.ceil((need + math.sqrt(need * uniform_rate / keep)) / keep - 1e-9)


def padded_passes(chunks: list[torch.Tensor], passes: int) -> list[tuple[torch.Tensor, float]]:
    """(rows, weight) per forward pass: the chunks with weight 1, then the first chunk with weight 0 until
    there are `passes` (ZeRO-3 ranks must make equally many collective passes)."""
    return [(rows, 1.0) for rows in chunks] + [(chunks[0], 0.0)] * max(0, passes - len(chunks))
