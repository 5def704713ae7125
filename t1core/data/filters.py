"""Curation filters: pure functions over `Problem`s. Each drop has a named reason."""

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from t1core.data.records import Problem

_PROOF_RE = re.compile(r"\b(prove|show that|demonstrate that|justify your answer)\b", re.IGNORECASE)
_LIST_PROMPT_RE = re.compile(r"(separated by commas|enter all|list all|find all)", re.IGNORECASE)
_ALTERNATIVE_RE = re.compile(r"(\\text\{\s*(or|and)\s*\}|\bor\b|\band\b|;)")
_THOUSANDS_RE = re.compile(r"\d,\d{3}(?!\d)")
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")  # words and symbols: '682+967' != '682-967'
_WORD_RE = re.compile(r"\w+")  # words only: decontamination ignores LaTeX punctuation


def is_proof(p: Problem) -> bool:
    return bool(_PROOF_RE.search(p.problem))


def is_multi_answer(p: Problem) -> bool:
    """Several alternative answers ('2 or 3', '1, 5' for 'enter all solutions'); tuples/sets/intervals stay."""
    ans = p.answer or ""
    if _ALTERNATIVE_RE.search(ans):
        return True
    return bool(_LIST_PROMPT_RE.search(p.problem)) and has_top_level_comma(ans)


def has_top_level_comma(ans: str) -> bool:
    ans = _THOUSANDS_RE.sub("0", ans)
    depth = 0
    for c in ans:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            return True
    return False


def tokens(text: str, words_only: bool = False) -> list[str]:
    return (_WORD_RE if words_only else _TOKEN_RE).findall(text.lower())


def ngrams(text: str, n: int, words_only: bool = False) -> set[tuple[str, ...]]:
    """Token n-grams; a text shorter than n is one 'n-gram' of all its tokens."""
    toks = tokens(text, words_only)
    if len(toks) < n:
        return {tuple(toks)} if toks else set()
    return {tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)}


def text_key(text: str) -> str:
    return hashlib.sha1(" ".join(tokens(text)).encode()).hexdigest()


class NearDuplicateIndex:
    """Jaccard similarity of word n-gram sets, via an inverted index.

    Shingles seen in more than `max_postings` items are too common to nominate
    candidates (they would make the scan quadratic); they still count in the score.
    """

    def __init__(self, n: int, threshold: float, max_postings: int = 500):
        self.n, self.threshold, self.max_postings = n, threshold, max_postings
        self._postings: dict[tuple[str, ...], list[int]] = defaultdict(list)
        self._sizes: list[int] = []
        self._exact: set[str] = set()

    def add_if_new(self, text: str) -> str | None:
        """None if the text was added; else 'exact_duplicate' or 'near_duplicate'."""
        key = text_key(text)
        if key in self._exact:
            return "exact_duplicate"
        grams = ngrams(text, self.n)
        if self._has_near(grams):
            return "near_duplicate"
        self._exact.add(key)
        idx = len(self._sizes)
        self._sizes.append(len(grams))
        for g in grams:
            self._postings[g].append(idx)
        return None

    def _has_near(self, grams: set[tuple[str, ...]]) -> bool:
        shared: Counter[int] = Counter()
        for g in grams:
            post = self._postings.get(g)
            if post and len(post) <= self.max_postings:
                shared.update(post)
        size = len(grams)
        return any(k / (size + self._sizes[i] - k) >= self.threshold for i, k in shared.items())


class Decontaminator:
    """Flags any item sharing a word n-gram (LaTeX symbols ignored) with a configured eval set."""

    def __init__(self, eval_texts: Iterable[str], n: int):
        self.n = n
        self._grams: set[tuple[str, ...]] = set()
        self.n_texts = 0
        for text in eval_texts:
            self._grams |= ngrams(text, n, words_only=True)
            self.n_texts += 1

    def contaminated(self, text: str) -> bool:
        return not self._grams.isdisjoint(ngrams(text, self.n, words_only=True))


def split_of(p: Problem, heldout_fraction: float, sft_fraction: float) -> str:
    """'heldout' | 'sft' | 'rl', a pure function of the problem text (stable across runs and seeds)."""
    if _unit_hash("heldout", p.problem) < heldout_fraction:
        return "heldout"
    return "sft" if _unit_hash("pool", p.problem) < sft_fraction else "rl"


def _unit_hash(salt: str, text: str) -> float:
    digest = hashlib.sha256(f"t1-{salt}|{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
