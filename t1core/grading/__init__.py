"""Answer extraction and equivalence: one callable for RL rewards and eval metrics."""

from t1core.grading.extract import Extraction, boxed_contents, extract_marked
from t1core.grading.grader import GRADER_VERSION, GradeResult, Grader

__all__ = ["GRADER_VERSION", "Extraction", "GradeResult", "Grader", "boxed_contents", "extract_marked"]
