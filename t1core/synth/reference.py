"""The reference producer: a dataset's own worked solution as the SFT trace (GSM8K, MATH).

The cheapest real-data trace when no teacher model is good enough (SmolLM2-135M as a
teacher solves almost no GSM8K problem): GSM8K's calculator annotations `<<48/2=24>>`
and its `#### 72` line are removed, and every trace ends by marking the gold answer once
(`So the answer is \\boxed{72}.`); a MATH solution that already boxes its answer keeps
its own box. One attempt, no slip: these traces teach the format and the domain, not
trial and error.
"""

import re

from t1core.data.records import Problem
from t1core.grading.extract import boxed_contents
from t1core.synth import prompts

_CALC_RE = re.compile(r"<<[^<>]*>>")
_HASH_RE = re.compile(r"^\s*####.*$", re.MULTILINE)


def reference_response(problem: Problem) -> str | None:
    """The trace text for a problem with a worked solution; None when it has none."""
    if not problem.solution or not problem.solution.strip():
        return None
    text = _HASH_RE.sub("", _CALC_RE.sub("", problem.solution)).strip()
    if boxed_contents(text):
        return text
    return f"{text}\n{prompts.ANSWER.format(answer=problem.answer)}"
