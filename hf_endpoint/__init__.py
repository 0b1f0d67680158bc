"""hf-endpoint: one fast, correct transport for Hugging Face Inference Endpoints and TGI servers.

``TGIClient`` / ``AsyncTGIClient`` speak both TGI routes (the Messages API and ``/generate`` with client-side
chat templates) and return OpenAI-shaped results; ``completion()`` is the LiteLLM-style one-liner. The
framework adapters live in ``langchain_hf_endpoint`` and ``llama_index_hf_endpoint``; this package imports
neither framework.
"""

from __future__ import annotations

from .__about__ import __version__
from ._async_client import AsyncTGIClient
from ._auth import TOKEN_ENV_VARS, Secret, resolve_token
from ._client import TGIClient
from ._completion import acompletion, completion
from ._core import Route
from ._errors import (
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
    NotFoundError,
    RateLimitError,
    RequestValidationError,
    ResponseError,
    ServerError,
)
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
    Token,
    TokenizedToken,
    TokenLogprob,
    ToolCall,
    TopLogprob,
    Usage,
)

__all__ = [
    "BUILTIN_TEMPLATES",
    "TOKEN_ENV_VARS",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
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
    "EndpointUnavailableError",
    "FunctionCall",
    "GenerateResponse",
    "GenerationError",
    "HFEndpointError",
    "IncompleteStreamError",
    "Info",
    "InvalidRequestError",
    "NotFoundError",
    "RateLimitError",
    "RequestValidationError",
    "ResponseError",
    "Route",
    "Secret",
    "ServerError",
    "StreamDetails",
    "StreamResponse",
    "TGIClient",
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
    "load_chat_template",
    "resolve_token",
]
