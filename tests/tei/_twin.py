"""Run the same test against TEIClient and AsyncTEIClient: the async client is driven on its own event loop."""

from __future__ import annotations

import asyncio
from typing import Any

from hf_endpoint import AsyncTEIClient, TEIClient


class TeiTwin:
    """One TEI client of either kind with a sync call surface; ``kind`` is "sync" or "async"."""

    def __init__(self, kind: str, url: str, **options: Any) -> None:
        self.kind = kind
        self.loop: asyncio.AbstractEventLoop | None = None
        if kind == "sync":
            self.client: Any = TEIClient(url, **options)
        else:
            self.loop = asyncio.new_event_loop()
            self.client = AsyncTEIClient(url, **options)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.loop is None:
                return method(*args, **kwargs)
            return self.loop.run_until_complete(method(*args, **kwargs))

        return call

    def __enter__(self) -> TeiTwin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.loop is None:
            self.client.close()
        else:
            self.loop.run_until_complete(self.client.aclose())
            self.loop.close()
