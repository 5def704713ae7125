"""Run identity: what makes two runs comparable (config hash, profile, seed, code and grader versions)."""

from typing import Any

from t1core import __version__
from t1core.config import Params
from t1core.grading import GRADER_VERSION


def run_identity(params: Params) -> dict[str, Any]:
    return {
        "config_hash": params.config_hash(),
        "profile": params.profile,
        "seed": params.seed,
        "t1_version": __version__,
        "grader_version": GRADER_VERSION,
    }
