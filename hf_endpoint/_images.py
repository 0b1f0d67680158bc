"""Images in chat messages: checked and normalized before anything is sent (pure, but for reading a local file).

An image travels as an OpenAI ``image_url`` content part on both routes. TGI takes two kinds of URL: ``http(s)``
(the server fetches it) and ``data:<mime>;base64,...``; its router decodes png, jpeg, gif, webp and tiff
(``router/src/validation.rs``, ``format_from_mimetype``). On the native route each image becomes the inline
markdown ``![](url)`` at its place in ``inputs``, the form TGI's own Messages API renders before templating.

Conveniences: a local file (a path, a ``file://`` URL) or raw bytes become a data URI, its mime type read from the
content's magic bytes, never from a file name. Refused with the reason and the fix: a scheme TGI cannot fetch, a
type it does not decode, a data URI that is not base64 or whose bytes are not the declared type, and images larger
than TGI's default request size limit.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._errors import InvalidRequestError

__all__ = [
    "PAYLOAD_LIMIT",
    "TGI_IMAGE_TYPES",
    "check_image_part",
    "check_image_url",
    "check_payload",
    "data_uri_size",
    "image_data_uri",
    "image_markdown",
    "sniff_image_type",
]

#: The mime types TGI's router decodes (``image/jpg`` is its alias of ``image/jpeg``).
TGI_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff")
_ALIASES = {"image/jpg": "image/jpeg"}

#: TGI's default ``--payload-limit`` in bytes: a request body over it is answered 413, and base64 images count.
PAYLOAD_LIMIT = 2_000_000

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")


def sniff_image_type(data: bytes) -> str | None:
    """The mime type the magic bytes at the start of ``data`` announce, or None if they announce no image."""
    head = bytes(data[:16])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head.startswith(b"BM"):
        return "image/bmp"
    if head.lstrip().startswith((b"<svg", b"<?xml")):
        return "image/svg+xml"
    if head[4:12] in (b"ftypavif", b"ftypheic", b"ftypheix", b"ftypmif1"):
        return "image/avif" if head[8:12] == b"avif" else "image/heic"
    return None


def _unsupported(kind: str | None, where: str) -> InvalidRequestError:
    what = f"of type {kind}" if kind else "not an image TGI recognizes"
    return InvalidRequestError(
        f"{where} is {what}; TGI decodes only {', '.join(TGI_IMAGE_TYPES)}. Convert it first, e.g. with Pillow: "
        "Image.open(path).save('image.png')"
    )


def image_data_uri(image: bytes | bytearray | memoryview | str | os.PathLike[str], *, where: str = "the image") -> str:
    """A ``data:<mime>;base64,...`` URI for raw image bytes or a local file, the mime type read from the bytes.

    Raises :class:`InvalidRequestError` when the file cannot be read or is not a type TGI decodes.
    """
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
    else:
        path = Path(image).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidRequestError(
                f"{where}: cannot read the image file {str(path)!r} ({exc.strerror}); an image is an http(s) URL, "
                "a data: URI, the path of an image file, or its bytes"
            ) from exc
        where = f"{where} ({str(path)!r})"
    kind = sniff_image_type(data)
    if kind not in TGI_IMAGE_TYPES:
        raise _unsupported(kind, where)
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def _check_data_uri(url: str, where: str) -> str:
    header, sep, payload = url[5:].partition(",")
    mime, _, encoding = header.partition(";")
    mime = mime.strip().lower()
    if not sep or encoding.strip().lower() != "base64":
        raise InvalidRequestError(
            f"{where} is a data URI without base64 data; TGI takes only data:<mime>;base64,<data>. "
            "Pass the image's bytes or path instead and it is encoded for you"
        )
    mime = _ALIASES.get(mime, mime)
    if mime not in TGI_IMAGE_TYPES:
        raise InvalidRequestError(
            f"{where} is a data URI of type {mime or '(none)'!r}; TGI decodes only {', '.join(TGI_IMAGE_TYPES)}. "
            "Convert the image (e.g. with Pillow) or pass its bytes so the type is read from the content"
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except binascii.Error as exc:
        raise InvalidRequestError(
            f"{where} is a data URI whose base64 is invalid ({exc}); the server would answer 422. "
            "Encode it with base64.b64encode (standard alphabet, with padding), or pass the image's bytes"
        ) from exc
    actual = sniff_image_type(data)
    if actual != mime:
        found = f"of type {actual}" if actual else "not an image TGI recognizes"
        raise InvalidRequestError(
            f"{where} says {mime} but its data is {found}; TGI would fail to decode it. "
            "Pass the image's bytes and the type is read from the content"
        )
    return url


def check_image_url(value: Any, where: str) -> str:
    """An image reference as a URL TGI takes: an http(s) URL, or a checked data URI (files and bytes encoded)."""
    if isinstance(value, (bytes, bytearray, memoryview, os.PathLike)):
        return image_data_uri(value, where=where)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"{where} must be an http(s) URL, a data: URI, a file path or bytes; got {value!r}")
    url = value.strip()
    match = _SCHEME.match(url)
    scheme = match.group(1).lower() if match and len(match.group(1)) > 1 else ""  # (a one-letter "scheme": C:\)
    if scheme in ("http", "https"):
        # TGI finds an image with the regex !\[\]\([^)]*\): a ")" would end the URL early.
        return url.replace(")", "%29").replace(" ", "%20")
    if scheme == "data":
        return _check_data_uri(url, where)
    if scheme == "file":
        from urllib.parse import unquote, urlsplit

        return image_data_uri(unquote(urlsplit(url).path), where=where)
    if scheme:
        raise InvalidRequestError(
            f"{where} is a {scheme}: URL, which TGI cannot fetch (it fetches http:// and https:// URLs and takes "
            "data: URIs). Download the image and pass its bytes or path, or give an http(s) URL"
        )
    return image_data_uri(url, where=where)


def check_image_part(part: Mapping[str, Any], where: str) -> dict[str, Any]:
    """An ``image_url`` content part with its URL checked (``{"url": ...}`` or a bare URL string)."""
    ref = part.get("image_url")
    url = ref.get("url") if isinstance(ref, Mapping) else ref
    checked = check_image_url(url, where)
    if isinstance(ref, Mapping) and url is checked:
        return dict(part)
    extra = {k: v for k, v in ref.items() if k != "url"} if isinstance(ref, Mapping) else {}
    return {**part, "image_url": {"url": checked, **extra}}


def image_markdown(part: Mapping[str, Any]) -> str:
    """An (already checked) ``image_url`` part as TGI's inline image, ``![](url)``."""
    return f"![]({part['image_url']['url']})"


def data_uri_size(url: str) -> int:
    return len(url) if url.startswith("data:") else 0


def check_payload(total: int, limit: int = PAYLOAD_LIMIT) -> None:
    """Refuse images whose data URIs alone exceed the server's request size limit (base64 images count toward it)."""
    if total > limit:
        which = "TGI's default --payload-limit" if limit == PAYLOAD_LIMIT else "the server's --payload-limit"
        raise InvalidRequestError(
            f"the images of this request take {total:,} bytes as base64 data URIs, over {limit:,} bytes, {which} "
            "for a whole request (it would answer 413). Send smaller images (resize them, or save as JPEG), fewer "
            "per request, or put them at an http(s) URL the server fetches itself; if the server was started with "
            "a larger --payload-limit, pass payload_limit= (bytes) to the client"
        )
