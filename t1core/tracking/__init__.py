"""Experiment tracking (MLflow). Issue #6 adds nested pipeline runs and the registry."""
