"""Evaluation: held-out accuracy for the training stages, and the evaluator (pass@k, maj@k, token budgets)."""
