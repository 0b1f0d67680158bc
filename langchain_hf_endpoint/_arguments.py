"""``ChatHFEndpoint``'s constructor arguments: langchain-huggingface's and OpenAI's names taken where they mean the
same thing, anything else refused naming the one probably meant (pydantic would drop it, and the request would go
out without it: ``ChatHFEndpoint(endpoint_url=U, max_new_tokens=5)`` sent no limit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, SecretStr

from hf_endpoint import Secret, rename_arguments, resolve_token

__all__ = ["constructor_arguments", "field_token"]

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
