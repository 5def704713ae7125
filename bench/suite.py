"""The benchmark suite (issue #8): every benchmark, >= 5 runs each, written into docs/benchmarks.md.

    make bench                      # = make bench-env, then: PYTHONPATH=.cache/trl-site python bench/suite.py
    python bench/suite.py [--runs 5] [--only rollout sft rl orchestration memory] [--doc docs/benchmarks.md]

Run after `make run` (the SFT, RL and orchestration benchmarks use its data, model and DVC state),
alone on the machine: two torch processes on the same cores slow each other far more than 2x.
Each part runs in its own process (its own peak RSS, no shared thread pools) and writes
bench/results/<part>.json; the suite then writes bench/results/suite.json and replaces the block
between the SUITE markers of the doc with the tables (median, min and max of every measurement).

- rollout: the lean sampler vs HF `generate` (and vLLM-on-CPU where installed) at batch 64 and 256,
  tokens/s and share of the fp32 matmul peak, the GEMM bound of the sampler's shapes and the sampler's
  time split (bench/rollout.py);
- sft: training tokens/s of the SFT stage's own step, share of the peak (bench/sft_throughput.py);
- rl: one RL step of t1 vs TRL's GRPOTrainer at the same config, t1's step split and both peak RSS
  (bench/rl_vs_trl.py; TRL only where `make bench-env` installed it);
- orchestration: a no-op `dvc repro` and Prefect's cost per stage (bench/orchestration.py);
- memory: the ZeRO x model x K x length estimate for the GPU profiles (bench/zero_memory.py).
"""

import argparse
import importlib.util
import json
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))  # common.py and the parts' markdown helpers
RESULTS = REPO / "bench" / "results"
BEGIN, END = "<!-- SUITE:BEGIN (bench/suite.py writes this block) -->", "<!-- SUITE:END -->"
PARTS = ("rollout", "sft", "rl", "orchestration", "memory")


RESULT_FILE = {"rollout": "rollout.json", "sft": "sft.json", "rl": "rl_step.json", "orchestration": "orchestration.json",
               "memory": "zero_memory.json"}


def commands(runs: int) -> dict[str, list[str]]:
    """Each part's command line (the doc prints them), writing bench/results/<RESULT_FILE[part]>."""
    out = {part: ["--out", f"bench/results/{name}"] for part, name in RESULT_FILE.items()}
    py = [sys.executable]
    return {
        "rollout": py + ["bench/rollout.py", "--batch", "64", "256", "--new-tokens", "128", "--runs", str(runs), *out["rollout"]],
        "sft": py + ["bench/sft_throughput.py", "--runs", str(runs), "--steps", "20", *out["sft"]],
        "rl": py + ["bench/rl_vs_trl.py", "--steps", str(runs + 1), *out["rl"], "--sides", "t1", "t1-oversample", "t1-all-groups"]
        + (["trl"] if importlib.util.find_spec("trl") else []),
        "orchestration": py + ["bench/orchestration.py", "--runs", str(runs), *out["orchestration"]],
        "memory": py + ["bench/zero_memory.py", *out["memory"]],
    }


def run_part(part: str, cmd: list[str]) -> dict:
    """Run one part in its own process; its JSON result, or a clear error with the tail of its output."""
    print(f"==> {part}: {shlex.join(cmd[1:])}", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"bench part '{part}' failed (exit {res.returncode}): {shlex.join(cmd[1:])}\n{res.stderr[-3000:]}")
    print(f"    {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    return json.loads((RESULTS / RESULT_FILE[part]).read_text())


def _s(st: dict, unit: str = "", fmt: str = "{:,.0f}") -> str:
    """'median (min-max)' of a stats dict."""
    return f"{fmt.format(st['median'])}{unit} ({fmt.format(st['min'])}-{fmt.format(st['max'])})"


def md_rollout(r: dict) -> list[str]:
    peak = r["matmul_peak_gflops"]
    lines = [f"Model: the embedded architecture, {r['model_params']:,} parameters, random weights, EOS off, "
             f"{r['prompt_len']}-token prompts, {r['new_tokens']} new tokens, T = 1; {r['runs']} calls per cell. "
             f"fp32 matmul peak (2048^2): {_s(peak, ' GFLOP/s', '{:.0f}')}. vLLM-on-CPU: {r['vllm_cpu']}.", "",
             "| batch | t1 sampler tokens/s | HF `generate` tokens/s | speed-up | sampler GFLOP/s | share of peak | "
             "GEMM bound of the sampler's shapes |", "|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        lines.append(f"| {row['batch']} | {_s(row['cpu_tokens_per_s'])} | {_s(row['hf_tokens_per_s'])} | {row['speedup']}x | "
                     f"{row['cpu_gflops']} | **{100 * row['cpu_share_of_peak']:.1f} %** | "
                     f"{row['gemm_bound_gflops']:.1f} GFLOP/s ({100 * row['gemm_bound_share_of_peak']:.0f} %) |")
    ceilings = [row for row in r["rows"] if "kernel_ceiling" in row]
    if ceilings:
        lines += ["", "Ceilings: a decode step with every op free except the GEMMs (at their shape bound) and attention, "
                      "run one after the other; attention at the sampler's own kernel rate, or reading the KV cache at a "
                      "plain streaming read's rate over the cache's footprint (`bench/rollout.py` `kernel_ceiling`).", "",
                  "| batch | GEMMs per step | attention per step | attention reads | streaming read | ceiling, "
                  "today's attention | ceiling, attention at the streaming rate | sampler / first ceiling |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in ceilings:
            c = row["kernel_ceiling"]
            lines.append(f"| {row['batch']} | {c['gemm_ms']:.2f} ms | {c['attention_ms']:.2f} ms | {c['attention_read_gbs']} GB/s | "
                         f"{c['stream_read_gbs']} GB/s | {c['tokens_per_s']:,} tokens/s (**{100 * c['share_of_peak']:.0f} %** "
                         f"of peak) | {c['stream_tokens_per_s']:,} tokens/s ({100 * c['stream_share_of_peak']:.0f} %) | "
                         f"{100 * c['sampler_fraction']:.0f} % |")
    ts = r.get("time_split")
    if ts:
        lines += ["", f"Sampler time split at batch {ts['batch']} (torch.profiler self time): dense GEMMs "
                      f"{100 * ts['gemm_share']:.0f} %, attention score/value products (`bmm`, KV-cache reads) "
                      f"{100 * ts['attention_bmm_share']:.0f} %, everything else {100 * ts['other_share']:.0f} %."]
    return lines


def md_sft(r: dict) -> list[str]:
    return [f"The SFT stage's own step (DeepSpeed engine, AdamW, clipping) on the real traces, `sft.batch_tokens` = "
            f"{r['batch_tokens']}, fresh {r['model_params']:,}-parameter model; {r['runs']} runs of {r['steps_per_run']} steps; "
            f"{r['flops_per_token'] / 1e6:.2f} MFLOP per trained token.", "",
            "| tokens/s (real) | tokens/s (padded) | step | model GFLOP/s | share of peak | matmul peak | "
            "GEMM bound of the model's shapes |", "|---|---|---|---|---|---|---|",
            f"| {_s(r['tokens_per_s'])} | {_s(r['padded_tokens_per_s'])} | {_s(r['step_s'], ' s', '{:.3f}')} | "
            f"{r['model_gflops']} | **{100 * r['share_of_peak']:.1f} %** | {_s(r['matmul_peak_gflops'], '', '{:.0f}')} | "
            f"{r['gemm_bound_gflops']:.1f} GFLOP/s |"] + _md_sft_ceiling(r.get("kernel_ceiling"))


def _md_sft_ceiling(c: dict | None) -> list[str]:
    if not c:
        return []
    pct = {k: v if k == "runs" else 100 * v for k, v in c["share_of_peak"].items()}
    return ["", f"Ceiling (`bench/sft_throughput.py` `kernel_ceiling`): the step with only its training matmuls (forward, input "
            f"and weight gradients, each shape timed alone) and attention's forward and backward (causal SDPA, "
            f"{c['sequences']} sequences x {c['width']} tokens, the median batch) left. The floor of the rest: the "
            f"{c['saved_activation_mb']:.0f} MB of activations autograd saves in a step, written once and read once at a "
            "streaming read's rate over that footprint.", "",
            "| | step | GEMMs | attention | rest | ceiling (share of peak) | step at 50 % | rest left at 50 % |",
            "|---|---|---|---|---|---|---|---|",
            f"| ms, median (min-max) of the runs | {_s(c['step_ms'])} | {_s(c['gemm_ms'])} | {_s(c['attention_ms'])} | "
            f"{_s(c['rest_ms'])} | **{_s(pct, ' %')}** | {_s(c['target_step_ms'])} | {_s(c['rest_ms_at_target'])} |",
            "", f"Floor of the rest: {c['saved_traffic_ms']} ms ({c['saved_activation_mb']:.0f} MB saved for backward, "
            f"written and read once at {c['stream_read_gbs']} GB/s)."]


def _median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows[1:] or rows)


def md_rl(r: dict) -> list[str]:
    c = r["config"]
    lines = [f"`models/sft/final`, B = {c['prompts_per_step']} x K = {c['k']} at T = {c['temperature']}, at most "
             f"{c['max_new_tokens']} new tokens, lr {c['lr']}; {c['steps']} steps a side, the first one is warm-up.", "",
             "| | first step | median step (min-max) | timed steps | mean response tokens | peak RSS |", "|---|---|---|---|---|---|"]
    sides = (("t1", "t1, params.yaml (uniform groups dropped and refilled)"),
             ("t1-oversample", "t1, over-sampled (`rl.oversample=true`, refilled when short)"),
             ("t1-all-groups", "t1, every group trained (TRL's sampling)"), ("trl", "TRL `GRPOTrainer`"))
    for side, name in sides:
        if side not in r:
            lines.append(f"| {name} | {'not installed (`make bench-env`)' if side == 'trl' else 'not run'} | | | | |")
            continue
        s = r[side]["summary"]
        lines.append(f"| {name} | {s['first_step_s']} s | **{s['median_step_s']} s** ({s['min_step_s']}-{s['max_step_s']}) | "
                     f"{s['n_timed']} | {_median(r[side]['steps'], 'response_len'):.0f} | {r[side]['peak_rss_mb']:,.0f} MB |")
    if "speedup_all_groups_median" in r:
        lines += ["", f"**Like for like (the same 128 samples a step): t1 is {r['speedup_all_groups_median']}x faster per "
                      f"step** (target 3x). Replacing its dropped groups, t1's default step is {r['speedup_median']}x faster"
                      + (f" ({r['speedup_oversample_median']}x over-sampled)." if "speedup_oversample_median" in r else ".")]
    elif "speedup_median" in r:
        lines += ["", f"**t1 is {r['speedup_median']}x faster per step** (target 3x)."]
    for side in ("t1", "t1-oversample", "t1-all-groups"):
        if side in r:
            lines += ["", _split_line(side, r[side]["steps"])]
    return lines


def _split_line(side: str, steps: list[dict]) -> str:
    split = {k: _median(steps, k) for k in ("rollout_s", "grade_s", "ref_s", "update_s", "step_s")}
    uniform = _median(steps, "zero_variance_fraction") if "zero_variance_fraction" in steps[0] else None
    return (f"`{side}` step (medians): rollout {split['rollout_s']:.2f} s, reward {split['grade_s']:.2f} s, "
            f"train {split['ref_s'] + split['update_s']:.2f} s (reference pass {split['ref_s']:.2f} s + update "
            f"{split['update_s']:.2f} s), of {split['step_s']:.2f} s"
            + (f"; {100 * uniform:.0f} % of sampled groups uniform" if uniform is not None else "")
            + (f"; {_median(steps, 'prompts_sampled'):.0f} prompts in {_median(steps, 'sampling_calls'):.0f} sampling "
               "call(s) a step." if "prompts_sampled" in steps[0] else "."))


def md_orchestration(r: dict) -> list[str]:
    from orchestration import markdown

    return [markdown(r)]


def md_memory(r: dict) -> list[str]:
    fits = [row for row in r["rows"] if row["waves"] is not None]
    return [f"Estimate (formulas, not a measurement) for {r['meta']['gpus']} x {r['meta']['gpu_gb']:.0f} GB: "
            f"{len(fits)} of {len(r['rows'])} ZeRO x model x K x length cells fit with a replicated EMA reference; "
            "the full table and its reading are in the section below (`bench/results/zero_memory.json`). "
            "The embedded RL step's peak RSS is in the RL table above."]


RENDER = {"rollout": ("Rollout decode", md_rollout), "sft": ("SFT training", md_sft),
          "rl": ("One RL step: t1 vs TRL", md_rl), "orchestration": ("Orchestration", md_orchestration),
          "memory": ("Memory (GPU profiles)", md_memory)}


def targets(results: dict) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for each issue #8 target whose part is in the results."""
    out = []
    shares = [r["cpu_share_of_peak"] for r in results.get("rollout", {}).get("rows", []) if r["batch"] >= 64]
    if shares:
        share = min(shares)
        out.append(("rollout decode >= 40 % of the FLOP bound at batch >= 64", f"{100 * share:.1f} % (lowest batch)", share >= 0.4))
    rl = results.get("rl", {})
    if "speedup_all_groups_median" in rl:  # like for like: the same samples a step as TRL
        x = rl["speedup_all_groups_median"]
        out.append(("t1 RL step >= 3x faster than TRL GRPOTrainer", f"{x}x (same sampling; {rl['speedup_median']}x with "
                    "t1's dropped groups replaced)", x >= 3))
    elif "speedup_median" in rl:
        x = rl["speedup_median"]
        out.append(("t1 RL step >= 3x faster than TRL GRPOTrainer", f"{x}x", x >= 3))
    if "sft" in results:
        share = results["sft"]["share_of_peak"]
        out.append(("SFT >= 50 % of the matmul peak", f"{100 * share:.1f} %", share >= 0.5))
    if "orchestration" in results:
        noop = results["orchestration"]["noop_dvc_repro_s"]["median"]
        out.append(("no-op `dvc repro` <= 5 s", f"{noop} s", noop <= 5))
    return out


def render(results: dict, machine: dict, date: str) -> str:
    lines = [BEGIN, f"## Suite results ({date})", "",
             f"Command: `python bench/suite.py` (every part; `--only PART ...` reruns some and keeps the others' last "
             f"results, so each part below names the command and date that produced it). Machine: {machine['cores']} "
             f"cores ({machine['cpu']}), torch {machine['torch']}, {machine['torch_threads']} torch threads, Python "
             f"{machine['python']}. Each cell: median (min-max) of the runs stated.", "",
             "| target (issue #8) | measured | met |", "|---|---|---|",
             *[f"| {t} | {m} | {'yes' if ok else '**no**'} |" for t, m, ok in targets(results)], ""]
    for part, (title, fn) in RENDER.items():
        if part in results:
            ran = results[part].get("suite_run")
            origin = [f"Ran: `{ran['command']}`, {ran['date']}.", ""] if ran else []
            lines += [f"### {title}", "", *origin, *fn(results[part]), ""]
    return "\n".join(lines + [END])


def write_doc(doc: Path, block: str) -> None:
    """Replace the SUITE block of the doc (insert it after the first paragraph when absent)."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        cut = text.find("\n## ")
        text = (text + "\n\n" + block + "\n") if cut < 0 else text[:cut] + "\n\n" + block + "\n" + text[cut:]
    doc.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per measurement (>= 5 for the doc)")
    ap.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    ap.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    a = ap.parse_args()
    from common import machine

    RESULTS.mkdir(parents=True, exist_ok=True)
    suite_json = RESULTS / "suite.json"
    results = json.loads(suite_json.read_text())["results"] if suite_json.exists() else {}
    cmds = commands(a.runs)
    date = time.strftime("%Y-%m-%d")
    cmd = "python bench/suite.py" + (f" --runs {a.runs}" if a.runs != 5 else "") + \
        (f" --only {' '.join(a.only)}" if list(a.only) != list(PARTS) else "")
    for part in a.only:
        results[part] = {**run_part(part, cmds[part]), "suite_run": {"command": cmd, "date": date}}
    info = machine()
    suite_json.write_text(json.dumps({"date": date, "machine": info, "runs": a.runs, "results": results}, indent=1) + "\n")
    write_doc(a.doc, render(results, info, date))
    print(f"wrote {a.doc.relative_to(REPO) if a.doc.is_relative_to(REPO) else a.doc} and {suite_json.relative_to(REPO)}")


if __name__ == "__main__":
    main()
