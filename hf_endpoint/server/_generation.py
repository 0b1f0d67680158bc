"""The generation driver: stopping rules, seeds and best_of, shared by both backends.

A backend only produces tokens. This module decides when a sequence ends, the way TGI's
``StoppingCriteria`` does: EOS, ``max_new_tokens``, a stop sequence at the *end* of the text (the
stop text is kept), or the chat template's end-of-turn marker (which is cut off and reported as
EOS). Keeping this out of the backends makes the scripted and the real model behave alike.
"""

from __future__ import annotations

import random
from collections.abc import AsyncGenerator
from dataclasses import replace

from ._types import Backend, FinishReason, Generation, GenParams, Prompt, Step

__all__ = ["collect", "collect_best_of", "resolve_seed", "run"]


def resolve_seed(params: GenParams) -> GenParams:
    """Give a sampling request a random seed when it has none, as TGI does (it reports it back)."""
    if params.do_sample and params.seed is None:
        return replace(params, seed=random.getrandbits(63))
    return params


def _cut_end_of_turn(text: str, markers: tuple[str, ...]) -> int | None:
    """Index of the first end-of-turn marker in ``text``, if any."""
    hits = [i for i in (text.find(m) for m in markers) if i >= 0]
    return min(hits) if hits else None


async def run(
    backend: Backend, prompt: Prompt, params: GenParams
) -> AsyncGenerator[tuple[Step, Generation | None], None]:
    """Yield each step; the last one comes with the finished ``Generation``.

    The backend's iterator is closed as soon as the sequence ends, which cancels the model's
    work (the tiny backend stops llama.cpp at its next token).
    """
    texts: list[str] = []
    steps: list[Step] = []
    tail = ""
    source = backend.generate(prompt, params)
    try:
        async for step in source:
            token = step.token
            finish: FinishReason | None = None
            if token.special:
                finish = "eos_token"
            else:
                if params.end_of_turn:
                    cut = _cut_end_of_turn(token.text, params.end_of_turn)
                    # A marker before any visible text is a leading newline, not the end of turn.
                    if cut is not None and ("".join(texts) + token.text[:cut]).strip():
                        token.text = token.text[:cut]
                        finish = "eos_token"
                texts.append(token.text)
                # TGI matches a stop sequence only at the end of the output so far.
                tail = (tail + token.text)[-512:]
                if finish is None and any(s and tail.endswith(s) for s in params.stop):
                    finish = "stop_sequence"
            steps.append(step)
            if finish is None and len(steps) >= params.max_new_tokens:
                finish = "length"
            if finish is None:
                yield step, None
                continue
            generation = Generation(
                text="".join(texts),
                tokens=[s.token for s in steps],
                top_tokens=[s.top_tokens for s in steps],
                finish_reason=finish,
                seed=params.seed if params.do_sample else None,
                prefill=[],
                queue_time=steps[0].queued,
            )
            yield step, generation
            return
    finally:
        await source.aclose()
    raise RuntimeError("the backend ended a sequence without EOS before max_new_tokens")


async def collect(backend: Backend, prompt: Prompt, params: GenParams) -> Generation:
    """Run one sequence to its end (non-streaming routes)."""
    async for _, generation in run(backend, prompt, params):
        if generation is not None:
            if params.decoder_input_details:
                generation.prefill = backend.prefill(prompt)
            return generation
    raise RuntimeError("generation produced no tokens")


async def collect_best_of(backend: Backend, prompt: Prompt, params: GenParams) -> tuple[Generation, list[Generation]]:
    """Run ``best_of`` sequences; return the best (highest mean logprob) and the others.

    Each sequence gets its own random seed, as TGI sends ``best_of`` copies of the request.
    """
    results = []
    for _ in range(max(params.best_of, 1)):
        seeded = replace(params, seed=random.getrandbits(63)) if params.do_sample else params
        results.append(await collect(backend, prompt, seeded))
    best = max(range(len(results)), key=lambda i: results[i].mean_logprob())
    return results[best], [g for i, g in enumerate(results) if i != best]
