"""Finding the API token, and keeping it out of reprs, logs, exceptions and pickles."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NoReturn

__all__ = ["TOKEN_ENV_VARS", "Secret", "resolve_token"]

#: Where a token is looked for when none is given, in this order (huggingface_hub, its legacy name,
#: langchain-huggingface, LiteLLM).
TOKEN_ENV_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACEHUB_API_TOKEN", "HUGGINGFACE_API_KEY")


class Secret:
    """A string that does not show itself: ``repr``/``str`` print stars, and it refuses to be pickled."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("hf-endpoint refuses to pickle an API key; pass it again (or set HF_TOKEN) on the other side")


def resolve_token(explicit: str | Secret | None, environ: Mapping[str, str] | None = None) -> Secret | None:
    """The explicit token if given, else the first non-empty variable of :data:`TOKEN_ENV_VARS`, else None.

    No token is fine: local TGI servers and public endpoints need none.
    """
    if isinstance(explicit, Secret):
        return explicit if explicit else None
    if explicit:
        return Secret(explicit)
    env = os.environ if environ is None else environ
    for name in TOKEN_ENV_VARS:
        value = env.get(name, "").strip()
        if value:
            return Secret(value)
    return None
