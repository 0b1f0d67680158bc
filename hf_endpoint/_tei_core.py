"""TEI calls as batches of plans (pure): what :class:`TEIClient` and :class:`AsyncTEIClient` share.

Each call checks its inputs, splits them into
requests that fit the server (:mod:`hf_endpoint._batching`) and returns a :class:`Batch`: one plan per request and
the function that puts their results together in input order. The shells only run the plans (the sync one in
turn, the async one concurrently under ``max_concurrency``) and call ``combine``.

Routes: ``"tei"`` (TEI's own ``/embed``, ``/rerank``, ...), ``"openai"`` (``/v1/embeddings``, for vLLM, Infinity,
llama.cpp and other OpenAI-compatible embedding servers: ``embed`` only), or ``"auto"``: ``"tei"`` when ``GET
/info`` answers with TEI's ``model_type``, else ``"openai"``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from ._batching import json_size, plan_batches, plan_texts, reassemble, token_estimate
from ._errors import HFEndpointError, InvalidRequestError, NotFoundError, ResponseError
from ._options import TEIOptions
from ._plan import Plan, Response, Steps
from ._protocol import ErrorMap, Request, parse_json
from ._tei_errors import tei_error
from ._tei_protocol import (
    check_pairs,
    check_texts,
    embed_body,
    merge_ranks,
    openai_embeddings_body,
    parse_embeddings,
    parse_openai_embeddings,
    parse_predictions,
    parse_ranks,
    parse_similarity,
    parse_sparse,
    parse_tokens,
    predict_body,
    rerank_body,
    similarity_body,
    tokenize_body,
)
from ._tei_types import Prediction, Rank, SparseValue, TEIInfo, TEIToken

__all__ = ["Batch", "TEIPlanner"]

logger = logging.getLogger("hf_endpoint")


# Stands for a request's inputs in the encoded body around them (a string no caller's text is encoded as: the
# encoder writes a NUL as \u0000).
_MARK = "\x00inputs\x00"
_MARK_JSON = b'["\\u0000inputs\\u0000"]'
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
T = TypeVar("T")
R = TypeVar("R")

#: Inputs a request when the server does not say (TEI's own ``--max-client-batch-size`` default).
DEFAULT_BATCH_SIZE = 32

#: The first TEI version that reads each optional field (PROTOCOL.md §8); an older one ignores it silently.
_SINCE = {"dimensions": (1, 8, 0), "prompt_name": (1, 3, 0), "truncation_direction": (1, 3, 0)}


@dataclass(slots=True)
class Batch(Generic[T, R]):
    """One call: a plan per request (each parses to one result per input it holds) and how to put them together.

    ``chunks[i]`` is the range of the caller's inputs ``plans[i]`` holds, so that a failed request can say which.
    """

    plans: list[Plan[list[T]]]
    chunks: list[range]
    total: int
    combine: Callable[[list[list[T]]], R]


class TEIPlanner:
    """Plans TEI calls from :class:`TEIOptions` and what the server said in ``/info`` (the only state here)."""

    def __init__(self, options: TEIOptions) -> None:
        self.options = options
        self.info: TEIInfo | None = None
        self.info_known = options.route == "openai"  # that route needs no /info
        self.route: Literal["tei", "openai"] = "openai" if options.route == "openai" else "tei"

    def __repr__(self) -> str:
        return f"TEIPlanner(route={self.route!r}, info_known={self.info_known})"

    # ------------------------------------------------------------------------------------------ server facts

    def info_plan(self) -> Plan[TEIInfo | None]:
        """``GET /info``: a :class:`TEIInfo` when the server is TEI (its ``model_type``), else None."""

        def parse(resp: Response) -> TEIInfo | None:
            doc = parse_json(resp.body, "/info", resp.url)
            if not isinstance(doc, Mapping) or not isinstance(doc.get("model_type"), Mapping):
                return None
            return TEIInfo.model_validate(doc)

        # share: concurrent first calls of one async client (LangChain's gather of aembed_documents, LlamaIndex's
        # async batches) ask /info once and wait for that answer, as the TGI clients do.
        return Plan(Request("GET", "/info", error_map=self._error_map("/info")), parse=parse, share="/info")

    @staticmethod
    def info_missing(err: HFEndpointError) -> bool:
        """An error on ``GET /info`` that means "no /info here" (an OpenAI-compatible engine), not a failure."""
        return isinstance(err, NotFoundError) or (err.status_code in (400, 405) and not err.error_type)

    def info_steps(self) -> Steps[None]:
        """Ask ``/info`` and record the answer (``None`` on a server without TEI's, an OpenAI-compatible engine).
        Returns no plan of its own: the clients' ``info()`` returns ``self.info``."""
        try:
            info = yield self.info_plan()
        except HFEndpointError as err:
            if not self.info_missing(err):
                raise
            info = None
        self.set_info(info)

    def set_info(self, info: TEIInfo | None) -> None:
        self.info = info
        self.info_known = True
        if self.options.route == "auto":
            self.route = "tei" if info is not None else "openai"
            why = f"TEI {info.version or ''} /info" if info is not None else "no TEI /info (an OpenAI-compatible API)"
            logger.info("hf_endpoint: embeddings use route %r: %s", self.route, why)

    def batch_size(self, reserve: int = 0) -> int:
        """Inputs a request: ``max_batch_size``, the server's ``max_client_batch_size``, and its permits (TEI takes
        one per input, and refuses a request that needs more than it has), whichever is lowest; ``reserve`` of them
        for inputs the call adds (``/similarity``'s source sentence)."""
        info = self.info
        server = (info.max_client_batch_size, info.max_concurrent_requests) if info is not None else ()
        chosen = [n for n in (self.options.max_batch_size, *server) if n]
        return max(1, (min(chosen) if chosen else DEFAULT_BATCH_SIZE) - reserve)

    def concurrency(self, chunk: int) -> int:
        """``max_concurrency``, lowered so that one call's inputs in flight stay within the server's permits
        (``max_concurrent_requests``, one per input: beyond it TEI answers 429 at once)."""
        permits = self.info.max_concurrent_requests if self.info is not None else None
        if permits:
            return max(1, min(self.options.max_concurrency, permits // max(chunk, 1)))
        return self.options.max_concurrency

    # ------------------------------------------------------------------------------------------------ calls

    def embed(
        self,
        texts: str | Sequence[str],
        *,
        normalize: bool | None,
        truncate: bool | None,
        truncation_direction: str | None,
        prompt_name: str | None,
        dimensions: int | None,
    ) -> Batch[list[float], list[list[float]]]:
        items = check_texts(texts)
        self._supported(truncation_direction=truncation_direction, prompt_name=prompt_name, dimensions=dimensions)
        if self.route == "openai":
            self._openai_refuses(
                normalize=normalize,
                truncate=truncate,
                truncation_direction=truncation_direction,
                prompt_name=prompt_name,
            )
            base = openai_embeddings_body(model=self.options.model, dimensions=dimensions)
            return self._split("/v1/embeddings", base, "input", items, None, _sized(_openai_parser, dimensions))
        base = embed_body(
            normalize=normalize,
            truncate=truncate,
            truncation_direction=truncation_direction,
            prompt_name=prompt_name,
            dimensions=dimensions,
        )
        return self._split("/embed", base, "inputs", items, truncate, _sized(_parser(parse_embeddings), dimensions))

    def embed_sparse(
        self,
        texts: str | Sequence[str],
        *,
        truncate: bool | None,
        truncation_direction: str | None,
        prompt_name: str | None,
    ) -> Batch[list[SparseValue], list[list[SparseValue]]]:
        items = check_texts(texts)
        self._tei_only("embed_sparse")
        self._supported(truncation_direction=truncation_direction, prompt_name=prompt_name)
        base = embed_body(
            normalize=None,
            truncate=truncate,
            truncation_direction=truncation_direction,
            prompt_name=prompt_name,
            dimensions=None,
            sparse=True,
        )
        return self._split("/embed_sparse", base, "inputs", items, truncate, _parser(parse_sparse))

    def rerank(
        self,
        query: str,
        texts: Sequence[str],
        *,
        top_n: int | None,
        return_text: bool,
        raw_scores: bool,
        truncate: bool | None,
        truncation_direction: str | None = None,
    ) -> Batch[Rank, list[Rank]]:
        items = check_texts(texts)
        if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
            raise InvalidRequestError(f"top_n={top_n!r} is invalid: a whole number >= 1, or None for every text")
        base = rerank_body(
            query,
            truncate=truncate,
            raw_scores=raw_scores,
            return_text=return_text,
            truncation_direction=truncation_direction,
        )
        self._tei_only("rerank")
        self._supported(truncation_direction=truncation_direction)
        extra = token_estimate(json_size(query), None)
        batch: Batch[Rank, list[Rank]] = self._split(
            "/rerank",
            base,
            "texts",
            items,
            truncate,
            _rank_parser,
            extra_tokens=extra,
            combine=lambda chunks, parts: merge_ranks(chunks, parts, top_n),
        )
        return batch

    def predict(
        self,
        inputs: str | Sequence[str | Sequence[str]],
        *,
        raw_scores: bool,
        truncate: bool | None,
        truncation_direction: str | None,
    ) -> Batch[list[Prediction], list[list[Prediction]]]:
        items = check_pairs(inputs)
        self._tei_only("predict")
        self._supported(truncation_direction=truncation_direction)
        base = predict_body(truncate=truncate, raw_scores=raw_scores, truncation_direction=truncation_direction)
        return self._split("/predict", base, "inputs", items, truncate, _parser(parse_predictions))

    def similarity(
        self,
        source_sentence: str,
        sentences: Sequence[str],
        *,
        truncate: bool | None,
        truncation_direction: str | None,
        prompt_name: str | None,
    ) -> Batch[float, list[float]]:
        if not isinstance(source_sentence, str) or not source_sentence:
            raise InvalidRequestError("source_sentence must be a non-empty string")
        items = check_texts(sentences, "sentences")
        self._tei_only("similarity")
        self._supported(truncation_direction=truncation_direction, prompt_name=prompt_name)
        base = similarity_body(truncate=truncate, truncation_direction=truncation_direction, prompt_name=prompt_name)

        def put(body: dict[str, Any], part: list[Any]) -> dict[str, Any]:
            return {"inputs": {"source_sentence": source_sentence, "sentences": part}, **body}

        extra = token_estimate(json_size(source_sentence), None)  # the source is embedded with every request
        return self._split(
            "/similarity", base, put, items, truncate, _parser(parse_similarity), reserve=1, extra_tokens=extra
        )

    def tokenize(
        self, texts: str | Sequence[str], *, add_special_tokens: bool, prompt_name: str | None
    ) -> Batch[list[TEIToken], list[list[TEIToken]]]:
        items = check_texts(texts)
        self._tei_only("tokenize")
        self._supported(prompt_name=prompt_name)
        base = tokenize_body(add_special_tokens=add_special_tokens, prompt_name=prompt_name)
        return self._split("/tokenize", base, "inputs", items, None, _parser(parse_tokens))

    # ------------------------------------------------------------------------------------------------ internals

    def _split(
        self,
        path: str,
        base: dict[str, Any],
        key: str | Callable[[dict[str, Any], list[Any]], dict[str, Any]],
        items: list[Any],
        truncate: bool | None,
        parse: Callable[[Response, range], list[T]],
        *,
        reserve: int = 0,
        extra_tokens: int = 0,
        combine: Callable[[list[range], list[list[T]]], R] | None = None,
    ) -> Batch[T, R]:
        put = key if callable(key) else (lambda body, part: {**body, key: part})
        # The body around its inputs, encoded once: each request's body is that with its inputs' encoding inside.
        head, tail = (Request("POST", path, put(base, [_MARK])).encoded_body() or b"").split(_MARK_JSON, 1)
        max_bytes = self.options.payload_limit - (len(head) + len(tail) + 2)  # (+ the inputs' [])
        cap = self.info.max_input_length if (truncate and self.info is not None) else None
        max_tokens = (self.info.max_batch_tokens if self.info is not None else None) or None
        max_items = self.batch_size(reserve)
        if not items or isinstance(items[0], str):  # texts (check_texts), or else (text, pair) lists (check_pairs)
            chunks, encoded = plan_texts(
                items,
                max_items=max_items,
                max_bytes=max_bytes,
                max_tokens=max_tokens,
                cap=cap,
                extra_tokens=extra_tokens,
            )
        else:  # /predict's (text, pair) items
            sizes = [_pair_size(item) for item in items]
            tokens = [token_estimate(s, cap) + extra_tokens for s in sizes] if max_tokens else None
            chunks = plan_batches(sizes, max_items=max_items, max_bytes=max_bytes, tokens=tokens, max_tokens=max_tokens)
            encoded = [_dumps(items[c.start : c.stop]) for c in chunks]
        errors = self._error_map(path)
        plans: list[Plan[list[T]]] = []
        for chunk, part in zip(chunks, encoded, strict=True):
            request = Request("POST", path, b"".join((head, part.encode(), tail)), error_map=errors)
            plans.append(Plan(request, parse=(lambda resp, chunk=chunk: parse(resp, chunk))))  # type: ignore[misc]
        if combine is None:
            return Batch(plans, chunks, len(items), lambda parts: reassemble(chunks, parts, path))  # type: ignore[arg-type,return-value]
        final = combine
        return Batch(plans, chunks, len(items), lambda parts: final(chunks, parts))

    def _error_map(self, path: str) -> ErrorMap:
        """How the shells read an error answer to ``path``: TEI's shapes, with ``/info``'s model type for the
        message of a call the model cannot do."""

        def read(
            status: int,
            body: bytes,
            *,
            request_id: str | None = None,
            url: str | None = None,
            hints: Mapping[int, str] | None = None,
        ) -> HFEndpointError:
            return tei_error(status, body, path=path, request_id=request_id, url=url, info=self.info, hints=hints)

        return read

    def _supported(self, **given: Any) -> None:
        """Refuse a field the server's TEI version predates: TEI ignores unknown fields, so an older server would
        answer as if it had not been asked (full-size vectors for ``dimensions``, no prompt for ``prompt_name``)."""
        version = self.info.version_tuple if self.info is not None else ()
        for name, value in given.items():
            since = _SINCE[name]
            if value is not None and version and version < since:
                raise InvalidRequestError(
                    f"{name}= needs TEI {'.'.join(map(str, since))} or later, and this server is TEI "
                    f"{self.info.version if self.info else ''}: it would ignore the field and answer as if it had not "
                    "been asked. Leave it out, or upgrade the server"
                )

    def _tei_only(self, call: str) -> None:
        if self.route == "openai":
            raise InvalidRequestError(
                f"{call}() needs TEI's own routes, and this server has none (no TEI /info; route="
                f"{self.options.route!r}): only embed() works here, through /v1/embeddings"
            )

    def _openai_refuses(self, **given: Any) -> None:
        used = sorted(name for name, value in given.items() if value not in (None, False))
        if used:
            raise InvalidRequestError(
                f"{', '.join(used)} cannot be sent on the /v1/embeddings route (OpenAI's embeddings API has no such "
                "field): leave it out, or use a TEI server (route='tei' or 'auto')"
            )


def _pair_size(item: list[str]) -> int:
    return sum(json_size(part) for part in item) + len(item) + 1  # [a,b]


def _parser(parse: Callable[[bytes, str | None], list[T]]) -> Callable[[Response, range], list[T]]:
    def run(resp: Response, chunk: range) -> list[T]:
        return parse(resp.body, resp.url)

    return run


def _sized(
    parse: Callable[[Response, range], list[list[float]]], dimensions: int | None
) -> Callable[[Response, range], list[list[float]]]:
    """``parse``, checking that every vector has ``dimensions`` values when they were asked for (a server that does
    not know the field returns full-size vectors)."""
    if dimensions is None:
        return parse

    def run(resp: Response, chunk: range) -> list[list[float]]:
        vectors = parse(resp, chunk)
        wrong = next((len(v) for v in vectors if len(v) != dimensions), None)
        if wrong is not None:
            raise ResponseError(
                f"dimensions={dimensions} was asked, but the server returned {wrong}-value vectors: it ignores the "
                "field (TEI before 1.8.0, or a server without Matryoshka support)",
                url=resp.url,
                request_id=resp.request_id,
            )
        return vectors

    return run


def _rank_parser(resp: Response, chunk: range) -> list[Rank]:
    return parse_ranks(resp.body, resp.url, chunk.start)


def _openai_parser(resp: Response, chunk: range) -> list[list[float]]:
    return parse_openai_embeddings(resp.body, len(chunk), resp.url)
