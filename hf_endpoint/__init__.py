"""hf-endpoint: one fast, correct transport for Hugging Face Inference Endpoints, TGI and TEI servers.

``TGIClient`` / ``AsyncTGIClient`` speak both TGI routes (the Messages API and ``/generate`` with client-side
chat templates) and return OpenAI-shaped results; ``completion()`` is the LiteLLM-style one-liner.
``TEIClient`` / ``AsyncTEIClient`` speak text-embeddings-inference (embeddings, rerankers, classifiers; or any
OpenAI-compatible ``/v1/embeddings``), splitting any number of inputs into requests the server accepts. The
framework adapters live in ``langchain_hf_endpoint`` and ``llama_index_hf_endpoint``; this package imports
neither framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .__about__ import __version__
from ._lazy import lazy_names

if TYPE_CHECKING:
    from ._arguments import rename_arguments
    from ._async_client import AsyncTGIClient
    from ._auth import TOKEN_ENV_VARS, Secret, resolve_token
    from ._client import TGIClient
    from ._completion import acompletion, completion
    from ._errors import (
        AllEndpointsFailedError,
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ColdStartTimeoutError,
        ContextWindowExceededError,
        EndpointPausedError,
        EndpointUnavailableError,
        GenerationError,
        HFEndpointError,
        IncompleteStreamError,
        InvalidRequestError,
        LengthLimitError,
        ModelTypeError,
        NotFoundError,
        RateLimitError,
        RequestValidationError,
        ResponseError,
        ServerError,
    )
    from ._images import image_data_uri
    from ._options import EndpointSpec, Route
    from ._tei_async_client import AsyncTEIClient
    from ._tei_client import TEIClient
    from ._tei_types import Prediction, Rank, SparseValue, TEIInfo, TEIToken
    from ._templates import BUILTIN_TEMPLATES, ChatTemplate, builtin_template_for, load_chat_template
    from ._types import (
        BestOfSequence,
        ChatCompletion,
        ChatCompletionChunk,
        ChatMessage,
        Choice,
        ChoiceDelta,
        ChoiceDeltaFunction,
        ChoiceDeltaToolCall,
        ChoiceLogprobs,
        ChunkChoice,
        Details,
        FunctionCall,
        GenerateResponse,
        Info,
        StreamDetails,
        StreamResponse,
        Timings,
        Token,
        TokenizedToken,
        TokenLogprob,
        ToolCall,
        TopLogprob,
        Usage,
    )

# Names are loaded on first use (PEP 562), so `import hf_endpoint` costs almost nothing and `from hf_endpoint import
# TGIClient` loads requests and pydantic but not aiohttp (its import alone builds SSL contexts; see the benchmarks'
# import table).
_LAZY: dict[str, str] = {
    "AsyncTGIClient": "._async_client",
    "AsyncTEIClient": "._tei_async_client",
    "TEIClient": "._tei_client",
    "TOKEN_ENV_VARS": "._auth",
    "Secret": "._auth",
    "resolve_token": "._auth",
    "rename_arguments": "._arguments",
    "TGIClient": "._client",
    "acompletion": "._completion",
    "completion": "._completion",
    "Route": "._options",
    "EndpointSpec": "._options",
    "AllEndpointsFailedError": "._errors",
    "APIConnectionError": "._errors",
    "APIStatusError": "._errors",
    "APITimeoutError": "._errors",
    "AuthenticationError": "._errors",
    "BadRequestError": "._errors",
    "ColdStartTimeoutError": "._errors",
    "ContextWindowExceededError": "._errors",
    "EndpointPausedError": "._errors",
    "EndpointUnavailableError": "._errors",
    "GenerationError": "._errors",
    "HFEndpointError": "._errors",
    "IncompleteStreamError": "._errors",
    "InvalidRequestError": "._errors",
    "LengthLimitError": "._errors",
    "ModelTypeError": "._errors",
    "NotFoundError": "._errors",
    "RateLimitError": "._errors",
    "RequestValidationError": "._errors",
    "ResponseError": "._errors",
    "ServerError": "._errors",
    "Prediction": "._tei_types",
    "Rank": "._tei_types",
    "SparseValue": "._tei_types",
    "TEIInfo": "._tei_types",
    "TEIToken": "._tei_types",
    "image_data_uri": "._images",
    "BUILTIN_TEMPLATES": "._templates",
    "ChatTemplate": "._templates",
    "builtin_template_for": "._templates",
    "load_chat_template": "._templates",
    "BestOfSequence": "._types",
    "ChatCompletion": "._types",
    "ChatCompletionChunk": "._types",
    "ChatMessage": "._types",
    "Choice": "._types",
    "ChoiceDelta": "._types",
    "ChoiceDeltaFunction": "._types",
    "ChoiceDeltaToolCall": "._types",
    "ChoiceLogprobs": "._types",
    "ChunkChoice": "._types",
    "Details": "._types",
    "FunctionCall": "._types",
    "GenerateResponse": "._types",
    "Info": "._types",
    "StreamDetails": "._types",
    "StreamResponse": "._types",
    "Token": "._types",
    "Timings": "._types",
    "TokenizedToken": "._types",
    "TokenLogprob": "._types",
    "ToolCall": "._types",
    "TopLogprob": "._types",
    "Usage": "._types",
}


__all__ = [
    "BUILTIN_TEMPLATES",
    "TOKEN_ENV_VARS",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AllEndpointsFailedError",
    "AsyncTEIClient",
    "AsyncTGIClient",
    "AuthenticationError",
    "BadRequestError",
    "BestOfSequence",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "ChatTemplate",
    "Choice",
    "ChoiceDelta",
    "ChoiceDeltaFunction",
    "ChoiceDeltaToolCall",
    "ChoiceLogprobs",
    "ChunkChoice",
    "ColdStartTimeoutError",
    "ContextWindowExceededError",
    "Details",
    "EndpointPausedError",
    "EndpointSpec",
    "EndpointUnavailableError",
    "FunctionCall",
    "GenerateResponse",
    "GenerationError",
    "HFEndpointError",
    "IncompleteStreamError",
    "Info",
    "InvalidRequestError",
    "LengthLimitError",
    "ModelTypeError",
    "NotFoundError",
    "Prediction",
    "Rank",
    "RateLimitError",
    "RequestValidationError",
    "ResponseError",
    "Route",
    "Secret",
    "ServerError",
    "SparseValue",
    "StreamDetails",
    "StreamResponse",
    "TEIClient",
    "TEIInfo",
    "TEIToken",
    "TGIClient",
    "Timings",
    "Token",
    "TokenLogprob",
    "TokenizedToken",
    "ToolCall",
    "TopLogprob",
    "Usage",
    "__version__",
    "acompletion",
    "builtin_template_for",
    "completion",
    "image_data_uri",
    "load_chat_template",
    "rename_arguments",
    "resolve_token",
]

__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
