"""TEI's wire format, pure: recorded TEI answers parsed, request bodies, every error shape mapped."""

from __future__ import annotations

import base64
import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest

from hf_endpoint import (
    AuthenticationError,
    BadRequestError,
    ContextWindowExceededError,
    EndpointUnavailableError,
    GenerationError,
    HFEndpointError,
    InvalidRequestError,
    ModelTypeError,
    RateLimitError,
    RequestValidationError,
    ResponseError,
)
from hf_endpoint._tei_errors import annotate_inputs, tei_error
from hf_endpoint._tei_protocol import (
    check_pairs,
    check_texts,
    embed_body,
    merge_ranks,
    parse_embeddings,
    parse_openai_embeddings,
    parse_predictions,
    parse_ranks,
    predict_body,
    rerank_body,
)
from hf_endpoint._tei_types import Rank, TEIInfo

DATA = Path(__file__).parent.parent / "data" / "tei"
TOL = 4e-3  # TEI's own tests compare these f32 snapshots with this tolerance


def raw(name: str) -> bytes:
    return (DATA / name).read_bytes()


def info(model_type: dict[str, Any], **extra: Any) -> TEIInfo:
    return TEIInfo.model_validate({"model_id": "m", "model_type": model_type, **extra})


EMBEDDER = info({"embedding": {"pooling": "mean"}})
RERANKER = info({"reranker": {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}})
CLASSIFIER = info({"classifier": {"id2label": {"0": "neg", "1": "pos"}}})
SPLADE = info({"embedding": {"pooling": "splade"}})


# ---------------------------------------------------------------------------------------- recorded answers


def test_recorded_embeddings_parse_batch_shaped_and_equal_to_single() -> None:
    single = parse_embeddings(raw("legacy_v1.7.4__test_http_embed__embeddings_single.json"))
    batch = parse_embeddings(raw("legacy_v1.7.4__test_http_embed__embeddings_batch.json"))
    assert len(single) == 1 and len(single[0]) == 384
    assert len(batch) == 5
    for row in batch:
        assert all(abs(a - b) <= TOL for a, b in zip(row, single[0], strict=True))
    assert math.isclose(math.fsum(x * x for x in single[0]), 1.0, abs_tol=TOL)  # normalised by default


def test_recorded_matryoshka_embeddings_are_cut_then_renormalised() -> None:
    full = parse_embeddings(raw("legacy_v1.7.4__test_http_embed__embeddings_single.json"))[0]
    cut = parse_embeddings(raw("test_http_embed__mrl_embeddings_single.json"))[0]
    batch = parse_embeddings(raw("test_http_embed__mrl_embeddings_batch.json"))
    assert len(cut) == 128 and [len(r) for r in batch] == [128, 128, 128]
    norm = math.sqrt(math.fsum(x * x for x in full[:128]))
    assert all(abs(a / norm - b) <= TOL for a, b in zip(full[:128], cut, strict=True))


def test_recorded_predictions_single_is_wrapped_and_batch_kept() -> None:
    single = parse_predictions(raw("legacy_v1.7.4__test_http_predict__predictions_single.json"))
    batch = parse_predictions(raw("legacy_v1.7.4__test_http_predict__predictions_batch.json"))
    assert len(single) == 1 and len(single[0]) == 28
    assert single[0][0].label == "neutral" and single[0][0].score > 0.99
    assert math.isclose(math.fsum(p.score for p in single[0]), 1.0, abs_tol=TOL)  # softmax
    assert len(batch) == 5 and all([p.label for p in row] == [p.label for p in single[0]] for row in batch)


def test_a_shape_we_cannot_use_is_a_response_error() -> None:
    with pytest.raises(ResponseError, match="unexpected /embed answer"):
        parse_embeddings(b'{"error": "x"}')
    with pytest.raises(ResponseError, match="not JSON"):
        parse_embeddings(b"<html>proxy error</html>")


# ---------------------------------------------------------------------------------------------- bodies


def test_bodies_omit_unset_fields_and_always_say_truncate() -> None:
    body = embed_body(normalize=None, truncate=None, truncation_direction=None, prompt_name=None, dimensions=None)
    assert body == {"truncate": False}  # not the server's auto_truncate, which differs between TEI versions
    body = embed_body(normalize=False, truncate=True, truncation_direction="left", prompt_name="query", dimensions=64)
    assert body == {
        "truncate": True,
        "truncation_direction": "Left",
        "prompt_name": "query",
        "normalize": False,
        "dimensions": 64,
    }
    assert rerank_body("q", truncate=None, raw_scores=False, return_text=False, truncation_direction=None) == {
        "query": "q",
        "truncate": False,
    }
    assert predict_body(truncate=True, raw_scores=True, truncation_direction=None) == {
        "truncate": True,
        "raw_scores": True,
    }
    assert "null" not in json.dumps(body)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dimensions": 0}, "dimensions=0"),
        ({"dimensions": True}, "dimensions=True"),
        ({"truncation_direction": "middle"}, "'right'"),
        ({"normalize": "yes"}, "normalize='yes'"),
        ({"truncate": 1}, "truncate=1"),
        ({"prompt_name": ""}, "prompt_name"),
    ],
)
def test_bad_options_are_refused_before_sending(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "normalize": None,
        "truncate": None,
        "truncation_direction": None,
        "prompt_name": None,
        "dimensions": None,
        **kwargs,
    }
    with pytest.raises(InvalidRequestError, match=message):
        embed_body(**args)


def test_inputs_checked_with_their_index() -> None:
    assert check_texts("one") == ["one"]  # a string is one input, not its characters
    with pytest.raises(InvalidRequestError, match=r"texts\[1\] is an empty string"):
        check_texts(["a", ""])
    with pytest.raises(InvalidRequestError, match=r"texts\[0\] is a int"):
        check_texts([3])  # type: ignore[list-item]
    assert check_pairs(["a", ("b", "c")]) == [["a"], ["b", "c"]]
    with pytest.raises(InvalidRequestError, match=r"inputs\[0\]"):
        check_pairs([("a", "b", "c")])


# ------------------------------------------------------------------------------------------------ ranks


def test_ranks_are_mapped_by_index_across_requests_never_by_position() -> None:
    # TEI answers each request sorted by score; index points into that request's texts.
    first = parse_ranks(b'[{"index":1,"score":0.9},{"index":0,"score":0.1}]')
    second = parse_ranks(b'[{"index":0,"score":0.95,"text":"c"},{"index":1,"score":0.2,"text":"d"}]', offset=2)
    merged = merge_ranks([range(0, 2), range(2, 4)], [first, second], None)
    assert [(r.index, r.score) for r in merged] == [(2, 0.95), (1, 0.9), (3, 0.2), (0, 0.1)]
    assert merged[0].text == "c" and merged[-1].text is None
    assert [r.index for r in merge_ranks([range(0, 2), range(2, 4)], [first, second], 2)] == [2, 1]


def test_rank_ties_put_the_higher_index_first_as_tei_does() -> None:
    parts = [[Rank(index=0, score=0.5)], [Rank(index=1, score=0.5)]]
    assert [r.index for r in merge_ranks([range(0, 1), range(1, 2)], parts, None)] == [1, 0]


def test_a_rank_answer_missing_or_repeating_an_index_is_refused() -> None:
    with pytest.raises(ResponseError, match=r"not each of 0\.\.1 once"):
        merge_ranks([range(0, 2)], [[Rank(index=0, score=1.0), Rank(index=0, score=0.5)]], None)


# ---------------------------------------------------------------------------------------- /v1/embeddings


def test_openai_embeddings_put_in_order_by_index_floats_and_base64() -> None:
    vec = struct.pack("<3f", 0.5, -1.0, 2.0)
    body = json.dumps(
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": 1, "embedding": base64.b64encode(vec).decode()},
                {"object": "embedding", "index": 0, "embedding": [1, 2.5]},
            ],
            "model": "m",
            "usage": {"prompt_tokens": 3, "total_tokens": 3},
        }
    ).encode()
    assert parse_openai_embeddings(body, 2) == [[1.0, 2.5], [0.5, -1.0, 2.0]]
    with pytest.raises(ResponseError, match=r"no embedding for inputs \[2\]"):
        parse_openai_embeddings(body, 3)
    dup = b'{"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]}'
    with pytest.raises(ResponseError, match="repeated"):
        parse_openai_embeddings(dup, 2)


# ------------------------------------------------------------------------------------------------ errors

TOO_LONG = "Input validation error: `inputs` must have less than 512 tokens. Given: 534"


def tei(status: int, body: str | bytes, path: str = "/embed", served: TEIInfo | None = None) -> HFEndpointError:
    data = body if isinstance(body, bytes) else body.encode()
    return tei_error(status, data, path=path, request_id="rid-1", url="http://x" + path, info=served)


@pytest.mark.parametrize("status", [422, 413])  # 413 before TEI v1.9.0
def test_too_long_input_names_truncate_true(status: int) -> None:
    err = tei(status, json.dumps({"error": TOO_LONG, "error_type": "Validation"}))
    assert type(err) is ContextWindowExceededError
    assert "truncate=True" in err.message and err.error_type == "Validation" and err.status_code == status
    assert (err.prompt_tokens, err.max_total_tokens, err.request_id) == (534, 512, "rid-1")


def test_too_long_in_characters_is_a_context_error_too() -> None:
    msg = "Input validation error: `inputs` must have less than 128000 characters. Given: 130001"
    err = tei(422, json.dumps({"error": msg, "error_type": "Validation"}))
    assert isinstance(err, ContextWindowExceededError) and "truncate=True" in err.message


@pytest.mark.parametrize("status", [422, 413])
def test_batch_size_error_says_the_limit(status: int) -> None:
    err = tei(
        status, json.dumps({"error": "batch size 40 > maximum allowed batch size 32", "error_type": "Validation"})
    )
    assert type(err) is RequestValidationError and "max_batch_size=32" in err.message


def test_flat_openai_route_error_shape() -> None:
    err = tei(422, json.dumps({"message": TOO_LONG, "code": 422, "type": "Validation"}), path="/v1/embeddings")
    assert isinstance(err, ContextWindowExceededError) and "route='tei'" in err.message
    err = tei(
        429, json.dumps({"message": "Model is overloaded", "code": 429, "type": "Overloaded"}), path="/v1/embeddings"
    )
    assert type(err) is RateLimitError and err.error_type == "Overloaded"


def test_vllm_nested_context_error() -> None:
    body = {
        "error": {
            "message": "This model's maximum context length is 512 tokens. However, you requested 600 "
            "tokens in the input for embedding generation.",
            "type": "BadRequestError",
            "code": 400,
        }
    }
    err = tei(400, json.dumps(body), path="/v1/embeddings")
    assert isinstance(err, ContextWindowExceededError) and err.max_total_tokens == 512


@pytest.mark.parametrize(
    ("status", "body", "cls", "needle"),
    [
        (413, b"Failed to buffer the request body: length limit exceeded", BadRequestError, "payload_limit="),
        (415, b"Expected request with `Content-Type: application/json`", BadRequestError, "Content-Type"),
        (400, b"Failed to parse the request body as JSON: EOF", BadRequestError, "Failed to parse"),
        (
            422,
            b"Failed to deserialize the JSON body into the target type: normalize: invalid type: null",
            RequestValidationError,
            "normalize",
        ),
        (
            400,
            b'{"error":"Input validation error: `inputs` cannot be empty","error_type":"Empty"}',
            BadRequestError,
            "cannot be empty",
        ),
        (422, b'{"error":"tokenizer error oops","error_type":"Tokenizer"}', RequestValidationError, "tokenizer"),
        (429, b'{"error":"Model is overloaded","error_type":"Overloaded"}', RateLimitError, "overloaded"),
        (424, b'{"error":"score is NaN","error_type":"Backend"}', GenerationError, "NaN"),
        (503, b'{"error":"unhealthy","error_type":"Unhealthy"}', EndpointUnavailableError, "unhealthy"),
        (503, b"upstream connect error", EndpointUnavailableError, "upstream"),
        (401, b"", AuthenticationError, "token"),
    ],
)
def test_every_tei_error_shape(status: int, body: bytes, cls: type[HFEndpointError], needle: str) -> None:
    err = tei(status, body)
    assert type(err) is cls, err
    assert needle in err.message and err.status_code == status


def test_wrong_model_type_names_the_call_that_fits() -> None:
    body = json.dumps({"error": "Backend error: Model is not an embedding model", "error_type": "Backend"})
    err = tei(424, body, "/embed", RERANKER)
    assert type(err) is ModelTypeError
    assert "serves a reranker" in err.message and "not an embedding model" in err.message
    assert "rerank()" in err.message and "HFEndpointReranker" in err.message
    err = tei(
        424,
        json.dumps({"error": "Backend error: model is not a re-ranker model", "error_type": "Backend"}),
        "/rerank",
        EMBEDDER,
    )
    assert "serves an embedding model" in err.message and "HFEndpointEmbeddings" in err.message
    unknown = tei(424, body, "/embed", None)  # /info not known: every alternative named
    assert isinstance(unknown, ModelTypeError) and "rerank()" in unknown.message and "predict()" in unknown.message


def test_failed_request_names_its_inputs() -> None:
    err = annotate_inputs(RateLimitError("Model is overloaded", status_code=429), range(32, 64), 100)
    assert err.inputs == range(32, 64) and "inputs 32..63 of 100" in str(err)
    assert "inputs 32..63" in err.args[0]
    whole = annotate_inputs(RateLimitError("Model is overloaded", status_code=429), range(0, 3), 3)
    assert whole.inputs == range(0, 3) and str(whole) == "[HTTP 429] Model is overloaded"  # one request: no note


def test_info_reads_model_type_and_old_servers() -> None:
    assert (EMBEDDER.kind, EMBEDDER.pooling) == ("embedding", "mean")
    assert RERANKER.kind == "reranker" and RERANKER.labels == ["LABEL_0"]
    assert CLASSIFIER.labels == ["neg", "pos"]
    old = TEIInfo.model_validate({"model_id": "m", "model_type": {"embedding": {"pooling": "cls"}}, "version": "1.1.0"})
    assert old.auto_truncate is None and old.version_tuple == (1, 1, 0) and old.max_client_batch_size is None
