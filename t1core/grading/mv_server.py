"""Server side of the grader worker: math-verify behind a JSON-lines pipe.

Run as `python -m t1core.grading.mv_server` by `worker.MathVerifyWorker`; math-verify's
own (signal-based) timeouts are off here because the client kills this process
when an item runs past its limit.
"""

import json
import logging
import sys
from typing import Any

_LENIENT_TAIL_CHARS = 2000  # the last expression lives at the end; bounds parse cost


def _parse(text: str) -> list[Any]:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    config = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
    return parse(text, extraction_config=config, parsing_timeout=None)


def _op_verify(gold: str, pred: str) -> bool:
    from math_verify import verify

    g, p = _parse(f"\\boxed{{{gold}}}"), _parse(f"\\boxed{{{pred}}}")
    return bool(g and p and verify(g, p, timeout_seconds=None))


def _op_parses(answer: str) -> bool:
    return any(not isinstance(x, str) for x in _parse(f"\\boxed{{{answer}}}"))


def _op_last_expr(text: str) -> str | None:
    found = _parse(text[-_LENIENT_TAIL_CHARS:])
    return str(found[-1]) if found else None


_OPS = {"verify": _op_verify, "parses": _op_parses, "last_expr": _op_last_expr}


def _serve() -> None:
    """Worker main loop: one JSON request per stdin line, one JSON reply per stdout line."""
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    import math_verify  # noqa: F401  (warm the import before saying ready)

    out = sys.stdout
    sys.stdout = sys.stderr  # stray prints from libraries must not corrupt the protocol
    _reply(out, "ready", None)
    for line in sys.stdin:
        op, args = json.loads(line)
        try:
            _reply(out, "ok", _OPS[op](*args))
        except Exception as e:  # a parse failure is an answer, not a crash
            _reply(out, "error", f"{type(e).__name__}: {str(e)[:200]}")


def _reply(out: Any, status: str, value: Any) -> None:
    out.write(json.dumps([status, value]) + "\n")
    out.flush()



if __name__ == "__main__":
    _serve()
