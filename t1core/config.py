"""The one typed experiment config.

`params.yaml` is validated once, at load, into frozen pydantic models that forbid
unknown keys. A *profile* is an overlay file `profiles/<name>.yaml` (next to the
params file) deep-merged over it; `--set section.key=value` overrides come last.
Every field says what it means, its unit, and the T1 paper's value where one exists.

Errors name the file, the YAML line (when the value came from a file) and the
dotted field, before any compute starts.
"""

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PROCEDURAL_FAMILIES = ("arith", "chain", "linear", "root", "factor")


class ConfigError(ValueError):
    """A params problem, already phrased as `file:line: field: message`."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------- paths / tracking
class PathsConfig(_Section):
    """Output locations. dvc.yaml templates its `outs` from these, so profiles may not change them."""

    curated_dir: str = Field("data/curated", description="curated splits (sft/rl/heldout JSONL + quarantine)")
    synth_dir: str = Field("data/synth", description="synthesized CoT traces for SFT")
    models_dir: str = Field("models", description="checkpoints: models/sft, models/rl/round_XXX")
    metrics_dir: str = Field("metrics", description="DVC metrics: one <stage>.json per stage")
    reports_dir: str = Field("reports", description="eval reports, per-item JSONL, plots")


class TrackingConfig(_Section):
    enabled: bool = Field(True, description="log params, per-step metrics and artifacts to MLflow")
    mlflow_uri: str = Field("sqlite:///mlruns.db", description="MLflow tracking URI; a local sqlite store by default")
    experiment: str = Field("t1", description="MLflow experiment name")
    registered_model: str = Field("t1-policy", description="MLflow registry name for evaluated checkpoints")


# ---------------------------------------------------------------- data
class SourceSpec(_Section):
    """One input dataset for curation."""

    name: str = Field(description="label used in per-source counts and record ids")
    kind: Literal["procedural", "math", "gsm8k", "numina", "benchmark"] = Field(
        description="loader: procedural generator, MATH, GSM8K, NuminaMath-CoT, or benchmark JSONL (problem/answer)"
    )
    path: str | None = Field(None, description="JSONL file (not used by kind=procedural)")
    limit: int | None = Field(None, ge=1, description="keep at most this many rows from the file (None = all)")

    @model_validator(mode="after")
    def _path_needed(self) -> "SourceSpec":
        if self.kind != "procedural" and not self.path:
            raise ValueError(f"source {self.name!r} of kind {self.kind!r} needs a path")
        return self


class ProceduralConfig(_Section):
    """The embedded task: procedurally generated math with exact integer answers."""

    families: list[Literal["arith", "mul", "chain", "linear", "root", "factor", "pair"]] = Field(
        default=list(PROCEDURAL_FAMILIES),
        description="task families; root, factor and pair are search-style (a checked retry pays off; pair: the search length varies by item)",
    )
    levels: list[int] = Field(default=[1, 2, 3], description="difficulty levels to generate (1 = easiest, max 4)")
    items_per_family_level: int = Field(600, ge=1, description="unique items generated per (family, level) before splitting")
    heldout_items_per_family_level: int = Field(
        40, ge=1, description="unique held-out items per (family, level); a disjoint hash partition of the item space"
    )

    @model_validator(mode="after")
    def _levels_in_range(self) -> "ProceduralConfig":
        bad = [lv for lv in self.levels if not 1 <= lv <= 4]
        if bad:
            raise ValueError(f"levels must be in 1..4, got {bad}")
        return self


class FilterConfig(_Section):
    max_problem_chars: int = Field(2000, ge=16, description="drop problems longer than this (characters)")
    max_answer_chars: int = Field(64, ge=1, description="drop gold answers longer than this (characters)")
    near_dup_ngram: int = Field(5, ge=1, description="word n-gram size for near-duplicate detection")
    near_dup_jaccard: float = Field(0.8, gt=0, le=1, description="Jaccard similarity at or above which a later item is a near duplicate")
    decontam_ngram: int = Field(13, ge=3, description="word n-gram size; any shared n-gram with an eval set drops the item")
    drop_proofs: bool = Field(True, description="drop 'prove/show that' items (no checkable answer)")
    drop_multi_answer: bool = Field(True, description="drop items whose gold answer lists several alternatives")


class SplitConfig(_Section):
    heldout_fraction: float = Field(
        0.05, ge=0, lt=1, description="fraction of non-procedural items hashed into the held-out split (by problem text)"
    )
    sft_fraction: float = Field(0.4, gt=0, lt=1, description="fraction of the remaining train items for the SFT pool; the rest is the RL pool")


class DataConfig(_Section):
    sources: list[SourceSpec] = Field(description="datasets to curate, in priority order for deduplication")
    procedural: ProceduralConfig = ProceduralConfig()
    filters: FilterConfig = FilterConfig()
    split: SplitConfig = SplitConfig()
    eval_sets: list[SourceSpec] = Field(default=[], description="eval sets (kind + path) to decontaminate against by n-gram overlap")
    quarantine: bool = Field(
        False, description="bad rows go to <curated_dir>/quarantine.jsonl (counted) instead of stopping with an error"
    )


# ---------------------------------------------------------------- grading
class GradingConfig(_Section):
    mode: Literal["strict", "lenient"] = Field(
        "strict", description="strict: the answer must be marked (boxed / #### / 'the answer is'); lenient: also the last expression"
    )
    timeout_s: float = Field(4.0, gt=0, description="hard wall-clock limit per graded item, seconds, from when the math-verify worker is ready (works off the main thread)")
    max_answer_chars: int = Field(1000, ge=1, description="extracted answers longer than this are graded wrong without parsing")


# ---------------------------------------------------------------- model and stages
class ModelConfig(_Section):
    kind: Literal["tiny", "hf"] = Field("tiny", description="tiny: a Llama built from scratch; hf: load an HF checkpoint from `path`")
    path: str | None = Field(None, description="HF checkpoint directory or hub id (kind=hf)")
    hidden_size: int = Field(192, ge=8, description="tiny model width")
    intermediate_size: int = Field(512, ge=8, description="tiny model MLP width")
    vocab_size: int = Field(512, ge=300, description="tiny model: BPE vocabulary trained locally (256 bytes + merges + specials)")
    num_layers: int = Field(4, ge=1, description="tiny model decoder layers")
    num_heads: int = Field(6, ge=1, description="tiny model attention heads")
    max_seq_len: int = Field(512, ge=16, description="context length, tokens (prompt + response)")
    dtype: Literal["float32", "bfloat16"] = Field("float32", description="training dtype; bf16 on GPUs")
    trust_remote_code: bool = Field(False, description="passed to transformers; stays off unless a profile sets it")

    @model_validator(mode="after")
    def _check(self) -> "ModelConfig":
        if self.kind == "hf" and not self.path:
            raise ValueError("model.kind 'hf' needs model.path")
        if self.kind == "hf" and self.path.startswith((".", "/", "~")) and not Path(self.path).expanduser().is_dir():
            raise ValueError(f"model.path {self.path!r} is not a directory (a local HF checkpoint, or a hub id like org/name)")
        if self.kind == "tiny" and self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        return self


class TeacherConfig(_Section):
    """The teacher-LLM producer (paper §SFT data): attempts, critique, merge, rewrite; prompts in t1core/synth/prompts.py."""

    models: list[str] = Field(default=[], description="HF checkpoint dirs or hub ids that write attempts; the first also critiques and rewrites")
    attempts: int = Field(4, ge=1, description="sampled attempts per problem from each teacher model")
    temperature: float = Field(0.8, gt=0, description="sampling temperature of the attempts")
    max_new_tokens: int = Field(512, ge=16, description="token budget of one attempt and of the rewrite")
    critique_tokens: int = Field(128, ge=8, description="token budget of a critique or a verification (greedy)")
    rewrite: bool = Field(True, description="rewrite the merged trace into a natural thinking style; a rewrite that loses the answer is not used (counted)")
    engine: Literal["cpu", "hf", "vllm"] = Field("hf", description="rollout engine the teacher generates with (cpu = lean sampler, Llama family; vllm = vLLM, where installed)")
    limit: int | None = Field(None, ge=1, description="SFT-pool problems sent to the teacher (None = all)")
    batch_problems: int = Field(16, ge=1, description="problems per teacher batch (the progress bar's unit)")


class SynthConfig(_Section):
    producer: Literal["programmatic", "teacher", "reference"] = Field(
        "programmatic",
        description="programmatic: procedural families, exact slips and checks; teacher: an LLM writes the traces; reference: the data's own worked solutions",
    )
    trial_and_error_fraction: float = Field(
        0.5, ge=0, le=1, description="share of traces whose first attempt carries a slip that a check exposes and a retry fixes"
    )
    traces_per_problem: int = Field(1, ge=1, description="traces synthesized per SFT problem (each with its own slip draw; programmatic)")
    teacher: TeacherConfig = TeacherConfig()

    @model_validator(mode="after")
    def _teacher_models(self) -> "SynthConfig":
        if self.producer == "teacher" and not self.teacher.models:
            raise ValueError("synth.producer 'teacher' needs synth.teacher.models (HF checkpoint dirs or hub ids)")
        return self


class DeepSpeedConfig(_Section):
    zero_stage: Literal[0, 1, 2, 3] = Field(0, description="ZeRO stage; 0 on one CPU process, 2-3 for large models")
    offload_optimizer: bool = Field(False, description="ZeRO (stage 1-3) optimizer state in host memory, stepped by DeepSpeed's CPU Adam (GPU profiles)")
    activation_checkpointing: bool = Field(False, description="recompute activations in backward to save memory")
    param_persistence_threshold: int = Field(
        100_000, ge=0, description="ZeRO-3: parameters with fewer elements stay whole on every rank (DeepSpeed's "
        "stage3_param_persistence_threshold; 0 partitions every parameter)")
    backend: Literal["gloo", "nccl"] = Field("gloo", description="torch.distributed backend: gloo on CPU, nccl on GPUs")

    @model_validator(mode="after")
    def _offload_needs_zero(self) -> "DeepSpeedConfig":
        if self.offload_optimizer and self.zero_stage == 0:
            raise ValueError("offload_optimizer needs zero_stage 1, 2 or 3 (ZeRO partitions the optimizer state it moves to host memory)")
        return self


class SFTConfig(_Section):
    epochs: float = Field(3, gt=0, description="passes over the SFT data (paper: 3)")
    lr: float = Field(1e-5, gt=0, description="peak learning rate (paper: 1e-5 for large models)")
    warmup_fraction: float = Field(0.03, ge=0, lt=1, description="linear warmup share of steps, then cosine decay")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="cosine decays to this fraction of the peak lr")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    batch_tokens: int = Field(8192, ge=16, description="token budget per optimizer step (length-bucketed, padding included)")
    grad_clip: float = Field(1.0, gt=0, description="max global gradient norm")
    max_minutes: float | None = Field(None, gt=0, description="wall-clock cap on training (evaluation time excluded); None = no cap")
    anneal_within_cap: bool = Field(
        False, description="true: the cosine's progress is the larger of the step share and the share of max_minutes used, so a "
        "run the cap stops still ends at min_lr_ratio (the schedule then depends on the machine's speed); false: by steps only"
    )
    checkpoint_every: int = Field(200, ge=1, description="optimizer steps between resumable checkpoints")
    keep_checkpoints: int = Field(2, ge=1, description="complete checkpoints kept (older ones are deleted after a newer one is complete)")
    eval_every_minutes: float | None = Field(
        None, gt=0, description="held-out greedy accuracy every N training minutes (the accuracy-vs-minutes curve); None = end only"
    )
    eval_limit: int | None = Field(None, ge=1, description="held-out items per intermediate eval (None = all); the final eval uses all")
    resume: bool = Field(True, description="continue from the newest complete checkpoint in <models_dir>/sft/checkpoints if one exists")

    @model_validator(mode="after")
    def _anneal_needs_cap(self) -> "SFTConfig":
        if self.anneal_within_cap and self.max_minutes is None:
            raise ValueError("anneal_within_cap needs max_minutes (the cap it anneals within)")
        return self


class RLConfig(_Section):
    k: int = Field(8, description="responses sampled per prompt, K (paper: 64)")
    prompts_per_step: int = Field(32, ge=1, description="prompts per update, B (paper: 32)")
    temperature: float = Field(1.2, gt=0, description="rollout sampling temperature, τ (paper: 1.2)")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling mass")
    max_new_tokens: int = Field(256, ge=1, description="response budget during RL, tokens (paper: 10,240-16,384)")
    lr: float = Field(1.5e-6, gt=0, description="policy learning rate (paper: 1.5e-6 for large models)")
    kl_coef: float = Field(2e-4, ge=0, description="β_KL on the group-centred sequence KL (paper: 2e-4)")
    entropy_coef: float = Field(1e-3, ge=0, description="β_H, entropy bonus on generated tokens (paper: used, value unstated)")
    ema_rate: float = Field(0.9, ge=0, le=1, description="α of the EMA reference θ_ref ← α θ_ref + (1-α) θ (paper: EMA, rate unstated)")
    ref_update_every: int = Field(1, ge=1, description="steps between EMA reference updates")
    frozen_reference: bool = Field(False, description="ablation: keep the reference fixed at the SFT model")
    penalty_overlong: bool = Field(True, description="-1 when no end-of-response within max_new_tokens")
    penalty_repetition: bool = Field(True, description="-1 when n-gram repetition exceeds the threshold")
    penalty_garbage: bool = Field(True, description="-1 for undecodable or non-math junk")
    penalty_spam: bool = Field(True, description="-1 when a response marks more than max_answer_marks answers (boxed, ####, 'the answer is')")
    penalty_padding: bool = Field(True, description="-1 when a response holds a run of padding_run or more identical characters (filler up to the length limit)")
    max_answer_marks: int = Field(2, ge=1, description="answer marks a response may hold before it counts as answer spamming")
    padding_run: int = Field(40, ge=2, description="identical characters in a row that count as padding")
    penalty_mode: Literal["replace", "add"] = Field("replace", description="penalty replaces the reward, or is added to it")
    repetition_ngram: int = Field(12, ge=2, description="token n-gram size of the repetition measure")
    repetition_threshold: float = Field(0.5, gt=0, lt=1, description="repetitive when 1 - distinct/total n-grams exceeds this")
    drop_uniform_groups: bool = Field(True, description="drop groups whose rewards are all equal (no signal) and refill")
    oversample: bool = Field(
        False, description="with drop_uniform_groups: each sampling call draws extra prompts, sized by the uniform-group "
        "rate of the steps so far (DAPO's dynamic sampling), so another call to refill is rarely needed; surplus groups are not trained")
    updates_per_batch: int = Field(1, ge=1, description="optimizer updates per rollout batch; > 1 uses the clipped importance ratio")
    clip_ratio: float = Field(0.2, gt=0, description="ε of the clipped importance ratio (only when updates_per_batch > 1)")
    grad_clip: float = Field(1.0, gt=0, description="gradient-norm clip")
    rounds: int = Field(3, ge=1, description="RL rounds; a checkpoint and a held-out eval after each")
    steps_per_round: int = Field(10, ge=1, description="updates per round")
    max_minutes: float | None = Field(None, gt=0, description="wall-clock cap on training (rollouts + updates), minutes; evals excluded")
    eval_limit: int | None = Field(None, ge=1, description="held-out problems for the per-round greedy eval (None: all); the final eval uses all")
    rollout_engine: Literal["cpu", "hf", "vllm"] = Field("cpu", description="generation engine for RL rollouts and every held-out eval: cpu = the lean KV-cache sampler (Llama family; on the model's device, CPU or CUDA); hf = transformers generate, any model; vllm = vLLM colocated in the trainer's process, weights loaded in place before each call (needs vLLM installed: the GPU image, or `make test-vllm`'s environment)")
    resume: bool = Field(True, description="continue from the newest complete round")

    @model_validator(mode="after")
    def _oversample_needs_dropping(self) -> "RLConfig":
        if self.oversample and not self.drop_uniform_groups:
            raise ValueError("rl.oversample draws extra prompts to replace dropped uniform groups: it needs rl.drop_uniform_groups: true")
        return self


class EvalConfig(_Section):
    budgets: list[int] = Field(default=[32, 64, 128, 256], description="inference-scaling token budgets (paper: 1k-16k)")
    n_samples: int = Field(4, ge=1, description="samples per problem for pass@1 / pass@k / maj@k")
    temperature: float = Field(1.0, gt=0, description="sampling temperature for heldout_pass1_t1")
    max_new_tokens: int = Field(256, ge=1, description="response budget for accuracy evaluation, tokens")
    answer_cue: str = Field(
        "\nSo the answer is \\boxed{",
        description="appended when a budget cuts the thinking before an answer; the policy completes it",
    )
    forced_answer_tokens: int = Field(16, ge=1, description="tokens the policy may use to complete a forced answer")
    rl_fractions: list[float] = Field(
        default=[0.3, 0.6, 0.9, 1.0],
        description="RL checkpoints the evaluate stage scores: the round nearest each fraction of the rounds run",
    )
    limit: int | None = Field(None, ge=1, description="evaluate the first N items only (None = all)")


class PromoteConfig(_Section):
    """The gate `t1 promote` applies before @champion moves (held-out greedy numbers from the evaluate stage)."""

    candidate: str | None = Field(
        None, description="evaluated checkpoint proposed as @challenger (e.g. rl_100pct, sft); None = the last one evaluated"
    )
    margin: float = Field(0.0, ge=0, le=1, description="held-out greedy accuracy must be >= champion's + margin")
    rate_tolerance: float = Field(
        0.01, ge=0, le=1, description="no-answer and penalty rates may exceed the champion's by at most this (absolute)"
    )
    max_mean_tokens: int | None = Field(
        None, ge=1, description="mean greedy response length must stay within this many tokens; None = 90 % of eval.max_new_tokens"
    )
    same_eval_data: bool = Field(True, description="compare with the champion only when both were scored on identical held-out data")


class Params(_Section):
    profile: str = Field("embedded", description="overlay applied from profiles/<name>.yaml")
    seed: int = Field(1234, description="global seed for generation, sampling and training")
    paths: PathsConfig = PathsConfig()
    tracking: TrackingConfig = TrackingConfig()
    data: DataConfig
    grading: GradingConfig = GradingConfig()
    model: ModelConfig = ModelConfig()
    deepspeed: DeepSpeedConfig = DeepSpeedConfig()
    synth: SynthConfig = SynthConfig()
    sft: SFTConfig = SFTConfig()
    rl: RLConfig = RLConfig()
    eval: EvalConfig = EvalConfig()
    promote: PromoteConfig = PromoteConfig()

    @model_validator(mode="after")
    def _cross_field(self) -> "Params":
        problems = []
        if self.rl.k < 2:
            problems.append(("rl.k", f"K must be >= 2 for a leave-one-out baseline, got {self.rl.k}"))
        limit = self.model.max_seq_len
        for name in ("rl", "eval"):
            budget = getattr(self, name).max_new_tokens
            if budget >= limit:
                problems.append((f"{name}.max_new_tokens", f"{budget} must be < model.max_seq_len ({limit})"))
        for i, b in enumerate(self.eval.budgets):
            if not 0 < b <= self.eval.max_new_tokens:
                problems.append((f"eval.budgets.{i}", f"budget {b} must be in 1..eval.max_new_tokens ({self.eval.max_new_tokens})"))
        if self.eval.budgets != sorted(set(self.eval.budgets)):
            problems.append(("eval.budgets", "budgets must be strictly increasing"))
        if problems:
            raise _FieldErrors(problems)
        return self

    def config_hash(self) -> str:
        """Run identity: sha256 of the resolved config (canonical JSON), first 12 hex digits."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


class _FieldErrors(ValueError):
    """Cross-field problems, each with the dotted field it is about."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


# ---------------------------------------------------------------- loading
def load_params(path: str | Path = "params.yaml", profile: str | None = None, overrides: list[str] | None = None) -> Params:
    """Read params.yaml, overlay the profile (argument, else the file's `profile:`), apply `--set` overrides, validate."""
    path = Path(path)
    raw = _read_yaml(path)
    name = profile or raw.get("profile") or "embedded"
    profile_path = path.parent / "profiles" / f"{name}.yaml"
    if not profile_path.exists():
        known = sorted(p.stem for p in (path.parent / "profiles").glob("*.yaml"))
        raise ConfigError(f"{path}: profile: no profile {name!r} (looked for {profile_path}; known: {known})")
    overlay = _read_yaml(profile_path)
    if "paths" in overlay:
        raise ConfigError(f"{profile_path}: paths: profiles may not change paths (dvc.yaml templates outputs from params.yaml)")
    merged = deep_merge(raw, overlay)
    merged["profile"] = name
    for item in overrides or []:
        merged = deep_merge(merged, parse_override(item))
    sources = {"": path, "profile": profile_path, "overrides": list(overrides or [])}
    return _validate(merged, sources)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: line 1: top level must be a mapping, got {type(data).__name__}")
    return data


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; lists and scalars in `over` replace those in `base`.

    A dict with integer keys over a list edits list items: {"0": {"path": p}} sets item 0's path.
    """
    out = dict(base)
    for key, val in over.items():
        cur = out.get(key)
        if isinstance(val, dict) and isinstance(cur, dict):
            out[key] = deep_merge(cur, val)
        elif isinstance(val, dict) and isinstance(cur, list) and val and all(str(k).isdigit() for k in val):
            out[key] = _merge_list(key, cur, val)
        else:
            out[key] = val
    return out


def _merge_list(key: str, cur: list[Any], over: dict[str, Any]) -> list[Any]:
    items = list(cur)
    for idx, val in over.items():
        i = int(idx)
        if i >= len(items):
            raise ConfigError(f"--set {key}.{idx}: index out of range (the list has {len(items)} items)")
        items[i] = deep_merge(items[i], val) if isinstance(val, dict) and isinstance(items[i], dict) else val
    return items


def parse_override(item: str) -> dict[str, Any]:
    """'rl.k=16' -> {'rl': {'k': 16}}; the value is parsed as YAML (so 1e-5, true, [1,2] work)."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected section.key=value")
    key, value = item.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"--set {item!r}: empty key part")
    node: Any = yaml.safe_load(value) if value.strip() else ""
    for part in reversed(parts):
        node = {part: node}
    return node


def _validate(merged: dict[str, Any], sources: dict[str, Any]) -> Params:
    try:
        return Params.model_validate(merged)
    except ValidationError as e:
        raise ConfigError(_describe(e, sources)) from None


def _describe(err: ValidationError, sources: dict[str, Any]) -> str:
    lines = []
    for item in err.errors():
        cause = item.get("ctx", {}).get("error")
        found = cause.problems if isinstance(cause, _FieldErrors) else [(".".join(str(p) for p in item["loc"]), item["msg"])]
        lines += [f"{_where(field, sources)}{field or '<root>'}: {msg}" for field, msg in found]
    return "invalid params:\n  " + "\n  ".join(lines)


def _where(field: str, sources: dict[str, Any]) -> str:
    """Where `field` was set: '--set k=v: ', 'profiles/x.yaml:12: ' or 'params.yaml:42: '."""
    for item in reversed(sources["overrides"]):
        key = item.split("=", 1)[0].strip()
        if field == key or field.startswith(key + ".") or key.startswith(field + "."):
            return f"--set {item}: "
    parts = [p for p in field.split(".") if p]
    for key in ("profile", ""):
        line = yaml_line(sources[key], parts)
        if line is not None:
            return f"{sources[key]}:{line}: "
    return f"{sources['']}: "


def yaml_line(path: Path, parts: list[str]) -> int | None:
    """1-based line of the deepest node along `parts` in a YAML file (None if the top key is absent)."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    found = None
    for part in parts:
        step = _child(node, part)
        if step is None:
            break
        found, node = step
    return None if found is None else found.start_mark.line + 1


def _child(node: Any, part: str) -> tuple[Any, Any] | None:
    """(node whose line names `part`, node to descend into)."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == part:
                return k, v
        return None
    if isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
        item = node.value[int(part)]
        return item, item
    return None
