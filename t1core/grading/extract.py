"""Final-answer extraction: pure string functions, no sympy.

Strict mode accepts only a *marked* answer, in this priority:
the last ``\\boxed{}``/``\\fbox{}`` (nested braces allowed), GSM8K's ``#### N``,
then the last "the answer is ...". Lenient mode (audits, bare-expression data)
falls back to the text's last math expression, found by math-verify in the
grader's worker process (see ``worker.py``).
"""

import re
from dataclasses import dataclass
from typing import Literal

from t1core.grading.normalize import normalize

Mode = Literal["strict", "lenient"]

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*(\{)?")
_BARE_RE = re.compile(r"[^\s$]+")
_HASH_RE = re.compile(r"####\s*([^\n]+?)\s*$", re.MULTILINE)
_ANSWER_IS_RE = re.compile(
    r"(?:final\s+)?answer\s+is\s*[:=]?\s*(.+?)(?=(?:\.\s|\.$|\n|$))", re.IGNORECASE
)


@dataclass(frozen=True)
class Extraction:
    answer: str | None  # the extracted answer text, None if nothing marked
    method: str  # boxed | hash | answer_is | none (lenient 'last_expr' is decided by the worker)
    n_boxed: int = 0  # how many boxed answers the text holds
    boxed: tuple[str, ...] = ()  # the different ones (after normalisation), in order; the grader checks they agree


def boxed_contents(text: str) -> list[str]:
    """Contents of every closed ``\\boxed{...}`` / ``\\fbox{...}`` (and ``\\boxed 5``), in order.

    One linear pass pairs every brace with its closer, so the cost stays linear however
    many boxes the text opens and never closes; an unclosed box is skipped.
    """
    found, closer = [], None
    for m in _BOX_RE.finditer(text):
        if m.group(1) is None:  # "\boxed 5" form: up to whitespace or '$'
            bare = _BARE_RE.match(text, m.end())
            if bare:
                found.append(bare.group(0))
            continue
        closer = _closing_braces(text) if closer is None else closer
        end = closer.get(m.end() - 1)
        if end is not None:
            found.append(text[m.end():end])
    return found


def _closing_braces(text: str) -> dict[int, int]:
    """{index of '{': index of the '}' that closes it}; escaped braces (\\{ \\}) do not count."""
    pairs, stack, i, n = {}, [], 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "{}":
            i += 2
            continue
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            pairs[stack.pop()] = i
        i += 1
    return pairs


def extract_marked(text: str) -> Extraction:
    """The strict extractor: boxed > #### > 'the answer is'."""
    boxes = boxed_contents(text)
    if boxes:
        distinct = {normalize(b): b for b in boxes}  # one spelling of each different answer
        return Extraction(boxes[-1].strip(), "boxed", len(boxes), tuple(distinct.values()))
    hashes = _HASH_RE.findall(text)
    if hashes:
        return Extraction(hashes[-1].strip(), "hash")
    said = _ANSWER_IS_RE.findall(text)
    if said:
        return Extraction(_strip_math_delims(said[-1]), "answer_is")
    return Extraction(None, "none")


def count_answer_marks(text: str) -> int:
    """How many answers the text marks: boxed ones, `#### N` lines and "the answer is ..." phrases
    (a phrase that holds a box, "the answer is \\boxed{5}", is one mark)."""
    phrases = [p for p in _ANSWER_IS_RE.findall(text) if not _BOX_RE.search(p)]
    return len(boxed_contents(text)) + len(_HASH_RE.findall(text)) + len(phrases)


def _strip_math_delims(s: str) -> str:
    s = s.strip().rstrip(".").strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
            return s[len(left): len(s) - len(right)].strip()
    return s
