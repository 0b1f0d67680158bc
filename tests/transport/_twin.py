"""Run the same test against TGIClient and AsyncTGIClient (or another sync/async pair: ``tests/tei/_twin.py``): the
async client is driven on its own event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from hf_endpoint import AsyncTGIClient, HFEndpointError, TGIClient


class Twin:
    """One client of either kind with a sync call surface; ``kind`` is "sync" or "async". Methods are called (and
    awaited) through it, other attributes are the client's."""

    #: The sync and the async client class.
    classes: tuple[type[Any], type[Any]] = (TGIClient, AsyncTGIClient)

    def __init__(self, kind: str, url: str, **options: Any) -> None:
        self.kind = kind
        self.loop: asyncio.AbstractEventLoop | None = None
        sync, async_ = self.classes
        if kind == "sync":
            self.client: Any = sync(url, **options)
        else:
            self.loop = asyncio.new_event_loop()
            self.client = async_(url, **options)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            items, error = self._run(method, name, args, kwargs)
            if error is not None:
                raise error
            return items

        return call

    def collect(self, name: str, *args: Any, **kwargs: Any) -> tuple[list[Any], HFEndpointError | None]:
        """A stream's items up to an error, and the error (so tests can check nothing was lost or repeated)."""
        items, error = self._run(getattr(self.client, name), name, args, kwargs)
        return items, error

    def _run(self, method: Any, name: str, args: Any, kwargs: Any) -> tuple[Any, HFEndpointError | None]:
        streaming = name.endswith("_stream")
        if self.loop is None:
            if not streaming:
                return method(*args, **kwargs), None
            out: list[Any] = []
            try:
                for item in method(*args, **kwargs):
                    out.append(item)
            except HFEndpointError as err:
                return out, err
            return out, None

        async def go() -> tuple[Any, HFEndpointError | None]:
            if not streaming:
                return await method(*args, **kwargs), None
            out: list[Any] = []
            try:
                async for item in method(*args, **kwargs):
                    out.append(item)
            except HFEndpointError as err:
                return out, err
            return out, None

        return self.loop.run_until_complete(go())

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.loop is None:
            self.client.close()
        else:
            self.loop.run_until_complete(self.client.aclose())
            self.loop.close()


def twins(url: str, **options: Any) -> Iterator[Twin]:
    for kind in ("sync", "async"):
        yield Twin(kind, url, **options)
