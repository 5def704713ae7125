"""The benchmark suite's plumbing (bench/suite.py): a real, tiny rollout measurement rendered into a doc
block that replaces itself on the next run and leaves the hand-written text around it alone."""

import sys

import pytest
import torch

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
import rollout  # noqa: E402
import suite  # noqa: E402
from common import gemm_bound_gflops, stats  # noqa: E402


def test_stats_and_gemm_bound():
    assert stats([3.0, 1.0, 2.0, 5.0, 4.0]) == {"median": 3.0, "min": 1.0, "max": 5.0, "runs": 5}
    bound = gemm_bound_gflops([(32, 64, 128), (32, 128, 64)], torch.device("cpu"), torch.float32, min_seconds=0.01)
    assert bound["gflops"] > 0 and [(s["m"], s["k"], s["n"]) for s in bound["per_shape"]] == [(32, 64, 128), (32, 128, 64)]


def test_rollout_measurement_renders_into_a_replaceable_doc_block(tmp_path):
    report = rollout.measure(str(REPO / "params.yaml"), [4], 4, 6, 2, torch.device("cpu"), torch.float32)
    row = report["rows"][0]
    assert row["cpu_tokens_per_s"]["runs"] == 2 and row["cpu_tokens_per_s"]["min"] <= row["cpu_tokens_per_s"]["median"]
    ceiling = row["kernel_ceiling"]  # the two kernels alone can only be faster than the whole step
    assert ceiling["tokens_per_s"] > row["cpu_tokens_per_s"]["median"] and 0 < ceiling["sampler_fraction"] < 1
    assert ceiling["stream_read_gbs"] > 0 and ceiling["attention_ms"] > 0 and ceiling["gemm_ms"] > 0
    split = report["time_split"]
    assert split["gemm_share"] + split["attention_bmm_share"] + split["other_share"] == pytest.approx(1.0, abs=0.01)
    machine = {"cores": 2, "cpu": "test", "torch": torch.__version__, "torch_threads": 2, "python": "3"}
    rl = {"config": {"prompts_per_step": 2, "k": 2, "temperature": 1.2, "max_new_tokens": 8, "lr": 1e-5, "steps": 2},
          "t1": {"summary": {"first_step_s": 2.0, "median_step_s": 1.0, "min_step_s": 1.0, "max_step_s": 1.0, "n_timed": 1},
                 "peak_rss_mb": 100.0, "steps": [{"step_s": 2.0, "rollout_s": 1.0, "grade_s": 0.1, "ref_s": 0.2,
                                                 "update_s": 0.5, "response_len": 7}] * 2}}
    report["suite_run"] = {"command": "python bench/suite.py --only rollout", "date": "2026-01-01"}
    block = suite.render({"rollout": report, "rl": rl}, machine, "2026-01-01")
    assert "Ran: `python bench/suite.py --only rollout`, 2026-01-01." in block and "attention at the streaming rate" in block
    assert "| 4 |" in block and "TRL `GRPOTrainer` | not installed" in block and "`t1` step (medians)" in block
    assert "| target (issue #8) |" in block and "rollout decode >= 40 %" not in block  # batch 4 < 64: no rollout target row
    with_trl = {**rl, "trl": rl["t1"], "speedup_median": 3.2}
    assert suite.targets({"rl": with_trl}) == [("t1 RL step >= 3x faster than TRL GRPOTrainer", "3.2x", True)]
    all_groups = {**with_trl, "t1-all-groups": rl["t1"], "speedup_all_groups_median": 2.9}  # the like-for-like ratio decides
    assert suite.targets({"rl": all_groups}) == [
        ("t1 RL step >= 3x faster than TRL GRPOTrainer", "2.9x (same sampling; 3.2x with t1's dropped groups replaced)", False)]
    assert "Like for like" in suite.render({"rl": all_groups}, machine, "d")

    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nIntro.\n\n## Hand-written\n\nAnalysis.\n")
    suite.write_doc(doc, block)
    suite.write_doc(doc, block.replace("2026-01-01", "2026-01-02"))
    text = doc.read_text()
    assert text.count(suite.BEGIN) == 1 and "2026-01-02" in text and "2026-01-01" not in text
    assert text.index("Intro.") < text.index(suite.BEGIN) < text.index("## Hand-written") and "Analysis." in text
