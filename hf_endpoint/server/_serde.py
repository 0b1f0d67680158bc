"""Type checks that mirror serde's deserialization of TGI's request structs.

TGI rejects a body whose fields have the wrong JSON type before its handler runs, with a
plain-text 422 such as ``Failed to deserialize the JSON body into the target type: stop: invalid
type: string "\\n", expected a sequence at line 1 column 42``. This module reproduces those
messages for the fields TGI declares, so clients meet the same errors here as in production.
"""

from __future__ import annotations

import json
from typing import Any

from ._errors import missing_field, serde_error

__all__ = ["CHAT_FIELDS", "GENERATE_FIELDS", "check_fields", "check_grammar"]

# Field name -> serde type. "?" suffix: Option<T> (null accepted).
GENERATE_FIELDS: dict[str, str] = {
    "best_of": "usize?",
    "temperature": "f32?",
    "repetition_penalty": "f32?",
    "frequency_penalty": "f32?",
    "top_k": "i32?",
    "top_p": "f32?",
    "typical_p": "f32?",
    "do_sample": "bool",
    "max_new_tokens": "u32?",
    "return_full_text": "bool?",
    "stop": "seq",
    "truncate": "usize?",
    "watermark": "bool",
    "details": "bool",
    "decoder_input_details": "bool",
    "seed": "u64?",
    "top_n_tokens": "u32?",
    "adapter_id": "string?",
}

CHAT_FIELDS: dict[str, str] = {
    "model": "string?",
    "messages": "seq",
    "frequency_penalty": "f32?",
    "logit_bias": "seq?",
    "logprobs": "bool?",
    "top_logprobs": "u32?",
    "max_tokens": "u32?",
    "max_completion_tokens": "u32?",
    "n": "u32?",
    "presence_penalty": "f32?",
    "stream": "bool",
    "seed": "u64?",
    "temperature": "f32?",
    "top_p": "f32?",
    "tool_prompt": "string?",
    "stop": "seq?",
    "tools": "seq?",
    "stream_options": "map?",
}

_EXPECTED = {
    "u32": "u32",
    "u64": "u64",
    "usize": "usize",
    "i32": "i32",
    "f32": "f32",
    "bool": "a boolean",
    "string": "a string",
    "seq": "a sequence",
    "map": "struct StreamOptions",
}

_UNSIGNED = {"u32", "u64", "usize"}
_LIMITS = {"u32": 2**32 - 1, "u64": 2**64 - 1, "usize": 2**64 - 1, "i32": 2**31 - 1}


def _unexpected(value: Any) -> str:
    """serde's ``Unexpected`` wording for a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value!r}`"
    if isinstance(value, str):
        return f"string {json.dumps(value)}"
    if isinstance(value, list):
        return "sequence"
    return "map"


def _type_problem(value: Any, kind: str) -> str | None:
    """The serde message for ``value`` against ``kind``, or None when it deserializes."""
    optional = kind.endswith("?")
    base = kind.rstrip("?")
    if value is None:
        return None if optional else f"invalid type: null, expected {_EXPECTED[base]}"
    ok: bool
    if base in _LIMITS:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok:
            if base in _UNSIGNED and value < 0:
                return f"invalid value: integer `{value}`, expected {_EXPECTED[base]}"
            if abs(value) > _LIMITS[base]:
                return f"invalid value: integer `{value}`, expected {_EXPECTED[base]}"
    elif base == "f32":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif base == "bool":
        ok = isinstance(value, bool)
    elif base == "string":
        ok = isinstance(value, str)
    elif base == "seq":
        ok = isinstance(value, list)
    else:
        ok = isinstance(value, dict)
    return None if ok else f"invalid type: {_unexpected(value)}, expected {_EXPECTED[base]}"


def check_fields(obj: dict[str, Any], spec: dict[str, str], raw: str, prefix: str = "") -> None:
    """Raise the plain-text 422 TGI gives for the first field of ``obj`` with a wrong type."""
    for name, kind in spec.items():
        if name not in obj:
            continue
        problem = _type_problem(obj[name], kind)
        if problem is not None:
            raise serde_error(raw, f"{prefix}{name}", problem)
        if kind.startswith("seq") and name == "stop" and isinstance(obj[name], list):
            for item in obj[name]:
                if not isinstance(item, str):
                    raise serde_error(raw, f"{prefix}{name}", f"invalid type: {_unexpected(item)}, expected a string")


_GRAMMAR_VARIANTS = ("json", "json_object", "regex", "json_schema")


def check_grammar(value: Any, raw: str, path: str) -> None:
    """Deserialization of TGI's adjacently tagged ``GrammarType`` (``{"type", "value"}``)."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise serde_error(raw, path, f"invalid type: {_unexpected(value)}, expected adjacently tagged enum")
    if "type" not in value:
        raise missing_field(raw, "type", path)
    kind = value["type"]
    if kind not in _GRAMMAR_VARIANTS:
        expected = ", ".join(f"`{v}`" for v in _GRAMMAR_VARIANTS)
        raise serde_error(raw, f"{path}.type", f"unknown variant `{kind}`, expected one of {expected}")
    if "value" not in value:
        raise missing_field(raw, "value", path)
    if kind == "regex" and not isinstance(value["value"], str):
        raise serde_error(raw, f"{path}.value", f"invalid type: {_unexpected(value['value'])}, expected a string")
    if kind == "json_schema":
        config = value["value"]
        if not isinstance(config, dict):
            raise serde_error(
                raw, f"{path}.value", f"invalid type: {_unexpected(config)}, expected struct JsonSchemaConfig"
            )
        if "schema" not in config:
            raise missing_field(raw, "schema", f"{path}.value")
