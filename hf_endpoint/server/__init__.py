"""A local TGI-protocol server: ``hf-endpoint serve`` and ``LocalServer``.

An independent implementation of text-generation-inference's HTTP protocol (it imports none of the client
modules, so it can truly test them; a test reads every module's imports to keep it so), with two backends:
``tiny`` (Gemma 3 270M on llama.cpp, a real model on the CPU) and ``scripted`` (deterministic, instant). The
scripted backend's switchable faults, counters and request record are testing switches, documented apart in
``hf_endpoint.server.testing``.

Importing this package is cheap: aiohttp's server and llama.cpp load only when a server starts.
"""

from __future__ import annotations

from ._local import LocalServer, ServerStartError

__all__ = ["LocalServer", "ServerStartError"]
