"""Every default and every range of aura-lab's options, defined once.

``RunConfig`` is the options of a run (``aura-lab run`` and ``aura_lab.run()``); the
command line reads its defaults and ranges from here, and so do the generator's
config and the server. An option is checked before anything starts: an error names
the parameter (Python) or the flag (command line), the range, and the value given.
"""

from __future__ import annotations

import math
import os
import string
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import InputError
from .system import RESERVED_FDS, ensure_fds
from .timing import ThinkTime

# -- defaults shared by several parts -------------------------------------------------
MIN_COMPRESSION_SIZE = 35  # bytes: below this the peer's server does not compress
REPLY_TIMEOUT_S = 10.0  # seconds a user waits for one reply
MAX_MESSAGE_SIZE = 1 << 20  # bytes: the largest message a server accepts
DEFAULT_PORT = 8765
DEFAULT_CODECS = ("aura", "deflate-stream", "zstd-dict")
DEFAULT_THINK_TIME = "uniform:0.1,2.0"  # the peer's pause after each reply, seconds
MAX_DURATION_S = 3600.0  # hard ceiling on a run's main phase
MAX_REPLY_SIZE = 16 << 20  # bytes: the largest reply a simulated user accepts
DEFAULT_USERS = 10  # simulated users of a generated run (a replay plays every conversation)
DEFAULT_PROFILE = "assistant"  # the built-in traffic profiles: assistant (real chats), peer
FRAMINGS = ("whole", "stream")  # an assistant reply in one message, or streamed in frames
ENVELOPES = ("none", "json")  # a streamed frame bare, or as {"type": "delta", "content": ...}
REPLAY_TIMINGS = ("think", "logged")  # pauses from --think-time, or from the logs' timestamps
CHARS_PER_TOKEN = 4  # a streamed token, approximated as OpenAI's rule of thumb for English
LOGGED_GAP_CAP_S = 60.0  # a logged pause longer than this is cut to it (logs hold days-long gaps)


def number_text(value: float) -> str:
    """A bound or default as people write it: 67108864, not 6.71089e+07; 0.001, 1e-06."""
    if float(value).is_integer() and abs(value) < 1e18:
        return str(int(value))
    return f"{value:g}"


@dataclass(frozen=True)
class Bound:
    """A numeric option's values: ``low <= value <= high`` (``> low`` if ``low_open``), finite, whole if ``integer``."""

    low: float
    high: float
    unit: str = ""
    integer: bool = False
    low_open: bool = False

    def describe(self) -> str:
        low = f"> {number_text(self.low)}" if self.low_open else f">= {number_text(self.low)}"
        kind = "a whole number " if self.integer else "a number "
        unit = f" {self.unit}" if self.unit else ""
        return f"{kind}{low} and <= {number_text(self.high)}{unit}"

    def check(self, value: Any, where: str) -> None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and self.integer:
            ok = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if ok:
            try:
                ok = (
                    math.isfinite(value)
                    and (value > self.low if self.low_open else value >= self.low)
                    and value <= self.high
                )
            except OverflowError:  # an integer beyond float's range
                ok = False
        if not ok:
            raise InputError(f"must be {self.describe()}, got {value!r}", where=where)


# Ranges: generous for real use, bounded so that no option can exhaust the machine
# or stall a run (an infinite timeout, a billion users).
BOUNDS: dict[str, Bound] = {
    "users": Bound(1, 10_000, "users", integer=True),
    "ramp_up": Bound(0, 3600, "s"),
    "turns": Bound(1, 10_000, "messages", integer=True),
    "messages_per_user": Bound(1, 100_000, "messages", integer=True),
    "duration": Bound(0, 86_400, "s", low_open=True),
    "arrival_rate": Bound(0.001, 10_000, "messages/s per user"),
    "seed": Bound(0, 2**63 - 1, integer=True),
    "corpus_weight": Bound(0, 1),
    "ai_ratio": Bound(0, 1),
    "warmup_messages": Bound(0, 100_000, "messages", integer=True),
    "explore": Bound(0, 1),
    "min_compression_size": Bound(0, MAX_MESSAGE_SIZE, "bytes", integer=True),
    "timeout": Bound(0, 600, "s", low_open=True),
    "max_duration": Bound(0, 86_400, "s", low_open=True),
    "workers": Bound(1, 64, "processes", integer=True),
    "replicas": Bound(1, 64, "servers", integer=True),
    "max_size": Bound(1, 64 << 20, "bytes", integer=True),
    "max_reply_size": Bound(1024, 1 << 30, "bytes", integer=True),
    "port": Bound(0, 65_535, integer=True),
    "chunk_tokens": Bound(1, 4096, "tokens", integer=True),
}

# the command-line flag of each RunConfig field that has one
FLAGS = {
    "users": "--users",
    "ramp_up": "--ramp-up",
    "turns": "--turns",
    "messages_per_user": "--messages-per-user",
    "duration": "--duration",
    "think_time": "--think-time",
    "arrival_rate": "--arrival-rate",
    "seed": "--seed",
    "corpus": "--corpus",
    "metadata": "--metadata",
    "templates": "--templates",
    "corpus_weight": "--corpus-weight",
    "ai_ratio": "--ai-ratio",
    "warmup_messages": "--warmup-messages",
    "auto_adjust": "--auto-adjust",
    "verify": "--verify",
    "selection": "--selection",
    "explore": "--explore",
    "codecs": "--codec",
    "urls": "--url",
    "min_compression_size": "--min-compression-size",
    "trace_dir": "--trace-dir",
    "export": "--export",
    "peer_traces": "--peer-traces",
    "workers": "--workers",
    "scheduler": "--scheduler",
    "timeout": "--timeout",
    "run_id": "--run-id",
    "max_reply_size": "--max-reply-size",
    "profile": "--profile",
    "replay": "--replay",
    "replay_timing": "--replay-timing",
    "framing": "--framing",
    "chunk_tokens": "--chunk-tokens",
    "envelope": "--envelope",
    "resend_whole": "--resend-whole",
    "reference": "--reference",
    "auto_update": "--auto-update",
    "templates_from": "--templates-from",
}
SELECTIONS = ("uniform", "epsilon-greedy")
RUN_ID_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-_.")


def where(name: str, cli: bool) -> str:
    """How an error names an option: its flag on the command line, else the parameter."""
    return FLAGS.get(name, name) if cli else name


@dataclass
class RunConfig:
    """Every option of a run. Times in seconds, sizes in bytes; ranges in ``BOUNDS``."""

    users: int | None = None  # None: DEFAULT_USERS, or every conversation of a replay
    ramp_up: float = 0.0
    turns: tuple[int, int] | None = None  # messages per conversation; None: the profile's
    messages_per_user: int | None = None
    duration: float | None = None
    think_time: str = DEFAULT_THINK_TIME
    arrival_rate: float | None = None  # messages per second per user (open loop)
    seed: int = 42
    corpus: str | None = None  # None: the bundled corpus; "none": no corpus
    metadata: str | None = None  # None: the bundled metadata; "none": none
    templates: str | None = None  # a template JSON file (else learnt from the server)
    corpus_weight: float = 0.3
    ai_ratio: float = 0.5
    warmup_messages: int = 0
    auto_adjust: bool = False  # opt-in: raising corpus_weight after the warmup changes the traffic under test
    selection: str = "uniform"
    explore: float = 0.3
    codecs: tuple[str, ...] = DEFAULT_CODECS
    urls: tuple[str, ...] | None = None
    verify: str | None = None  # CODEC[:options]: the client checks round trips the server does not report
    min_compression_size: int = MIN_COMPRESSION_SIZE
    trace_dir: str = "data/traces"
    export: str | None = None
    peer_traces: str | None = None
    debug: bool = False
    quiet: bool = False
    workers: int = 1
    scheduler: str | None = None
    report: bool = False
    timeout: float = REPLY_TIMEOUT_S  # per message
    max_reply_size: int = MAX_REPLY_SIZE  # bytes; a larger reply is a bad_reply
    max_duration: float = MAX_DURATION_S  # hard ceiling on the main phase
    run_id: str | None = None
    in_process_servers: bool = False  # tests: embedded servers on threads of this process
    progress: bool = True
    profile: str = DEFAULT_PROFILE  # a built-in profile's name or a profile JSON file
    replay: tuple[str, ...] | None = None  # conversation logs to play instead of generated traffic
    replay_timing: str = "think"
    framing: str = "whole"
    chunk_tokens: int = 4  # tokens per streamed frame
    envelope: str = "none"
    resend_whole: bool = False  # each streamed frame carries the whole reply so far
    reference: tuple[str, ...] | None = None  # conversation logs the traffic is checked against
    offline: bool = False  # the codecs in this process, no sockets (a replay's in-process link)
    auto_update: bool = False  # mine templates from the run's traffic after it, saved beside it
    templates_from: str | None = None  # a run (or its mined file) whose templates the aura codecs load

    def __post_init__(self) -> None:
        if isinstance(self.codecs, str):
            self.codecs = split_specs(self.codecs)
        if isinstance(self.urls, str):
            self.urls = tuple(u.strip() for u in self.urls.split(",") if u.strip())
        if isinstance(self.turns, str):
            self.turns = parse_turns(self.turns)
        if isinstance(self.think_time, (int, float)) and not isinstance(self.think_time, bool):
            self.think_time = str(self.think_time)
        self.codecs = tuple(self.codecs)
        self.turns = tuple(self.turns) if self.turns is not None else None  # type: ignore[assignment]
        self.urls = tuple(self.urls) if self.urls else None
        for name in ("replay", "reference"):  # one path, or several
            value = (getattr(self, name),) if isinstance(getattr(self, name), (str, Path)) else getattr(self, name)
            setattr(self, name, tuple(str(v) for v in value) if value else None)
        if self.urls:
            self.codecs = ()  # external servers: no embedded codec is started, so none is listed

    @classmethod
    def option_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @property
    def main_deadline(self) -> float:
        """Seconds after which the main phase stops sending: ``duration``, capped by ``max_duration``."""
        return min(self.duration or self.max_duration, self.max_duration)

    def generator_options(self) -> dict:
        """The ``GeneratorConfig`` options this run sets."""
        return dict(
            seed=self.seed,
            ai_ratio=self.ai_ratio,
            corpus_weight=self.corpus_weight,
            turns=self.turns,
            messages_per_user=self.messages_per_user,
            profile=self.profile,
        )

    def think(self) -> ThinkTime:
        return ThinkTime.parse(self.think_time)

    def file_descriptors(self) -> int:
        """Open files this process needs at most: two connections (one per direction) per
        user and server group (twice with in-process servers: both ends are here), the
        warmup's, and ``RESERVED_FDS``. With workers, each holds its share of the users."""
        connections = 0 if self.offline else 2 * (1 if self.urls else max(1, len(self.codecs)))  # none offline
        users = self.users or DEFAULT_USERS
        per_process = -(-users // max(1, self.workers)) if self.workers > 1 or self.scheduler else users
        return (per_process + 1) * connections * (2 if self.in_process_servers and not self.urls else 1) + RESERVED_FDS

    def validate(self, cli: bool = False) -> RunConfig:
        """Check every option against its range; errors name the flag when ``cli``."""

        def bound(name: str, value: Any) -> None:
            if value is not None:
                BOUNDS[name].check(value, where(name, cli))

        def need(ok: bool, name: str, message: str) -> None:
            if not ok:
                raise InputError(message, where=where(name, cli))

        for name in (n for n in BOUNDS if n != "turns" and hasattr(self, n)):  # turns is a pair: below
            bound(name, getattr(self, name))
        if self.turns is not None:
            need(len(self.turns) == 2, "turns", f"must be MIN-MAX, got {self.turns}")
            for value in self.turns:
                bound("turns", value)
            need(self.turns[0] <= self.turns[1], "turns", f"must be MIN-MAX with MIN <= MAX, got {self.turns}")
        _check_traffic(self, need)
        try:
            ThinkTime.parse(self.think_time)
        except ValueError as exc:
            raise InputError(str(exc), where=where("think_time", cli)) from None
        if self.run_id is not None:
            need(
                bool(self.run_id) and set(self.run_id) <= RUN_ID_CHARACTERS and not self.run_id.startswith("."),
                "run_id",
                f"must be a name of letters, digits, '-', '_' and '.' (not a path), got {self.run_id!r}",
            )
        # written after the run: a bad path must fail now, not after an hour of traffic
        if self.export:
            export, parent = Path(self.export), Path(self.export).parent
            need(parent.is_dir(), "export", f"folder {parent} does not exist")
            kind = "a folder" if export.is_dir() else "not a regular file (a device, a pipe)"
            need(export.is_file() or not export.exists(), "export", f"{export} is {kind}; give a new or regular file")
            need(os.access(parent, os.W_OK), "export", f"folder {parent} is not writable")
        if self.peer_traces:
            need(not Path(self.peer_traces).is_file(), "peer_traces", f"{self.peer_traces} is a file; give a folder")
            base = next(p for p in (Path(self.peer_traces), *Path(self.peer_traces).parents) if p.exists())
            need(base.is_dir(), "peer_traces", f"{base} is a file, so {self.peer_traces} cannot be made a folder")
            need(os.access(base, os.W_OK), "peer_traces", f"folder {base} is not writable")
        need(not (self.offline and self.urls), "urls", "an offline run has no servers: leave out --url")
        need(not (self.offline and (self.workers > 1 or self.scheduler)), "workers",
             "an offline run plays its users in this process: leave out --workers and --scheduler")  # fmt: skip
        if self.templates_from:
            need(Path(self.templates_from).exists(), "templates_from", f"{self.templates_from} does not exist")
        if self.scheduler:
            need(scheduler_address(self.scheduler) is not None, "scheduler",
                 f"{self.scheduler!r} is not a scheduler address: give HOST:PORT or tcp://HOST:PORT")  # fmt: skip
        if self.urls:
            for url in self.urls:
                check_url(url, where("urls", cli))
        else:
            need(bool(self.codecs), "codecs", "give at least one codec")
            need(
                len(set(self.codecs)) == len(self.codecs),
                "codecs",
                f"names a codec twice ({', '.join(self.codecs)}): each codec's figures would be counted twice",
            )
        if self.users is not None or not self.replay:  # a replay's users are known once its logs are read
            self.check_resources(cli)
        return self

    def check_resources(self, cli: bool = False) -> None:
        """Room for the run's connections: the soft fd limit raised if it can be, else refused now."""
        check = ensure_fds(self.file_descriptors())
        if not check.ok:
            groups = 1 if self.urls else len(self.codecs)
            raise InputError(
                f"{self.users or DEFAULT_USERS} users x {groups} server(s) need about {check.need} open files, "
                f"but this process may open {check.soft} (hard limit {check.hard})",
                where=where("users", cli),
                fix=f"{check.fix()}, or run fewer users (or spread them with --workers)",
            )


def _check_traffic(config: RunConfig, need: Callable[[bool, str, str], None]) -> None:
    """The options chosen from a list, and those of replay, streaming and the realism reference."""
    choices = {"selection": SELECTIONS, "framing": FRAMINGS, "envelope": ENVELOPES, "replay_timing": REPLAY_TIMINGS}
    for name, allowed in choices.items():
        value = getattr(config, name)
        need(value in allowed, name, f"must be one of {', '.join(allowed)}, got {value!r}")
    for name, default in (("envelope", "none"), ("resend_whole", False), ("chunk_tokens", 4)):
        need(config.framing == "stream" or getattr(config, name) == default, name, "applies to --framing stream")
    need(bool(config.replay) or config.replay_timing == "think", "replay_timing", "applies to a replay; add --replay")
    for name in ("turns", "messages_per_user"):
        need(not (config.replay and getattr(config, name)), name, "a replay plays each conversation as logged")
    for name in ("replay", "reference"):
        for path in getattr(config, name) or ():
            need(Path(path).exists(), name, f"{path} does not exist")


def split_specs(text: str) -> tuple[str, ...]:
    """A comma-separated list of codec specs: ``aura,deflate-stream:window_bits=12,level=6``
    is two specs (an item with ``=`` and no ``:`` continues the options of the one before)."""
    specs: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if "=" in item and ":" not in item and specs:
            specs[-1] += "," + item
        else:
            specs.append(item)
    return tuple(specs)


def parse_turns(text: str) -> tuple[int, int]:
    """``"5-50"`` -> ``(5, 50)``; ``"8"`` -> ``(8, 8)``."""
    try:
        low, _, high = str(text).partition("-")
        return int(low), int(high or low)
    except ValueError:
        raise InputError(f"expected MIN-MAX such as 5-50, got {text!r}", where="--turns") from None


def check_url(url: str, where_: str = "--url") -> None:
    """A WebSocket URL a client can connect to: ``ws://HOST:PORT[/path]``."""
    from urllib.parse import urlsplit

    fix = "use ws://HOST:PORT, e.g. ws://127.0.0.1:8765"
    if any(c.isspace() for c in url):
        raise InputError(f"bad URL {url!r}: it contains white space", where=where_, fix=fix)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise InputError(f"bad URL {url!r}: {exc}", where=where_, fix=fix) from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise InputError(f"bad URL {url!r}", where=where_, fix=fix)
    if parts.fragment or url.endswith("#"):
        raise InputError(f"bad URL {url!r}: a WebSocket URL has no #fragment", where=where_, fix=fix)
    if parts.password is not None:  # it would be kept in the manifest, summary and traces, which travel
        raise InputError(f"bad URL {url.replace(parts.password, '***')!r}: it holds a password", where=where_,
                         fix="give the URL without user:password@ (run folders are shared)")  # fmt: skip


def scheduler_address(text: str) -> tuple[str, int] | None:
    """``(host, port)`` of a scheduler address (``HOST:PORT``, ``tcp://HOST:PORT``), or None."""
    host, _, port = text.removeprefix("tcp://").rpartition(":")
    host = host.strip("[]")
    if not host or "/" in host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)
