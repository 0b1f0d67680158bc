"""The batch planner, property-tested: every input exactly once, in order, and every request within each limit."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hf_endpoint import InvalidRequestError, ResponseError
from hf_endpoint._batching import json_size, plan_batches, plan_texts, reassemble, token_estimate
from hf_endpoint._options import TEIOptions
from hf_endpoint._tei_core import TEIPlanner
from hf_endpoint._tei_types import TEIInfo

# Quotes, backslashes, control characters and non-ASCII text: their JSON sizes differ from their lengths.
texts_st = st.lists(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=120), max_size=150)


def planner(batch: int, max_tokens: int | None, payload: int, max_input: int = 64, **options: Any) -> TEIPlanner:
    p = TEIPlanner(TEIOptions(payload_limit=payload, **options))
    p.set_info(
        TEIInfo.model_validate(
            {
                "model_type": {"embedding": {"pooling": "mean"}},
                "max_client_batch_size": batch,
                "max_batch_tokens": max_tokens,
                "max_input_length": max_input,
            }
        )
    )
    return p


def encoded(plan: Any) -> bytes:
    body: bytes = plan.request.encoded_body()
    return body


def sent(plan: Any) -> Any:
    """The request body as the server reads it."""
    return json.loads(encoded(plan))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=texts_st,
    batch=st.integers(1, 40),
    max_tokens=st.none() | st.integers(1, 3000),
    payload=st.integers(1024, 6000),
    truncate=st.booleans(),
)
def test_embed_batches_keep_order_and_respect_every_limit(
    texts: list[str], batch: int, max_tokens: int | None, payload: int, truncate: bool
) -> None:
    p = planner(batch, max_tokens, payload)
    too_big = any(json_size(t) + len(b'{"truncate":false,"inputs":[]}') > payload for t in texts)
    if too_big:  # only when one input cannot fit a request on its own
        with pytest.raises(InvalidRequestError, match="payload limit"):
            p.embed(
                texts, normalize=None, truncate=truncate, truncation_direction=None, prompt_name=None, dimensions=None
            )
        return
    plan = p.embed(
        texts, normalize=None, truncate=truncate, truncation_direction=None, prompt_name=None, dimensions=None
    )
    delivered: list[str] = []
    for chunk, req_plan in zip(plan.chunks, plan.plans, strict=True):
        body = encoded(req_plan)
        inputs = sent(req_plan)["inputs"]
        assert 1 <= len(inputs) <= batch
        assert len(body) <= payload
        assert inputs == texts[chunk.start : chunk.stop]
        if max_tokens is not None and len(inputs) > 1:
            cap = 64 if truncate else None
            assert sum(token_estimate(json_size(t), cap) for t in inputs) <= max_tokens
        delivered.extend(inputs)
    assert delivered == texts  # every input exactly once, in order
    assert [c.start for c in plan.chunks] == sorted(c.start for c in plan.chunks)
    fake = [[[float(i)] for i in c] for c in plan.chunks]  # one "vector" per input: its own index
    assert plan.combine(fake) == [[float(i)] for i in range(len(texts))]


@settings(max_examples=150, deadline=None)
@given(
    query=st.text(min_size=1, max_size=50),
    texts=texts_st,
    batch=st.integers(1, 40),
    payload=st.integers(2048, 6000),
)
def test_rerank_and_similarity_batches_repeat_the_query_and_cover_every_text(
    query: str, texts: list[str], batch: int, payload: int
) -> None:
    p = planner(batch, None, payload)
    p.info = TEIInfo.model_validate({"model_type": {"reranker": {}}, "max_client_batch_size": batch})
    try:
        ranks = p.rerank(query, texts, top_n=None, return_text=False, raw_scores=False, truncate=None)
    except InvalidRequestError:
        return
    got: list[str] = []
    for plan in ranks.plans:
        assert sent(plan)["query"] == query and len(encoded(plan)) <= payload
        assert len(sent(plan)["texts"]) <= batch
        got.extend(sent(plan)["texts"])
    assert got == texts
    assume(batch > 1)
    p.info = TEIInfo.model_validate({"model_type": {"embedding": {}}, "max_client_batch_size": batch})
    try:
        sim = p.similarity(query, texts, truncate=None, truncation_direction=None, prompt_name=None) if texts else None
    except InvalidRequestError:
        return
    if sim is not None:
        for plan in sim.plans:  # TEI counts the source sentence in the batch: sentences + 1 <= limit
            assert len(sent(plan)["inputs"]["sentences"]) + 1 <= batch and len(encoded(plan)) <= payload


@given(sizes=st.lists(st.integers(1, 50), max_size=200), max_items=st.integers(1, 10), room=st.integers(50, 400))
def test_plan_batches_is_a_greedy_partition(sizes: list[int], max_items: int, room: int) -> None:
    chunks = plan_batches(sizes, max_items=max_items, max_bytes=room)
    assert [i for c in chunks for i in c] == list(range(len(sizes)))
    for c in chunks:
        assert len(c) <= max_items and sum(sizes[i] for i in c) + len(c) - 1 <= room
    for a, b in itertools.pairwise(chunks):  # greedy: the next input did not fit the previous request
        assert len(a) == max_items or sum(sizes[i] for i in a) + len(a) + sizes[b.start] > room


@settings(max_examples=400, deadline=None)
@given(
    texts=texts_st,
    max_items=st.integers(1, 40),
    room=st.integers(100, 8000),
    max_tokens=st.none() | st.integers(50, 5000),
    cap=st.none() | st.integers(1, 300),
    extra=st.integers(0, 50),
)
def test_plan_texts_fast_path_gives_the_plain_paths_ranges(
    texts: list[str], max_items: int, room: int, max_tokens: int | None, cap: int | None, extra: int
) -> None:
    sizes = [json_size(t) for t in texts]
    tokens = [token_estimate(s, cap) + extra for s in sizes]
    try:
        plain = plan_batches(sizes, max_items=max_items, max_bytes=room, tokens=tokens, max_tokens=max_tokens)
    except InvalidRequestError as err:
        with pytest.raises(InvalidRequestError, match=str(err).split(" bytes")[0]):
            plan_texts(texts, max_items=max_items, max_bytes=room, max_tokens=max_tokens, cap=cap, extra_tokens=extra)
        return
    fast, encoded = plan_texts(
        texts, max_items=max_items, max_bytes=room, max_tokens=max_tokens, cap=cap, extra_tokens=extra
    )
    assert fast == plain
    assert [json.loads(e) for e in encoded] == [texts[c.start : c.stop] for c in fast]


def test_an_input_larger_than_the_payload_limit_is_refused_naming_it() -> None:
    p = planner(32, None, 2000)
    with pytest.raises(InvalidRequestError, match="input 1 is 3,002 bytes"):
        p.embed(
            ["ok", "x" * 3000],
            normalize=None,
            truncate=None,
            truncation_direction=None,
            prompt_name=None,
            dimensions=None,
        )


def test_defaults_when_the_server_says_nothing() -> None:
    p = TEIPlanner(TEIOptions())
    p.set_info(TEIInfo.model_validate({"model_type": {"embedding": {}}}))  # an old TEI: no limits in /info
    plan = p.embed(
        [f"t{i}" for i in range(65)],
        normalize=None,
        truncate=None,
        truncation_direction=None,
        prompt_name=None,
        dimensions=None,
    )
    assert [len(c) for c in plan.chunks] == [32, 32, 1]
    p = TEIPlanner(TEIOptions(max_batch_size=8))
    p.set_info(TEIInfo.model_validate({"model_type": {"embedding": {}}, "max_client_batch_size": 32}))
    assert p.batch_size() == 8 and p.concurrency(8) == 4
    p.set_info(
        TEIInfo.model_validate(
            {"model_type": {"embedding": {}}, "max_client_batch_size": 4, "max_concurrent_requests": 8}
        )
    )
    assert p.batch_size() == 4 and p.concurrency(4) == 2  # 2 requests of 4 inputs hold the server's 8 permits


def test_reassemble_refuses_a_short_answer() -> None:
    with pytest.raises(ResponseError, match=r"returned 1 results for inputs 2\.\.3"):
        reassemble([range(0, 2), range(2, 4)], [[1, 2], [3]], "/embed")


def test_fields_an_older_tei_would_ignore_are_refused_or_caught() -> None:
    from hf_endpoint._plan import Response

    old = TEIPlanner(TEIOptions())
    old.set_info(TEIInfo.model_validate({"model_type": {"embedding": {}}, "version": "1.7.4"}))
    args: dict[str, Any] = {"normalize": None, "truncate": None, "truncation_direction": None, "prompt_name": None}
    with pytest.raises(
        InvalidRequestError, match=r"dimensions= needs TEI 1\.8\.0 or later, and this server is TEI 1\.7\.4"
    ):
        old.embed(["a"], dimensions=64, **args)
    older = TEIPlanner(TEIOptions())
    older.set_info(TEIInfo.model_validate({"model_type": {"embedding": {}}, "version": "1.2.1"}))
    with pytest.raises(InvalidRequestError, match=r"prompt_name= needs TEI 1\.3\.0"):
        older.embed(["a"], dimensions=None, **{**args, "prompt_name": "query"})
    # Version unknown (or a server that says it is newer but still ignores the field): the answer is checked.
    unknown = TEIPlanner(TEIOptions())
    unknown.set_info(TEIInfo.model_validate({"model_type": {"embedding": {}}}))
    plan = unknown.embed(["a", "b"], dimensions=64, **args).plans[0]
    assert plan.parse is not None
    full = Response(200, {}, json.dumps([[0.1] * 384, [0.2] * 384]).encode(), "http://x/embed")
    with pytest.raises(ResponseError, match="dimensions=64 was asked, but the server returned 384-value vectors"):
        plan.parse(full)
    assert plan.parse(Response(200, {}, json.dumps([[0.1] * 64, [0.2] * 64]).encode(), "http://x/embed"))[1][0] == 0.2


def test_auto_route_follows_what_info_said() -> None:
    from hf_endpoint import AuthenticationError, NotFoundError

    auto = TEIPlanner(TEIOptions())
    assert not auto.info_known and TEIPlanner.info_missing(NotFoundError("no route", status_code=404))
    assert not TEIPlanner.info_missing(AuthenticationError("", status_code=401))  # TEI guards /info: a real error
    auto.set_info(None)  # /info missing (404) or not TEI's: an OpenAI-compatible embedding server
    plan = auto.embed(
        ["a"], normalize=None, truncate=None, truncation_direction=None, prompt_name=None, dimensions=None
    )
    assert auto.route == "openai" and plan.plans[0].request.path == "/v1/embeddings"
    assert sent(plan.plans[0]) == {"input": ["a"]}
    fixed = TEIPlanner(TEIOptions(route="tei"))
    fixed.set_info(None)
    assert fixed.route == "tei"  # an explicit route stays
