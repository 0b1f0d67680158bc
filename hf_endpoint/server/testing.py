"""The local server's testing switches: faults, counters and the last request, for tests and benchmarks.

These are not part of serving a model: they exist so that a test can make the ``scripted`` backend misbehave the
way real endpoints do, and then check what the client did. Only the ``scripted`` backend has them.

- ``LocalServer.configure(**fields)`` merges fault and reply settings; each field is documented in
  ``FAULT_FIELDS`` (an unknown field is refused, so a typo fails loudly instead of testing nothing).
  ``legacy=[...]`` takes the names in ``LEGACY_FLAGS``: old TGI response shapes, each with the version it comes from.
- ``LocalServer.reset()`` goes back to the start-up settings; ``stats()`` counts requests per route;
  ``last_request()`` is the last request as the server received it (method, path, query, headers, body), so a
  test can check what was actually sent, e.g. the ``Authorization`` header.
- The same over HTTP, from any client or language: ``/__scripted__/config`` (GET, POST, DELETE),
  ``/__scripted__/stats`` and ``/__scripted__/last_request`` (never behind the API key, never faulted).
- TEI's protocol (``LocalServer("scripted", mode="tei")``): the faults that come before an answer (``cold_start``,
  ``status``, ``reset``, ``stall_before``) apply to TEI's inference routes (``/embed``, ``/rerank``,
  ``/v1/embeddings``, ...; ``routes`` chooses); TEI's limits are start-up options (``max_client_batch_size``,
  ``max_input_length``, ``max_concurrent_requests``, ``payload_limit``, ``auto_truncate``), and ``model_type``
  (``reranker``, ``classifier``) or ``pooling="splade"`` play TEI's other model types.
"""

from __future__ import annotations

from ._faults import FIELDS as FAULT_FIELDS
from ._faults import LEGACY_FLAGS

__all__ = ["FAULT_FIELDS", "LEGACY_FLAGS"]
