"""The embedded server's limits: whatever its clients do, its memory and its connections
stay bounded, and a good client keeps being served.

- Connections: at most ``max_connections`` open at once; the next handshake gets an
  HTTP 503 (and a TCP connection far past the limit is reset before it costs anything).
  The limit is also kept within the file-descriptor limit (``ulimit -n``).
- Buffered messages: the bytes of messages received but not yet answered (a fragmented
  message still arriving, messages sent without waiting for replies) are counted across
  all connections. When the total passes ``max_buffered``, the connection holding the
  most is closed with 1013 (try again later): clients holding megabytes of unfinished
  messages cannot lock out one with a short message. Per connection websockets holds at
  most its ``max_size`` per message and a few frames (``max_queue``) before it stops
  reading the socket.
- Pings: the server pings every ``ping_interval`` seconds and closes a connection whose
  pong does not come within ``ping_timeout`` (a dead peer). A client that sends pings but
  reads nothing (a ping flood) is dropped once ``max_unread_pongs`` pongs wait for it.
- Idle connections: closed after ``idle_timeout`` seconds without a message.
- Logs: one line per event, no tracebacks, and a burst of the same line is counted
  instead of repeated, so a client cannot grow the log without limit.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import sys
import time
from dataclasses import dataclass

from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode, Opcode

from ..config import DEFAULT_USERS, LOGGED_GAP_CAP_S, Bound, RunConfig
from ..errors import InputError
from ..system import RESERVED_FDS, ensure_fds

# The defaults and ranges of the server's limits (``aura-lab serve`` and ``start_server``),
# defined here once: config.py holds the run's options, this module the server's.
MAX_CONNECTIONS = 10_000  # open connections (more get HTTP 503); also capped by `ulimit -n`
MAX_BUFFERED = 64 << 20  # bytes of received messages not yet answered, all connections together
IDLE_TIMEOUT_S = 120.0  # a connection without a message for this long is closed
PING_INTERVAL_S = 20.0  # keepalive pings to each client...
PING_TIMEOUT_S = 20.0  # ...closed when a pong does not come back in this time
MAX_UNREAD_PONGS = 100  # pongs waiting for a client that reads nothing (a ping flood): dropped
LIMIT_BOUNDS: dict[str, Bound] = {
    "max_connections": Bound(1, 100_000, "connections", integer=True),
    "max_buffered": Bound(1 << 16, 1 << 34, "bytes", integer=True),
    "idle_timeout": Bound(0, 86_400, "s", low_open=True),
    "ping_interval": Bound(0, 3600, "s", low_open=True),
    "ping_timeout": Bound(0, 3600, "s", low_open=True),
    "max_unread_pongs": Bound(1, 1_000_000, "pongs", integer=True),
}
MAX_QUEUE = 4  # frames websockets buffers per connection before it stops reading the socket
CLOSE_TIMEOUT = 2.0  # seconds a closed connection's peer has to answer the close frame
HARD_CAP_SLACK = 64  # TCP connections past max_connections still let in, to be told 503


@dataclass(frozen=True)
class ServerLimits:
    """The embedded server's limits (ranges in ``LIMIT_BOUNDS``): connections, bytes of
    messages waiting to be answered (all connections), seconds a connection may stay
    idle, keepalive ping interval and timeout in seconds, and pongs a client that reads
    nothing may leave waiting."""

    max_connections: int = MAX_CONNECTIONS
    max_buffered: int = MAX_BUFFERED
    idle_timeout: float = IDLE_TIMEOUT_S
    ping_interval: float = PING_INTERVAL_S
    ping_timeout: float = PING_TIMEOUT_S
    max_unread_pongs: int = MAX_UNREAD_PONGS

    def check(self, flags: dict[str, str] | None = None) -> ServerLimits:
        """Each limit within its range; errors name the parameter (or its flag)."""
        for item in dataclasses.fields(self):
            LIMIT_BOUNDS[item.name].check(getattr(self, item.name), (flags or {}).get(item.name, item.name))
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class Guard:
    """A server's counts against its limits, shared by its connections."""

    def __init__(self, limits: ServerLimits, transport_max_size: int):
        if limits.max_buffered < transport_max_size:
            raise InputError(
                f"must be at least the largest message the server reads ({transport_max_size} bytes), "
                f"got {limits.max_buffered}",
                where="max_buffered",
            )
        self.limits = limits
        self.max_connections = fit_connections(limits.max_connections)
        self.open = 0  # TCP connections, handshakes included
        self.buffered = 0  # bytes received and not yet answered
        self.holders: set[GuardedConnection] = set()  # connections with bytes held
        self.dropped: collections.Counter[str] = collections.Counter()

    def health(self) -> dict:
        """What ``GET /health`` says of the limits and of what they cost clients."""
        return {
            "limits": {**self.limits.to_dict(), "max_connections": self.max_connections},
            "open_connections": self.open,
            "buffered_bytes": self.buffered,
            "dropped": dict(self.dropped),
        }


def fit_connections(wanted: int) -> int:
    """Connections the file-descriptor limit allows (raising its soft limit when the hard
    limit lets it): ``wanted``, or fewer with a warning that names ``ulimit -n``."""
    check = ensure_fds(wanted + HARD_CAP_SLACK + RESERVED_FDS)
    if check.ok or check.soft is None:
        return wanted
    room = max(1, check.soft - HARD_CAP_SLACK - RESERVED_FDS)
    print(
        f"aura-lab: warning: serving at most {room} connections, not {wanted}: the file-descriptor "
        f"limit is {check.soft} ({check.fix()})",
        file=sys.stderr,
        flush=True,
    )
    return room


class GuardedConnection(ServerConnection):
    """A server connection that keeps to the ``Guard``'s limits, and remembers whether
    each incoming message began as a text or a binary frame (``message_is_text``; see
    ``server.py`` for why)."""

    guard: Guard  # set on the subclass each server makes (``connection_class``)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.message_is_text: collections.deque[bool] = collections.deque()
        self.held = 0  # bytes of this connection's messages received, not yet answered
        self.unread_pongs = 0
        self.dropped = False

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.guard.open += 1
        if self.guard.open > self.guard.max_connections + HARD_CAP_SLACK:
            self.guard.dropped["connection limit (reset)"] += 1
            self.dropped = True
            transport.abort()  # far past the limit: not even a 503 is worth its descriptor

    def connection_lost(self, exc) -> None:
        self.guard.open -= 1
        self.taken(self.held)
        super().connection_lost(exc)

    def over_connection_limit(self) -> bool:
        """For the handshake: True when this connection is one too many (answer 503)."""
        if self.guard.open > self.guard.max_connections:
            self.guard.dropped["connection limit (503)"] += 1
            return True
        return False

    def process_event(self, event) -> None:
        if self.dropped:
            return
        opcode = getattr(event, "opcode", None)
        if opcode in (Opcode.TEXT, Opcode.BINARY):
            # Frames reach the message assembler in this order; continuation frames carry
            # CONT, so each TEXT/BINARY frame starts exactly one message.
            self.message_is_text.append(opcode is Opcode.TEXT)
        if opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            size = len(event.data)
            self.held += size
            self.guard.buffered += size
            self.guard.holders.add(self)
            while self.guard.buffered > self.guard.limits.max_buffered:
                hog = max(self.guard.holders, key=lambda c: c.held)  # the biggest holder goes
                hog.drop(
                    "buffered bytes over max_buffered",
                    CloseCode.TRY_AGAIN_LATER,
                    "server busy, try again later",
                    abort=False,
                )
                if hog is self:
                    return
        elif opcode is Opcode.PING:
            # the pong is queued already; a write buffer that is not empty means the
            # socket's own buffer is full: the client is not reading
            if self.transport.get_write_buffer_size() > 0:
                self.unread_pongs += 1
                if self.unread_pongs > self.guard.limits.max_unread_pongs:
                    # abort: its write buffer would never drain for a close frame
                    self.drop("pongs left unread", CloseCode.POLICY_VIOLATION, "pings without reading", abort=True)
                    return
            else:
                self.unread_pongs = 0
        super().process_event(event)

    def taken(self, size: int) -> None:
        """The handler took a message of ``size`` bytes (or the connection ended)."""
        size = min(size, self.held)
        self.held -= size
        self.guard.buffered -= size
        if not self.held:
            self.guard.holders.discard(self)

    def drop(self, reason: str, code: CloseCode, text: str, abort: bool) -> None:
        """Close the connection now, freeing what it holds; counted in /health. The close
        frame goes out first unless ``abort`` (a client that reads nothing)."""
        self.dropped = True
        self.guard.dropped[reason] += 1
        self.taken(self.held)
        try:
            self.protocol.fail(code, text)
            self.send_data()
        except Exception:  # the transport is going anyway
            pass
        if abort:
            self.transport.abort()
        else:
            self.transport.close()  # after the close frame; reading stops now


def connection_class(guard: Guard) -> type[GuardedConnection]:
    """A connection class bound to one server's guard."""
    return type("GuardedServerConnection", (GuardedConnection,), {"guard": guard})


class OneLineLog(logging.Filter):
    """Log records as one line each (a traceback becomes its last line), and at most one
    record per message per ``period`` seconds: the rest are counted and the count is
    told with the next one let through. A client sending bad requests by the thousand
    cannot fill the disk."""

    def __init__(self, period: float = 10.0):
        super().__init__()
        self.period = period
        self._last: dict[str, float] = {}
        self._suppressed: collections.Counter[str] = collections.Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        key = str(record.msg)
        now = time.monotonic()
        if now - self._last.get(key, -self.period) < self.period:
            self._suppressed[key] += 1
            return False
        self._last[key] = now
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            message = f"{message}: {type(exc).__name__}: {exc}"
        if self._suppressed[key]:
            message = f"{message} (and {self._suppressed.pop(key)} more like it)"
        record.msg, record.args, record.exc_info, record.exc_text = message[:500], None, None, None
        return True


def server_logger(name: str) -> logging.Logger:
    """The server's logger: warnings and errors, one line each, to stderr."""
    logger = logging.getLogger(f"aura_lab.server.{name}")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("aura-lab server: %(levelname)s: %(message)s"))
        handler.addFilter(OneLineLog())
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    return logger


def server_limits(config: RunConfig) -> ServerLimits:
    """The embedded servers' limits: room for every user's connections (one per direction),
    no idle close while a user thinks or waits."""
    pause = max(config.think().longest, LOGGED_GAP_CAP_S if config.replay_timing == "logged" else 0.0)
    return ServerLimits(
        max_connections=2 * (config.users or 0) + 64,
        idle_timeout=min(86_400.0, max(ServerLimits.idle_timeout, pause + config.timeout + 10)),
    )


def check_server_room(config: RunConfig) -> None:
    """The embedded servers can hold the run's connections under this file-descriptor
    limit (their processes inherit it), else the run is refused now: a server capped to
    fewer connections refuses the rest, and the run would measure almost nothing."""
    check = ensure_fds(server_limits(config).max_connections + HARD_CAP_SLACK + RESERVED_FDS)
    if not check.ok:
        raise InputError(
            f"{config.users or DEFAULT_USERS} users need about {check.need} open files in each embedded server, "
            f"but a process may open {check.soft} (hard limit {check.hard})",
            where="users",
            fix=f"{check.fix()}, or run fewer users",
        )
