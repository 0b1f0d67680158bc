"""Images in a prompt, found and checked as TGI's router does, with its messages.

Source of truth: ``router/src/validation.rs`` (``prepare_input``, ``fetch_image``, ``ValidationError``) at the commit
PROTOCOL.md names. TGI finds each inline image with the regex ``!\\[\\]\\([^\\)]*\\)``, in ``/generate``'s ``inputs``
and in the text its Messages API renders (an ``image_url`` part becomes ``![](url)``), and splits the input into
text and image chunks. A ``data:<mime>;base64,...`` URI is decoded; an ``http(s)`` URL is fetched (at most
``max_image_fetch_size`` bytes, 1 GiB by default); anything else is invalid image content.

Two differences, both deliberate. This server decodes no pixels: an image is accepted when its bytes carry the
magic of a format TGI's router decodes (png, jpeg, gif, webp, tiff), and a decoder error is reported with the
image crate's prefix (``Format error decoding Png``) but our own reason. And it never touches the network: a URL is
fetched only when the connection stays on this machine, i.e. its host is loopback, or the proxy the environment
sets for it (``HTTP(S)_PROXY``, which TGI's HTTP client honours too) is; any other URL fails as an unreachable
host does on TGI.

The model never sees an image (neither backend reads pixels): each is replaced by nothing in the text it gets.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import ssl
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ._errors import ApiError, validation_error

__all__ = ["MAX_IMAGE_FETCH_SIZE", "Image", "image_headers", "layout", "model_text", "prepare_input"]

#: TGI's default ``--max-image-fetch-size`` (bytes of a fetched image).
MAX_IMAGE_FETCH_SIZE = 1_073_741_824

MARKDOWN_IMAGE = re.compile(r"!\[\]\([^\)]*\)")

# The mime types TGI maps to a decoder, and the name the image crate gives that decoder.
_DECODERS = {
    "image/png": "Png",
    "image/jpeg": "Jpeg",
    "image/jpg": "Jpeg",
    "image/gif": "Gif",
    "image/webp": "WebP",
    "image/tiff": "Tiff",
}
_MIME_OF = {"Png": "image/png", "Jpeg": "image/jpeg", "Gif": "image/gif", "WebP": "image/webp", "Tiff": "image/tiff"}
_NOT_B64 = re.compile(rb"[^A-Za-z0-9+/]")


@dataclass(frozen=True, slots=True)
class Image:
    """One decoded image chunk: its bytes and the mime type TGI passes on with them."""

    data: bytes
    mimetype: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {"type": "image", "mimetype": self.mimetype, "bytes": len(self.data), "sha256": self.sha256}


Chunk = str | Image


def _format(data: bytes) -> str | None:
    """The decoder the magic bytes select (``image::guess_format`` over the formats TGI maps), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "Png"
    if data.startswith(b"\xff\xd8\xff"):
        return "Jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "Gif"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WebP"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "Tiff"
    return None


def _b64decode(text: str) -> bytes:
    """Decode standard base64 with padding as Rust's ``base64`` 0.22 ``STANDARD`` engine does, or raise its error."""
    raw = text.encode("utf-8", "surrogatepass")
    body = raw.rstrip(b"=")
    bad = _NOT_B64.search(body)
    if bad is not None:
        raise validation_error(f"base64 encoding is invalid: Invalid symbol {body[bad.start()]}, offset {bad.start()}.")
    if len(body) % 4 == 1:
        raise validation_error(f"base64 encoding is invalid: Invalid input length: {len(raw)}")
    if len(raw) % 4 or len(raw) - len(body) > 2:
        raise validation_error("base64 encoding is invalid: Invalid padding")
    return base64.b64decode(raw, validate=True)


def _decode(data: bytes, mimetype: str) -> None:
    """TGI decodes the image with the declared type's decoder, or guesses the format from the bytes."""
    decoder = _DECODERS.get(mimetype)
    found = _format(data)
    if decoder is None:
        if found is None:
            raise validation_error("invalid image: The image format could not be determined")
    elif found != decoder:
        raise validation_error(f"invalid image: Format error decoding {decoder}: the data is not a {decoder} image")


def _data_uri(chunk: str) -> Image:
    content = chunk[len("![](data:") : -1]
    tokens = content.split(";")
    if len(tokens) != 2:
        raise validation_error(f"invalid image content: {content}")
    mimetype, payload = tokens
    if not payload.startswith("base64,"):
        raise validation_error(f"invalid image content: {payload}")
    data = _b64decode(payload[len("base64,") :])
    _decode(data, mimetype)
    return Image(data, mimetype)


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _route(url: str) -> str | None:
    """How a fetch of ``url`` stays on this machine: ``"direct"`` to a loopback host, ``"proxy"`` through a loopback
    proxy the environment sets for it; None when it would leave the machine."""
    parts = urlsplit(url)
    if _is_loopback(parts.hostname):
        return "direct"
    proxy: str = urllib.request.getproxies().get(parts.scheme) or ""
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return "proxy" if _is_loopback(urlsplit(proxy if "://" in proxy else f"http://{proxy}").hostname) else None


def _unreachable(url: str, reason: str) -> ApiError:
    # reqwest's error text: "error sending request for url (<url>): <cause>".
    return validation_error(f"Could not fetch image: error sending request for url ({url}): {reason}")


async def _fetch(url: str, max_size: int) -> Image:
    route = _route(url)
    if route is None:
        raise _unreachable(url, "error trying to connect: this server fetches only over loopback")
    import aiohttp

    # A TLS context made now, so that a CA bundle set in the environment (SSL_CERT_FILE) after start-up counts.
    tls = ssl.create_default_context() if url.startswith("https:") else None
    data = bytearray()
    try:
        # reqwest's blocking client, which TGI uses, gives up after 30 s.
        async with (
            aiohttp.ClientSession(trust_env=route == "proxy", timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.get(url, ssl=tls or True) as resp,
        ):
            # Like reqwest::blocking::get, any status is read as the image: an error page fails the format guess.
            if resp.content_length is not None and resp.content_length > max_size:
                raise validation_error(
                    f"Image size {resp.content_length} bytes exceeds maximum allowed size of {max_size} bytes"
                )
            while len(data) <= max_size:
                more = await resp.content.read(max_size + 1 - len(data))
                if not more:
                    break
                data += more
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise _unreachable(url, f"error trying to connect: {exc}") from None
    if len(data) > max_size:
        raise validation_error(f"Image size {len(data)} bytes exceeds maximum allowed size of {max_size} bytes")
    found = _format(bytes(data[:16]))
    if found is None:
        raise validation_error("invalid image: The image format could not be determined")
    return Image(bytes(data), _MIME_OF[found])


async def prepare_input(inputs: str, max_image_fetch_size: int = MAX_IMAGE_FETCH_SIZE) -> list[Chunk]:
    """``inputs`` as TGI's chunks: text pieces and decoded images in order; raise TGI's 422 for a bad image."""
    if "![](" not in inputs:
        return [inputs]
    chunks: list[Chunk] = []
    start = 0
    for match in MARKDOWN_IMAGE.finditer(inputs):
        if match.start() != start:
            chunks.append(inputs[start : match.start()])
        chunk = match.group(0)
        if chunk.startswith(("![](http://", "![](https://")):
            chunks.append(await _fetch(chunk[len("![](") : -1], max_image_fetch_size))
        elif chunk.startswith("![](data:"):
            chunks.append(_data_uri(chunk))
        else:
            raise validation_error(f"invalid image content: {chunk}")
        start = match.end()
    if start != len(inputs):
        chunks.append(inputs[start:])
    return chunks


def model_text(chunks: list[Chunk]) -> str:
    """The text the model reads: the text chunks joined (neither backend sees images)."""
    return "".join(c for c in chunks if isinstance(c, str))


def layout(chunks: list[Chunk]) -> list[dict[str, Any]]:
    """The chunks as JSON, for the scripted backend's last-request record: where each image sat in the text."""
    return [{"type": "text", "text": c} if isinstance(c, str) else c.to_json() for c in chunks]


def image_headers(images: tuple[Image, ...]) -> dict[str, str]:
    """``x-image-count`` and ``x-image-sha256`` (the digests in order, comma-separated); none without images."""
    if not images:
        return {}
    return {"x-image-count": str(len(images)), "x-image-sha256": ",".join(image.sha256 for image in images)}
