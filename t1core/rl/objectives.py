"""The T1 objective as pure tensor functions (DESIGN.md §2). Shapes: B prompts, K samples, T tokens, V vocab.

    R_k  = score_k − β_KL · (d_k − mean_{j≠k} d_j)          shaped return, d_k = Σ_t log π_θ − log π_ref
    A_k  = R_k − mean_{j≠k} R_j                              RLOO advantage
    loss = −mean_tokens(A_k · log π_θ) − β_H · mean_tokens(H(π_θ(·|prefix)))
"""

import itertools
from collections.abc import Iterable

import torch


def leave_one_out_centre(x: torch.Tensor) -> torch.Tensor:
    """x [B, K] -> x_k − mean_{j≠k} x_j [B, K]; K ≥ 2."""
    k = x.shape[-1]
    return (k * x - x.sum(dim=-1, keepdim=True)) / (k - 1)


def rloo_advantages(returns: torch.Tensor) -> torch.Tensor:
    """[B, K] shaped returns -> [B, K] RLOO advantages."""
    return leave_one_out_centre(returns)


def centred_kl(seq_kl: torch.Tensor) -> torch.Tensor:
    """[B, K] per-response KL estimates d_k -> [B, K] group-centred d̃_k."""
    return leave_one_out_centre(seq_kl)


def combine_penalty(reward: torch.Tensor, penalty: torch.Tensor, mode: str) -> torch.Tensor:
    """reward [N] in {0, 1}, penalty [N] in {0, −1} -> score [N].

    replace: a penalised response scores the penalty (−1) whatever its reward;
    add: the penalty is added to the reward (a right but overlong answer scores 0).
    """
    if mode == "replace":
        return torch.where(penalty < 0, penalty, reward)
    if mode == "add":
        return reward + penalty
    raise ValueError(f"penalty mode must be 'replace' or 'add', got {mode!r}")


def shaped_returns(score: torch.Tensor, seq_kl: torch.Tensor, kl_coef: float) -> torch.Tensor:
    """score [B, K], seq_kl [B, K] -> R [B, K]; the KL term carries no gradient (it is part of the reward)."""
    return score - kl_coef * centred_kl(seq_kl.detach())


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """logits [N, T, V] predicting tokens [N, T] -> log-probs [N, T] at the given temperature."""
    logp = torch.log_softmax(logits.float() / temperature, dim=-1)
    return logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def token_entropy(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """logits [N, T, V] -> full-vocabulary entropy H = −Σ_v p log p per position [N, T]."""
    logp = torch.log_softmax(logits.float() / temperature, dim=-1)
    return -(logp.exp() * logp).sum(dim=-1)


def logprobs_and_entropy(logits: torch.Tensor, tokens: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """token_logprobs and token_entropy [N, T] from one log-softmax over logits [N, T, V]."""
    logp = torch.log_softmax(logits.float() / temperature, dim=-1)
    return logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1), -(logp.exp() * logp).sum(dim=-1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Token-mean of x [N, T] over mask [N, T] (every generated token of the batch weighs the same)."""
    return (x * mask).sum() / mask.sum().clamp_min(1)


def policy_loss(
    logp: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor, old_logp: torch.Tensor | None = None, clip: float = 0.2,
) -> torch.Tensor:
    """Token-mean policy-gradient loss. logp, mask [N, T]; adv [N].

    On-policy (old_logp None): −mean_t(A · log π_θ). Reused batches: the PPO-clipped
    importance ratio ρ = π_θ / π_old, −mean_t(min(ρA, clip(ρ, 1±ε)A)); at ρ = 1 both have the same gradient.
    """
    a = adv[:, None].to(logp.dtype)
    if old_logp is None:
        return -masked_mean(a * logp, mask)
    ratio = torch.exp(logp - old_logp)
    surrogate = torch.minimum(ratio * a, ratio.clamp(1 - clip, 1 + clip) * a)
    return -masked_mean(surrogate, mask)


@torch.no_grad()
def ema_update_(
    pairs: Iterable[tuple[torch.Tensor, torch.Tensor]], rate: float, shadows: list[torch.Tensor | None] | None = None,
) -> None:
    """In place, for each (θ_ref, θ) pair: θ_ref ← rate · θ_ref + (1 − rate) · θ (the dynamic anchor).

    `pairs`: zip(ref.parameters(), policy.parameters()), or t1core.models.engine.local_pairs (ZeRO-3 shards).
    `shadows`: per pair, None or a float32 tensor of θ_ref's shape that carries the average at full precision;
    θ_ref is then its rounding. A bf16 anchor updated in place drifts: 0.9 · θ_ref and the sum each round to
    bf16's spacing (1/128 of the value), far more than a policy step of lr 1e-6, so the anchor walks off from
    the average it should hold (`docs/rl.md`, the anchor in low precision)."""
    for (r, p), m in zip(pairs, shadows or itertools.repeat(None)):
        if m is None:
            r.mul_(rate).add_(p.detach().to(r.dtype), alpha=1 - rate)
        else:
            m.mul_(rate).add_(p.detach().to(m.dtype), alpha=1 - rate)
            r.copy_(m)
