"""The routing policy on its own (pure: no server, the clock passed in)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_endpoint import (
    AllEndpointsFailedError,
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    EndpointPausedError,
    EndpointUnavailableError,
    GenerationError,
    HFEndpointError,
    IncompleteStreamError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    RequestValidationError,
    ServerError,
)
from hf_endpoint._options import EndpointSpec, parse_endpoints
from hf_endpoint._retry import RetryPolicy
from hf_endpoint._routing import Failover, Router, moves

URLS = [f"http://127.0.0.1:{8000 + i}" for i in range(6)]


def _router(weights: list[float], seed: int = 0) -> Router:
    return Router([(URLS[i], w) for i, w in enumerate(weights)], rng=random.Random(seed))


@given(
    st.lists(st.tuples(st.integers(0, 20), st.sampled_from([0.5, 1.0, 2.0, 3.0])), min_size=1, max_size=6),
    st.integers(0, 2**16),
)
def test_least_outstanding_per_weight_among_available(loads: list[tuple[int, float]], seed: int) -> None:
    router = _router([w for _, w in loads], seed)
    for ep, (n, _) in zip(router.endpoints, loads, strict=True):
        ep.in_flight = n
    i = router.choose(now=0.0)
    assert i is not None
    best = min(n / w for n, w in loads)
    assert loads[i][0] / loads[i][1] == best


def test_ties_are_broken_at_random() -> None:
    router = _router([1.0, 1.0, 1.0], seed=1)
    seen = {router.choose(0.0) for _ in range(200)}
    assert seen == {0, 1, 2}


@given(st.lists(st.sampled_from([1.0, 2.0, 3.0]), min_size=2, max_size=4), st.integers(0, 2**16))
def test_weights_share_the_traffic_of_long_requests(weights: list[float], seed: int) -> None:
    """Requests that never finish: each endpoint's share follows its weight (within one request)."""
    router = _router(weights, seed)
    total = 60
    for _ in range(total):
        i = router.choose(0.0)
        assert i is not None
        router.started(i)
    for ep, w in zip(router.endpoints, weights, strict=True):
        assert abs(ep.in_flight - total * w / sum(weights)) <= w + 1


@given(st.sets(st.integers(0, 3)), st.lists(st.floats(0, 100), min_size=4, max_size=4), st.floats(0, 100))
def test_choose_never_returns_an_excluded_endpoint(exclude: set[int], cool: list[float], now: float) -> None:
    router = _router([1.0] * 4)
    for ep, until in zip(router.endpoints, cool, strict=True):
        ep.cooldown_until = until
        ep.probing = until > now
    i = router.choose(now, exclude)
    if len(exclude) == 4:
        assert i is None
    else:
        assert i is not None and i not in exclude
        warm = [j for j in range(4) if j not in exclude and router.endpoints[j].available(now)]
        if warm:
            assert i in warm  # a cooling endpoint only when no warm one is left
        else:
            assert cool[i] == min(cool[j] for j in range(4) if j not in exclude)


@given(st.integers(1, 12))
def test_cooldown_grows_with_repeated_failures_and_is_capped(n: int) -> None:
    router = Router([(URLS[0], 1.0)], cooldown_base=1.0, cooldown_max=60.0)
    err = APIConnectionError("refused")
    cooldowns = []
    for _ in range(n):
        router.started(0)
        cooldowns.append(router.failed(0, err, now=0.0))
    assert cooldowns == sorted(cooldowns)
    assert cooldowns[0] == 1.0 and max(cooldowns) <= 60.0
    assert router.endpoints[0].cooldown_until == max(cooldowns)
    router.started(0)
    router.succeeded(0, 0.1)
    assert router.endpoints[0].streak == 0 and router.endpoints[0].available(0.0)


def test_retry_after_sets_the_cooldown() -> None:
    router = Router([(URLS[0], 1.0)])
    router.started(0)
    assert router.failed(0, RateLimitError("slow down", status_code=429), now=10.0, retry_after=30.0) == 30.0
    assert not router.endpoints[0].available(39.0)
    assert router.probes_due(39.0) == []
    assert router.probes_due(40.0) == [0]  # cooled down: probed (once), and back only when the probe answers
    assert router.probes_due(41.0) == []
    assert not router.endpoints[0].available(41.0)
    router.probe_succeeded(0)
    assert router.endpoints[0].available(41.0)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (APIConnectionError("refused"), True),
        (IncompleteStreamError("dropped"), True),
        (RateLimitError("x", status_code=429), True),
        (EndpointUnavailableError("x", status_code=503), True),
        (ServerError("x", status_code=500), True),
        (GenerationError("x", status_code=500), True),
        (EndpointPausedError("paused", status_code=400), True),
        (APIStatusError("timeout", status_code=408), True),
        (RequestValidationError("x", status_code=422), False),
        (BadRequestError("x", status_code=400), False),
        (AuthenticationError("x", status_code=401), False),
        (NotFoundError("x", status_code=404), False),
        (InvalidRequestError("x"), False),
    ],
)
def test_which_errors_move_a_request(error: HFEndpointError, expected: bool) -> None:
    assert moves(error) is expected


@settings(max_examples=50)
@given(st.integers(2, 5), st.integers(0, 3), st.integers(0, 2**16))
def test_a_walk_tries_each_endpoint_once_a_round_then_fails_listing_all(n: int, retries: int, seed: int) -> None:
    router = _router([1.0] * n, seed)
    walk = Failover(router, RetryPolicy(max_retries=retries, backoff_base=0.01), now=0.0)
    rounds: list[list[int]] = [[]]

    def walk_all() -> None:
        for _ in range(100):
            i, wait = walk.next(now=0.0)
            if i is None:
                assert wait >= 0
                rounds.append([])
                continue
            rounds[-1].append(i)
            assert walk.failed(i, RateLimitError(f"busy {i}", status_code=429), now=0.0) is not None

    with pytest.raises(AllEndpointsFailedError) as info:
        walk_all()
    assert len(rounds) == retries + 1
    assert all(sorted(r) == list(range(n)) for r in rounds)
    assert sorted(info.value.errors) == sorted(URLS[:n])
    assert all(url in str(info.value) for url in URLS[:n])
    assert all(ep.in_flight == 0 for ep in router.endpoints)


def test_a_rejected_request_is_not_moved() -> None:
    router = _router([1.0, 1.0])
    walk = Failover(router, RetryPolicy(), now=0.0)
    i, _ = walk.next(0.0)
    assert i is not None
    assert walk.failed(i, RequestValidationError("bad", status_code=422), now=0.0) is None
    assert router.endpoints[i].in_flight == 0 and router.endpoints[i].available(0.0)


def test_parse_endpoints() -> None:
    assert parse_endpoints("http://a:1/v1") == ("http://a:1/v1", ())
    assert parse_endpoints(["http://a:1/v1/"]) == ("http://a:1", ())
    first, eps = parse_endpoints(["http://a:1", ("http://b:2/", {"weight": 2, "api_key": "k", "route": "generate"})])
    assert first == "http://a:1"
    assert eps[1] == EndpointSpec("http://b:2", api_key="k", weight=2, route="generate")  # type: ignore[arg-type]
    assert "k" not in repr(eps)
    with pytest.raises(InvalidRequestError, match=r"unknown endpoint option\(s\) \['wieght'\]"):
        parse_endpoints(["http://a:1", ("http://b:2", {"wieght": 2})])
    with pytest.raises(InvalidRequestError, match="twice"):
        parse_endpoints(["http://a:1", "http://a:1/"])
    with pytest.raises(InvalidRequestError, match="non-empty list"):
        parse_endpoints([])
    with pytest.raises(InvalidRequestError, match="weight=0"):
        parse_endpoints(["http://a:1", ("http://b:2", {"weight": 0})])
