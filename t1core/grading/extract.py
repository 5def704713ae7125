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

Mode = Literal["strict", "lenient"]

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*(\{)?")
_HASH_RE = re.compile(r"####\s*([^\n]+?)\s*$", re.MULTILINE)
_ANSWER_IS_RE = re.compile(
    r"(?:final\s+)?answer\s+is\s*[:=]?\s*(.+?)(?=(?:\.\s|\.$|\n|$))", re.IGNORECASE
)


@dataclass(frozen=True)
class Extraction:
    answer: str | None  # the extracted answer text, None if nothing marked
    method: str  # boxed | hash | answer_is | none (lenient 'last_expr' is decided by the worker)
    n_boxed: int = 0  # how many boxed answers the text holds (reward-hacking audits)


def boxed_contents(text: str) -> list[str]:
    """Contents of every closed ``\\boxed{...}`` / ``\\fbox{...}`` (and ``\\boxed 5``), in order.

    Brace matching is a single linear scan per box; an unclosed box is skipped.
    """
    found = []
    for m in _BOX_RE.finditer(text):
        if m.group(1) is None:  # "\boxed 5" form: up to whitespace or '$'
            bare = re.match(r"[^\s$]+", text[m.end():])
            if bare:
                found.append(bare.group(0))
            continue
        body = _balanced(text, m.end())
        if body is not None:
            found.append(body)
    return found


def _balanced(text: str, start: int) -> str | None:
    """Text from `start` up to the brace that closes the one opened just before it."""
    depth = 1
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "{}":
            i += 2  # escaped brace \{ \} does not count
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
        i += 1
    return None


def extract_marked(text: str) -> Extraction:
    """The strict extractor: boxed > #### > 'the answer is'."""
    boxes = boxed_contents(text)
    if boxes:
        return Extraction(boxes[-1].strip(), "boxed", len(boxes))
    hashes = _HASH_RE.findall(text)
    if hashes:
        return Extraction(hashes[-1].strip(), "hash")
    said = _ANSWER_IS_RE.findall(text)
    if said:
        return Extraction(_strip_math_delims(said[-1]), "answer_is")
    return Extraction(None, "none")


def _strip_math_delims(s: str) -> str:
    s = s.strip().rstrip(".").strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
            return s[len(left): len(s) - len(right)].strip()
    return s
