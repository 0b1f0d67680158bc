"""TEI core's per-input steps before inference, in TEI's order and with its messages.

For each input (``core/src/tokenization.rs``): refuse an empty one, resolve the prompt, apply the
character pre-check (cut when truncating, refuse otherwise), count tokens with specials and prompt,
then cut to ``max_input_length`` from ``truncation_direction``'s side or refuse with TEI's
``must have less than N tokens`` message. The model checks that come first live in the routes.
"""

from __future__ import annotations

from ._embed import EmbedModel
from ._errors import ApiError
from ._tei_validation import Item, Options, TeiLimits, empty_error, tei_validation

__all__ = ["MAX_CHAR_MULTIPLIER", "backend_error", "encode", "encode_pair", "prompt_text", "tokenize_text"]

MAX_CHAR_MULTIPLIER = 250


def backend_error(message: str) -> ApiError:
    """424 ``Backend`` with TEI's ``Backend error: `` prefix."""
    return ApiError(424, f"Backend error: {message}", "Backend")


def prompt_text(model: EmbedModel, name: str | None) -> str:
    """The text of prompt ``name`` (or the server's default prompt); TEI's messages when unknown."""
    if name is None:
        name = model.default_prompt_name
        if name is None:
            return ""
    if not model.prompts:
        raise tei_validation(
            f"`default-prompt-name` is set to `{name}` but no prompts were found in the Sentence Transformers "
            "configuration"
        )
    if name not in model.prompts:
        available = ", ".join(f'"{key}"' for key in model.prompts)
        raise tei_validation(
            f"`default-prompt-name` is set to `{name}` but it was not found in the Sentence Transformers prompts. "
            f"Available prompts: [{available}]"
        )
    return model.prompts[name]


def _with_prompt(model: EmbedModel, prompt: str, asked: str | None, text: str) -> str:
    """``prompt + text``; a server default prompt is not added to a text that already starts with a prompt.

    A model served with a default prompt (E5: ``passage``) would otherwise embed ``passage: query: ...`` for a
    client that writes E5's prefixes itself, where TEI without a default prompt embeds the text as written.
    """
    if asked is None and prompt and any(p and text.startswith(p) for p in model.prompts.values()):
        return text
    return prompt + text


def _text(model: EmbedModel, item: Item, options: Options, limits: TeiLimits) -> str:
    limit = limits.max_input_length * MAX_CHAR_MULTIPLIER
    if item.chars > limit and not options.truncate:
        raise tei_validation(f"`inputs` must have less than {limit} characters. Given: {item.chars}")
    if item.text is not None:
        return item.text[:limit]
    # Token ids: decoded (specials skipped) and encoded again with the prompt, as TEI does with a prompt.
    return model.decode((item.ids or [])[:limit], True)


def encode(model: EmbedModel, item: Item, options: Options, limits: TeiLimits) -> tuple[str, int]:
    """The text the model embeds (prompt included, cut when truncating) and its token count."""
    if item.empty:
        raise empty_error("`inputs` cannot be empty", core=True)
    prompt = prompt_text(model, options.prompt_name)
    text = _text(model, item, options, limits)
    full = _with_prompt(model, prompt, options.prompt_name, text)
    count = model.count_tokens(full)
    if count > limits.max_input_length:
        if not options.truncate:
            raise tei_validation(f"`inputs` must have less than {limits.max_input_length} tokens. Given: {count}")
        full = model.truncate(full, limits.max_input_length, options.direction)
        count = model.count_tokens(full)
    return full, count


def encode_pair(
    model: EmbedModel, first: str, second: str, options: Options, limits: TeiLimits
) -> tuple[str, str, int]:
    """A (text, text_pair) input: one joint limit, the longer text cut first when truncating."""
    if not first and not second:
        raise empty_error("`inputs` cannot be empty", core=True)
    limit = limits.max_input_length * MAX_CHAR_MULTIPLIER
    chars = len(first) + len(second)
    if chars > limit and not options.truncate:
        raise tei_validation(f"`inputs` must have less than {limit} characters. Given: {chars}")
    # A pair is [CLS] a [SEP] b [SEP]: the second [CLS] of b's own count is not there.
    count_a, count_b = model.count_tokens(first), model.count_tokens(second)
    count = count_a + count_b - 1
    if count > limits.max_input_length:
        if not options.truncate:
            raise tei_validation(f"`inputs` must have less than {limits.max_input_length} tokens. Given: {count}")
        budget = limits.max_input_length + 1
        keep_b = max(budget - count_a, budget // 2) if count_b >= count_a else count_b
        second = model.truncate(second, keep_b, options.direction)
        first = model.truncate(first, budget - model.count_tokens(second), options.direction)
        count = model.count_tokens(first) + model.count_tokens(second) - 1
    return first, second, count


def tokenize_text(model: EmbedModel, text: str, prompt_name: str | None, limits: TeiLimits) -> str:
    """/tokenize's checks: empty, prompt, and the character limit (always refused: it never truncates)."""
    if not text:
        raise empty_error("`inputs` cannot be empty", core=True)
    prompt = prompt_text(model, prompt_name)
    limit = limits.max_input_length * MAX_CHAR_MULTIPLIER
    if len(text) > limit:
        raise tei_validation(f"`inputs` must have less than {limit} characters. Given: {len(text)}")
    return _with_prompt(model, prompt, prompt_name, text)
