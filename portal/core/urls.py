"""Redirect targets taken from requests, restricted to this site."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next_url(candidate: str | None, default: str) -> str:
    """`candidate` if it is a path on this site, else `default` (no open redirects)."""
    if not candidate or not candidate.startswith("/") or candidate.startswith("//"):
        return default
    if "\\" in candidate or any(ord(c) < 32 for c in candidate):
        return default
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc:
        return default
    return candidate
