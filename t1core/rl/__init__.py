"""T1 reinforcement learning: the objective, the penalties and the trainer."""
