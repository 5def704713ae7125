"""Experiment tracking (MLflow): a run per stage (nested under a pipeline run), the run manifest,
the model registry and the promotion gate."""
