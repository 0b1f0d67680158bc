"""``hf-endpoint demo``: the transport, LangChain and LlamaIndex, end to end, on the local tiny model or yours.

Each step prints its result and its time; the exit status is non-zero if any step fails. The retrieval steps embed
and rerank on a TEI-protocol server: ``--embed-url`` / ``HF_EMBED_URL``, else the local ``embed`` server (a real
small embedding model on the CPU), started beside the LLM server.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

__all__ = ["run_demo"]

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
# The local embedding model (multilingual-e5-small) wants its queries marked: its TEI prompt "query" (documents
# take the server's default prompt, "passage"). A model behind --embed-url may have no prompts, so none is sent there.
LOCAL_QUERY_PROMPT = "query"


def _docs() -> list[str]:
    text = resources.files("hf_endpoint.cli").joinpath("data/docs.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


@contextlib.contextmanager
def _endpoint(url: str | None) -> Iterator[str]:
    url = url or os.environ.get("HF_ENDPOINT_URL")
    if url:
        print(f"Using the endpoint {url} (token from HF_TOKEN and friends, if set)")
        yield url
        return
    from hf_endpoint.server import LocalServer

    print("No --url or HF_ENDPOINT_URL: starting the local server with the tiny model (Gemma 3 270M, CPU) ...")
    start = time.perf_counter()
    with LocalServer("tiny", subprocess=True, startup_timeout=600) as srv:
        print(f"  ready at {srv.url} in {time.perf_counter() - start:.1f} s")
        yield srv.url


@contextlib.contextmanager
def _embed_endpoint(url: str | None) -> Iterator[tuple[str, str | None]]:
    """The embedding server's URL, and the prompt name its queries take."""
    url = url or os.environ.get("HF_EMBED_URL")
    if url:
        print(f"Using the embedding endpoint {url}")
        yield url, None
        return
    from hf_endpoint.server import LocalServer

    print("No --embed-url or HF_EMBED_URL: starting the local embedding server (multilingual-e5-small, CPU) ...")
    start = time.perf_counter()
    with LocalServer("embed", subprocess=True, startup_timeout=600) as srv:
        print(f"  ready at {srv.url} in {time.perf_counter() - start:.1f} s")
        yield srv.url, LOCAL_QUERY_PROMPT


def _step(name: str, fn: Callable[[], Any], failures: list[str]) -> bool:
    """Run one step; False when the endpoint cannot be reached at all (the next steps would only wait too)."""
    from hf_endpoint import APIConnectionError

    print(f"\n== {name}")
    start = time.perf_counter()
    try:
        fn()
    except Exception as exc:  # a demo reports every failure and carries on with the next step
        failures.append(name)
        print(f"   FAILED: {type(exc).__name__}: {exc}")
        return not isinstance(exc, APIConnectionError)
    print(f"   ({time.perf_counter() - start:.2f} s)")
    return True


def run_demo(url: str | None = None, embed_url: str | None = None) -> int:
    from hf_endpoint import ChatCompletion, TGIClient, completion

    failures: list[str] = []
    with _endpoint(url) as base, _embed_endpoint(embed_url) as (embed_base, query_prompt):
        client = TGIClient(base)

        def seed_style() -> None:
            result = completion(model=f"huggingface/{base}", messages=QUESTION, max_tokens=12, temperature=0)
            assert isinstance(result, ChatCompletion)
            choice = result.choices[0]
            print(f"   content: {result.content!r}")
            print(f"   finish_reason: {choice.finish_reason}; usage: {result.usage}")
            if choice.logprobs and choice.logprobs.content:
                tokens = ", ".join(f"{t.token!r} {t.logprob:.2f}" for t in choice.logprobs.content[:6] if t.logprob)
                print(f"   logprobs (sum {choice.logprobs.sum_logprob:.2f}): {tokens} ...")

        def streamed() -> None:
            print("   ", end="")
            for chunk in client.chat_stream(QUESTION, max_tokens=24, temperature=0):
                if chunk.choices and chunk.choices[0].delta.content:
                    print(chunk.choices[0].delta.content, end="", flush=True)
                elif chunk.usage:
                    print(f"\n   usage: {chunk.usage}")

        def langchain_chain() -> None:
            from langchain_core.output_parsers import StrOutputParser
            from langchain_core.prompts import ChatPromptTemplate

            from langchain_hf_endpoint import ChatHFEndpoint

            model = ChatHFEndpoint(endpoint_url=base, max_tokens=16, temperature=0)
            chain = ChatPromptTemplate.from_messages([("user", "What is the capital of {country}?")]) | model
            print(f"   {(chain | StrOutputParser()).invoke({'country': 'France'})!r}")

        def langchain_tools() -> None:
            from langchain_core.tools import tool

            from langchain_hf_endpoint import ChatHFEndpoint

            # return_direct ends the run with the tool's result: a 270M base model calls tools reliably under a
            # grammar, but does not reliably decide when to stop. Real endpoints don't need it.
            @tool(return_direct=True)
            def get_weather(city: str) -> str:
                """Current weather in a city."""
                return f"18 C and sunny in {city}"

            from langchain.agents import create_agent

            model = ChatHFEndpoint(endpoint_url=base, max_tokens=64, temperature=0)
            agent = create_agent(model, tools=[get_weather])
            state = agent.invoke({"messages": [("user", "What is the weather in Paris?")]})
            for message in state["messages"]:
                for call in getattr(message, "tool_calls", None) or ():
                    print(f"   tool call: {call['name']}({call['args']})")
                if message.type == "tool":
                    print(f"   tool result: {message.content}")
            print(f"   answer: {state['messages'][-1].content!r}")

        def langchain_retrieval() -> None:
            from langchain_core.output_parsers import StrOutputParser
            from langchain_core.prompts import ChatPromptTemplate
            from langchain_core.vectorstores import InMemoryVectorStore

            from langchain_hf_endpoint import ChatHFEndpoint, HFEndpointEmbeddings, HFEndpointReranker

            embeddings = HFEndpointEmbeddings(base_url=embed_base, query_prompt_name=query_prompt)
            store = InMemoryVectorStore.from_texts(_docs(), embeddings)
            question = QUESTION[0]["content"]
            found = store.as_retriever(search_kwargs={"k": 3}).invoke(question)
            best = HFEndpointReranker(base_url=embed_base, top_n=1).compress_documents(found, question)
            for doc in found:
                print(f"   retrieved: {doc.page_content[:70]!r}")
            print(f"   reranked best ({best[0].metadata['relevance_score']:.3f}): {best[0].page_content[:70]!r}")
            prompt = ChatPromptTemplate.from_messages([("user", "{context}\n\n{question}")])
            chain = prompt | ChatHFEndpoint(endpoint_url=base, max_tokens=16, temperature=0) | StrOutputParser()
            print(f"   answer: {chain.invoke({'context': best[0].page_content, 'question': question}).strip()!r}")

        def llama_index_query() -> None:
            from llama_index.core import Document, PromptTemplate, VectorStoreIndex

            from llama_index_hf_endpoint import HFEndpoint, HFEndpointEmbedding, HFEndpointRerank

            llm = HFEndpoint(base_url=base, max_tokens=24, temperature=0)
            embed_model = HFEndpointEmbedding(base_url=embed_base, query_prompt_name=query_prompt)
            index = VectorStoreIndex.from_documents([Document(text=t) for t in _docs()], embed_model=embed_model)
            # The tiny model is a base model: a plain "facts, then the question" prompt suits it better than
            # LlamaIndex's default instructions.
            qa = PromptTemplate("{context_str}\n\n{query_str}")
            rerank = HFEndpointRerank(base_url=embed_base, top_n=1)
            engine = index.as_query_engine(
                llm=llm, text_qa_template=qa, similarity_top_k=3, node_postprocessors=[rerank]
            )
            response = engine.query(QUESTION[0]["content"])
            for node in response.source_nodes:
                print(f"   source ({node.score:.3f}): {node.node.get_content()[:70]!r}")
            print(f"   answer: {str(response).strip()!r}")

        def llama_index_agent() -> None:
            import asyncio

            from llama_index.core.agent.workflow import FunctionAgent

            from llama_index_hf_endpoint import HFEndpoint

            def get_weather(city: str) -> str:
                """Current weather in a city."""
                return f"18 C and sunny in {city}"

            from llama_index.core.tools import FunctionTool

            tool = FunctionTool.from_defaults(get_weather, return_direct=True)  # see the LangChain agent above
            agent = FunctionAgent(tools=[tool], llm=HFEndpoint(base_url=base, max_tokens=64, temperature=0))

            async def run() -> Any:
                return await agent.run("What is the weather in Paris?")

            answer = asyncio.run(run())
            for call in answer.tool_calls:
                print(f"   tool call: {call.tool_name}({call.tool_kwargs})")
            print(f"   answer: {str(answer).strip()!r}")

        steps = [
            ("completion(model='huggingface/<url>') with usage and logprobs", seed_style),
            ("a streamed answer", streamed),
            ("LangChain: prompt | ChatHFEndpoint | StrOutputParser", langchain_chain),
            ("LangChain: a tool-calling agent (create_agent)", langchain_tools),
            ("LangChain: retrieve among distractors (HFEndpointEmbeddings), rerank, answer", langchain_retrieval),
            ("LlamaIndex: a query engine over real embeddings, with a reranker", llama_index_query),
            ("LlamaIndex: a FunctionAgent with a tool", llama_index_agent),
        ]
        for name, fn in steps:
            if not _step(name, fn, failures):
                print(f"   cannot reach {base}: stopping here")
                break
        client.close()
    if failures:
        print(f"\n{len(failures)} step(s) failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    print("\nAll steps passed.")
    return 0
