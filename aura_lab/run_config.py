"""The options of a run (``aura-lab run``), validated before anything starts."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import paths
from .engine import EngineSettings, ThinkTime
from .errors import InputError

DEFAULT_CODECS = ("aura", "deflate-stream", "zstd-dict")


@dataclass
class RunConfig:
    """Every option of a run. Times in seconds, sizes in bytes."""

    users: int = 10
    ramp_up: float = 0.0
    turns: tuple[int, int] = (5, 50)
    messages_per_user: int | None = None
    duration: float | None = None
    think_time: str = "uniform:0.1,2.0"
    arrival_rate: float | None = None  # messages per second per user (open loop)
    seed: int = 42
    corpus: str | None = None  # None: corpora/chat.jsonl; "none": no corpus
    metadata: str | None = None  # None: corpora/metadata.json; "none": none
    templates: str | None = None  # a template JSON file (else learnt from the server)
    corpus_weight: float = 0.3
    ai_ratio: float = 0.5
    warmup_messages: int = 0
    auto_adjust: bool = True
    selection: str = "uniform"
    explore: float = 0.3
    codecs: tuple[str, ...] = DEFAULT_CODECS
    urls: tuple[str, ...] | None = None
    min_compression_size: int = 35
    trace_dir: str = str(paths.DEFAULT_TRACE_DIR)
    export: str | None = None
    peer_traces: str | None = None
    debug: bool = False
    quiet: bool = False
    workers: int = 1
    scheduler: str | None = None
    report: bool = False
    timeout: float = 10.0  # per message
    max_duration: float = 3600.0  # hard ceiling on the main phase
    run_id: str | None = None
    in_process_servers: bool = False  # tests: embedded servers on threads of this process
    progress: bool = True

    def __post_init__(self):
        if isinstance(self.codecs, str):
            self.codecs = tuple(c.strip() for c in self.codecs.split(",") if c.strip())
        if isinstance(self.urls, str):
            self.urls = tuple(u.strip() for u in self.urls.split(",") if u.strip())
        if isinstance(self.turns, str):
            self.turns = parse_turns(self.turns)
        self.codecs, self.turns = tuple(self.codecs), tuple(self.turns)
        self.urls = tuple(self.urls) if self.urls else None

    @property
    def main_deadline(self) -> float:
        """Seconds after which the main phase stops sending: --duration, capped by max_duration."""
        return min(self.duration or self.max_duration, self.max_duration)

    def generator_options(self) -> dict:
        """The ``GeneratorConfig`` options this run sets."""
        return dict(seed=self.seed, ai_ratio=self.ai_ratio, corpus_weight=self.corpus_weight,
                    turns=self.turns, messages_per_user=self.messages_per_user)

    def engine_settings(self, run_id: str) -> EngineSettings:
        return EngineSettings(run_id=run_id, think_time=ThinkTime.parse(self.think_time),
                              arrival_rate=self.arrival_rate, ramp_up=self.ramp_up, timeout=self.timeout)

    def validate(self) -> "RunConfig":
        def need(ok: bool, option: str, message: str):
            if not ok:
                raise InputError(message, where=option)

        need(isinstance(self.users, int) and self.users >= 1, "--users", f"must be a whole number >= 1, got {self.users}")
        need(self.ramp_up >= 0, "--ramp-up", f"must be >= 0 seconds, got {self.ramp_up}")
        need(self.messages_per_user is None or self.messages_per_user >= 1, "--messages-per-user",
             f"must be >= 1, got {self.messages_per_user}")
        need(1 <= self.turns[0] <= self.turns[1], "--turns", f"must be MIN-MAX with 1 <= MIN <= MAX, got {self.turns}")
        need(self.duration is None or self.duration > 0, "--duration", f"must be > 0 seconds, got {self.duration}")
        need(self.arrival_rate is None or self.arrival_rate > 0, "--arrival-rate",
             f"must be > 0 messages per second, got {self.arrival_rate}")
        need(0 <= self.corpus_weight <= 1, "--corpus-weight", f"must be within 0..1, got {self.corpus_weight}")
        need(0 <= self.ai_ratio <= 1, "--ai-ratio", f"must be within 0..1, got {self.ai_ratio}")
        need(0 <= self.explore <= 1, "--explore", f"must be within 0..1, got {self.explore}")
        need(self.warmup_messages >= 0, "--warmup-messages", f"must be >= 0, got {self.warmup_messages}")
        need(self.min_compression_size >= 0, "--min-compression-size", f"must be >= 0, got {self.min_compression_size}")
        need(self.timeout > 0, "--timeout", f"must be > 0 seconds, got {self.timeout}")
        need(self.workers >= 1, "--workers", f"must be >= 1, got {self.workers}")
        need(self.selection in ("uniform", "epsilon-greedy"), "--selection",
             f"must be uniform or epsilon-greedy, got {self.selection!r}")
        try:
            ThinkTime.parse(self.think_time)
        except ValueError as exc:
            raise InputError(str(exc), where="--think-time") from None
        # written after the run: a bad path must fail now, not after an hour of traffic
        if self.export:
            need(Path(self.export).parent.is_dir(), "--export", f"folder {Path(self.export).parent} does not exist")
            need(not Path(self.export).is_dir(), "--export", f"{self.export} is a folder; give a file name")
        if self.peer_traces:
            need(not Path(self.peer_traces).is_file(), "--peer-traces", f"{self.peer_traces} is a file; give a folder")
        if self.urls:
            for url in self.urls:
                check_url(url)
        else:
            need(bool(self.codecs), "--codec", "give at least one codec")
            from .codecs import codec_names

            for codec in self.codecs:
                need(codec in codec_names(), "--codec",
                     f"unknown codec {codec!r}; choose from {', '.join(codec_names())}")
        return self


def parse_turns(text: str) -> tuple[int, int]:
    try:
        low, _, high = str(text).partition("-")
        return int(low), int(high or low)
    except ValueError:
        raise InputError(f"expected MIN-MAX such as 5-50, got {text!r}", where="--turns") from None


def check_url(url: str) -> None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"bad URL {url!r}: {exc}", where="--url") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise InputError(f"bad URL {url!r}", where="--url", fix="use ws://HOST:PORT, e.g. ws://127.0.0.1:8765")
    del port
