"""``with_structured_output``: a schema in, a runnable that returns parsed objects out.

Three methods, all constrained by TGI's grammar (so even a small model produces parseable output):

- ``json_schema`` (default): ``response_format`` with the schema, which the transport sends as TGI's JSON grammar.
- ``function_calling``: the schema as the one forced tool.
- ``json_mode``: ``response_format={"type": "json_object"}``; when a schema is given it also constrains the output,
  because TGI's JSON mode *is* a grammar and an object grammar without the schema lets the model produce valid JSON
  with the wrong keys, which the parser would then reject.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import JsonOutputKeyToolsParser, PydanticToolsParser
from langchain_core.outputs import Generation
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel

__all__ = ["StructuredMethod", "structured_output"]

StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]
_METHODS = ("json_schema", "function_calling", "json_mode")


class _Finished:
    """Refuses an answer that stopped on the length limit: langchain-core's parsers complete partial JSON
    (``{"name": "Ada", "bio": "A`` parses as a valid object), so a cut-off answer would come back as a repaired one.

    Checked in ``parse_result``, which the parsers call on every accumulated chunk when streaming too: the finish
    reason arrives on the last chunk, so a stream yields its partial objects and then raises.
    """

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> Any:
        message = getattr(result[0], "message", None) if result else None
        if message is not None and message.response_metadata.get("finish_reason") == "length":
            from hf_endpoint import LengthLimitError

            usage = getattr(message, "usage_metadata", None) or {}
            tokens = f" after {usage['output_tokens']} tokens" if usage.get("output_tokens") else ""
            text = message.content if isinstance(message.content, str) and message.content else ""
            calls = getattr(message, "invalid_tool_calls", None) or getattr(message, "tool_call_chunks", None) or []
            partial_text = text or "".join(str(c.get("args") or "") for c in calls)
            error = LengthLimitError(
                f"the generation stopped on the length limit (finish_reason='length'){tokens} before the structured "
                f"output was complete: {partial_text[:80]!r}; raise max_tokens"
            )
            error.partial = partial_text
            raise error
        return super().parse_result(result, partial=partial)  # type: ignore[misc]


class _JsonParser(_Finished, JsonOutputParser):
    pass


class _PydanticParser(_Finished, PydanticOutputParser):  # type: ignore[type-arg]
    pass


class _KeyToolsParser(_Finished, JsonOutputKeyToolsParser):
    pass


class _PydanticToolsParser(_Finished, PydanticToolsParser):
    pass


def structured_output(
    llm: BaseChatModel,
    schema: dict[str, Any] | type | None,
    *,
    method: StructuredMethod,
    include_raw: bool,
    strict: bool | None,
) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
    """The runnable behind :meth:`ChatHFEndpoint.with_structured_output` (see its docstring)."""
    if method not in _METHODS:
        raise ValueError(f"method={method!r} is not supported; use one of {list(_METHODS)}")
    if schema is None and method != "json_mode":
        raise ValueError(f"method={method!r} needs a schema (only 'json_mode' works without one)")
    is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
    json_schema = convert_to_json_schema(schema) if schema is not None else None
    # What LangSmith records about the request; langchain-core needs a schema there, so none without one.
    tracing: dict[str, Any] = {}
    if schema is not None:
        tracing["ls_structured_output_format"] = {"kwargs": {"method": method, "strict": strict}, "schema": schema}

    parser: Runnable[Any, Any]
    if method == "function_calling":
        assert schema is not None
        name = convert_to_openai_tool(schema)["function"]["name"]
        bound = llm.bind_tools([schema], tool_choice=name, **tracing)
        if is_pydantic:
            parser = _PydanticToolsParser(tools=[schema], first_tool_only=True)  # type: ignore[list-item]
        else:
            parser = _KeyToolsParser(key_name=name, first_tool_only=True)
    else:
        response_format: dict[str, Any]
        if method == "json_schema":
            assert json_schema is not None
            response_format = {
                "type": "json_schema",
                "json_schema": {"name": json_schema.get("title", "output"), "schema": json_schema, "strict": True},
            }
        else:
            response_format = {"type": "json_object"}
            if json_schema is not None:
                response_format["schema"] = json_schema
        bound = llm.bind(response_format=response_format, **tracing)
        parser = _PydanticParser(pydantic_object=schema) if is_pydantic else _JsonParser()  # type: ignore[arg-type]

    if not include_raw:
        return bound | parser
    # As every LangChain chat model does: {"raw", "parsed", "parsing_error"}, the error caught instead of raised.
    with_parsed = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
    without = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=bound) | with_parsed.with_fallbacks([without], exception_key="parsing_error")
