"""Composition root: one thin `run(params)` per stage; the only place backends are chosen."""
