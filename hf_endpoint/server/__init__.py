"""A local TGI-protocol server: ``hf-endpoint serve`` and ``LocalServer``.

An independent implementation of text-generation-inference's HTTP protocol (it imports none of
the client modules, so it can truly test them), with two backends: ``tiny`` (Gemma 3 270M on
llama.cpp, a real model on the CPU) and ``scripted`` (deterministic, instant, with switchable
faults for tests and benchmarks).

Importing this package is cheap: aiohttp's server and llama.cpp load only when a server starts.
"""

from __future__ import annotations

from ._faults import FIELDS as FAULT_FIELDS
from ._faults import LEGACY_FLAGS
from ._local import LocalServer, ServerStartError

__all__ = ["FAULT_FIELDS", "LEGACY_FLAGS", "LocalServer", "ServerStartError"]
