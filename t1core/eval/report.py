"""Writing evaluation results: report JSON, per-item JSONL, scaling rows for `dvc plots`, and the PNG."""

from pathlib import Path
from typing import Any

from t1core.data.jsonl import write_json, write_jsonl
from t1core.eval.evaluator import EvalResult


def write_result(result: EvalResult, out_dir: Path, meta: dict[str, Any]) -> tuple[Path, Path]:
    """out_dir/report.json (metrics + what was evaluated) and out_dir/items.jsonl (one audited row per problem)."""
    report_path, items_path = out_dir / "report.json", out_dir / "items.jsonl"
    write_json(report_path, {**meta, **result.report})
    write_jsonl(items_path, result.items)
    return report_path, items_path


def scaling_rows(curves: dict[str, list[dict]]) -> list[dict]:
    """Flat rows (checkpoint, budget, accuracy, forced_rate, mean_tokens) for `dvc plots` and the figure."""
    return [{"checkpoint": name, **row} for name, rows in curves.items() for row in rows]


def plot_scaling(curves: dict[str, list[dict]], path: Path, title: str) -> Path:
    """Accuracy vs token budget, one line per checkpoint (log2 x axis, as in the paper's Fig. 1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for name, rows in curves.items():
        ax.plot([r["budget"] for r in rows], [100 * r["accuracy"] for r in rows], marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("token budget (one generation, answer forced at the cut)")
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
