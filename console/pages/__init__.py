"""The console's pages, one module per part of the product, each an ``APIRouter``."""

from __future__ import annotations

from fastapi import APIRouter

from console.pages import activity, leads, overview, replies

ROUTERS: tuple[APIRouter, ...] = (overview.router, leads.router, replies.router, activity.router)
"""Every page's router, in the order of the navigation."""
