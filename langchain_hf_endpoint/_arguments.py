"""``ChatHFEndpoint``'s constructor arguments: langchain-huggingface's and OpenAI's names taken where they mean the
same thing, anything else refused naming the one probably meant (pydantic would drop it, and the request would go
out without it: ``ChatHFEndpoint(endpoint_url=U, max_new_tokens=5)`` sent no limit). Also what every model class
of the package does with its connection fields: the URL and key checks, the token, the key kept out of pickles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, SecretStr

from hf_endpoint import Secret, rename_arguments, resolve_token
from hf_endpoint._options import parse_endpoints

__all__ = ["check_connection", "constructor_arguments", "field_token", "read_environment_key", "state_without_key"]

# Other integrations' names for our arguments (langchain-huggingface's HuggingFaceEndpoint / ChatHuggingFace, and
# OpenAI's), so that switching to ChatHFEndpoint is a one-line change.
_RENAMES = {
    "huggingfacehub_api_token": "api_key",
    "max_new_tokens": "max_tokens",
    "max_completion_tokens": "max_tokens",
    "stop_sequences": "stop",
}
# langchain-huggingface's names that have no equivalent here, or another place.
_HINTS = {
    "repo_id": "pass base_url= (the endpoint's or server's URL); model= names a LoRA adapter on TGI",
    "task": "ChatHFEndpoint always generates text (chat); drop it",
    "provider": "ChatHFEndpoint talks to one endpoint or TGI server at base_url=; drop it",
    "do_sample": "use temperature=0 for greedy decoding, or a temperature > 0 to sample",
    "return_full_text": "the answer never repeats the prompt; drop it",
    "typical_p": "pass model_kwargs={'typical_p': ...}",
    "watermark": "pass model_kwargs={'watermark': ...}",
    "llm": "ChatHFEndpoint is the chat model itself: ChatHFEndpoint(base_url=<the endpoint's URL>, ...)",
}


def constructor_arguments(cls: type[BaseModel], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``kwargs`` with other integrations' names renamed; an unknown name raises ``InvalidRequestError``."""
    fields = cls.model_fields
    known = {*fields, *(f.alias for f in fields.values() if f.alias), "callback_manager"}  # (deprecated, still taken)
    return rename_arguments(cls.__name__, kwargs, known, _RENAMES, _HINTS)


def field_token(api_key: SecretStr | None, from_env: bool) -> Secret | None:
    """The transport's token from a model's ``api_key`` field. One the environment gave is looked up again, to keep
    where it was found (a 401's message names it)."""
    key = api_key.get_secret_value() if api_key is not None else ""
    token = Secret(key) if key else None
    if token is not None and from_env:
        found = resolve_token(None)
        token = found if found == token else token
    return token


def check_connection(model: Any, needs: str) -> None:
    """What every model class of this package checks after validation: ``base_url`` given (``needs`` says what it
    is), http(s), several endpoints each checked; with no ``api_key`` given, the environment's."""
    if not model.base_url:
        raise ValueError(
            f"{type(model).__name__} needs base_url= (alias endpoint_url=): {needs}, e.g. "
            "https://xyz.us-east-1.aws.endpoints.huggingface.cloud or http://127.0.0.1:8080"
        )
    if isinstance(model.base_url, str) and not model.base_url.startswith(("http://", "https://")):
        raise ValueError(f"base_url={model.base_url!r} is not an http(s) URL")
    parse_endpoints(model.base_url)  # (several endpoints: checked now, as one URL is)
    read_environment_key(model)


def read_environment_key(model: Any) -> None:
    """With no ``api_key`` given, the environment's, marked as found there (so that a 401 names where it came from).
    Read when the model is made or unpickled: the clients are shared by options, and options without a key would
    share a client made before the environment had one."""
    if model.api_key is None:
        token = resolve_token(None)
        if token is not None:
            model.api_key = SecretStr(token.get_secret_value())
            model._token_from_env = True


def state_without_key(state: dict[Any, Any], **private: Any) -> dict[Any, Any]:
    """A model's pickled state without its key (the unpickled model reads it from the environment again, see
    :func:`read_environment_key`, or is given it anew), with the private attributes in ``private`` reset."""
    state = {**state, "__dict__": {**state["__dict__"], "api_key": None}}
    if state.get("__pydantic_private__"):
        state["__pydantic_private__"] = {**state["__pydantic_private__"], "_token_from_env": False, **private}
    return state
