"""Reading a GGUF file's metadata (the key-value header before the tensors), e.g. ``tokenizer.chat_template``.

The format (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md): ``GGUF``, a version (2 or 3), the tensor
and key-value counts (u64), then each key-value: a string key, a u32 type, the value. Strings are a u64 length and
UTF-8 bytes. Arrays (the vocabulary: ~260k strings) are skipped without building their values.
"""

from __future__ import annotations

import struct
from collections.abc import Collection
from pathlib import Path
from typing import IO, Any

__all__ = ["read_metadata"]

# type id -> struct format of a scalar
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


def read_metadata(path: str | Path, keys: Collection[str]) -> dict[str, Any]:
    """The values of ``keys`` (strings and numbers) that the GGUF file at ``path`` has; other keys are skipped."""
    out: dict[str, Any] = {}
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        (version,) = struct.unpack("<I", f.read(4))
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is not supported (2 or later)")
        _, count = struct.unpack("<QQ", f.read(16))
        for _ in range(count):
            key = _string(f)
            (kind,) = struct.unpack("<I", f.read(4))
            if key in keys and kind != _ARRAY:
                out[key] = _value(f, kind)
            else:
                _skip(f, kind)
    return out


def _string(f: IO[bytes]) -> str:
    (length,) = struct.unpack("<Q", f.read(8))
    return f.read(length).decode("utf-8", "replace")


def _value(f: IO[bytes], kind: int) -> Any:
    if kind == _STRING:
        return _string(f)
    fmt = _SCALARS.get(kind)
    if fmt is None:
        raise ValueError(f"unknown GGUF value type {kind}")
    return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]


def _skip(f: IO[bytes], kind: int) -> None:
    if kind == _STRING:
        (length,) = struct.unpack("<Q", f.read(8))
        f.seek(length, 1)
    elif kind == _ARRAY:
        item_kind, n = struct.unpack("<IQ", f.read(12))
        if item_kind in _SCALARS:
            f.seek(struct.calcsize(_SCALARS[item_kind]) * n, 1)
        else:
            for _ in range(n):
                _skip(f, item_kind)
    elif kind in _SCALARS:
        f.seek(struct.calcsize(_SCALARS[kind]), 1)
    else:
        raise ValueError(f"unknown GGUF value type {kind}")
