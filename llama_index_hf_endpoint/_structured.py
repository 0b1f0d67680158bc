"""Structured output through TGI's grammar: the reply is constrained to the output class's JSON schema.

LlamaIndex's default for a function-calling LLM is a forced tool call whose arguments are the object; TGI can
do better: ``response_format`` becomes a JSON-schema grammar, so every token is checked against the schema
while it is generated (the same route OpenAI's integration takes with its ``json_schema`` structured outputs).
Any other ``pydantic_program_mode`` falls back to LlamaIndex's own programs.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Generator
from typing import Any, TypeVar

from llama_index.core.base.llms.types import ChatResponse
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.program.utils import FlexibleModel
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import PydanticProgramMode
from llama_index_instrumentation import get_dispatcher
from pydantic import BaseModel, ValidationError

__all__ = ["GrammarStructuredLLM", "response_format_for"]

dispatcher = get_dispatcher(__name__)
Model = TypeVar("Model", bound=BaseModel)


def response_format_for(output_cls: type[Any]) -> dict[str, Any]:
    """OpenAI's ``json_schema`` response format for a pydantic class (the transport turns it into a grammar)."""
    name = re.sub(r"[^a-zA-Z0-9_-]", "_", output_cls.__name__)
    return {"type": "json_schema", "json_schema": {"name": name, "schema": output_cls.model_json_schema()}}


def _schema_kwargs(llm_kwargs: dict[str, Any] | None, output_cls: type[Any]) -> dict[str, Any]:
    kwargs = dict(llm_kwargs or {})
    # A grammar and tools are mutually exclusive in TGI; the schema is what was asked for.
    for key in ("tool_choice", "tools"):
        kwargs.pop(key, None)
    kwargs["response_format"] = response_format_for(output_cls)
    return kwargs


def _check_finished(output_cls: type[Any], response: ChatResponse | None) -> None:
    """A streamed structured answer whose generation stopped on the length limit: its last partial object was
    completed by the partial-JSON parser, so the stream ends with an error instead of passing it off as whole."""
    if response is not None and response.additional_kwargs.get("finish_reason") == "length":
        raise _cut_off(output_cls, response.message.content or "")


def _cut_off(output_cls: type[Any], text: str) -> Exception:
    from hf_endpoint import LengthLimitError

    error = LengthLimitError(
        f"the {output_cls.__name__} JSON was cut off by the token limit (finish_reason='length') before it was "
        f"complete; raise max_tokens (got {len(text)} characters: {text[:80]!r}...)"
    )
    error.partial = text
    return error


def _parse(output_cls: type[Model], response: ChatResponse) -> Model:
    """The reply as ``output_cls``; a reply cut off by the token limit gets an error that says so."""
    text = response.message.content or ""
    try:
        return output_cls.model_validate_json(text)
    except ValidationError as exc:
        raw = response.raw if isinstance(response.raw, dict) else {}
        choices = raw.get("choices") or [{}]
        if choices[0].get("finish_reason") == "length":
            raise _cut_off(output_cls, text) from exc
        raise


class GrammarStructuredLLM(FunctionCallingLLM):
    """``structured_predict`` and friends on TGI's JSON-schema grammar (see the module docstring)."""

    def _use_grammar(self) -> bool:
        return self.pydantic_program_mode == PydanticProgramMode.DEFAULT

    @dispatcher.span
    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """One chat call constrained to ``output_cls``'s schema, parsed into ``output_cls``."""
        if not self._use_grammar():
            result: Model = super().structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
            return result
        messages = self._extend_messages(prompt.format_messages(**prompt_args))
        response = self.chat(messages, **_schema_kwargs(llm_kwargs, output_cls))
        return _parse(output_cls, response)

    @dispatcher.span
    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Async :meth:`structured_predict`."""
        if not self._use_grammar():
            aresult: Model = await super().astructured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
            return aresult
        messages = self._extend_messages(prompt.format_messages(**prompt_args))
        response = await self.achat(messages, **_schema_kwargs(llm_kwargs, output_cls))
        return _parse(output_cls, response)

    def _structured_stream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Generator[Model | list[Model] | FlexibleModel | list[FlexibleModel], None, None]:
        if not self._use_grammar():
            yield from super()._structured_stream_call(output_cls, prompt, llm_kwargs, **prompt_args)
            return
        from llama_index.core.program.streaming_utils import process_streaming_content_incremental

        messages = self._extend_messages(prompt.format_messages(**prompt_args))
        current: Any = None
        last: ChatResponse | None = None
        for last in self.stream_chat(messages, **_schema_kwargs(llm_kwargs, output_cls)):
            current = process_streaming_content_incremental(last, output_cls, current)
            yield current
        _check_finished(output_cls, last)

    async def _structured_astream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> AsyncGenerator[Model | list[Model] | FlexibleModel | list[FlexibleModel], None]:
        if not self._use_grammar():
            return await super()._structured_astream_call(output_cls, prompt, llm_kwargs, **prompt_args)
        from llama_index.core.program.streaming_utils import process_streaming_content_incremental

        messages = self._extend_messages(prompt.format_messages(**prompt_args))
        stream = await self.astream_chat(messages, **_schema_kwargs(llm_kwargs, output_cls))

        async def gen() -> AsyncGenerator[Model | list[Model] | FlexibleModel | list[FlexibleModel], None]:
            current: Any = None
            last: ChatResponse | None = None
            async for last in stream:
                current = process_streaming_content_incremental(last, output_cls, current)
                yield current
            _check_finished(output_cls, last)

        return gen()
