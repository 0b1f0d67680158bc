"""TGI's request validation: the same checks, in the same order, with the same messages.

Source of truth: TGI's ``router/src/validation.rs`` (``Validation::validate``); the messages are checked
against TGI's recorded answers in tests/data/tgi. The order matters because a client sees only the first failure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ._errors import missing_field, serde_error, validation_error
from ._images import MAX_IMAGE_FETCH_SIZE, model_text, prepare_input
from ._serde import GENERATE_FIELDS, check_fields, check_grammar
from ._types import Backend, GenParams, Grammar, Prompt

__all__ = ["Limits", "parse_generate_body", "parse_grammar", "validate"]


@dataclass(frozen=True, slots=True)
class Limits:
    """The router limits TGI reports in ``/info`` (defaults as TGI's launcher)."""

    max_total_tokens: int = 4096
    max_input_tokens: int = 4095
    max_best_of: int = 2
    max_stop_sequences: int = 4
    max_top_n_tokens: int = 5
    max_client_batch_size: int = 4
    max_concurrent_requests: int = 128
    max_image_fetch_size: int = MAX_IMAGE_FETCH_SIZE


def parse_generate_body(body: Any, raw: str, *, compat: bool) -> tuple[str, dict[str, Any] | None, bool]:
    """Deserialize a ``GenerateRequest`` (or ``CompatGenerateRequest`` on POST /).

    Returns ``(inputs, parameters or None when absent, stream)``.
    """
    if not isinstance(body, dict):
        raise serde_error(raw, "", f"invalid type: {type(body).__name__}, expected struct GenerateRequest")
    if "inputs" not in body:
        raise missing_field(raw, "inputs")
    if not isinstance(body["inputs"], str):
        check_fields(body, {"inputs": "string"}, raw)
    params = body.get("parameters")
    if "parameters" in body and not isinstance(params, dict):
        raise serde_error(raw, "parameters", "invalid type: null, expected struct GenerateParameters")
    if params is not None:
        check_fields(params, GENERATE_FIELDS, raw, "parameters.")
        check_grammar(params.get("grammar"), raw, "parameters.grammar")
    stream = False
    if compat:
        check_fields(body, {"stream": "bool"}, raw)
        stream = bool(body.get("stream", False))
    return body["inputs"], params, stream


def parse_grammar(grammar: dict[str, Any] | None) -> Grammar | None:
    """Validate a ``GrammarType`` value (already deserialized) into a ``Grammar``."""
    if grammar is None:
        return None
    kind = grammar["type"]
    value = grammar["value"]
    if kind == "regex":
        return Grammar("regex", value)
    if kind == "json_schema":
        value = value["schema"]
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            detail = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
            raise validation_error(f"grammar is not valid: {detail}") from None
    if not isinstance(value, dict):
        raise validation_error("grammar is not supported")
    if "properties" not in value:
        raise validation_error("grammar is not valid: Grammar must have a 'properties' field")
    return Grammar("json", value)


def _sampling(p: dict[str, Any]) -> bool:
    return bool(p.get("do_sample")) or any(p.get(k) is not None for k in ("temperature", "top_k", "top_p", "typical_p"))


def _check_ranges(p: dict[str, Any], limits: Limits, best_of: int) -> None:
    """The parameter checks of ``Validation::validate``, before tokenization."""
    if best_of > 1 and not _sampling(p):
        raise validation_error("you must use sampling when `best_of` is > 1")
    temperature = p.get("temperature")
    if temperature is not None and temperature <= 0:
        raise validation_error("`temperature` must be strictly positive")
    repetition_penalty = p.get("repetition_penalty")
    if repetition_penalty is not None and repetition_penalty <= 0:
        raise validation_error("`repetition_penalty` must be strictly positive")
    frequency_penalty = p.get("frequency_penalty")
    if frequency_penalty is not None and not -2.0 <= frequency_penalty <= 2.0:
        raise validation_error("`frequency_penalty` must be >= -2.0 and <= 2.0")
    top_p = p.get("top_p")
    if top_p is not None and not 0.0 < top_p < 1.0:
        raise validation_error("`top_p` must be > 0.0 and < 1.0")
    typical_p = p.get("typical_p")
    if typical_p is not None and not 0.0 < typical_p < 1.0:
        raise validation_error("`typical_p` must be > 0.0 and < 1.0")
    top_k = p.get("top_k")
    if top_k is not None and top_k <= 0:
        raise validation_error("`top_k` must be strictly positive")
    if p.get("max_new_tokens") == 0:
        raise validation_error("`max_new_tokens` must be strictly positive")
    stop = p.get("stop") or []
    if len(stop) > limits.max_stop_sequences:
        raise validation_error(f"`stop` supports up to {limits.max_stop_sequences} stop sequences. Given: {len(stop)}")
    if p.get("seed") is not None and best_of > 1:
        raise validation_error("`seed` must not be set when `best_of` > 1")
    top_n = p.get("top_n_tokens")
    if top_n is not None and top_n > limits.max_top_n_tokens:
        raise validation_error(f"`top_n_tokens` must be >= 0 and <= {limits.max_top_n_tokens}. Given: {top_n}")


async def validate(
    backend: Backend,
    inputs: str,
    params: dict[str, Any] | None,
    limits: Limits,
    *,
    stream: bool,
    add_special_tokens: bool = True,
    return_full_text_default: bool = False,
) -> tuple[Prompt, GenParams]:
    """Validate a generate request like TGI; raise ``ApiError`` (422 validation) on failure.

    On the streaming route the caller turns the error into an in-stream event, as TGI does.
    """
    # An absent ``parameters`` means TGI's ``default_parameters()``, which samples.
    p: dict[str, Any] = params if params is not None else {"do_sample": True}
    best_of_raw = p.get("best_of")
    best_of = 1 if best_of_raw is None else int(best_of_raw)
    if stream:
        if best_of_raw is not None and best_of != 1:
            raise validation_error("`best_of` != 1 is not supported when streaming tokens")
        if p.get("decoder_input_details"):
            raise validation_error("`decoder_input_details` == true is not supported when streaming tokens")
    elif best_of > 1:
        if limits.max_best_of == 1:
            raise validation_error("`best_of` != 1 is not allowed for this endpoint")
        if best_of > limits.max_best_of:
            raise validation_error(f"`best_of` must be > 0 and <= {limits.max_best_of}. Given: {best_of}")
    _check_ranges(p, limits, best_of)
    if not inputs:
        raise validation_error("`inputs` cannot be empty")
    truncate = p.get("truncate")
    if truncate is not None and (truncate == 0 or truncate > limits.max_input_tokens):
        raise validation_error(
            f"`truncate` must be strictly positive and less than {limits.max_input_tokens}. Given: {truncate}"
        )
    # TGI splits out the images while tokenizing (prepare_input): their errors come after the checks above.
    chunks = await prepare_input(inputs, limits.max_image_fetch_size)
    inputs = model_text(chunks)
    tokens = await backend.tokenize(inputs, add_special_tokens)
    if truncate is not None and len(tokens) > truncate:
        tokens = tokens[-truncate:]
    input_length = len(tokens)
    max_new_tokens = p.get("max_new_tokens")
    if max_new_tokens is None:
        max_new_tokens = max(limits.max_total_tokens - input_length, 0)
    if input_length + max_new_tokens > limits.max_total_tokens:
        raise validation_error(
            f"`inputs` tokens + `max_new_tokens` must be <= {limits.max_total_tokens}. "
            f"Given: {input_length} `inputs` tokens and {max_new_tokens} `max_new_tokens`"
        )
    if input_length > limits.max_input_tokens:
        raise validation_error(f"`inputs` must have less than {limits.max_input_tokens} tokens. Given: {input_length}")
    grammar = parse_grammar(p.get("grammar"))
    text = inputs if truncate is None else inputs[tokens[0].start :] if tokens else ""
    return_full_text = p.get("return_full_text")
    gen = GenParams(
        max_new_tokens=max_new_tokens,
        do_sample=_sampling(p),
        temperature=float(p.get("temperature") or 1.0),
        top_p=float(p.get("top_p") or 1.0),
        top_k=int(p.get("top_k") or 0),
        typical_p=float(p.get("typical_p") or 1.0),
        repetition_penalty=float(p.get("repetition_penalty") or 1.0),
        frequency_penalty=float(p.get("frequency_penalty") or 0.0),
        seed=p.get("seed"),
        stop=list(p.get("stop") or []),
        top_n_tokens=int(p.get("top_n_tokens") or 0),
        grammar=grammar,
        best_of=max(best_of, 1),
        details=bool(p.get("details")) or bool(p.get("decoder_input_details")),
        decoder_input_details=bool(p.get("decoder_input_details")),
        return_full_text=return_full_text_default if return_full_text is None else bool(return_full_text),
    )
    return Prompt(text=text, tokens=tokens, chunks=tuple(chunks)), gen
