"""User-generated content."""

from __future__ import annotations

from domain.kpi import share


def ugc_share(*, member_content: int, all_content: int) -> float | None:
    """Content items created by members (posts and comments) in the window / all content
    items published in the window (members' plus the operator's)."""
    return share(member_content, all_content)
