"""The console's pages, one module per part of the product, each an ``APIRouter``."""

from __future__ import annotations

from fastapi import APIRouter

from console.pages import (
    activity,
    campaign_launch,
    campaigns,
    deadletters,
    do_not_contact,
    leads,
    overview,
    replies,
)

# campaign_launch before campaigns: /campaigns/new is matched before /campaigns/{name}.
ROUTERS: tuple[APIRouter, ...] = (
    overview.router, campaign_launch.router, campaigns.router, leads.router, replies.router,
    deadletters.router, do_not_contact.router, activity.router,
)  # fmt: skip
"""Every page's router, in the order of the navigation."""
