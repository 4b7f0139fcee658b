"""User-generated content."""

from __future__ import annotations

from domain.kpi import share


def ugc_share(*, member_content: int, all_content: int) -> float | None:
    """Content items created by members (posts and comments) in the window / all content
    items published in the window: posts, comments and shares (a share republishes
    existing content, mostly the operator's; tierwise records no operator posts, so
    shares are the non-member-created part). The report's window is the period."""
    return share(member_content, all_content)
