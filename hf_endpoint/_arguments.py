"""Constructor arguments of the framework adapters: other libraries' names taken where they mean the same thing,
anything else refused with the name that was probably meant.

Pydantic (and so LangChain and LlamaIndex models) ignores unknown keyword arguments by default: a typo such as
``temprature=0`` or a name from another integration such as ``max_new_tokens=5`` vanished, and the request went
out without it. Pure functions: the adapters call them in their constructors.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from ._errors import InvalidRequestError

__all__ = ["rename_arguments"]


def rename_arguments(
    owner: str,
    given: Mapping[str, Any],
    known: Iterable[str],
    renames: Mapping[str, str],
    hints: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``given`` with the names in ``renames`` (another library's name -> ours) renamed, after checking that every
    name is ``known`` or renamed. An unknown name raises :class:`InvalidRequestError` naming the closest known one
    (or the hint given for it); a name given twice, once under each spelling, is refused too."""
    known = set(known)
    out: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in given.items():
        target = renames.get(name)
        if target is None:
            if name not in known:
                problems.append(_unknown(name, known | set(renames), hints or {}))
            out[name] = value
            continue
        if target in given or target in out:
            problems.append(f"{name!r} and {target!r} mean the same thing: give only {target!r}")
        out[target] = value
    if problems:
        raise InvalidRequestError(f"{owner}: " + "; ".join(problems))
    return out


def _unknown(name: str, known: set[str], hints: Mapping[str, str]) -> str:
    if name in hints:
        return f"unknown argument {name!r}: {hints[name]}"
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    if close:
        return f"unknown argument {name!r}: did you mean {close[0]!r}?"
    return f"unknown argument {name!r} (see help() of the class for its arguments)"
