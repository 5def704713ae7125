"""t1: T1 reasoning RL as an MLOps pipeline."""
__version__ = "0.1.0"
