"""The built-in chat templates: their Python renderers write exactly what their Jinja sources write."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_endpoint import InvalidRequestError
from hf_endpoint._native_chat import build_native_chat
from hf_endpoint._params import normalize_messages
from hf_endpoint._templates import BUILTIN_TEMPLATES, ChatTemplate, _compile, builtin_template_for

# Text that could trip a renderer: Jinja delimiters, newlines, quotes, braces, non-ASCII.
_TEXT = st.text(alphabet=st.sampled_from(list("ab {}%#'\"\n\t\\<|>é😀")), max_size=8)
_CALL = st.fixed_dictionaries(
    {"function": st.fixed_dictionaries({"name": _TEXT | st.none(), "arguments": _TEXT | st.just('{"x": 1}')})}
)
_MESSAGE = st.one_of(
    st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "tool", "developer"]), "content": _TEXT}),
    st.fixed_dictionaries({"role": st.just("assistant"), "content": _TEXT | st.none()}),
    st.fixed_dictionaries({"role": st.just("assistant"), "tool_calls": st.lists(_CALL, min_size=1, max_size=2)}),
)


def _jinja(template: ChatTemplate, messages: list[dict[str, Any]], generation_prompt: bool) -> str:
    text: str = _compile(template.source).render(
        messages=messages,
        tools=None,
        add_generation_prompt=generation_prompt,
        bos_token=template.bos_token,
        eos_token=template.eos_token,
    )
    return text


def _as_native_route_passes_them(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # what build_native_chat hands the template: normalised, content as text where there is content
    return [dict(m, content=m["content"] or "") if "content" in m else m for m in normalize_messages(messages)]


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted(BUILTIN_TEMPLATES)),
    messages=st.lists(_MESSAGE, min_size=1, max_size=5),
    generation_prompt=st.booleans(),
    tokens=st.tuples(_TEXT, _TEXT) | st.none(),
)
def test_python_renderers_match_jinja(
    name: str, messages: list[dict[str, Any]], generation_prompt: bool, tokens: tuple[str, str] | None
) -> None:
    template = BUILTIN_TEMPLATES[name]
    if tokens is not None:  # a built-in source with other special tokens
        template = ChatTemplate(source=template.source, name=name, bos_token=tokens[0], eos_token=tokens[1])
    msgs = _as_native_route_passes_them(messages)
    assert template.render(msgs, add_generation_prompt=generation_prompt) == _jinja(template, msgs, generation_prompt)


@pytest.mark.parametrize("name", sorted(BUILTIN_TEMPLATES))
def test_a_conversation_renders_as_the_family_expects(name: str) -> None:
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    plan = build_native_chat(
        msgs,
        {},
        template=BUILTIN_TEMPLATES[name],
        tools=None,
        tool_choice=None,
        grammar=None,
        max_stop_sequences=4,
        model="m",
    )
    assert "Be brief." in plan.prompt and "Hi" in plan.prompt
    rendered, bos = _jinja(BUILTIN_TEMPLATES[name], msgs, True), BUILTIN_TEMPLATES[name].bos_token
    # TGI's /generate adds the tokenizer's BOS itself: the prompt sent there is the template's without it.
    assert plan.prompt == rendered.removeprefix(bos) and (not bos or rendered.startswith(bos))


@pytest.mark.parametrize(
    ("model_id", "template", "bos"),
    [
        ("meta-llama/Meta-Llama-3-8B-Instruct", "llama-3", "<|begin_of_text|>"),
        ("mistralai/Mistral-7B-Instruct-v0.2", "mistral", "<s>"),
        ("google/gemma-2-9b-it", "gemma", "<bos>"),
        ("meta-llama/Llama-3.1-8B", "qa", "<|begin_of_text|>"),
        ("mistralai/Mistral-7B-v0.1", "qa", "<s>"),
        ("tiiuae/falcon-7b", "qa", "<|endoftext|>"),
        ("openai-community/gpt2", "qa", "<|endoftext|>"),
    ],
)
def test_native_route_sends_no_bos_text(model_id: str, template: str, bos: str) -> None:
    """TGI's /generate adds the tokenizer's special tokens: a BOS written by the template would be a second one;
    and the question/answer layout picked for base models of every family wrote Gemma's literal `<bos>`."""
    assert builtin_template_for(model_id) is BUILTIN_TEMPLATES[template]
    msgs = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "And?"},
    ]
    plan = build_native_chat(
        msgs,
        {},
        template=BUILTIN_TEMPLATES[template],
        tools=None,
        tool_choice=None,
        grammar=None,
        max_stop_sequences=4,
        model="m",
    )
    assert not plan.prompt.startswith(bos) and "<bos>" not in plan.prompt


def test_a_shape_the_renderers_do_not_know_goes_to_jinja() -> None:
    # no messages: Jinja's own failure (messages[0] of an empty list) is reported, as before
    with pytest.raises(InvalidRequestError, match="failed to render"):
        BUILTIN_TEMPLATES["llama-2"].render([])
    # a message without a role renders as Jinja renders it (an undefined value prints nothing)
    assert (
        BUILTIN_TEMPLATES["chatml"].render([{"content": "x"}]) == "<|im_start|>\nx<|im_end|>\n<|im_start|>assistant\n"
    )
