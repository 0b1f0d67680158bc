"""A copy of a GGUF file with more string metadata (e.g. ``tokenizer.chat_template``): the header is rewritten, the
tensor data copied after re-padding to the file's alignment (tensor offsets are relative to the data section)."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

from hf_endpoint.server._gguf import _skip, _string, read_metadata

__all__ = ["with_string_metadata"]


def _encode_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def with_string_metadata(source: Path, target: Path, values: dict[str, str]) -> Path:
    alignment = int(read_metadata(source, {"general.alignment"}).get("general.alignment", 32))
    with open(source, "rb") as f:
        head = f.read(8)  # magic, version
        n_tensors, n_kv = struct.unpack("<QQ", f.read(16))
        kv_start = f.tell()
        for _ in range(n_kv):
            key = _string(f)
            if key in values:
                raise ValueError(f"{source} already has {key}")
            (kind,) = struct.unpack("<I", f.read(4))
            _skip(f, kind)
        kv_end = f.tell()
        for _ in range(n_tensors):  # name, dims, type, offset
            _string(f)
            (n_dims,) = struct.unpack("<I", f.read(4))
            f.seek(8 * n_dims + 4 + 8, 1)
        infos_end = f.tell()
        data_start = -(-infos_end // alignment) * alignment
        f.seek(kv_start)
        kvs = f.read(kv_end - kv_start)
        infos = f.read(infos_end - kv_end)
        extra = b"".join(_encode_string(k) + struct.pack("<I", 8) + _encode_string(v) for k, v in values.items())
        with open(target, "wb") as out:
            out.write(head + struct.pack("<QQ", n_tensors, n_kv + len(values)) + kvs + extra + infos)
            out.write(b"\0" * (-out.tell() % alignment))
            f.seek(data_start)
            shutil.copyfileobj(f, out, 1 << 20)
    return target
