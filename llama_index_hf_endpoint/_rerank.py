"""``HFEndpointRerank``: a LlamaIndex ``BaseNodePostprocessor`` on a TEI reranker endpoint (``/rerank``).

It emits what LlamaIndex's own rerankers emit: the ``ReRankStartEvent`` / ``ReRankEndEvent`` instrumentation events
and a ``CBEventType.RERANKING`` callback event.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Literal

from llama_index.core.bridge.pydantic import Field
from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
from llama_index_instrumentation import get_dispatcher

from hf_endpoint import ResponseError, Secret
from hf_endpoint._options import parse_endpoints

from ._tei import TEIConnection, constructor_arguments

if TYPE_CHECKING:
    from hf_endpoint import Rank

_SCORE = attrgetter("score")

__all__ = ["HFEndpointRerank", "ranked_nodes"]

dispatcher = get_dispatcher(__name__)


def ranked_nodes(
    nodes: Sequence[NodeWithScore], ranks: Sequence[Rank], top_n: int | None, *, keep_retrieval_score: bool = False
) -> list[NodeWithScore]:
    """The ``top_n`` nodes the ranks name (None: all), best first, each scored by its rank.

    Each rank is matched to its node by its ``index`` (TEI returns ranks sorted by score, not in input order), never
    by position. ``keep_retrieval_score`` keeps the retriever's score in the node's ``metadata["retrieval_score"]``
    (LlamaIndex's rerankers' option).
    """
    out = []
    for rank in sorted(ranks, key=_SCORE, reverse=True):  # (stable: ties keep the transport's order)
        if not 0 <= rank.index < len(nodes):
            raise ResponseError(f"the reranker returned index {rank.index} for {len(nodes)} nodes")
        original = nodes[rank.index]
        node = original.node
        if keep_retrieval_score:
            node = node.model_copy(update={"metadata": {**node.metadata, "retrieval_score": original.score}})
        out.append(NodeWithScore(node=node, score=rank.score))
    return out if top_n is None else out[:top_n]


class HFEndpointRerank(TEIConnection, BaseNodePostprocessor):
    """Reranks retrieved nodes with a reranker (cross-encoder) served by TEI or a Hugging Face Inference Endpoint.

    Example::

        rerank = HFEndpointRerank(base_url="https://my-reranker.endpoints.huggingface.cloud", top_n=3)
        engine = index.as_query_engine(similarity_top_k=10, node_postprocessors=[rerank])

    Returns the ``top_n`` best nodes, best first, each with the reranker's score. Any number of nodes: the transport
    splits them to the server's limits.
    """

    top_n: int | None = Field(default=2, gt=0, description="How many nodes to keep (None: all, reordered).")
    keep_retrieval_score: bool = Field(
        default=False, description="Keep the retriever's score in each node's metadata['retrieval_score']."
    )
    truncate: bool | None = Field(
        default=None, description="Cut query/text pairs longer than the model's limit instead of raising an error."
    )
    truncation_direction: Literal["left", "right"] | None = Field(
        default=None, description="Which end of a too-long pair is cut (TEI's default: right)."
    )
    raw_scores: bool = Field(default=False, description="The model's raw logits instead of scores in 0..1.")

    def __init__(
        self, base_url: str | list[Any] | None = None, *, api_key: str | Secret | None = None, **kwargs: Any
    ) -> None:
        """Unknown arguments are refused (pydantic would drop them), naming the one probably meant; the names of
        LlamaIndex's TEI and Hugging Face classes are taken (``token``, ``auth_token``, ``model_url``,
        ``truncate_text``)."""
        args, key = constructor_arguments(type(self), {"base_url": base_url, "api_key": api_key}, kwargs)
        super().__init__(**args)
        self._connect(key)

    @classmethod
    def class_name(cls) -> str:
        return "HFEndpointRerank"

    def _start(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None) -> tuple[str, list[str]]:
        dispatcher.event(
            ReRankStartEvent(
                query=query_bundle,
                nodes=nodes,
                top_n=self.top_n or len(nodes),
                model_name=parse_endpoints(self.base_url)[0],
            )
        )
        if query_bundle is None:
            raise ValueError("HFEndpointRerank needs the query: postprocess_nodes(nodes, query_str=...)")
        return query_bundle.query_str, [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]

    def _payload(self, nodes: list[NodeWithScore], query: str) -> dict[str, Any]:
        return {
            EventPayload.NODES: nodes,
            EventPayload.MODEL_NAME: parse_endpoints(self.base_url)[0],
            EventPayload.QUERY_STR: query,
            EventPayload.TOP_K: self.top_n,
        }

    def _params(self) -> dict[str, Any]:
        return {
            "top_n": self.top_n,
            "raw_scores": self.raw_scores,
            "truncate": self.truncate,
            "truncation_direction": self.truncation_direction,
        }

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        query, texts = self._start(nodes, query_bundle)
        new_nodes: list[NodeWithScore] = []
        if nodes:
            with self.callback_manager.event(CBEventType.RERANKING, payload=self._payload(nodes, query)) as event:
                ranks = self._client.rerank(query, texts, **self._params())
                new_nodes = ranked_nodes(nodes, ranks, self.top_n, keep_retrieval_score=self.keep_retrieval_score)
                event.on_end(payload={EventPayload.NODES: new_nodes})
        dispatcher.event(ReRankEndEvent(nodes=new_nodes))
        return new_nodes

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        query, texts = self._start(nodes, query_bundle)
        new_nodes: list[NodeWithScore] = []
        if nodes:
            with self.callback_manager.event(CBEventType.RERANKING, payload=self._payload(nodes, query)) as event:
                ranks = await self._aclient.rerank(query, texts, **self._params())
                new_nodes = ranked_nodes(nodes, ranks, self.top_n, keep_retrieval_score=self.keep_retrieval_score)
                event.on_end(payload={EventPayload.NODES: new_nodes})
        dispatcher.event(ReRankEndEvent(nodes=new_nodes))
        return new_nodes
