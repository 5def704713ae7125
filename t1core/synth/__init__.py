"""CoT synthesis: trial-and-error + self-verification traces (programmatic and teacher-LLM producers)."""

from t1core.synth.schema import Trace

__all__ = ["Trace"]
