"""TEI's request parsing and limits: the same shapes, checks and messages as TEI 1.9.

Source of truth: TEI's ``router/src/http/types.rs`` (the request structs, deserialized by axum's
``Json`` extractor with serde) and ``router/src/http/server.rs`` (the empty and batch-size checks),
summarised in the project's TEI protocol notes. A body with a wrong type is refused before any handler
runs, as plain text (``Failed to deserialize the JSON body into the target type: ...``); the checks
after that answer TEI's JSON ``{"error", "error_type"}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._errors import ApiError, PlainTextError, missing_field, serde_error
from ._serde import _unexpected, check_fields

__all__ = [
    "Item",
    "Options",
    "TeiLimits",
    "batch_size_error",
    "empty_error",
    "parse_decode",
    "parse_embed",
    "parse_predict",
    "parse_rerank",
    "parse_similarity",
    "parse_tokenize",
    "tei_validation",
]

_U32 = 2**32 - 1


@dataclass(frozen=True, slots=True)
class TeiLimits:
    """TEI's router limits (defaults as TEI 1.9's launcher); all shown by ``/info``."""

    max_client_batch_size: int = 32
    max_batch_tokens: int = 16384
    max_concurrent_requests: int = 512
    payload_limit: int = 2_000_000
    auto_truncate: bool = True
    # The model's own limit, possibly lowered by the server option; capped at max_batch_tokens.
    max_input_length: int = 512


@dataclass(slots=True)
class Item:
    """One input: a text, or token ids (decoded by the model before use)."""

    text: str | None = None
    ids: list[int] | None = None

    @property
    def chars(self) -> int:
        """TEI's ``count_chars``: characters of a text, the number of ids otherwise."""
        return len(self.text) if self.text is not None else len(self.ids or [])

    @property
    def empty(self) -> bool:
        return self.chars == 0


@dataclass(slots=True)
class Options:
    """What every embedding-side route shares: truncation and the prompt."""

    truncate: bool
    direction: str = "Right"
    prompt_name: str | None = None


def tei_validation(message: str) -> ApiError:
    """422 ``Validation`` with the core's ``Input validation error: `` prefix (TEI >= 1.9: 422)."""
    return ApiError(422, f"Input validation error: {message}", "Validation")


def empty_error(message: str, *, core: bool = False) -> ApiError:
    """400 ``Empty``; messages from TEI's core carry the ``Input validation error: `` prefix."""
    return ApiError(400, f"Input validation error: {message}" if core else message, "Empty")


def batch_size_error(size: int, limit: int) -> ApiError:
    return ApiError(422, f"batch size {size} > maximum allowed batch size {limit}", "Validation")


def _struct(body: Any, raw: str, name: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        kind = _unexpected(body)
        column = len(raw.rstrip())
        raise PlainTextError(
            422,
            "Failed to deserialize the JSON body into the target type: "
            f"invalid type: {kind}, expected struct {name} at line 1 column {column}",
        )
    return body


def _required(body: dict[str, Any], raw: str, name: str, path: str = "") -> Any:
    if name not in body:
        raise missing_field(raw, name, path)
    return body[name]


def _is_u32(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _U32


def _input_type(value: Any) -> Item | None:
    """TEI's untagged ``InputType``: a string or a list of u32 token ids."""
    if isinstance(value, str):
        return Item(text=value)
    if isinstance(value, list) and all(_is_u32(v) for v in value):
        return Item(ids=list(value))
    return None


def parse_inputs(value: Any, raw: str, path: str) -> tuple[list[Item], bool]:
    """TEI's untagged ``Input``: tried as one ``InputType`` first, then as a batch.

    Returns ``(items, is_batch)``. ``[]`` is one empty token list, not an empty batch.
    """
    single = _input_type(value)
    if single is not None:
        return [single], False
    if isinstance(value, list):
        items = [_input_type(v) for v in value]
        if all(item is not None for item in items):
            return [item for item in items if item is not None], True
    raise serde_error(raw, path, "data did not match any variant of untagged enum Input")


def _direction(body: dict[str, Any], raw: str, path: str) -> str:
    value = body.get("truncation_direction", "Right")
    if isinstance(value, str) and value in ("Left", "left", "Right", "right"):
        return value.capitalize()
    if isinstance(value, str):
        detail = f"unknown variant `{value}`, expected `Left` or `Right`"
    else:
        detail = f"invalid type: {_unexpected(value)}, expected enum TruncationDirection"
    raise serde_error(raw, path, detail)


def _options(body: dict[str, Any], raw: str, limits: TeiLimits, prefix: str = "") -> Options:
    check_fields(body, {"truncate": "bool?", "prompt_name": "string?"}, raw, prefix)
    truncate = body.get("truncate")
    return Options(
        truncate=limits.auto_truncate if truncate is None else bool(truncate),
        direction=_direction(body, raw, f"{prefix}truncation_direction"),
        prompt_name=body.get("prompt_name"),
    )


@dataclass(slots=True)
class EmbedRequest:
    """/embed, /embed_all, /embed_sparse and the OpenAI route, parsed."""

    items: list[Item]
    batch: bool
    options: Options
    normalize: bool = True
    dimensions: int | None = None
    encoding_format: str = "float"


def parse_embed(body: Any, raw: str, route: str, limits: TeiLimits) -> EmbedRequest:
    """Deserialize the request struct of ``route`` (``embed``, ``embed_all``, ``embed_sparse``, ``openai``)."""
    names = {
        "embed": "EmbedRequest",
        "embed_all": "EmbedAllRequest",
        "embed_sparse": "EmbedSparseRequest",
        "openai": "OpenAICompatRequest",
    }
    obj = _struct(body, raw, names[route])
    field = "input" if route == "openai" else "inputs"
    items, batch = parse_inputs(_required(obj, raw, field), raw, field)
    if route == "openai":
        check_fields(obj, {"model": "string?", "user": "string?", "dimensions": "usize?"}, raw)
        fmt = obj.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            detail = (
                f"unknown variant `{fmt}`, expected `float` or `base64`"
                if isinstance(fmt, str)
                else f"invalid type: {_unexpected(fmt)}, expected enum EncodingFormat"
            )
            raise serde_error(raw, "encoding_format", detail)
        # No per-request truncation: the server's auto_truncate always decides.
        options = Options(truncate=limits.auto_truncate)
        return EmbedRequest(items, batch, options, dimensions=obj.get("dimensions"), encoding_format=fmt)
    options = _options(obj, raw, limits)
    if route != "embed":
        return EmbedRequest(items, batch, options)
    check_fields(obj, {"normalize": "bool", "dimensions": "usize?"}, raw)
    return EmbedRequest(
        items, batch, options, normalize=bool(obj.get("normalize", True)), dimensions=obj.get("dimensions")
    )


@dataclass(slots=True)
class RerankRequest:
    query: str
    texts: list[str]
    options: Options
    raw_scores: bool = False
    return_text: bool = False


def _strings(value: Any, raw: str, path: str) -> list[str]:
    if not isinstance(value, list):
        raise serde_error(raw, path, f"invalid type: {_unexpected(value)}, expected a sequence")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise serde_error(raw, f"{path}[{index}]", f"invalid type: {_unexpected(item)}, expected a string")
    return list(value)


def parse_rerank(body: Any, raw: str, limits: TeiLimits) -> RerankRequest:
    obj = _struct(body, raw, "RerankRequest")
    query = _required(obj, raw, "query")
    check_fields(obj, {"query": "string"}, raw)
    texts = _strings(_required(obj, raw, "texts"), raw, "texts")
    check_fields(obj, {"raw_scores": "bool", "return_text": "bool"}, raw)
    options = _options(obj, raw, limits)
    options.prompt_name = None  # /rerank has no prompt_name field
    return RerankRequest(
        str(query), texts, options, bool(obj.get("raw_scores", False)), bool(obj.get("return_text", False))
    )


@dataclass(slots=True)
class PredictRequest:
    """Each sequence is one text or a (text, text_pair) pair."""

    sequences: list[tuple[str, ...]]
    batch: bool
    options: Options
    raw_scores: bool = False


_PREDICT_EXPECTED = (
    "a string, a pair of strings [string, string] "
    "or a batch of mixed strings and pairs [[string], [string, string], ...]"
)


def parse_predict(body: Any, raw: str, limits: TeiLimits) -> PredictRequest:
    obj = _struct(body, raw, "PredictRequest")
    value = _required(obj, raw, "inputs")
    sequences: list[tuple[str, ...]]
    batch = False
    if isinstance(value, str):
        sequences = [(value,)]
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        if len(value) > 2:
            raise serde_error(raw, "inputs", f"invalid length 3, expected {_PREDICT_EXPECTED}")
        sequences = [tuple(value)]
    elif isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        batch = True
        sequences = []
        for seq in value:
            if not all(isinstance(s, str) for s in seq):
                raise serde_error(raw, "inputs", "invalid type: sequence, expected a string")
            if len(seq) not in (1, 2):
                raise serde_error(raw, "inputs", f"invalid length {len(seq)}, expected {_PREDICT_EXPECTED}")
            sequences.append(tuple(seq))
    elif isinstance(value, list) and not value:
        raise serde_error(raw, "inputs", f"invalid length 0, expected {_PREDICT_EXPECTED}")
    else:
        raise serde_error(raw, "inputs", f"invalid type: {_unexpected(value)}, expected {_PREDICT_EXPECTED}")
    check_fields(obj, {"raw_scores": "bool"}, raw)
    options = _options(obj, raw, limits)
    options.prompt_name = None
    return PredictRequest(sequences, batch, options, bool(obj.get("raw_scores", False)))


@dataclass(slots=True)
class SimilarityRequest:
    source: str
    sentences: list[str]
    options: Options


def parse_similarity(body: Any, raw: str, limits: TeiLimits) -> SimilarityRequest:
    obj = _struct(body, raw, "SimilarityRequest")
    inputs = _required(obj, raw, "inputs")
    if not isinstance(inputs, dict):
        raise serde_error(raw, "inputs", f"invalid type: {_unexpected(inputs)}, expected struct SimilarityInput")
    source = _required(inputs, raw, "source_sentence", "inputs")
    check_fields(inputs, {"source_sentence": "string"}, raw, "inputs.")
    sentences = _strings(_required(inputs, raw, "sentences", "inputs"), raw, "inputs.sentences")
    params = obj.get("parameters")
    if params is not None and not isinstance(params, dict):
        detail = f"invalid type: {_unexpected(params)}, expected struct SimilarityParameters"
        raise serde_error(raw, "parameters", detail)
    options = _options(params or {}, raw, limits, "parameters.")
    return SimilarityRequest(str(source), sentences, options)


@dataclass(slots=True)
class TokenizeRequest:
    texts: list[str]
    batch: bool
    add_special_tokens: bool = True
    prompt_name: str | None = None


def parse_tokenize(body: Any, raw: str) -> TokenizeRequest:
    obj = _struct(body, raw, "TokenizeRequest")
    value = _required(obj, raw, "inputs")
    if isinstance(value, str):
        texts, batch = [value], False
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        texts, batch = list(value), True
    else:
        raise serde_error(raw, "inputs", "data did not match any variant of untagged enum TokenizeInput")
    check_fields(obj, {"add_special_tokens": "bool", "prompt_name": "string?"}, raw)
    return TokenizeRequest(texts, batch, bool(obj.get("add_special_tokens", True)), obj.get("prompt_name"))


@dataclass(slots=True)
class DecodeRequest:
    ids: list[list[int]]
    batch: bool
    skip_special_tokens: bool = True


def parse_decode(body: Any, raw: str) -> DecodeRequest:
    obj = _struct(body, raw, "DecodeRequest")
    value = _required(obj, raw, "ids")
    if isinstance(value, list) and all(_is_u32(v) for v in value):
        ids, batch = [list(value)], False
    elif isinstance(value, list) and all(isinstance(v, list) and all(_is_u32(i) for i in v) for v in value):
        ids, batch = [list(v) for v in value], True
    else:
        raise serde_error(raw, "ids", "data did not match any variant of untagged enum InputIds")
    check_fields(obj, {"skip_special_tokens": "bool"}, raw)
    return DecodeRequest(ids, batch, bool(obj.get("skip_special_tokens", True)))
