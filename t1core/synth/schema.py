"""The SFT trace record. Every producer (programmatic, teacher-LLM, reference solutions) writes exactly this."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Trace(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="'<problem id>#<n>'")
    problem_id: str
    problem: str
    answer: str = Field(description="gold answer of the problem")
    response: str = Field(description="the assistant turn: attempts, checks, reflections, \\boxed{answer}, verification")
    producer: Literal["programmatic", "teacher", "reference"]
    n_attempts: int = Field(ge=1, description="attempts in the trace; >1 means trial-and-error")
    has_slip: bool = Field(description="the trace contains a wrong attempt that a check exposes")
    subject: str | None = None
    level: int | None = None
