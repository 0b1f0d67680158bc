"""Connection policy: from :class:`ConnectionOptions` to the values the shells send with (:class:`Connection`).

:func:`connect` is the one place where the environment is read (the token variables through
:func:`hf_endpoint._auth.resolve_token`, the proxy variables, ``REQUESTS_CA_BUNDLE``), once, by a client's
constructor. Everything after it works from the :class:`Connection` values: the core never reads the
environment, and a request costs no lookup.

A new protocol (TEI) uses the same :class:`Connection`; several endpoints behind one client are several
:class:`Connection` objects (one per URL), each with its own :class:`hf_endpoint._endpoint.EndpointState`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from . import __about__
from ._auth import Secret, auth_hints, resolve_token
from ._errors import InvalidRequestError
from ._options import ConnectionOptions
from ._protocol import Request
from ._retry import RetryPolicy

__all__ = ["Connection", "connect", "env_proxies", "env_verify"]

logger = logging.getLogger("hf_endpoint")


@dataclass(slots=True)  # (not frozen: see Request; never mutated after connect())
class Connection:
    """What the shells need to send a request to one server: all values, nothing left to look up."""

    options: ConnectionOptions
    base_url: str
    host: str
    #: The token actually sent (None: none, or one from the environment withheld from a plain-HTTP remote host).
    token: Secret | None
    #: The headers of every request (``Authorization`` included when a token is sent).
    headers: dict[str, str]
    verify: bool | str
    proxies: dict[str, str]
    retry: RetryPolicy
    #: What a 401/403 adds to the server's message: whether a token was sent, and from where (never the token).
    auth_hints: dict[int, str]

    def __repr__(self) -> str:
        return f"Connection(base_url={self.base_url!r})"

    def url(self, path: str) -> str:
        return self.base_url + path

    def header_items(self, request: Request) -> dict[str, str]:
        if not request.extra_headers:
            return self.headers
        return {**self.headers, **dict(request.extra_headers)}


def connect(options: ConnectionOptions, environ: Mapping[str, str] | None = None) -> Connection:
    """The connection values for ``options``: the token (given, or from the environment), the proxies and CA bundle
    the environment sets, and the headers. Reads the environment (``environ``, default ``os.environ``) once."""
    host = urlsplit(options.base_url).hostname or ""
    found = token = resolve_token(options.api_key) if options.api_key is not None else resolve_token(None, environ)
    if token is not None and options.base_url.startswith("http://") and not _is_local(host):
        token = _plain_http_token(token, host, explicit=options.explicit_key, allowed=options.allow_insecure_http)
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "User-Agent": f"hf-endpoint/{__about__.__version__} python/{platform.python_version()}",
    }
    if options.scale_up_timeout is not None:
        headers["X-Scale-Up-Timeout"] = str(int(options.scale_up_timeout))
    headers.update(options.headers or {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token.get_secret_value()}"
    return Connection(
        options=options,
        base_url=options.base_url,
        host=host,
        token=token,
        headers=headers,
        verify=env_verify(options.verify, environ),
        proxies=env_proxies(options.base_url),
        retry=RetryPolicy(max_retries=options.max_retries, cold_start_timeout=options.cold_start_timeout),
        auth_hints=auth_hints(found, sent=token is not None, host=host, environ=environ),
    )


def check_plain_http(options: ConnectionOptions) -> None:
    """Refuse, before anything is built, an explicit token bound for a remote host over plain HTTP (see
    :func:`_plain_http_token`); the adapters call it when they are constructed."""
    host = urlsplit(options.base_url).hostname or ""
    remote_http = options.base_url.startswith("http://") and not _is_local(host)
    if options.explicit_key and remote_http and not options.allow_insecure_http:
        _plain_http_token(options.api_key or Secret(""), host, explicit=True, allowed=False)


def env_verify(verify: bool | str, environ: Mapping[str, str] | None = None) -> bool | str:
    """TLS verification as requests does it: ``verify=True`` takes a CA bundle from ``REQUESTS_CA_BUNDLE`` or
    ``CURL_CA_BUNDLE`` when one is set (corporate proxies that re-sign TLS)."""
    env = os.environ if environ is None else environ
    if verify is True:
        return env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or True
    return verify


def env_proxies(base_url: str) -> dict[str, str]:
    """The proxies the environment sets for ``base_url`` (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, lower
    case too; none when ``NO_PROXY`` covers the host), by requests' rules."""
    from requests.utils import get_environ_proxies

    proxies: dict[str, str] = get_environ_proxies(base_url)
    return proxies


def _is_local(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.endswith(".localhost")


def _plain_http_token(token: Secret, host: str, *, explicit: bool, allowed: bool) -> Secret | None:
    """What to do with a token bound for a non-loopback host over plain HTTP, where anyone on the path can read it.

    With ``allow_insecure_http=True`` it is sent (with a warning). Without: an explicit ``api_key`` is refused (the
    caller asked for something unsafe), and a token found in the environment is not sent (it was not meant for
    this server; a self-hosted TGI without ``--api-key`` needs none).
    """
    if allowed:
        logger.warning("hf_endpoint: sending the API token over plain HTTP to %s (allow_insecure_http=True)", host)
        return token
    if explicit:
        raise InvalidRequestError(
            f"refusing to send the API token over plain HTTP to {host}: anyone on the network path could read it. "
            "Use https://, or pass allow_insecure_http=True if the network is trusted (loopback hosts need neither)"
        )
    logger.warning(
        "hf_endpoint: not sending the token from the environment over plain HTTP to %s; use https://, or pass "
        "api_key= with allow_insecure_http=True if this server needs it and the network is trusted",
        host,
    )
    return None
