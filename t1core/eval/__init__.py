"""Evaluation: generation, held-out accuracy (issue #5 adds pass@k, maj@k and inference-scaling curves)."""
