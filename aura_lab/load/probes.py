"""What a run asks of servers before it starts: are they listening, what are they
(``GET /health``), which templates do they use (``GET /templates``)."""

from __future__ import annotations

import json
import socket
import urllib.request
from urllib.parse import urlsplit

from ..errors import InputError
from ..traffic.templates import PatternLibrary, load_templates


def http_json(ws_url: str, route: str, timeout: float = 5.0):
    """The JSON a server answers at ``route`` on its WebSocket port; None when it has no
    such route (the peer's server has none) or does not answer."""
    url = ws_url.replace("wss://", "https://").replace("ws://", "http://").rstrip("/") + route
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read(1 << 20).decode("utf-8"))
    except Exception:  # a server without the route simply has no answer
        return None


def unreachable(urls, timeout: float = 2.0) -> list[str]:
    """The URLs whose host and port refuse a TCP connection (checked before a run starts)."""
    dead = []
    for url in urls:
        parts = urlsplit(url)
        try:
            socket.create_connection(
                (parts.hostname, parts.port or (443 if parts.scheme == "wss" else 80)), timeout=timeout
            ).close()
        except OSError:
            dead.append(url)
    return dead


def served_templates(url: str) -> tuple[PatternLibrary | None, str | None]:
    """The template library a server reports at ``GET /templates``: ``(library, None)``,
    ``(None, None)`` when it reports none, ``(None, why)`` when its answer is malformed."""
    served = http_json(url, "/templates")
    if not (isinstance(served, list) and served):
        return None, None
    try:
        return PatternLibrary({int(t["id"]): str(t["pattern"]) for t in served}, source=f"{url}/templates"), None
    except (KeyError, TypeError, ValueError, OverflowError, InputError) as exc:
        return None, f"the server's /templates answer was malformed ({exc}); used the installed library"


def installed_templates() -> PatternLibrary:
    return load_templates(None)


def handshake_problems(urls, timeout: float = 5.0) -> dict[str, tuple[str, str]]:
    """The URLs a WebSocket client can never connect to, each with ``(problem, fix)``:
    TLS to a plain server (or the reverse), an HTTP server that is not a WebSocket
    endpoint. URLs nobody listens on, and those slow to answer, are not judged here."""
    import ssl

    from websockets.exceptions import InvalidHandshake, InvalidStatus
    from websockets.sync.client import connect

    problems: dict[str, tuple[str, str]] = {}
    for url in urls:
        plain = url.replace("wss://", "ws://", 1)
        try:
            with connect(url, open_timeout=timeout, close_timeout=1, compression=None):
                pass
        except ssl.SSLError as exc:
            problems[url] = (
                f"the TLS handshake failed ({exc.reason or exc})",
                f"a server without TLS needs {plain}; else check its certificate",
            )
        except InvalidStatus as exc:
            problems[url] = (
                f"the server answered HTTP {exc.response.status_code} to the WebSocket handshake",
                "check the path and that this is a WebSocket endpoint",
            )
        except InvalidHandshake as exc:
            secure = "wss://" + url[len("ws://") :] if url.startswith("ws://") else url
            problems[url] = (
                f"no WebSocket handshake ({exc})",
                "check that this is a WebSocket endpoint"
                + (f" (a TLS one needs {secure})" if url.startswith("ws://") else ""),
            )
        except (OSError, TimeoutError):
            continue  # refused, reset or slow: a run-time matter (connect errors, failover)
    return problems
