"""``HFEndpoint``'s constructor arguments: the names of LlamaIndex's Hugging Face classes taken where they mean the
same thing, request parameters kept in ``additional_kwargs``, anything else refused naming the one probably meant
(pydantic would drop it, and the request would go out without it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hf_endpoint import InvalidRequestError, rename_arguments

__all__ = ["constructor_arguments"]

# The names of LlamaIndex's Hugging Face classes (TextGenerationInference, HuggingFaceInferenceAPI, HuggingFaceLLM)
# for our arguments, so that switching to HFEndpoint is a one-line change.
_RENAMES = {
    "token": "api_key",
    "model_url": "base_url",
    "endpoint_url": "base_url",
    "max_new_tokens": "max_tokens",
    "generate_kwargs": "additional_kwargs",
}
_HINTS = {
    "model_name": "pass base_url= (the endpoint's or server's URL); model= names a LoRA adapter on TGI",
    "num_output": "use max_tokens= (the most tokens to generate)",
    "tokenizer_name": "the server tokenizes (its /tokenize); drop it",
    "task": "HFEndpoint always generates text; drop it",
    "provider": "HFEndpoint talks to one endpoint or TGI server at base_url=; drop it",
    "cookies": "use headers={'Cookie': ...}",
}
# Request parameters also taken as arguments (as those classes do): kept in additional_kwargs, sent with every call.
_REQUEST_ARGS = (
    "top_p",
    "top_k",
    "seed",
    "stop",
    "repetition_penalty",
    "typical_p",
    "frequency_penalty",
    "presence_penalty",
)


def constructor_arguments(
    owner: str, known: Iterable[str], explicit: Mapping[str, Any], kwargs: Mapping[str, Any]
) -> tuple[dict[str, Any], Any]:
    """The fields to build the model with, and the API key (kept apart: it is never a field). ``explicit`` holds
    the named parameters of ``__init__`` (``base_url``, ``api_key``), left out when None."""
    given = {**{k: v for k, v in explicit.items() if v is not None}, **kwargs}
    args = rename_arguments(owner, given, {*known, *_REQUEST_ARGS}, _RENAMES, _HINTS)
    api_key = args.pop("api_key", None)
    request = {name: args.pop(name) for name in _REQUEST_ARGS if name in args}
    if request:
        args["additional_kwargs"] = {**(args.get("additional_kwargs") or {}), **request}
    if not args.get("base_url"):
        raise InvalidRequestError(
            f"{owner} needs base_url= (alias model_url= / endpoint_url=): the endpoint's URL, e.g. "
            "https://xyz.us-east-1.aws.endpoints.huggingface.cloud or http://127.0.0.1:8080"
        )
    return args, api_key
