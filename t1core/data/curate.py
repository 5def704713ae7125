"""Curation: load every source, filter with a named reason per drop, deduplicate,
decontaminate against the eval sets, and split into SFT / RL / held-out pools.

Nothing is dropped silently: every row is either kept in exactly one split, or
counted under a drop reason for its source, or (bad input, with quarantine on)
written to the quarantine with its file, line and field.
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from tqdm import tqdm

from t1core.config import DataConfig, SourceSpec
from t1core.data import filters
from t1core.data.jsonl import Quarantine, read_jsonl
from t1core.data.loaders import LOADERS
from t1core.data.procedural import generate
from t1core.data.records import Problem
from t1core.grading import Grader

SPLITS = ("sft", "rl", "heldout")


@dataclass
class SourceStats:
    loaded: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        lost = self.dropped["no_answer"] + self.dropped["uncheckable_answer"]
        return {
            "loaded": self.loaded, "kept": self.kept, "dropped": dict(sorted(self.dropped.items())),
            "gold_recovered_fraction": round(1 - lost / self.loaded, 6) if self.loaded else 0.0,
        }


@dataclass
class CurateResult:
    splits: dict[str, list[Problem]]
    stats: dict[str, SourceStats]
    quarantine: Quarantine
    n_eval_texts: int
    procedural_shortfall: dict[str, int]  # items the generator could not make: the item space is too small

    def metrics(self) -> dict:
        return {
            "sources": {name: s.as_dict() for name, s in self.stats.items()},
            "splits": {name: len(rows) for name, rows in self.splits.items()},
            "quarantined": len(self.quarantine),
            "eval_texts": self.n_eval_texts,
            "procedural_shortfall": self.procedural_shortfall,
        }


def curate(cfg: DataConfig, grader: Grader, seed: int) -> CurateResult:
    quarantine = Quarantine()
    decon = filters.Decontaminator(_eval_texts(cfg.eval_sets, quarantine, cfg.quarantine), cfg.filters.decontam_ngram)
    dedup = filters.NearDuplicateIndex(cfg.filters.near_dup_ngram, cfg.filters.near_dup_jaccard)
    splits: dict[str, list[Problem]] = {name: [] for name in SPLITS}
    stats: dict[str, SourceStats] = {}
    ids: set[str] = set()
    shortfall: dict[str, int] = {}
    for spec in cfg.sources:
        st = stats.setdefault(spec.name, SourceStats())
        for split_hint, problem in tqdm(_load(spec, cfg, seed, quarantine, shortfall), desc=f"curate {spec.name}", unit="item", mininterval=2):
            st.loaded += 1
            reason = _drop_reason(problem, cfg, grader, decon) or _duplicate(problem, ids, dedup)
            if reason:
                st.dropped[reason] += 1
                continue
            st.kept += 1
            splits[split_hint or filters.split_of(problem, cfg.split.heldout_fraction, cfg.split.sft_fraction)].append(problem)
    return CurateResult(splits, stats, quarantine, decon.n_texts, shortfall)


def _load(
    spec: SourceSpec, cfg: DataConfig, seed: int, quarantine: Quarantine, shortfall: dict[str, int]
) -> Iterator[tuple[str | None, Problem]]:
    """(split hint, problem): procedural items come pre-partitioned; file rows are split by hash."""
    if spec.kind == "procedural":
        yield from _procedural(cfg, seed, shortfall)
        return
    loader = LOADERS[spec.kind]
    rows = read_jsonl(spec.path, lambda row, line: loader(row, line, spec.name), quarantine if cfg.quarantine else None)
    for i, problem in enumerate(rows):
        if spec.limit is not None and i >= spec.limit:
            break
        yield None, problem


def _procedural(cfg: DataConfig, seed: int, shortfall: dict[str, int]) -> Iterator[tuple[str | None, Problem]]:
    """Pre-partitioned items; a (family, level, split) whose item space ran out is recorded in `shortfall`."""
    pc = cfg.procedural
    seen: set[str] = set()
    for family in pc.families:
        for level in pc.levels:
            for heldout, want in ((True, pc.heldout_items_per_family_level), (False, pc.items_per_family_level)):
                made = 0
                for p in generate(family, level, want, heldout, seed, seen):
                    made += 1
                    yield ("heldout" if heldout else filters.split_of(p, 0.0, cfg.split.sft_fraction)), p
                if made < want:
                    shortfall[f"{family}_L{level}_{'heldout' if heldout else 'train'}"] = want - made


def _drop_reason(p: Problem, cfg: DataConfig, grader: Grader, decon: filters.Decontaminator) -> str | None:
    f = cfg.filters
    if p.answer is None or not p.answer.strip():
        return "no_answer"
    if not grader.is_checkable(p.answer):
        return "uncheckable_answer"
    if len(p.answer) > f.max_answer_chars:
        return "answer_too_long"
    if len(p.problem) > f.max_problem_chars:
        return "problem_too_long"
    if f.drop_proofs and filters.is_proof(p):
        return "proof"
    if f.drop_multi_answer and filters.is_multi_answer(p):
        return "multi_answer"
    if decon.contaminated(p.problem):
        return "contaminated"
    return None


def _duplicate(p: Problem, ids: set[str], dedup: filters.NearDuplicateIndex) -> str | None:
    if p.id in ids:
        return "duplicate_id"
    reason = dedup.add_if_new(p.problem)
    if reason is None:
        ids.add(p.id)
    return reason


def _eval_texts(specs: Iterable[SourceSpec], quarantine: Quarantine, use_quarantine: bool) -> Iterator[str]:
    for spec in specs:
        loader = LOADERS[spec.kind]
        for p in read_jsonl(spec.path, lambda row, line, s=spec: loader(row, line, s.name), quarantine if use_quarantine else None):
            yield p.problem
