"""Test helpers: TGI's OpenAPI schemas as jsonschema validators, SSE parsing, snapshot shapes."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import requests
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DATA = Path(__file__).resolve().parents[1] / "data" / "tgi"


def snapshot(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` -> JSON Schema ``anyOf [..., null]``; drop OpenAPI-only keys."""
    if isinstance(node, list):
        return [_nullable(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable(v) for k, v in node.items() if k not in ("example", "discriminator", "format")}
    # utoipa writes string "defaults" such as "null"; they are documentation only.
    out.pop("default", None)
    if out.pop("nullable", False):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _registry() -> Registry:
    spec = json.loads((DATA / "openapi.json").read_text())
    spec = copy.deepcopy(spec)
    spec["components"] = _nullable(spec["components"])
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    return Registry().with_resource("urn:tgi", resource)


def validate(instance: Any, component: str) -> None:
    """Validate against ``#/components/schemas/<component>`` of TGI's openapi.json."""
    schema = {"$ref": f"urn:tgi#/components/schemas/{component}"}
    jsonschema.Draft202012Validator(schema, registry=_registry()).validate(instance)


def validate_list(instance: Any, component: str) -> None:
    assert isinstance(instance, list)
    for item in instance:
        validate(item, component)


def sse_events(response: requests.Response) -> list[str]:
    """The ``data:`` payloads of an SSE response (comments skipped), as text (SSE is always UTF-8, whatever the
    content type says: requests would guess Latin-1 for a ``text/*`` type without a charset)."""
    events = []
    for block in response.content.decode("utf-8").split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data:"):
                payload = line[5:]
                events.append(payload[1:] if payload.startswith(" ") else payload)
    return events


def sse_json(response: requests.Response) -> list[Any]:
    return [json.loads(e) for e in sse_events(response) if e != "[DONE]"]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def assert_shape(ours: Any, recorded: Any, path: str = "$", optional: frozenset[str] = frozenset()) -> None:
    """Same key sets and value types as a recorded response.

    Recorded files are pydantic dumps: keys TGI omits appear there as null. So a recorded key
    whose value is null may be absent from ours; every key we send must exist in the recording,
    and every non-null recorded key must be in ours with the same JSON type. ``optional`` names
    keys that may differ because the request differed (e.g. ``top_tokens``).
    """
    if recorded is None or ours is None:
        return
    assert _kind(ours) == _kind(recorded), f"{path}: {_kind(ours)} != {_kind(recorded)}"
    if isinstance(recorded, dict):
        extra = set(ours) - set(recorded) - optional
        assert not extra, f"{path}: keys not in the recording: {sorted(extra)}"
        missing = {k for k, v in recorded.items() if v is not None and k not in ours} - optional
        assert not missing, f"{path}: keys missing: {sorted(missing)}"
        for key in set(ours) & set(recorded):
            assert_shape(ours[key], recorded[key], f"{path}.{key}", optional)
    elif isinstance(recorded, list) and recorded and ours:
        assert_shape(ours[0], recorded[0], f"{path}[0]", optional)
