"""One grading callable for the RL reward and every eval metric.

    grader = Grader(mode="strict", timeout_s=5)
    result = grader(response_text, gold_answer)   # -> GradeResult(correct, extracted, reason, method)

Equivalence goes cheapest first: normalised string match, exact rationals, then
math-verify (fractions vs decimals, intervals, sets, tuples, units, LaTeX variants)
in a worker process with a hard per-item time limit.
"""

from dataclasses import dataclass

from t1core.grading.extract import Extraction, Mode, extract_marked
from t1core.grading.normalize import as_fraction, is_word, normalize
from t1core.grading.worker import Budget, MathVerifyWorker

GRADER_VERSION = "2"  # 2: several different boxed answers earn no credit; one time budget per item
MAX_DISTINCT_BOXES = 3  # more different boxed answers than this is answer spamming: no credit, nothing parsed  # bump when a change can flip a verdict; goes into run manifests


@dataclass(frozen=True)
class GradeResult:
    correct: bool
    extracted: str | None  # the answer the grader read from the response
    reason: str  # match:exact | match:numeric | match:math_verify | mismatch | no_answer | conflicting_answers | answer_too_long | timeout | error:...
    method: str  # how the answer was found: boxed | hash | answer_is | last_expr | none

    @property
    def reward(self) -> float:
        return 1.0 if self.correct else 0.0


class Grader:
    def __init__(self, mode: Mode = "strict", timeout_s: float = 5.0, max_answer_chars: int = 1000):
        if mode not in ("strict", "lenient"):
            raise ValueError(f"grading mode must be 'strict' or 'lenient', got {mode!r}")
        self.mode = mode
        self.timeout_s = timeout_s
        self.max_answer_chars = max_answer_chars
        self._worker = MathVerifyWorker(timeout_s)

    @classmethod
    def from_config(cls, cfg: "object") -> "Grader":
        return cls(mode=cfg.mode, timeout_s=cfg.timeout_s, max_answer_chars=cfg.max_answer_chars)

    def __call__(self, response: str, gold: str) -> GradeResult:
        """Grade one response; every math-verify call for it shares one `timeout_s` budget."""
        budget = Budget(self.timeout_s)
        found = self.extract(response, budget)
        if found.answer is None:
            return GradeResult(False, None, "no_answer", found.method)
        if len(found.boxed) > MAX_DISTINCT_BOXES:
            return GradeResult(False, found.answer[:80], "conflicting_answers", found.method)
        if len(found.answer) > self.max_answer_chars:
            return GradeResult(False, found.answer[:80] + "…", "answer_too_long", found.method)
        correct, reason = self.equivalent(gold, found.answer, budget)
        if correct and not self._consistent(found, budget):
            return GradeResult(False, found.answer, "conflicting_answers", found.method)
        return GradeResult(correct, found.answer, reason, found.method)

    def _consistent(self, found: Extraction, budget: Budget) -> bool:
        """Do the response's other boxed answers all say the same as the last one (`15\\frac{39}{40}` or `\\frac{639}{40}`)?"""
        return all(self.equivalent(found.answer, other.strip(), budget)[0] for other in found.boxed)

    def extract(self, response: str, budget: Budget | None = None) -> Extraction:
        found = extract_marked(response)
        if found.answer is not None or self.mode == "strict":
            return found
        status, value = self._worker.request("last_expr", response, budget=budget)
        return Extraction(value if status == "ok" else None, "last_expr" if status == "ok" and value else "none")

    def equivalent(self, gold: str, pred: str, budget: Budget | None = None) -> tuple[bool, str]:
        """(is `pred` the same answer as `gold`, reason); math-verify gets what `budget` has left (else timeout_s)."""
        g, p = normalize(gold), normalize(pred)
        if g and (g == p or (is_word(g) and g.lower() == p.lower())):
            return True, "match:exact"
        if is_word(g) or is_word(p):
            return False, "mismatch"
        gf, pf = as_fraction(g), as_fraction(p)
        if gf is not None and pf is not None:
            return (gf == pf), ("match:numeric" if gf == pf else "mismatch")
        if len(g) > self.max_answer_chars or len(p) > self.max_answer_chars:
            return False, "answer_too_long"
        status, value = self._worker.request("verify", gold, pred, budget=budget)
        if status == "ok":
            return bool(value), ("match:math_verify" if value else "mismatch")
        return False, "timeout" if status == "timeout" else f"error:{value}"

    def is_checkable(self, gold: str) -> bool:
        """Can this gold answer be compared at all (a number, or something math-verify parses)?"""
        g = normalize(gold)
        if not g or len(g) > self.max_answer_chars:
            return False
        if as_fraction(g) is not None or is_word(g):
            return True
        status, value = self._worker.request("parses", gold)
        return status == "ok" and bool(value)

    def close(self) -> None:
        self._worker.close()

    def __enter__(self) -> "Grader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
