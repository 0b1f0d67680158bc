"""Run the same test against TEIClient and AsyncTEIClient (the TGI clients' ``Twin`` with the TEI classes)."""

from __future__ import annotations

from typing import Any

from hf_endpoint import AsyncTEIClient, TEIClient
from tests.transport._twin import Twin

__all__ = ["TeiTwin"]


class TeiTwin(Twin):
    """One TEI client of either kind with a sync call surface; ``kind`` is "sync" or "async"."""

    classes: tuple[type[Any], type[Any]] = (TEIClient, AsyncTEIClient)
