"""The −1 penalties: overlong, repetitive and garbage responses (DESIGN.md §2), plus two reward-hacking
guards (issue #9): answer spamming and padding. Each has its own switch; RL rewards and every eval's
penalty rates use these same detectors.

Calibration: the token 12-gram repetition fraction of valid SFT traces has median 0.0,
99th percentile 0.16, maximum 0.25 (7,559 traces, five families, one-shot format) and
median 0.04, maximum 0.125 (the 1,394 stepwise root/factor traces of `make run`), so
the default threshold 0.5 stays silent on every valid trace while a looping response
(a period of p tokens repeated over T tokens scores about 1 − p/T) is caught.

Spam: every SFT trace marks exactly one answer; more than `max_answer_marks` marks (boxed,
`####`, "the answer is") is a shotgun over candidates. The grader already gives no credit
to several *different* boxed answers; this penalty also catches repeats and mixed marks.
Padding: the longest run of one character in SFT traces is 4, in MATH500 solutions 8; a run
of `padding_run` (40) is filler, e.g. spaces or zeros written to reach the length limit.
"""

import re

from dataclasses import dataclass

from t1core.config import RLConfig
from t1core.grading.extract import count_answer_marks
from t1core.models.chat import SPECIAL_TOKENS

PENALTY = -1.0
_RUN_RE = re.compile(r"(.)\1*", re.DOTALL)
KINDS = ("overlong", "repetitive", "garbage", "spam", "padding")


@dataclass(frozen=True)
class PenaltyFlags:
    overlong: bool
    repetitive: bool
    garbage: bool
    spam: bool = False
    padding: bool = False

    def value(self, cfg: RLConfig) -> float:
        """−1 when any enabled penalty fires, else 0."""
        fired = (
            (cfg.penalty_overlong and self.overlong)
            or (cfg.penalty_repetition and self.repetitive)
            or (cfg.penalty_garbage and self.garbage)
            or (cfg.penalty_spam and self.spam)
            or (cfg.penalty_padding and self.padding)
        )
        return PENALTY if fired else 0.0


def repetition_fraction(tokens: list[int], n: int) -> float:
    """1 − distinct/total over the token n-grams of a response; 0 when it has fewer than n tokens."""
    total = len(tokens) - n + 1
    if total <= 0:
        return 0.0
    return 1.0 - len({tuple(tokens[i:i + n]) for i in range(total)}) / total


def is_garbage(text: str) -> bool:
    """Undecodable bytes, leaked chat markers, control characters, or nothing at all."""
    if not text.strip() or "\ufffd" in text:
        return True
    if any(marker in text for marker in SPECIAL_TOKENS):
        return True
    return any(ord(c) < 32 and c not in "\n\t" for c in text)


def longest_run(text: str) -> int:
    """Length of the longest run of one repeated character (0 for empty text)."""
    return max((len(m.group(0)) for m in _RUN_RE.finditer(text)), default=0)


def flags(tokens: list[int], text: str, finished: bool, cfg: RLConfig) -> PenaltyFlags:
    """Which penalties a response triggers (switches are applied later, in PenaltyFlags.value)."""
    return PenaltyFlags(
        overlong=not finished,
        repetitive=repetition_fraction(tokens, cfg.repetition_ngram) > cfg.repetition_threshold,
        garbage=is_garbage(text),
        spam=count_answer_marks(text) > cfg.max_answer_marks,
        padding=longest_run(text) >= cfg.padding_run,
    )
