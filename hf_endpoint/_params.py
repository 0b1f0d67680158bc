"""Checking and fixing request parameters before anything is sent (pure).

TGI rejects several things OpenAI-style callers send every day (``temperature=0`` on ``/generate``,
``top_p=1.0``, ``stop`` as a string, OpenAI's ``response_format``, an assistant turn with both content and tool
calls). We fix what has one obvious meaning and raise :class:`InvalidRequestError` naming the problem and the fix
for the rest, so that no request we know will fail is sent.

(Over 400 lines: one check per parameter, each with the message that names its fix; they share the helpers at the
top and read best side by side, as the table of what TGI accepts that they are.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import InvalidRequestError
from ._images import PAYLOAD_LIMIT, check_image_part, check_payload, data_uri_size, image_markdown

__all__ = [
    "CHAT_PARAMS",
    "GENERATE_PARAMS",
    "TGI_MAX_TOP_N_TOKENS",
    "check_chat_choices",
    "normalize_generate_params",
    "normalize_messages",
    "normalize_response_format",
    "normalize_tool_choice",
    "normalize_tools",
]

GENERATE_PARAMS = frozenset(
    {
        "max_new_tokens",
        "temperature",
        "top_p",
        "top_k",
        "typical_p",
        "repetition_penalty",
        "frequency_penalty",
        "stop",
        "seed",
        "truncate",
        "do_sample",
        "best_of",
        "watermark",
        "details",
        "decoder_input_details",
        "top_n_tokens",
        "grammar",
        "return_full_text",
        "adapter_id",
    }
)

#: Parameters of ``chat()`` besides messages/tools/tool_choice/response_format.
CHAT_PARAMS = frozenset(
    {
        "max_tokens",
        "max_new_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "seed",
        "stop",
        "frequency_penalty",
        "presence_penalty",
        "logprobs",
        "top_logprobs",
        "tool_prompt",
        "model",
        "n",
        "stream_options",
        "extra_body",
        "top_k",
        "repetition_penalty",
        "typical_p",
        "truncate",
        "adapter_id",
        "watermark",
        "user",
        "logit_bias",
        "parallel_tool_calls",
    }
)

ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})


def _bad(name: str, value: Any, rule: str) -> InvalidRequestError:
    return InvalidRequestError(f"{name}={value!r} is invalid: {rule}")


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise _bad(name, value, "expected a number")
    return float(value)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _bad(name, value, "expected a whole number > 0")
    return value


def normalize_stop(stop: Any, max_stop_sequences: int | None) -> list[str] | None:
    """``stop`` as a list of non-empty strings (a string becomes a one-element list)."""
    if stop is None:
        return None
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, (list, tuple)) or not all(isinstance(s, str) and s for s in stops):
        raise _bad("stop", stop, "expected a string or a list of non-empty strings")
    if max_stop_sequences is not None and len(stops) > max_stop_sequences:
        raise _bad("stop", stop, f"this server accepts at most {max_stop_sequences} stop sequences; pass fewer")
    return list(stops)


_SAMPLING = frozenset(
    {
        "temperature",
        "top_p",
        "typical_p",
        "top_k",
        "repetition_penalty",
        "frequency_penalty",
        "presence_penalty",
        "seed",
    }
)

#: TGI's default ``--max-top-n-tokens`` (``top_logprobs`` becomes ``top_n_tokens``); ``/info`` does not report it.
TGI_MAX_TOP_N_TOKENS = 5
#: OpenAI's documented maximum of ``top_logprobs``, for OpenAI-compatible servers.
_OPENAI_MAX_TOP_LOGPROBS = 20


def normalize_sampling(params: dict[str, Any]) -> None:
    """OpenAI-style sampling values -> TGI's, in place: ``temperature=0`` means greedy, ``top_p=1`` means off."""
    if _SAMPLING.isdisjoint(params):
        return  # (none given, as on most calls: skip the lookups)
    temperature = params.get("temperature")
    if temperature is not None:
        t = _number("temperature", temperature)
        if t < 0:
            raise _bad("temperature", temperature, "must be >= 0 (0 means greedy decoding)")
        if t == 0:
            # TGI rejects 0 on /generate ("must be strictly positive"); 0 means greedy everywhere else.
            del params["temperature"]
            params["do_sample"] = False
    top_p = params.get("top_p")
    if top_p is not None:
        p = _number("top_p", top_p)
        if p <= 0 or p > 1:
            raise _bad("top_p", top_p, "must be in (0, 1]")
        if p == 1:
            # TGI rejects 1.0 (TGI#2222) although it means "no nucleus filtering": send nothing instead.
            del params["top_p"]
    for name in ("typical_p",):
        if params.get(name) is not None:
            v = _number(name, params[name])
            if v <= 0 or v > 1:
                raise _bad(name, params[name], "must be in (0, 1]")
            if v == 1:
                del params[name]
    if params.get("top_k") is not None:
        _positive_int("top_k", params["top_k"])
    if (
        params.get("repetition_penalty") is not None
        and _number("repetition_penalty", params["repetition_penalty"]) <= 0
    ):
        raise _bad("repetition_penalty", params["repetition_penalty"], "must be > 0")
    fp = params.get("frequency_penalty")
    if fp is not None and not -2 <= _number("frequency_penalty", fp) <= 2:
        raise _bad("frequency_penalty", fp, "must be between -2 and 2")
    pp = params.get("presence_penalty")
    if pp is not None and not -2 < _number("presence_penalty", pp) <= 2:
        # OpenAI's range; TGI sends repetition_penalty = presence_penalty + 2, which must be > 0.
        raise _bad(
            "presence_penalty",
            pp,
            "must be greater than -2 and at most 2 (TGI uses it as repetition_penalty = presence_penalty + 2)",
        )
    seed = params.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise _bad("seed", seed, "expected a whole number >= 0")


def check_chat_choices(params: Mapping[str, Any], *, tgi: bool, stream: bool) -> int:
    """Check ``n`` and ``top_logprobs`` against what the server will do; return the number of choices asked for.

    TGI's Messages API accepts ``n`` and ignores it (one choice comes back): refused rather than silently dropped.
    """
    n = params.get("n")
    if n is not None:
        _positive_int("n", n)
        if n > 1 and tgi:
            raise _bad(
                "n",
                n,
                f"TGI returns one choice per request (its Messages API ignores n, so you would get "
                f"1): send {n} requests (e.g. asyncio.gather over achat), or use client.generate(prompt, "
                "best_of=N) for the most likely of N samples",
            )
        if n > 1 and stream:
            raise _bad("n", n, "several choices are not supported on streams: stream=False, or n=1")
    top = params.get("top_logprobs")
    if top is not None:
        if isinstance(top, bool) or not isinstance(top, int) or top < 0:
            raise _bad("top_logprobs", top, "expected a whole number >= 0")
        limit = TGI_MAX_TOP_N_TOKENS if tgi else _OPENAI_MAX_TOP_LOGPROBS
        if top > limit:
            server = (
                (
                    f"TGI returns at most {limit} (its --max-top-n-tokens, default {limit}; /info does not report "
                    "it; a server started with more takes generate(prompt, top_n_tokens=N))"
                )
                if tgi
                else (f"OpenAI-compatible servers accept at most {limit}")
            )
            raise _bad("top_logprobs", top, f"{server}: ask for {limit} or fewer")
    return n or 1


def normalize_generate_params(
    params: Mapping[str, Any], *, max_stop_sequences: int | None = None, stream: bool = False
) -> dict[str, Any]:
    """Checked, fixed-up ``parameters`` for ``/generate`` and ``/generate_stream``; ``None`` values dropped."""
    unknown = set(params) - GENERATE_PARAMS
    if unknown:
        raise InvalidRequestError(
            f"unknown generate parameter(s) {sorted(unknown)}; valid ones are {sorted(GENERATE_PARAMS)}"
        )
    out = {k: v for k, v in params.items() if v is not None}
    if "max_new_tokens" in out:
        _positive_int("max_new_tokens", out["max_new_tokens"])
    normalize_sampling(out)
    if "stop" in out:
        out["stop"] = normalize_stop(out["stop"], max_stop_sequences)
    if "truncate" in out:
        _positive_int("truncate", out["truncate"])
    if "top_n_tokens" in out:
        _positive_int("top_n_tokens", out["top_n_tokens"])
    best_of = out.get("best_of")
    if best_of is not None:
        _positive_int("best_of", best_of)
        if best_of > 1:
            if stream:
                raise _bad("best_of", best_of, "TGI does not support best_of > 1 when streaming")
            if "seed" in out:
                raise _bad("best_of", best_of, "TGI does not allow a seed with best_of > 1")
            if out.get("do_sample") is False:
                raise _bad("best_of", best_of, "best_of > 1 needs sampling (do_sample=True or temperature > 0)")
            out.setdefault("do_sample", True)
    if stream and out.get("decoder_input_details"):
        raise _bad("decoder_input_details", True, "TGI does not return prefill details when streaming")
    if "grammar" in out:
        out["grammar"] = normalize_grammar(out["grammar"])
    return out


def normalize_grammar(grammar: Any) -> dict[str, Any]:
    """TGI's ``{"type": "json"|"regex"|"json_schema", "value": ...}``; OpenAI response formats are converted."""
    if not isinstance(grammar, Mapping) or "type" not in grammar:
        raise _bad("grammar", grammar, 'expected {"type": "json", "value": <JSON schema>} or {"type": "regex", ...}')
    if grammar.get("type") in ("json", "regex") and grammar.get("value") is None:
        raise _bad("grammar", grammar, "TGI's grammar needs a 'value' (the JSON schema or the regex)")
    converted = normalize_response_format(grammar)
    if converted is None:
        raise _bad("grammar", grammar, "a grammar must constrain the output (json or regex)")
    return converted


def _check_schema(schema: Any, where: str) -> dict[str, Any]:
    if not isinstance(schema, Mapping):
        raise InvalidRequestError(f"{where} must be a JSON schema object, got {type(schema).__name__}")
    out = dict(schema)
    if "properties" not in out:
        if out.get("type", "object") == "object" and not any(k in out for k in ("anyOf", "oneOf", "allOf", "$ref")):
            out["properties"] = {}  # a tool or object without arguments; TGI insists on the key
        else:
            raise InvalidRequestError(
                f"{where} has no top-level 'properties': TGI only constrains output to object schemas. "
                "Wrap the value in an object, e.g. {'type': 'object', 'properties': {'value': <schema>}}"
            )
    return out


def normalize_response_format(response_format: Any) -> dict[str, Any] | None:
    """OpenAI's or TGI's ``response_format`` -> TGI's grammar object; ``{"type": "text"}`` -> None.

    OpenAI's ``{"type": "json_schema", "json_schema": {"name", "schema"}}`` becomes ``{"type": "json", "value":
    schema}``, which every TGI since 1.4.1 accepts (``json_schema`` with ``value`` needs 3.3).
    """
    if response_format is None:
        return None
    if not isinstance(response_format, Mapping):
        raise _bad("response_format", response_format, "expected a dict such as {'type': 'json_object'}")
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "regex":
        value = response_format.get("value")
        if not isinstance(value, str) or not value:
            raise _bad("response_format", response_format, "a regex grammar needs a non-empty 'value' string")
        return {"type": "regex", "value": value}
    if kind in ("json", "json_object", "json_schema"):
        value = response_format.get("value")
        if value is None and isinstance(response_format.get("json_schema"), Mapping):
            value = response_format["json_schema"].get("schema")
            if value is None:
                raise _bad("response_format", response_format, "json_schema needs a 'schema'")
        if value is None and "schema" in response_format:
            value = response_format["schema"]
        if isinstance(value, Mapping) and "schema" in value and "properties" not in value:
            value = value["schema"]  # TGI 3.3's {"name", "strict", "schema"} form
        if value is None:
            # JSON mode without a schema: any JSON object.
            value = {"type": "object", "properties": {}, "additionalProperties": True}
        if isinstance(value, str):
            import json

            try:
                value = json.loads(value)
            except ValueError as exc:
                raise _bad("response_format", response_format, f"the schema string is not JSON: {exc}") from exc
        return {"type": "json", "value": _check_schema(value, "the response_format schema")}
    raise _bad("response_format", response_format, "type must be one of text, json_object, json_schema, json, regex")


def normalize_tools(tools: Sequence[Any] | None) -> list[dict[str, Any]] | None:
    """OpenAI tool definitions, checked: ``[{"type": "function", "function": {name, description, parameters}}]``.

    A bare function dict (``{"name", "parameters"}``) is accepted too.
    """
    if not tools:
        return None
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise InvalidRequestError(f"tools[{i}] must be a dict in OpenAI's tool format, got {type(tool).__name__}")
        fn = tool.get("function", tool) if tool.get("type", "function") == "function" else None
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str) or not fn.get("name"):
            raise InvalidRequestError(
                f"tools[{i}] must look like {{'type': 'function', 'function': {{'name': ..., 'parameters': ...}}}}"
            )
        name = fn["name"]
        if name in seen:
            raise InvalidRequestError(f"two tools are named {name!r}; tool names must be unique")
        seen.add(name)
        params = fn.get("parameters", fn.get("arguments")) or {"type": "object", "properties": {}}
        out.append(
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": fn.get("description") or "",
                    "parameters": _check_schema(params, f"the parameters of tool {name!r}"),
                },
            }
        )
    return out


def normalize_tool_choice(tool_choice: Any, tools: list[dict[str, Any]] | None) -> str | dict[str, Any] | None:
    """``auto``/``none``/``required`` (``any`` and ``True`` mean required) or ``{"type": "function", ...}``."""
    if tool_choice is None:
        return None
    names = [t["function"]["name"] for t in tools or ()]
    if tool_choice is True or tool_choice == "any":
        tool_choice = "required"
    if tool_choice is False:
        tool_choice = "none"
    if isinstance(tool_choice, Mapping):
        fn = tool_choice.get("function")
        name = fn.get("name") if isinstance(fn, Mapping) else tool_choice.get("name")
        if not isinstance(name, str):
            raise _bad("tool_choice", tool_choice, "expected {'type': 'function', 'function': {'name': ...}}")
        tool_choice = name
    if not isinstance(tool_choice, str):
        raise _bad("tool_choice", tool_choice, "expected 'auto', 'none', 'required', a tool name or a dict")
    if tool_choice in ("auto", "none", "required"):
        if tool_choice != "none" and not names:
            raise _bad("tool_choice", tool_choice, "no tools were given")
        return tool_choice
    if tool_choice not in names:
        raise _bad("tool_choice", tool_choice, f"not one of the tools {names} nor auto/none/required")
    return {"type": "function", "function": {"name": tool_choice}}


def normalize_messages(messages: Sequence[Any], *, payload_limit: int = PAYLOAD_LIMIT) -> list[dict[str, Any]]:
    """OpenAI-style messages, checked and fixed for TGI.

    ``developer`` becomes ``system``; tool-call arguments become JSON strings; an assistant turn with tool calls
    drops its content, because TGI otherwise silently drops the tool calls (its ``MessageBody`` in
    ``router/src/lib.rs`` reads a message with ``content`` as a plain content message).
    """
    if type(messages) is not list and (
        isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence)
    ):  # (the type test first: this runs on every request, and the ABC checks cost more than the rest)
        raise InvalidRequestError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
    if not messages:
        raise InvalidRequestError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
    out: list[dict[str, Any]] = []
    images_total = 0
    for i, message in enumerate(messages):
        if type(message) is not dict:
            if hasattr(message, "model_dump"):
                message = message.model_dump(exclude_none=True)
            if not isinstance(message, Mapping):
                raise InvalidRequestError(f"messages[{i}] must be a dict, got {type(message).__name__}")
        role = message.get("role")
        if role not in ROLES:
            raise InvalidRequestError(f"messages[{i}] has role {role!r}; use one of {sorted(ROLES)}")
        if role == "developer":
            role = "system"
        msg: dict[str, Any] = {"role": role}
        content = message.get("content")
        tool_calls = message.get("tool_calls")
        if content is not None and not isinstance(content, (str, list)):
            raise InvalidRequestError(f"messages[{i}].content must be a string or a list of content parts")
        if role == "assistant" and tool_calls:
            import json

            calls = []
            for call in tool_calls:
                fn = call.get("function", {}) if isinstance(call, Mapping) else {}
                args = fn.get("arguments", "{}")
                calls.append(
                    {
                        "id": str(call.get("id") or ""),
                        "type": "function",
                        "function": {
                            "name": fn.get("name"),
                            "arguments": args if isinstance(args, str) else json.dumps(args),
                        },
                    }
                )
            msg["tool_calls"] = calls
        else:
            if content is None and role != "assistant":
                raise InvalidRequestError(f"messages[{i}] ({role}) has no content")
            if type(content) is list:
                content, image_bytes = _content_parts(content, i)
                images_total += image_bytes
            msg["content"] = content if content is not None else ""
        if role == "tool":
            msg["tool_call_id"] = str(message.get("tool_call_id") or "")
            if message.get("name"):
                msg["name"] = message["name"]
        out.append(msg)
    if images_total:
        check_payload(images_total, payload_limit)
    return out


def _content_parts(parts: list[Any], i: int) -> tuple[list[Any], int]:
    """Content parts with each image checked (files and bytes as data URIs), and the size of their data URIs."""
    out: list[Any] = parts
    size = 0
    for j, part in enumerate(parts):
        if isinstance(part, Mapping) and part.get("type") == "image_url":
            checked = check_image_part(part, f"messages[{i}].content[{j}]")
            size += data_uri_size(checked["image_url"]["url"])
            if checked != part:
                if out is parts:
                    out = list(parts)
                out[j] = checked
    return out, size


def text_of(content: Any) -> str:
    """A message content as the native route's text: parts joined, each image as TGI's inline ``![](url)``.

    The parts are joined with nothing between them, as TGI's Messages API joins them before templating.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text":
            parts.append(str(part.get("text", "")))
        elif kind == "image_url":
            parts.append(image_markdown(part))
        else:
            raise InvalidRequestError(
                f"a content part of type {kind!r} has no form on TGI's native route, which takes text and image_url "
                "parts; send those, or use route='chat'"
            )
    return "".join(parts)
