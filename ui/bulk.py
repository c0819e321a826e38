"""Bulk actions on a set of queue cases (built in the review-workflow issue)."""
from __future__ import annotations


def bulk_panel(case_ids: list[int]) -> None:
    """Render the bulk-action controls for the selected cases. Placeholder until the review issue lands."""
    return None
