"""The benchmark suite's plumbing (bench/suite.py): a real, tiny rollout measurement rendered into a doc
block that replaces itself on the next run and leaves the hand-written text around it alone."""

import sys

import pytest
import torch

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
import rollout  # noqa: E402
import sft_throughput  # noqa: E402
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


def test_sft_ceiling_counts_saved_activations_and_renders():
    lin, x = torch.nn.Linear(8, 8), torch.randn(4, 8)  # Linear saves its input (not a parameter) for the weight gradient
    assert sft_throughput.saved_activation_bytes(lambda: lin(x).sum().backward(), lin) == 4 * 8 * 4
    from transformers import LlamaConfig

    cfg = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, vocab_size=64)
    k = sft_throughput.kernel_seconds(cfg, [(2, 16), (4, 8), (2, 16)])
    assert (k["sequences"], k["width"]) == (2, 16) and k["gemm_s"] > 0 and k["attention_s"] > 0
    runs = [{**k, "peak": 10.0, "step_s": 1.0, "real_per_step": 30.0}, {**k, "peak": 20.0, "step_s": 2.0, "real_per_step": 30.0}]
    c = sft_throughput.kernel_ceiling(runs, 1e5, 4_000_000)
    assert c["rest_ms"]["min"] == pytest.approx(1000 - 1e3 * (k["gemm_s"] + k["attention_s"]), abs=0.2)
    assert c["target_step_ms"]["max"] == pytest.approx(30 * 1e5 / (0.5 * 10 * 1e9) * 1e3, abs=0.1)  # the slower peak
    assert c["share_of_peak"]["runs"] == 2 and c["saved_traffic_ms"] > 0
    report = {"batch_tokens": 64, "model_params": 1, "runs": 1, "steps_per_run": 1, "flops_per_token": 1e5,
              "tokens_per_s": stats([1.0]), "padded_tokens_per_s": stats([1.0]), "step_s": stats([1.0]),
              "model_gflops": 1.0, "share_of_peak": 0.1, "matmul_peak_gflops": stats([10.0]), "gemm_bound_gflops": 9.0,
              "kernel_ceiling": c}
    assert "floor of the rest" in "\n".join(suite.md_sft(report))
