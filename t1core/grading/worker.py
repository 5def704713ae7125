"""Client side: math-verify in a child process, so every call has a hard wall-clock limit.

math-verify's own timeout uses ``signal.alarm`` and therefore only works on the
main thread. Here parsing runs in a `python -m` subprocess; if it does not answer within
the limit the worker is killed and a fresh one is spawned at once (its start-up, about
half a second of imports, overlaps with whatever the caller does next and is not
counted against the next item's limit). This works from any thread and also survives
C-level hangs or crashes (deep recursion, huge powers).
"""

import json
import select
import subprocess
import sys
import threading
import time
from typing import Any

_STARTUP_TIMEOUT_S = 120.0


class Budget:
    """One item's time limit, shared by its worker calls; the clock starts at the first call with a ready worker,
    so a worker's start-up never eats into an item's limit (verdicts do not depend on start-up speed)."""

    def __init__(self, seconds: float):
        self.seconds, self._deadline = seconds, None

    def spent(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def remaining(self) -> float:
        if self._deadline is None:
            self._deadline = time.monotonic() + self.seconds
        return self._deadline - time.monotonic()


class MathVerifyWorker:
    """Thread-safe handle on one worker process. `request` never blocks longer than timeout_s.

    The worker is a plain `python -m t1core.grading.mv_server` subprocess (not
    multiprocessing), so it never re-imports the caller's __main__ module.
    """

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._ready = False

    def request(self, op: str, *args: Any, budget: "Budget | None" = None) -> tuple[str, Any]:
        """('ok', value) | ('error', message) | ('timeout', None); waits at most what `budget` has left (or timeout_s)."""
        budget = budget or Budget(self.timeout_s)
        with self._lock:
            if budget.spent():
                return "timeout", None
            proc = self._ensure_started()
            wait = budget.remaining()
            try:
                proc.stdin.write(json.dumps([op, args]) + "\n")
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                self._stop()
                return "error", "grader worker died"
            line = self._readline(wait)
            if line is None:
                self._stop()
                self._spawn()  # starts in the background; the next request waits for it to be ready
                return "timeout", None
            if not line:
                self._stop()
                return "error", "grader worker died"
            status, value = json.loads(line)
            return status, value

    def _readline(self, timeout_s: float) -> str | None:
        """A reply line, '' on EOF, None on timeout."""
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout_s)
        return self._proc.stdout.readline() if ready else None

    def _spawn(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "t1core.grading.mv_server"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8", bufsize=1,
        )
        self._ready = False

    def _ensure_started(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            self._stop()
            self._spawn()
        if not self._ready:
            if not self._readline(_STARTUP_TIMEOUT_S):
                self._stop()
                raise RuntimeError(f"grader worker did not start within {_STARTUP_TIMEOUT_S:.0f}s (is math-verify installed?)")
            self._ready = True
        return self._proc

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            for stream in (self._proc.stdin, self._proc.stdout):
                stream.close()
        self._proc = None

    def close(self) -> None:
        with self._lock:
            self._stop()

    def __del__(self) -> None:
        try:
            self._stop()
        except Exception:
            pass


