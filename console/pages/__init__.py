"""The console's pages, one module per part of the product, each an ``APIRouter``."""

from __future__ import annotations

from fastapi import APIRouter

from console.pages import activity, deadletters, do_not_contact, overview

ROUTERS: tuple[APIRouter, ...] = (
    overview.router,
    deadletters.router,
    do_not_contact.router,
    activity.router,
)
"""Every page's router, in the order of the navigation."""
