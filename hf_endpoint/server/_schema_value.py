"""Deterministic sample values for the scripted backend's grammar-constrained output.

The scripted backend must answer a JSON-schema grammar (``grammar``, ``response_format``, tools)
with JSON that validates, without any model. It walks the schema: types, ``required``,
``properties``, ``enum``/``const``, nested objects, arrays (``minItems``/``maxItems``/
``prefixItems``), ``$ref`` into ``$defs``/``definitions``, ``anyOf``/``oneOf`` (first usable
branch), ``allOf`` (merged), string formats and bounds, numeric bounds. A regex grammar is
answered with the shortest string the pattern's parse tree produces (see ``regex_sample``);
when that does not fully match, the fixed text ``"scripted"`` is returned.
"""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

__all__ = ["regex_sample", "sample_json", "sample_value"]

_FORMATS = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "hostname": "example.com",
}


def _resolve(ref: str, root: dict[str, Any]) -> Any:
    """Follow a local JSON pointer such as ``#/$defs/Person``."""
    if not ref.startswith("#"):
        return {}
    node: Any = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node


def _merge_all_of(schema: dict[str, Any], root: dict[str, Any], depth: int) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        part = _deref(part, root, depth)
        for key, value in part.items():
            if key == "properties":
                merged.setdefault("properties", {}).update(value)
            elif key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged.setdefault(key, value)
    return merged


def _deref(schema: Any, root: dict[str, Any], depth: int) -> dict[str, Any]:
    while isinstance(schema, dict) and "$ref" in schema and depth < 32:
        schema = {**_resolve(schema["$ref"], root), **{k: v for k, v in schema.items() if k != "$ref"}}
        depth += 1
    return schema if isinstance(schema, dict) else {}


def _string(schema: dict[str, Any]) -> str:
    if "pattern" in schema:
        return regex_sample(str(schema["pattern"]), anchored=False)
    value = _FORMATS.get(str(schema.get("format", "")), "example")
    min_len = int(schema.get("minLength", 0))
    max_len = schema.get("maxLength")
    if len(value) < min_len:
        value = value + "x" * (min_len - len(value))
    if max_len is not None:
        value = value[: int(max_len)]
    return value


def _number(schema: dict[str, Any], integer: bool) -> int | float:
    low = schema.get("minimum")
    high = schema.get("maximum")
    ex_low = schema.get("exclusiveMinimum")
    ex_high = schema.get("exclusiveMaximum")
    value: float = 1 if integer else 1.5
    if isinstance(ex_low, (int, float)) and not isinstance(ex_low, bool):
        value = max(value, ex_low + 1 if integer else ex_low + 0.5)
    if low is not None:
        value = max(value, low)
    if isinstance(ex_high, (int, float)) and not isinstance(ex_high, bool):
        value = min(value, ex_high - 1 if integer else ex_high - 0.5)
    if high is not None:
        value = min(value, high)
    step = schema.get("multipleOf")
    if step:
        value = (value // step) * step
        if low is not None and value < low:
            value += step
    return int(value) if integer else float(value)


def sample_value(schema: Any, root: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A JSON value valid against ``schema`` (best effort for exotic keywords)."""
    if root is None:
        root = schema if isinstance(schema, dict) else {}
    if schema is True or schema is None:
        return "example"
    schema = _deref(schema, root, depth)
    if "allOf" in schema:
        schema = _merge_all_of(schema, root, depth)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = [_deref(o, root, depth + 1) for o in schema[key]]
            usable = [o for o in options if o.get("type") != "null"] or options
            base = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
            return sample_value({**base, **usable[0]}, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        props = schema.get("properties", {})
        out = {name: sample_value(sub, root, depth + 1) for name, sub in props.items()}
        for name in schema.get("required", []):
            out.setdefault(name, "example")
        return out
    if kind == "array":
        prefix = schema.get("prefixItems", [])
        count = max(int(schema.get("minItems", 1)), len(prefix))
        if schema.get("maxItems") is not None:
            count = min(count, int(schema["maxItems"]))
        items = schema.get("items", {})
        return [sample_value(prefix[i] if i < len(prefix) else items, root, depth + 1) for i in range(count)]
    if kind == "string":
        return _string(schema)
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return True
    return None


def sample_json(schema: dict[str, Any]) -> str:
    """Compact JSON text valid against ``schema``."""
    return json.dumps(sample_value(schema), separators=(",", ":"), ensure_ascii=False)


def _parser() -> Any:
    # ``re._parser`` (3.11+) is the maintained home of ``sre_parse``, whose import warns.
    try:
        return importlib.import_module("re._parser")
    except ImportError:  # pragma: no cover - Python 3.10
        return importlib.import_module("sre_parse")


_CATEGORY = {"CATEGORY_DIGIT": "0", "CATEGORY_WORD": "a", "CATEGORY_SPACE": " ", "CATEGORY_NOT_DIGIT": "a"}


def _emit(items: Any) -> str:
    out: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if chr(arg) != "a" else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_emit_in(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _high, sub = arg
            out.append(_emit(sub) * int(low))
        elif name == "SUBPATTERN":
            out.append(_emit(arg[-1]))
        elif name == "ATOMIC_GROUP":
            out.append(_emit(arg))
        elif name == "BRANCH":
            out.append(_emit(arg[1][0]))
        elif name == "CATEGORY":
            out.append(_CATEGORY.get(str(arg), "a"))
    return "".join(out)


def _emit_in(items: Any) -> str:
    negate = any(str(op) == "NEGATE" for op, _ in items)
    if negate:
        excluded = {chr(a) for op, a in items if str(op) == "LITERAL"}
        return next(c for c in "abcdefghijklmnopqrstuvwxyz0123456789" if c not in excluded)
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            return chr(arg)
        if name == "RANGE":
            return chr(arg[0])
        if name == "CATEGORY":
            return _CATEGORY.get(str(arg), "a")
    return "a"


def regex_sample(pattern: str, anchored: bool = True) -> str:
    """The shortest string the pattern's first branches produce; ``"scripted"`` if that fails."""
    try:
        candidate = _emit(_parser().parse(pattern))
    except Exception:
        return "scripted"
    matcher = re.fullmatch if anchored else re.search
    try:
        if matcher(pattern, candidate):
            return candidate
    except re.error:
        pass
    return "scripted"
