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


def synthesize_reference(problems: Iterable[Problem], grader: Grader) -> tuple[list[Trace], Counter]:
    """One trace per problem from its own worked solution (`reference.py`); problems without one are counted."""
    traces, stats = [], Counter()
    for p in tqdm(problems, desc="synthesize (reference)", unit="problem", mininterval=2):
        response = reference_response(p)
        if response is None:
            stats["no_solution"] += 1
            continue
        trace = Trace(id=f"{p.id}#0", problem_id=p.id, problem=p.problem, answer=p.answer or "", response=response,
                      producer="reference", n_attempts=1, has_slip=False, subject=p.subject, level=p.level)
        try:
            validate(trace, grader)
        except TraceError as e:  # a solution whose own box disagrees with the gold answer, or a false check line
            stats["invalid_trace"] += 1
            tqdm.write(f"t1 synthesize: dropped {e}")
            continue
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
            trace = Trace(
                id=f"{p.id}#{k}", problem_id=p.id, problem=p.problem, answer=p.answer or "", response=built.response,
                producer="programmatic", n_attempts=built.n_attempts, has_slip=built.has_slip,
                subject=p.subject, level=p.level,
            )
            validate(trace, grader)
            traces.append(trace)
            stats["traces"] += 1
            stats["with_slip"] += built.has_slip
    return traces, stats
