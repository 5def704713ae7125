"""Security properties that can be tested on this machine (issue #9 §5)."""

import pickle
import re
from pathlib import Path

import pytest
import torch
import yaml

from t1core.config import ModelConfig, load_params
from t1core.models.engine import weights_only_load
from t1core.models.factory import build_tiny, load_pretrained
from t1core.models.tokenizer import train_tokenizer

REPO = Path(__file__).resolve().parents[2]
TINY = ModelConfig(hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, vocab_size=300)


class _Payload:
    """Unpickling this runs code: it touches `marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tok = train_tokenizer(["Compute 1+2.\n\\boxed{3}"] * 10, vocab_size=300)
    return build_tiny(TINY, tok, 0), tok


def test_weights_load_from_safetensors_only(tiny, tmp_path):
    model, tok = tiny
    pickled = tmp_path / "pickled"  # a checkpoint in the old pickle format: pytorch_model.bin, no safetensors
    model.config.save_pretrained(pickled)
    tok.save_pretrained(pickled)
    torch.save(model.state_dict(), pickled / "pytorch_model.bin")
    with pytest.raises(OSError, match="safetensors"):
        load_pretrained(tmp_path / "pickled", TINY)
    model.save_pretrained(tmp_path / "safe")
    tok.save_pretrained(tmp_path / "safe")
    loaded, _ = load_pretrained(tmp_path / "safe", TINY)
    assert torch.equal(loaded.lm_head.weight, model.lm_head.weight)


def test_deepspeed_state_is_read_without_pickle_code(tmp_path):
    """DeepSpeed's own loader uses weights_only=False; t1's engine reads its checkpoints with weights_only=True."""
    marker = tmp_path / "pwned"
    evil = tmp_path / "mp_rank_00_model_states.pt"
    with open(evil, "wb") as fh:
        pickle.dump({"module": _Payload(marker)}, fh)
    with pytest.raises(pickle.UnpicklingError):
        weights_only_load(str(evil))
    assert not marker.exists()
    good = tmp_path / "good.pt"
    torch.save({"module": {"w": torch.ones(2)}, "global_steps": 3, "ds_version": "0.19.8"}, good)
    assert weights_only_load(str(good))["global_steps"] == 3


def test_engine_checkpoints_use_the_weights_only_loader(tiny):
    from t1core.config import DeepSpeedConfig
    from t1core.models.engine import make_engine

    model, _ = tiny
    engine = make_engine(model, torch.optim.AdamW(model.parameters()), None, DeepSpeedConfig(), 1.0, "float32")
    assert engine.checkpoint_engine.load is weights_only_load


def test_trust_remote_code_is_off_unless_a_profile_sets_it():
    assert ModelConfig().trust_remote_code is False
    for profile in sorted((REPO / "profiles").glob("*.yaml")):
        text = profile.read_text()
        explicit = re.search(r"^\s*trust_remote_code:\s*true\b", text, re.MULTILINE) is not None
        local_model = {"model.path=."} if "path: .cache/" in text else set()  # `make smollm2` writes it; any dir validates
        assert load_params(REPO / "params.yaml", profile=profile.stem, overrides=sorted(local_model)).model.trust_remote_code \
            is explicit, profile.name
    code = "\n".join(p.read_text() for p in (REPO / "t1core").rglob("*.py"))
    assert "trust_remote_code=True" not in code


SECRET_KEY = re.compile(r"(^|_)(password|passwd|secret|token|api_?key|access_?key|credentials?)$", re.IGNORECASE)


def _leaves(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, f"{path}.{i}")
    else:
        yield path, node


@pytest.mark.parametrize("config", ["params.yaml", *sorted(f"profiles/{p.name}" for p in (REPO / "profiles").glob("*.yaml"))])
def test_no_secrets_in_params(config):
    """Credentials come from the environment (MLFLOW_TRACKING_USERNAME/PASSWORD/TOKEN, HF_TOKEN), never from params."""
    assert SECRET_KEY.search("hf_token") and SECRET_KEY.search("password") and not SECRET_KEY.search("max_new_tokens")
    for key, value in _leaves(yaml.safe_load((REPO / config).read_text()) or {}):
        assert not SECRET_KEY.search(key.split(".")[-1]), f"{config}: {key}"
        if isinstance(value, str):
            assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", value), f"{config}: {key} holds a URL with credentials"


def test_docker_images_run_as_a_non_root_user_and_pin_versions():
    for name in ("Dockerfile.cpu", "Dockerfile.gpu"):
        lines = [l.strip() for l in (REPO / "docker" / name).read_text().splitlines() if l.strip() and not l.startswith("#")]
        users = [l.split()[1] for l in lines if l.startswith("USER ")]
        assert users and users[-1] not in ("root", "0"), f"{name}: the last USER is {users[-1:] or 'missing'}"
        assert all(":" in l.split()[1] and not l.split()[1].endswith(":latest") for l in lines if l.startswith("FROM ")), name
        installs = [l for l in lines if "pip install" in l]
        assert installs and all("==" in l or "--constraint" in l for l in installs), f"{name}: unpinned pip install"
