"""Client side: math-verify in a child process, so every call has a hard wall-clock limit.

math-verify's own timeout uses ``signal.alarm`` and therefore only works on the
main thread. Here parsing runs in a `python -m` subprocess; if it does not answer within
the limit the worker is killed (and restarted on the next call), which works from
any thread and also survives C-level hangs or crashes (deep recursion, huge powers).
"""

import json
import select
import subprocess
import sys
import threading
from typing import Any

_STARTUP_TIMEOUT_S = 120.0

class MathVerifyWorker:
    """Thread-safe handle on one worker process. `request` never blocks longer than timeout_s.

    The worker is a plain `python -m t1core.grading.mv_server` subprocess (not
    multiprocessing), so it never re-imports the caller's __main__ module.
    """

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None

    def request(self, op: str, *args: Any) -> tuple[str, Any]:
        """('ok', value) | ('error', message) | ('timeout', None)."""
        with self._lock:
            proc = self._ensure_started()
            try:
                proc.stdin.write(json.dumps([op, args]) + "\n")
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                self._stop()
                return "error", "grader worker died"
            line = self._readline(self.timeout_s)
            if line is None:
                self._stop()
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

    def _ensure_started(self) -> subprocess.Popen:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._stop()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "t1core.grading.mv_server"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8", bufsize=1,
        )
        line = self._readline(_STARTUP_TIMEOUT_S)
        if not line:
            self._stop()
            raise RuntimeError(f"grader worker did not start within {_STARTUP_TIMEOUT_S:.0f}s (is math-verify installed?)")
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


