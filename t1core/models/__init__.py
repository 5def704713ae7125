"""Models: chat template, local tokenizer, tiny-Llama factory, HF load/save, DeepSpeed engine."""
