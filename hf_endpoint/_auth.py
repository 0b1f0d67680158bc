"""Finding the API token, and keeping it out of reprs, logs, exceptions and pickles."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import NoReturn

__all__ = ["TOKEN_ENV_VARS", "Secret", "auth_hints", "describe_source", "resolve_token", "token_file_path"]

logger = logging.getLogger("hf_endpoint")

#: Where a token is looked for when none is given, in this order (huggingface_hub, its legacy name,
#: langchain-huggingface, LiteLLM); after them, the file ``hf auth login`` writes (:func:`token_file_path`).
TOKEN_ENV_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACEHUB_API_TOKEN", "HUGGINGFACE_API_KEY")


class Secret:
    """A string that does not show itself: ``repr``/``str`` print stars, and it refuses to be pickled."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "api_key=") -> None:
        self._value = value
        #: Where the token came from, for error messages: ``"api_key="``, a variable's name or a file's path.
        self.source = source

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


def token_file_path(environ: Mapping[str, str] | None = None) -> str:
    """The file ``hf auth login``, ``huggingface-cli login`` and ``notebook_login()`` save the token in.

    The rules of huggingface_hub's ``constants.py``: ``$HF_TOKEN_PATH``, else ``$HF_HOME/token``, else
    ``$XDG_CACHE_HOME/huggingface/token``, else ``~/.cache/huggingface/token``; ``~`` and ``$VARS`` expanded.
    """
    env = os.environ if environ is None else environ
    path = env.get("HF_TOKEN_PATH")
    if not path:
        home = env.get("HF_HOME") or os.path.join(
            env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface"
        )
        path = os.path.join(os.path.expandvars(os.path.expanduser(home)), "token")
    return os.path.expandvars(os.path.expanduser(path))


def _read_token_file(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeError) as exc:  # present but unreadable: say so rather than act as if absent
        logger.warning("hf_endpoint: cannot read the saved Hugging Face token %s: %s", path, exc)
        return None
    # As huggingface_hub's _clean_token: line breaks anywhere removed, then spaces around.
    return text.replace("\r", "").replace("\n", "").strip() or None


def resolve_token(explicit: str | Secret | None, environ: Mapping[str, str] | None = None) -> Secret | None:
    """The explicit token if given, else the first non-empty variable of :data:`TOKEN_ENV_VARS`, else the token
    saved by ``hf auth login`` (:func:`token_file_path`), else None. The result's ``source`` says which.

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
            return Secret(value, source=name)
    path = token_file_path(env)
    saved = _read_token_file(path)
    return Secret(saved, source=path) if saved else None


def describe_source(source: str) -> str:
    """``"api_key="``, ``"the HF_TOKEN variable"`` or ``"the file /home/me/.cache/huggingface/token"``."""
    if source in TOKEN_ENV_VARS:
        return f"the {source} variable"
    if source == "api_key=":
        return source
    return f"the file {source} (saved by `hf auth login`)"


def auth_hints(
    found: Secret | None, *, sent: bool, host: str, environ: Mapping[str, str] | None = None
) -> dict[int, str]:
    """What a 401/403 answer should add: whether a token was sent and where it came from (never the token)."""
    if found is None:
        looked = f"none in api_key=, HF_TOKEN or the other variables, or {token_file_path(environ)}"
        return {
            401: f"no token was sent ({looked}): pass api_key=, set HF_TOKEN, or run `hf auth login`",
            403: f"no token was sent ({looked}) and this endpoint needs one with access: pass api_key= or set HF_TOKEN",
        }
    where = describe_source(found.source)
    if not sent:
        withheld = (
            f"the token from {where} was not sent: it would travel over plain HTTP to {host}; use https://, or "
            "pass api_key= with allow_insecure_http=True if the network is trusted"
        )
        return {401: withheld, 403: withheld}
    return {
        401: f"the server refused the token from {where}: check the token and that it may access this endpoint",
        403: f"the token from {where} is valid but lacks access to this endpoint; use a token of the endpoint's "
        "owner or org",
    }
