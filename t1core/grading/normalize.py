"""Cheap, exact answer normalisation and a rational fast path (no sympy).

Most answers (every procedural one, most GSM8K and many MATH ones) are plain
numbers; comparing them as exact fractions here avoids the math-verify worker.
"""

import re
from fractions import Fraction

_TEXT_UNIT_RE = re.compile(r"(?<=[\d}])\s*\\(?:text|textbf|mbox|mathrm)\{\s*[a-zA-Z][a-zA-Z .^0-9]*\}\s*$")
_TEXT_ONLY_RE = re.compile(r"^\\(?:text|textbf|mbox|mathrm)\{([^{}]*)\}$")
_CHOICE_RE = re.compile(r"^\(([A-Za-z])\)$")
_WORD_RE = re.compile(r"^[A-Za-z][A-Za-z ]{0,40}$")
_INNER_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_FRAC_RE = re.compile(r"^(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}$|^(-?)\\frac(\d)(\d)$")
_NUM_RE = re.compile(r"^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")
_SLASH_RE = re.compile(r"^(-?\d+)\s*/\s*(-?\d+)$")
_ASSIGN_RE = re.compile(r"^[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*(?!.*=)(.+)$")

_REPLACEMENTS = (
    ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\left", ""), ("\\right", ""),
    ("\\!", ""), ("\\,", ""), ("\\;", ""), ("\\:", ""), ("\\ ", ""), ("\\displaystyle", ""),
    ("^\\circ", ""), ("^{\\circ}", ""), ("\\circ", ""), ("\\%", ""), ("%", ""), ("\\$", ""),
    ("−", "-"),
)


def normalize(ans: str) -> str:
    """A canonical string: math delimiters, spacing macros, units in \\text{}, %, degrees, `x =` removed."""
    s = ans.strip().strip("$").strip()
    for old, new in _REPLACEMENTS:
        s = s.replace(old, new)
    s = s.rstrip(".,").strip()
    s = _TEXT_UNIT_RE.sub("", s).strip()
    m = _ASSIGN_RE.match(s)
    if m:
        s = m.group(1).strip()
    m = _TEXT_ONLY_RE.match(s)  # \text{Friday} -> Friday, \text{(B)} -> (B)
    if m:
        s = m.group(1).strip()
    m = _CHOICE_RE.match(s)  # (B) -> B
    if m:
        s = m.group(1)
    if _THOUSANDS_RE.match(s) or not any(b in s for b in ("(", "[", "\\{")):
        s = _INNER_THOUSANDS_RE.sub("", s)
    return re.sub(r"\s+", "", s) if not _WORD_RE.match(s) else " ".join(s.split())


def is_word(s: str) -> bool:
    """A textual answer ('Friday', 'B', 'odd'): graded by case-insensitive string match."""
    return bool(_WORD_RE.match(s))


def as_fraction(s: str) -> Fraction | None:
    """An exact rational for '12', '-0.25', '1e3', '3/4', '\\frac{3}{4}', '\\frac34'; else None."""
    if len(s) > 64:
        return None
    if _NUM_RE.match(s):
        return Fraction(s)
    m = _SLASH_RE.match(s)
    if m and int(m.group(2)) != 0:
        return Fraction(int(m.group(1)), int(m.group(2)))
    m = _FRAC_RE.match(s)
    if m:
        sign = -1 if (m.group(1) or m.group(4)) else 1
        num, den = (m.group(2), m.group(3)) if m.group(2) is not None else (m.group(5), m.group(6))
        if int(den) != 0:
            return sign * Fraction(int(num), int(den))
    return None
