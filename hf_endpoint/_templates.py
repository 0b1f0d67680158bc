"""Client-side chat templates for the native route (``/generate``).

Hugging Face chat templates are Jinja2 programs that ship inside model repositories, so they are untrusted code:
they are rendered in Jinja2's immutable sandbox, which refuses attribute escapes such as ``__class__`` or
``__subclasses__`` and has no file access. A template comes from a string, from a local ``tokenizer_config.json``,
or from the built-in families below, picked from ``/info``'s ``model_id``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

from ._errors import InvalidRequestError
from ._template_py import RENDERERS

__all__ = ["BUILTIN_TEMPLATES", "ChatTemplate", "builtin_template_for", "load_chat_template"]


@dataclass(frozen=True)
class ChatTemplate:
    """A chat template with the special tokens it needs and the strings that end an assistant turn."""

    source: str
    name: str = "custom"
    bos_token: str = ""
    eos_token: str = ""
    #: Sent as ``stop`` on the native route (the end-of-turn markers) and stripped from the answer.
    stop: tuple[str, ...] = field(default=())

    @property
    def uses_tools(self) -> bool:
        """Whether the template renders a ``tools`` variable itself (else tools go into the last user turn)."""
        return "tools" in self.source

    def render(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        add_generation_prompt: bool = True,
        **extra: Any,
    ) -> str:
        fast = _PY_RENDERERS.get(self.source)
        if fast is not None and not extra:
            try:
                return fast(messages, add_generation_prompt, self.bos_token, self.eos_token)
            except (LookupError, TypeError, AttributeError):
                pass  # not the normalised shape the functions expect: Jinja renders it, or says what is wrong
        template = _compile(self.source)
        from jinja2 import TemplateError  # loaded by _compile; imported lazily so `import hf_endpoint` stays cheap

        try:
            text: str = template.render(
                messages=list(messages),
                tools=list(tools) if tools else None,
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                **extra,
            )
            return text
        except InvalidRequestError:
            raise
        except TemplateError as exc:
            raise InvalidRequestError(
                f"the chat template {self.name!r} failed to render: {exc}. Check the messages (roles, order), "
                "or pass another chat_template=, or use route='chat' to let the server format the prompt"
            ) from exc


def _raise_exception(message: str) -> NoReturn:
    raise InvalidRequestError(f"the chat template refused the messages: {message}")


def _tojson(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


@lru_cache(maxsize=64)
def _compile(source: str) -> Any:
    """The compiled template, in jinja's immutable sandbox (also our built-in sources: one environment, and their
    Python renderers are what runs for them anyway)."""
    from jinja2 import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    try:
        return env.from_string(source)
    except TemplateError as exc:
        raise InvalidRequestError(f"the chat template does not compile: {exc}") from exc


# Shared Jinja fragments: a message's text (content may be None on assistant tool-call turns) and the tool
# calls of an assistant turn rendered as the JSON the model is asked to produce.
_TEXT = "{{ (message['content'] or '') }}"
_CALLS = (
    "{% if message.get('tool_calls') %}{% for call in message['tool_calls'] %}"
    '{"function": {"name": {{ call["function"]["name"] | tojson }}, "arguments": '
    "{{ call['function']['arguments'] }}}}"
    "{% endfor %}{% endif %}"
)

BUILTIN_TEMPLATES: dict[str, ChatTemplate] = {
    "llama-2": ChatTemplate(
        name="llama-2",
        bos_token="<s>",
        eos_token="</s>",
        stop=("</s>",),
        source=(
            "{% if messages[0]['role'] == 'system' %}{% set sys = messages[0]['content'] %}"
            "{% set messages = messages[1:] %}{% else %}{% set sys = '' %}{% endif %}"
            "{% for message in messages %}"
            "{% if message['role'] == 'assistant' %} " + _TEXT + _CALLS + " {{ eos_token }}"
            "{% else %}{{ bos_token }}[INST] {% if loop.first and sys %}<<SYS>>\n{{ sys }}\n<</SYS>>\n\n{% endif %}"
            "{% if message['role'] == 'tool' %}Tool result: {% endif %}" + _TEXT + " [/INST]{% endif %}"
            "{% endfor %}"
        ),
    ),
    "llama-3": ChatTemplate(
        name="llama-3",
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        stop=("<|eot_id|>", "<|end_of_text|>"),
        source=(
            "{{ bos_token }}{% for message in messages %}"
            "{% set role = 'ipython' if message['role'] == 'tool' else message['role'] %}"
            "<|start_header_id|>{{ role }}<|end_header_id|>\n\n" + _TEXT + _CALLS + "<|eot_id|>"
            "{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
        ),
    ),
    "mistral": ChatTemplate(
        name="mistral",
        bos_token="<s>",
        eos_token="</s>",
        stop=("</s>",),
        source=(
            "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set sys = messages[0]['content'] %}"
            "{% set messages = messages[1:] %}{% else %}{% set sys = '' %}{% endif %}"
            "{% for message in messages %}"
            "{% if message['role'] == 'assistant' %}" + _TEXT + _CALLS + "{{ eos_token }}"
            "{% else %}[INST] {% if loop.first and sys %}{{ sys }}\n\n{% endif %}"
            "{% if message['role'] == 'tool' %}Tool result: {% endif %}" + _TEXT + " [/INST]{% endif %}"
            "{% endfor %}"
        ),
    ),
    "zephyr": ChatTemplate(
        name="zephyr",
        eos_token="</s>",
        stop=("</s>",),
        source=(
            "{% for message in messages %}<|{{ message['role'] }}|>\n" + _TEXT + _CALLS + "{{ eos_token }}\n"
            "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
        ),
    ),
    "chatml": ChatTemplate(
        name="chatml",
        eos_token="<|im_end|>",
        stop=("<|im_end|>", "<|endoftext|>"),
        source=(
            "{% for message in messages %}<|im_start|>{{ message['role'] }}\n" + _TEXT + _CALLS + "<|im_end|>\n"
            "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
        ),
    ),
    "gemma": ChatTemplate(
        name="gemma",
        bos_token="<bos>",
        eos_token="<eos>",
        stop=("<end_of_turn>", "<eos>"),
        # Gemma has no system role: the system text opens the first user turn, as Google's template does.
        source=(
            "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set sys = messages[0]['content'] + '\n\n' %}"
            "{% set messages = messages[1:] %}{% else %}{% set sys = '' %}{% endif %}"
            "{% for message in messages %}"
            "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
            "<start_of_turn>{{ role }}\n{% if loop.first %}{{ sys }}{% endif %}"
            "{% if message['role'] == 'tool' %}Tool result: {% endif %}" + _TEXT + _CALLS + "<end_of_turn>\n"
            "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
        ),
    ),
    "phi-3": ChatTemplate(
        name="phi-3",
        eos_token="<|endoftext|>",
        stop=("<|end|>", "<|endoftext|>"),
        source=(
            "{% for message in messages %}<|{{ message['role'] }}|>\n" + _TEXT + _CALLS + "<|end|>\n"
            "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
        ),
    ),
    # Base (non-instruct) models have no chat format: a question/answer layout is what they continue best. It is
    # picked for base models of every family (Llama, Mistral, Falcon, GPT-2...), so it writes no family's BOS text:
    # TGI's /generate adds the model's own.
    "qa": ChatTemplate(
        name="qa",
        stop=("\nQuestion:", "\n\n"),
        source=(
            "{% for message in messages %}"
            "{% if message['role'] == 'system' %}" + _TEXT + "\n\n"
            "{% elif message['role'] == 'assistant' %} " + _TEXT + _CALLS + "\n\n"
            "{% elif message['role'] == 'tool' %}Tool result: " + _TEXT + "\n\n"
            "{% else %}Question: " + _TEXT + "\nAnswer:{% endif %}"
            "{% endfor %}"
        ),
    ),
}
# The same templates as Python functions, found by source (a ChatTemplate made from a built-in's source with other
# special tokens is rendered by them too). A fast path that duplicates the Jinja sources, kept because it pays: 12%
# of the native route's instructions per request at 50 in flight (see _template_py); property-tested against Jinja
# in tests/transport/test_templates.py.
_PY_RENDERERS = {t.source: RENDERERS[name] for name, t in BUILTIN_TEMPLATES.items()}

# model_id patterns, first match wins. Base models of a family fall back to the question/answer layout.
_FAMILIES: tuple[tuple[str, str], ...] = (
    (r"llama-?2.*chat", "llama-2"),
    (r"llama-?3.*(instruct|chat)", "llama-3"),
    (r"zephyr", "zephyr"),
    (r"(mistral|mixtral).*instruct", "mistral"),
    (r"gemma.*-it\b", "gemma"),
    (r"phi-?3", "phi-3"),
    (r"(qwen|chatml|hermes|smollm|yi-).*(instruct|chat)|openhermes|chatml", "chatml"),
    (r"gemma|llama|mistral|falcon|gpt2|bloom|opt-|starcoder|pythia", "qa"),
)


def builtin_template_for(model_id: str | None) -> ChatTemplate | None:
    """The built-in template for a model id (e.g. ``meta-llama/Llama-3.1-8B-Instruct`` -> llama-3), or None."""
    if not model_id:
        return None
    lowered = model_id.lower()
    for pattern, name in _FAMILIES:
        if re.search(pattern, lowered):
            return BUILTIN_TEMPLATES[name]
    return None


def _token_text(value: Any) -> str:
    # tokenizer_config.json writes special tokens as strings or as {"content": ...} objects.
    if isinstance(value, Mapping):
        return str(value.get("content") or "")
    return str(value or "")


def load_chat_template(
    chat_template: str | ChatTemplate | None = None,
    tokenizer_config: str | Path | Mapping[str, Any] | None = None,
) -> ChatTemplate | None:
    """A template from a built-in name, a Jinja source string, or a ``tokenizer_config.json`` (path or dict)."""
    if isinstance(chat_template, ChatTemplate):
        return chat_template
    config: Mapping[str, Any] = {}
    if tokenizer_config is not None:
        if isinstance(tokenizer_config, Mapping):
            config = tokenizer_config
        else:
            path = Path(tokenizer_config)
            if path.is_dir():
                path = path / "tokenizer_config.json"
            try:
                config = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InvalidRequestError(f"cannot read tokenizer_config {str(path)!r}: {exc}") from exc
    if chat_template is not None and chat_template in BUILTIN_TEMPLATES:
        return BUILTIN_TEMPLATES[chat_template]
    source: Any = chat_template if chat_template is not None else config.get("chat_template")
    if source is None:
        if tokenizer_config is not None:
            raise InvalidRequestError(
                "the tokenizer_config has no chat_template; pass chat_template= (Jinja source or one of "
                f"{sorted(BUILTIN_TEMPLATES)})"
            )
        return None
    if isinstance(source, list):  # [{"name": "default", "template": ...}, {"name": "tool_use", ...}]
        named = {item.get("name"): item.get("template") for item in source if isinstance(item, Mapping)}
        source = named.get("default") or next(iter(named.values()), None)
    if not isinstance(source, str) or not source.strip():
        raise InvalidRequestError("chat_template must be a non-empty Jinja string or a built-in template name")
    eos = _token_text(config.get("eos_token"))
    _compile(source)  # fail now, not at the first request
    return ChatTemplate(
        source=source,
        bos_token=_token_text(config.get("bos_token")),
        eos_token=eos,
        stop=(eos,) if eos else (),
    )
