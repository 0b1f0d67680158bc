"""The model's own chat template, from its GGUF file (``tokenizer.chat_template``), as TGI uses the one in the
model's ``tokenizer_config.json``.

Templates come with model files, which may be anyone's: they run in Jinja2's immutable sandbox, with the helpers
Hugging Face templates call (``raise_exception``, ``strftime_now``, ``tojson``). The rendered text starts with the
template's own BOS, so the chat route tokenizes it without adding special tokens (as TGI does).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NoReturn

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ._chat import message_text
from ._errors import ApiError

__all__ = ["ModelTemplate"]


def _raise_exception(message: str) -> NoReturn:
    raise ApiError(422, f"Template error: {message}", "template_error")


def _tojson(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


class ModelTemplate:
    """A chat template read from the model file, with the model's BOS and EOS texts."""

    def __init__(self, source: str, *, bos_token: str, eos_token: str) -> None:
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        try:
            self._template = env.from_string(source)
        except TemplateError as exc:
            raise ValueError(f"the model's chat template does not compile: {exc}") from exc
        self.source = source
        self.bos_token = bos_token
        self.eos_token = eos_token

    def render(self, messages: list[dict[str, Any]], tools_text: str | None) -> str:
        """The prompt for ``messages``; offered tools go after the last user message (TGI's ``tool_prompt``)."""
        turns = [{**m, "content": message_text(m)} if "content" in m else dict(m) for m in messages]
        if tools_text:
            last = max((i for i, m in enumerate(turns) if m.get("role") == "user"), default=None)
            if last is not None:
                turns[last]["content"] = f"{turns[last]['content']}\n\n{tools_text.strip()}"
        try:
            text: str = self._template.render(
                messages=turns, add_generation_prompt=True, bos_token=self.bos_token, eos_token=self.eos_token
            )
        except ApiError:
            raise
        except TemplateError as exc:
            raise ApiError(422, f"Template error: {exc}", "template_error") from exc
        return text
