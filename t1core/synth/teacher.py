"""The teacher-LLM producer: the paper's SFT data synthesis with real models (DESIGN.md §2).

For each problem:
1. attempts: `attempts` samples from every teacher model (they do not see the gold answer);
   each is graded by `t1core.grading`;
2. critique: the first teacher locates the error of a wrong attempt and verifies a right one
   (both prompts carry the gold answer);
3. merge: wrong attempt -> "Wait, ..." + critique -> right attempt -> \\boxed{answer} -> self-check;
   answers marked inside the wrong attempt, the critique or the check are unmarked, so the trace
   marks exactly one answer;
4. rewrite: the first teacher turns the merged trace into one natural train of thought.

A trace is kept only if its final answer grades correct and its check lines are true (the
same `validate` as the programmatic producer; a failing one is counted as `invalid_trace`). Problems without a right attempt are counted as `no_correct_attempt`;
a rewrite that no longer grades correct, or marks extra answers, is not used and the merged
trace is kept instead (counted as `rewrite_rejected`). Every prompt lives in `prompts.py`.
"""

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from tqdm import tqdm

from t1core.config import ConfigError, ModelConfig, TeacherConfig
from t1core.data.records import Problem
from t1core.grading import Grader
from t1core.grading.extract import boxed_contents, count_answer_marks
from t1core.models.chat import prompt_ids
from t1core.models.factory import load_pretrained
from t1core.rollout import make_rollout_engine
from t1core.synth import prompts
from t1core.synth.produce import keep_if_valid, make_trace
from t1core.synth.schema import Trace


@dataclass(frozen=True)
class Attempt:
    text: str
    correct: bool


def unmark(text: str) -> str:
    """The text with every answer mark removed: \\boxed{x} -> x, '#### x' -> x, 'the answer is' -> 'I get'."""
    for content in boxed_contents(text):
        text = text.replace(f"\\boxed{{{content}}}", content)
    text = text.replace("\\boxed", "").replace("####", "")
    for phrase in ("The answer is", "the answer is", "The final answer is", "the final answer is"):
        text = text.replace(phrase, "I get")
    return text.strip()


def merge(right: Attempt, answer: str, verification: str, wrong: Attempt | None = None, critique: str = "") -> str:
    """One trial-and-error trace ending in a self-check; only the final answer is marked."""
    parts = []
    if wrong is not None:
        parts += [unmark(wrong.text), prompts.REFLECTION.format(critique=unmark(critique))]
    parts += [unmark(right.text), prompts.ANSWER.format(answer=answer), prompts.SELF_CHECK.format(verification=unmark(verification))]
    return "\n\n".join(parts)


class TeacherProducer:
    def __init__(self, cfg: TeacherConfig, model_cfg: ModelConfig, grader: Grader, slip_rate: float, seed: int):
        self.cfg, self.model_cfg, self.grader, self.slip_rate, self.seed = cfg, model_cfg, grader, slip_rate, seed
        self.stats: Counter = Counter()

    def run(self, problems: Sequence[Problem]) -> tuple[list[Trace], Counter]:
        problems = list(problems)[: self.cfg.limit]
        configs = [self._model_config(i, path) for i, path in enumerate(self.cfg.models)]  # every path checked before any load
        attempts: dict[str, list[Attempt]] = {p.id: [] for p in problems}
        critic = None
        for i, cfg in enumerate(configs):
            teacher = self._load(cfg)
            for p, texts in zip(problems, self._attempts(teacher, problems, i)):
                attempts[p.id] += [self._grade(t, p) for t in texts]
            critic = teacher if i == 0 else critic
        traces = []
        for chunk in tqdm(self._chunks(problems), desc="teacher: critique, merge, rewrite", unit="batch"):
            traces += self._traces(critic, chunk, attempts)
        self.stats["traces"] = len(traces)
        return traces, self.stats

    # ------------------------------------------------------------ generation
    def _model_config(self, i: int, path: str) -> ModelConfig:
        try:
            return ModelConfig(kind="hf", path=path, dtype=self.model_cfg.dtype, trust_remote_code=self.model_cfg.trust_remote_code)
        except ValidationError as e:
            raise ConfigError(f"synth.teacher.models.{i}: {e.errors()[0]['msg']}") from None

    def _load(self, cfg: ModelConfig) -> tuple[Any, Any, Any]:
        model, tokenizer = load_pretrained(cfg.path, cfg)
        model.eval()
        return model, tokenizer, make_rollout_engine(self.cfg.engine, tokenizer)

    def _generate(self, teacher: tuple[Any, Any, Any], texts: list[str], max_new: int, temperature: float, seed: int) -> list[str]:
        model, tokenizer, engine = teacher
        out = engine.generate(model, [prompt_ids(tokenizer, t) for t in texts], max_new, temperature, seed=seed)
        return [tokenizer.decode(toks, skip_special_tokens=True).strip() for toks in out.tokens]

    def _attempts(self, teacher: tuple[Any, Any, Any], problems: list[Problem], model_index: int) -> list[list[str]]:
        k, out = self.cfg.attempts, []
        for n, chunk in enumerate(tqdm(self._chunks(problems), desc=f"teacher {model_index}: attempts", unit="batch")):
            texts = [prompts.ATTEMPT.format(problem=p.problem) for p in chunk for _ in range(k)]
            flat = self._generate(teacher, texts, self.cfg.max_new_tokens, self.cfg.temperature, seed=self.seed + 1000 * model_index + n)
            out += [flat[j * k:(j + 1) * k] for j in range(len(chunk))]
        return out

    def _grade(self, text: str, problem: Problem) -> Attempt:
        result = self.grader(text, problem.answer or "")
        self.stats["attempts"] += 1
        self.stats["attempts_correct"] += result.correct
        return Attempt(text, result.correct)

    def _chunks(self, problems: list[Problem]) -> list[list[Problem]]:
        b = self.cfg.batch_problems
        return [problems[i:i + b] for i in range(0, len(problems), b)]

    # ------------------------------------------------------------ critique, merge, rewrite
    def _traces(self, critic: tuple[Any, Any, Any], chunk: list[Problem], attempts: dict[str, list[Attempt]]) -> list[Trace]:
        plans = []
        for p in chunk:
            right = next((a for a in attempts[p.id] if a.correct), None)
            if right is None:
                self.stats["no_correct_attempt"] += 1
                continue
            wrong = next((a for a in attempts[p.id] if not a.correct), None)
            use_wrong = wrong is not None and random.Random(f"{self.seed}|{p.id}").random() < self.slip_rate
            plans.append((p, right, wrong if use_wrong else None))
        if not plans:
            return []
        asks = [prompts.VERIFY.format(problem=p.problem, attempt=unmark(r.text), answer=p.answer) for p, r, _ in plans]
        asks += [prompts.CRITIQUE.format(problem=p.problem, attempt=unmark(w.text), answer=p.answer) for p, _, w in plans if w]
        said = iter(self._generate(critic, asks, self.cfg.critique_tokens, 0.0, seed=self.seed))
        verifications = [next(said) for _ in plans]
        merged = [merge(r, p.answer or "", v, w, next(said) if w else "") for (p, r, w), v in zip(plans, verifications)]
        final = self._rewrite(critic, plans, merged) if self.cfg.rewrite else merged
        traces = [make_trace(p, 0, text, "teacher", 2 if w else 1, w is not None) for (p, _, w), text in zip(plans, final)]
        kept = [t for t in traces if keep_if_valid(t, self.grader, self.stats)]
        self.stats["with_slip"] += sum(t.has_slip for t in kept)
        return kept

    def _rewrite(self, critic: tuple[Any, Any, Any], plans: list, merged: list[str]) -> list[str]:
        asks = [prompts.REWRITE.format(answer=p.answer, trace=m) for (p, _, _), m in zip(plans, merged)]
        rewritten = self._generate(critic, asks, self.cfg.max_new_tokens, 0.0, seed=self.seed)
        out = []
        for (p, _, _), m, r in zip(plans, merged, rewritten):
            usable = count_answer_marks(r) <= 1 and self.grader(r, p.answer or "").correct
            self.stats["rewrite_used" if usable else "rewrite_rejected"] += 1
            out.append(r if usable else m)
        return out
