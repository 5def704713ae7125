"""Sample-level metrics: pass@1, unbiased pass@k and maj@k (pure functions)."""

from collections import Counter
from math import comb

from t1core.grading.normalize import normalize


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct: 1 - C(n-c, k) / C(n, k) (Chen et al., 2021)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    return 1.0 - comb(n - c, k) / comb(n, k)


def majority_vote(answers: list[str | None], correct: list[bool], k: int) -> bool:
    """maj@k of one problem: the most frequent answer among the first k samples (normalised; ties go to
    the answer seen first; samples without an answer do not vote) is right or wrong."""
    votes: Counter[str] = Counter()
    verdict: dict[str, bool] = {}
    for answer, ok in zip(answers[:k], correct[:k]):
        if answer is None:
            continue
        key = normalize(answer)
        votes[key] += 1
        verdict.setdefault(key, ok)
    if not votes:
        return False
    top = max(votes.values())
    winner = next(key for key in verdict if votes[key] == top)  # dicts keep first-seen order
    return verdict[winner]


def ks_for(n: int) -> list[int]:
    """The k values reported for n samples: 1, 2, 4, ... up to n (and n itself)."""
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    return [*ks, n]


def sample_metrics(per_item: list[tuple[list[str | None], list[bool]]]) -> dict[str, float]:
    """Mean over problems of pass@k and maj@k for k in ks_for(n); every problem has the same n samples."""
    if not per_item:
        return {}
    n = len(per_item[0][1])
    out: dict[str, float] = {}
    for k in ks_for(n):
        out[f"pass@{k}"] = sum(pass_at_k(n, sum(c), k) for _, c in per_item) / len(per_item)
        if k > 1:
            out[f"maj@{k}"] = sum(majority_vote(a, c, k) for a, c in per_item) / len(per_item)
    return out
