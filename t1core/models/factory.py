"""Model factory: a tiny Llama from params, or any HF checkpoint; HF format (safetensors) in and out."""

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


def n_params(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())
