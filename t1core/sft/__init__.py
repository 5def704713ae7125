"""Supervised fine-tuning on a DeepSpeed engine."""
