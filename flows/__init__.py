"""Prefect orchestration of the t1 pipeline: flows only orchestrate; the work is the DVC stages.

No `from __future__ import annotations` in flow modules: it breaks pydantic parameters
under Prefect deployments (DESIGN.md §5).
"""
