"""The scripted backend's control routes (never protected by the API key, never faulted).

``GET /__scripted__/config``      current configuration, with ``fields`` documenting each key
``POST /__scripted__/config``     merge a JSON object of fields (400 with ``error`` if unknown)
``DELETE /__scripted__/config``   back to the start-up configuration; clears counters and record
``GET /__scripted__/stats``       ``{"requests": {route: count}, "total": n}``
``DELETE /__scripted__/stats``    clear the counters only
``GET /__scripted__/last_request`` ``{method, path, query, headers, body}`` of the last request, and ``inputs``
                                  (its text and image chunks in order) when it carried images
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from aiohttp import web

from ._app import BACKEND, CONFIG, CONTROL, json_response
from ._faults import FIELDS

__all__ = ["add_control_routes", "sync_backend"]

_BACKEND_KEYS = ("reply", "n_tokens", "token_delay", "huge_token_chars")


def sync_backend(app: web.Application) -> None:
    """Copy the backend-level fields of the configuration onto the scripted backend."""
    backend: Any = app.get(BACKEND)  # absent on the TEI application (its model has no such fields)
    config = app[CONTROL].config
    for key in _BACKEND_KEYS:
        if key in config and hasattr(backend, key):
            setattr(backend, key, config[key])
    server = app.get(CONFIG)  # (the TEI application has no TGI limits)
    if server is not None:
        server.limits = replace(server.limits, max_image_fetch_size=int(config["max_image_fetch_size"]))


async def get_config(request: web.Request) -> web.StreamResponse:
    return json_response({"config": request.app[CONTROL].config, "fields": FIELDS})


async def post_config(request: web.Request) -> web.StreamResponse:
    try:
        changes = json.loads(await request.text() or "{}")
        if not isinstance(changes, dict):
            raise ValueError("the configuration must be a JSON object")
        request.app[CONTROL].update(changes)
    except ValueError as exc:
        return json_response({"error": str(exc)}, status=400)
    sync_backend(request.app)
    return json_response({"config": request.app[CONTROL].config})


async def delete_config(request: web.Request) -> web.StreamResponse:
    request.app[CONTROL].reset_config()
    sync_backend(request.app)
    return json_response({"config": request.app[CONTROL].config})


async def get_stats(request: web.Request) -> web.StreamResponse:
    return json_response(request.app[CONTROL].stats())


async def delete_stats(request: web.Request) -> web.StreamResponse:
    request.app[CONTROL].counts.clear()
    return json_response(request.app[CONTROL].stats())


async def get_last_request(request: web.Request) -> web.StreamResponse:
    return json_response(request.app[CONTROL].last)


def add_control_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/__scripted__/config", get_config)
    router.add_post("/__scripted__/config", post_config)
    router.add_delete("/__scripted__/config", delete_config)
    router.add_get("/__scripted__/stats", get_stats)
    router.add_delete("/__scripted__/stats", delete_stats)
    router.add_get("/__scripted__/last_request", get_last_request)
    sync_backend(app)
