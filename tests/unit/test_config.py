import pytest
from pydantic import BaseModel, ValidationError

from t1core import config as C
from t1core.config import ConfigError, Params, load_params, parse_override

REPO_PARAMS = C.Path(__file__).resolve().parents[2] / "params.yaml"


def test_default_params_are_the_embedded_profile():
    p = load_params(REPO_PARAMS)
    assert p.profile == "embedded"
    assert p.model.kind == "tiny"
    assert [s.kind for s in p.data.sources] == ["procedural"]


PROFILES = sorted(f.stem for f in (REPO_PARAMS.parent / "profiles").glob("*.yaml"))
LOCAL_MODEL_PROFILES = {"smollm2", "smollm2-gpu"}  # model.path is a local directory `make smollm2` writes


@pytest.mark.parametrize("profile", [p for p in PROFILES if p not in LOCAL_MODEL_PROFILES])
def test_every_profile_validates(profile):
    assert load_params(REPO_PARAMS, profile=profile).profile == profile


def test_a_profile_whose_local_checkpoint_is_missing_names_it(tmp_path, monkeypatch):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "params.yaml").write_text(REPO_PARAMS.read_text())
    for name in LOCAL_MODEL_PROFILES:
        (tmp_path / "profiles" / f"{name}.yaml").write_text((REPO_PARAMS.parent / "profiles" / f"{name}.yaml").read_text())
    monkeypatch.chdir(tmp_path)  # relative model paths resolve against the project directory
    for name in LOCAL_MODEL_PROFILES:
        with pytest.raises(ConfigError, match=rf"{name}\.yaml:\d+: model: .*model\.path .*smollm2-135m-instruct.* is not a directory"):
            load_params(tmp_path / "params.yaml", profile=name)


def test_the_prefect_form_offers_every_profile():
    from typing import get_args

    from flows.settings import Profile

    assert sorted(get_args(Profile)) == PROFILES


@pytest.mark.parametrize("profile", ["qwen2.5-32b", "qwen2.5-14b", "glm-4-9b"])
def test_gpu_profiles_carry_the_paper_settings(profile):
    p = load_params(REPO_PARAMS, profile=profile)
    assert (p.rl.k, p.rl.temperature, p.rl.prompts_per_step) == (64, 1.2, 32)
    assert (p.rl.lr, p.rl.kl_coef, p.sft.lr, p.sft.epochs) == (1.5e-6, 2e-4, 1e-5, 3)
    assert p.eval.budgets[0] == 1024 and p.eval.budgets[-1] == p.rl.max_new_tokens in (10240, 16384)
    assert p.model.dtype == "bfloat16" and p.model.trust_remote_code is False
    assert p.deepspeed.backend == "nccl" and p.deepspeed.zero_stage in (2, 3) and p.deepspeed.activation_checkpointing


def test_params_are_frozen():
    p = load_params(REPO_PARAMS)
    with pytest.raises(ValidationError):
        p.rl.k = 3


def test_hash_is_stable_and_tracks_changes():
    a, b = load_params(REPO_PARAMS), load_params(REPO_PARAMS)
    assert a.config_hash() == b.config_hash() and len(a.config_hash()) == 12
    assert load_params(REPO_PARAMS, overrides=["rl.k=4"]).config_hash() != a.config_hash()
    assert load_params(REPO_PARAMS, profile="math-real").config_hash() != a.config_hash()


def test_overrides_are_typed():
    p = load_params(REPO_PARAMS, overrides=["rl.lr=3e-5", "eval.budgets=[8, 16]", "rl.frozen_reference=true"])
    assert p.rl.lr == 3e-5 and p.eval.budgets == [8, 16] and p.rl.frozen_reference is True
    assert parse_override("a.b.c=1") == {"a": {"b": {"c": 1}}}
    p = load_params(REPO_PARAMS, profile="math-real", overrides=["data.sources.1.limit=10", "data.eval_sets.0.name=m5"])
    assert p.data.sources[1].limit == 10 and p.data.sources[1].kind == "gsm8k" and p.data.eval_sets[0].name == "m5"
    with pytest.raises(ConfigError, match="index out of range"):
        load_params(REPO_PARAMS, overrides=["data.sources.5.limit=1"])
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override("rl.k")


@pytest.mark.parametrize(
    "override,field",
    [
        ("rl.k=1", "rl.k"),
        ("rl.k=-3", "rl.k"),
        ("eval.budgets=[64, 9999]", "eval.budgets.1"),
        ("eval.budgets=[64, 32]", "eval.budgets"),
        ("rl.max_new_tokens=4096", "rl.max_new_tokens"),
        ("rl.temperature=0", "rl.temperature"),
        ("rl.unknown=1", "rl.unknown"),
        ("model.kind=hf", "model"),
        ("model.path=/no/such/model", "model"),  # with kind=hf below: a missing local checkpoint
        ("model.num_heads=5", "model"),
        ("data.procedural.levels=[0, 9]", "data.procedural"),
        ("grading.mode=fuzzy", "grading.mode"),
        ("deepspeed.offload_optimizer=true", "deepspeed"),  # at zero_stage 0 there is no partitioned state to move
    ],
)
def test_bad_values_name_the_field(override, field):
    with pytest.raises(ConfigError) as e:
        load_params(REPO_PARAMS, overrides=[*(["model.kind=hf"] if override.startswith("model.path") else []), override])
    assert f"{field}:" in str(e.value)
    assert f"--set {override}" in str(e.value)


def test_oversampling_without_dropping_groups_is_refused():
    with pytest.raises(ConfigError, match=r"rl: .*rl.oversample .*needs rl.drop_uniform_groups: true"):
        load_params(REPO_PARAMS, overrides=["rl.drop_uniform_groups=false", "rl.oversample=true"])


def test_annealing_within_the_cap_needs_a_cap():
    with pytest.raises(ConfigError, match=r"sft: .*anneal_within_cap needs max_minutes"):
        load_params(REPO_PARAMS, overrides=["sft.max_minutes=null", "sft.anneal_within_cap=true"])
    assert load_params(REPO_PARAMS, overrides=["sft.anneal_within_cap=true"]).sft.anneal_within_cap


def test_errors_point_at_the_yaml_line(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "embedded.yaml").write_text("{}\n")
    text = REPO_PARAMS.read_text().replace("  k: 8 ", "  k: 1 ").replace("  top_p: 1.0", "  top_p: 1.0\n  bogus: 3")
    (tmp_path / "params.yaml").write_text(text)
    lines = text.splitlines()
    with pytest.raises(ConfigError) as e:
        load_params(tmp_path / "params.yaml")
    msg = str(e.value)
    bogus_line = next(i for i, l in enumerate(lines, 1) if "bogus" in l)
    assert f"params.yaml:{bogus_line}: rl.bogus: Extra inputs are not permitted" in msg


def test_cross_field_error_lines(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "embedded.yaml").write_text("rl:\n  k: 1\n")
    (tmp_path / "params.yaml").write_text(REPO_PARAMS.read_text())
    with pytest.raises(ConfigError, match=r"profiles/embedded.yaml:2: rl.k: K must be >= 2"):
        load_params(tmp_path / "params.yaml")


def test_profile_may_not_move_paths(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "x.yaml").write_text("paths:\n  metrics_dir: elsewhere\n")
    (tmp_path / "params.yaml").write_text(REPO_PARAMS.read_text())
    with pytest.raises(ConfigError, match="profiles may not change paths"):
        load_params(tmp_path / "params.yaml", profile="x")


def test_missing_files_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_params(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="no profile 'ghost'"):
        load_params(REPO_PARAMS, profile="ghost")
    (tmp_path / "bad.yaml").write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_params(tmp_path / "bad.yaml")


def _models(root: type[BaseModel]):
    yield root
    for f in root.model_fields.values():
        t = f.annotation
        for cand in (t, *getattr(t, "__args__", ())):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                yield from _models(cand)


def test_every_leaf_field_is_documented():
    undocumented = []
    for model in set(_models(Params)):
        for name, f in model.model_fields.items():
            nested = isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel)
            if not nested and not f.description:
                undocumented.append(f"{model.__name__}.{name}")
    assert not undocumented


def test_source_without_path_is_rejected():
    with pytest.raises(ConfigError, match="needs a path"):
        load_params(REPO_PARAMS, overrides=["data.sources=[{name: m, kind: math}]"])
