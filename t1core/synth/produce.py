"""Run a producer over the SFT pool and validate every trace it emits.

A trace is kept only if its final answer grades correct with `t1core.grading` and
every Check/Verify line is arithmetically true; a producer bug is an error, not a
silent drop. Problems no producer covers are counted (`no_producer`).
"""

import random
from collections import Counter
from collections.abc import Iterable

from tqdm import tqdm

from t1core.data.records import Problem
from t1core.grading import Grader
from t1core.synth.checks import check_line_is_true, check_lines
from t1core.synth.programmatic import BUILDERS
from t1core.synth.reference import reference_response
from t1core.synth.schema import Trace


class TraceError(ValueError):
    pass


def validate(trace: Trace, grader: Grader) -> None:
    result = grader(trace.response, trace.answer)
    if not result.correct:
        raise TraceError(f"{trace.id}: final answer {result.extracted!r} does not grade correct ({result.reason})")
    for line in check_lines(trace.response):
        if not check_line_is_true(line):
            raise TraceError(f"{trace.id}: false check line {line!r}")


def make_trace(p: Problem, k: int, response: str, producer: str, n_attempts: int = 1, has_slip: bool = False) -> Trace:
    """Trace number `k` of problem `p`; every producer builds its records here."""
    return Trace(id=f"{p.id}#{k}", problem_id=p.id, problem=p.problem, answer=p.answer or "", response=response,
                 producer=producer, n_attempts=n_attempts, has_slip=has_slip, subject=p.subject, level=p.level)


def keep_if_valid(trace: Trace, grader: Grader, stats: Counter) -> bool:
    """For producers whose text comes from data or a model: a trace that fails `validate` is dropped, counted
    (`invalid_trace`) and named on stderr, never silently."""
    try:
        validate(trace, grader)
    except TraceError as e:
        stats["invalid_trace"] += 1
        tqdm.write(f"t1 synthesize: dropped {e}")
        return False
    return True


def synthesize_reference(problems: Iterable[Problem], grader: Grader) -> tuple[list[Trace], Counter]:
    """One trace per problem from its own worked solution (`reference.py`); problems without one are counted."""
    traces, stats = [], Counter()
    for p in tqdm(problems, desc="synthesize (reference)", unit="problem", mininterval=2):
        response = reference_response(p)
        if response is None:
            stats["no_solution"] += 1
            continue
        trace = make_trace(p, 0, response, "reference")
        if keep_if_valid(trace, grader, stats):  # e.g. a solution whose own box disagrees with the gold answer
            traces.append(trace)
            stats["traces"] += 1
    return traces, stats


def synthesize(problems: Iterable[Problem], slip_rate: float, per_problem: int, seed: int, grader: Grader) -> tuple[list[Trace], Counter]:
    traces, stats = [], Counter()
    for p in tqdm(problems, desc="synthesize", unit="problem", mininterval=2):
        builder = BUILDERS.get(p.subject or "") if p.source == "procedural" else None
        if builder is None:
            stats["no_producer"] += 1
            continue
        for k in range(per_problem):
            rng = random.Random(f"{seed}|{p.id}|{k}")
            built = builder(p, rng, rng.random() < slip_rate)
            trace = make_trace(p, k, built.response, "programmatic", built.n_attempts, built.has_slip)
            validate(trace, grader)  # a programmatic trace that fails is a producer bug: stop
            traces.append(trace)
            stats["traces"] += 1
            stats["with_slip"] += built.has_slip
    return traces, stats
