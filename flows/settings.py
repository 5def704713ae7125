"""Typed flow parameters (the Prefect UI renders them as a form) and how they reach DVC.

A run's parameters are checked by loading the full t1 config (profile + overrides) before
any stage starts, so a bad value fails the run at once, naming the field. They are then
written into params.yaml, as `dvc exp run -S` does (comments kept), so `dvc repro` runs
the stages with them and dvc.lock records exactly what ran.
"""

import os
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from t1core.config import ConfigError, Params, load_params, parse_override

PROJECT = Path(__file__).resolve().parents[1]
PARAMS_FILE = PROJECT / "params.yaml"
BIN = Path(sys.executable).parent  # the venv's dvc, prefect, mlflow and t1


def with_bin(env: dict[str, str]) -> dict[str, str]:
    """`env` with the venv's bin first on PATH, so DVC's stage commands (`t1 ...`) find this install."""
    return {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"}
Profile = Literal["embedded", "gpu-embedded", "smollm2", "smollm2-gpu", "math-real", "qwen2.5-32b", "qwen2.5-14b", "glm-4-9b"]


class RunParams(BaseModel):
    """What a user sets when starting a run; None keeps params.yaml's value."""

    model_config = ConfigDict(extra="forbid")

    profile: Profile | None = Field(None, description="overlay profiles/NAME.yaml; None keeps the profile in params.yaml")
    seed: int | None = Field(None, description="global seed")
    rl_k: int | None = Field(None, ge=2, description="RL samples per prompt, K (paper: 64)")
    rl_temperature: float | None = Field(None, gt=0, description="RL sampling temperature, τ (paper: 1.2)")
    rl_rounds: int | None = Field(None, ge=1, description="RL rounds (checkpoint + eval after each)")
    sft_max_minutes: float | None = Field(None, gt=0, description="SFT wall-clock cap, minutes")
    rl_max_minutes: float | None = Field(None, gt=0, description="RL wall-clock cap, minutes")
    overrides: list[str] = Field(default_factory=list, description="any other setting as section.key=value, e.g. rl.lr=1e-5")

    def as_overrides(self) -> list[str]:
        named = {"seed": self.seed, "rl.k": self.rl_k, "rl.temperature": self.rl_temperature, "rl.rounds": self.rl_rounds,
                 "sft.max_minutes": self.sft_max_minutes, "rl.max_minutes": self.rl_max_minutes}
        return [f"{k}={v}" for k, v in named.items() if v is not None] + list(self.overrides)

    @model_validator(mode="after")
    def _valid_config(self) -> "RunParams":
        self.resolve()  # raises ValueError (a pydantic validation error) naming the field
        return self

    def resolve(self, params_file: Path = PARAMS_FILE) -> Params:
        try:
            return load_params(params_file, self.profile, self.as_overrides())
        except ConfigError as e:
            raise ValueError(str(e)) from None


def write_params(run: RunParams, params_file: Path = PARAMS_FILE) -> list[str]:
    """Apply the run's profile and overrides to params.yaml in place (comments kept); returns what changed.

    Values are written as the validated config typed them (`rl.lr=1e-5` lands as the float 1.0e-05)."""
    from ruamel.yaml import YAML

    changes = ([f"profile={run.profile}"] if run.profile else []) + run.as_overrides()
    if not changes:
        return []
    typed = run.resolve(params_file).model_dump(mode="json")
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    doc = yaml.load(params_file.read_text(encoding="utf-8"))
    for item in changes:
        _set(doc, typed, parse_override(item))
    with open(params_file, "w", encoding="utf-8") as f:
        yaml.dump(doc, f)
    return changes


def _set(node: Any, typed: Any, update: dict[str, Any]) -> None:
    """Walk `update`'s key path through the YAML document and write the typed leaf found at the same path."""
    for key, value in update.items():
        index = int(key) if isinstance(node, list) else key
        if isinstance(value, dict):
            _set(node[index], typed[index], value)
        else:
            node[index] = typed[index]
