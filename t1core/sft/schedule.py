"""Learning-rate schedule: linear warmup then cosine decay to min_ratio (a pure function)."""

import math
from collections.abc import Callable


def warmup_cosine(step: int, total: int, warmup: int, min_ratio: float, time_share: float = 0.0) -> float:
    """Multiplier of the peak lr at optimizer step `step` (0-based).

    `time_share`: the share of a wall-clock cap used so far; the cosine's progress is the larger of it
    and the step share, so a run the cap stops still ends at `min_ratio` (0 = by steps only)."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, max((step - warmup) / max(1, total - warmup), time_share))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def lr_multiplier(total: int, warmup: int, min_ratio: float, time_share: Callable[[], float] = lambda: 0.0) -> Callable[[int], float]:
    """`warmup_cosine` as a LambdaLR function; `time_share()` is read at every step (the trainer's share of its cap)."""
    return lambda step: warmup_cosine(step, total, warmup, min_ratio, time_share())
