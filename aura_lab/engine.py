"""The load loop: simulated users sending generated messages to server groups.

Every load loop here is bounded: by the users' conversation lengths (messages), by the
run's duration and by a hard ceiling in seconds, and it stops by itself. Each message
sent to each group gets exactly one trace record, whatever happened to it.
"""
from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import dataclass

from .client import Exchange, ServerLink
from .generators import GeneratedMessage, GeneratorConfig, TemplatePools, user_messages
from .selection import Selector
from .traces import TraceWriter


@dataclass(frozen=True)
class ThinkTime:
    """Pause after each reply, in seconds: ``0``, ``uniform:A,B`` or ``lognormal:MU,SIGMA``."""

    kind: str = "uniform"
    a: float = 0.1
    b: float = 2.0

    @classmethod
    def parse(cls, spec: str | float | int) -> "ThinkTime":
        text = str(spec).strip().lower()
        try:
            if text in ("0", "0.0", "none"):
                return cls("none", 0.0, 0.0)
            kind, _, args = text.partition(":")
            a, b = (float(x) for x in args.split(","))
        except ValueError:
            raise ValueError(f"expected 0, uniform:A,B or lognormal:MU,SIGMA, got {spec!r}") from None
        if kind == "uniform" and 0 <= a <= b and math.isfinite(b):
            return cls("uniform", a, b)
        if kind == "lognormal" and math.isfinite(a) and 0 < b < 10:
            return cls("lognormal", a, b)
        raise ValueError(f"expected 0, uniform:A,B (0 <= A <= B) or lognormal:MU,SIGMA (SIGMA > 0), got {spec!r}")

    def sample(self, rng: random.Random) -> float:
        if self.kind == "none":
            return 0.0
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        try:
            return min(rng.lognormvariate(self.a, self.b), 60.0)  # a lognormal tail is cut at 60 s
        except OverflowError:  # exp() of a huge draw (MU of 1000, say): beyond the cut too
            return 60.0

    def __str__(self) -> str:
        return "0" if self.kind == "none" else f"{self.kind}:{self.a:g},{self.b:g}"


@dataclass
class Group:
    """Servers that receive the same traffic: one codec's server, or external replicas."""

    label: str
    urls: list[str]


class Clock:
    """perf_counter_ns for intervals, anchored once to the wall clock for timestamps."""

    def __init__(self):
        self.wall0 = time.time_ns()
        self.mono0 = time.perf_counter_ns()

    def wall(self, mono_ns: int | None) -> int | None:
        return None if mono_ns is None else self.wall0 + (mono_ns - self.mono0)


@dataclass
class Tally:
    """Running figures for the progress bar (primary group only)."""

    messages: int = 0
    errors: int = 0
    original: int = 0
    compressed: int = 0

    def ratio(self) -> float | None:
        return self.original / self.compressed if self.compressed else None


@dataclass
class EngineSettings:
    run_id: str
    think_time: ThinkTime
    arrival_rate: float | None = None
    ramp_up: float = 0.0
    timeout: float = 10.0
    grace: float = 2.0  # seconds replies in flight may take after a stop


class Engine:
    def __init__(self, settings: EngineSettings, gen_config: GeneratorConfig, groups: list[Group],
                 writer: TraceWriter, selector: Selector, n_users: int, on_message=None, debug=None):
        self.settings = settings
        self.gen_config = gen_config
        self.groups = groups
        self.writer = writer
        self.selector = selector
        self.n_users = n_users
        self.pools = TemplatePools(gen_config.library)
        self.clock = Clock()
        self.tally = Tally()
        self.on_message = on_message  # called after each message (progress bar)
        self.debug = debug  # called with (message, primary record)
        self.stop_sending = asyncio.Event()
        self.stop_reason: str | None = None
        self._links: list[ServerLink] = []

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stop_sending.set()

    async def _pause(self, seconds: float) -> bool:
        """Sleep, waking early on a stop. True when the run should stop sending."""
        if seconds > 0 and not self.stop_sending.is_set():
            try:
                await asyncio.wait_for(self.stop_sending.wait(), seconds)
            except (TimeoutError, asyncio.TimeoutError):
                pass
        return self.stop_sending.is_set()

    async def run_users(self, user_ids: list[int], deadline_s: float | None = None) -> None:
        tasks = [asyncio.create_task(self.run_user(u)) for u in user_ids]
        timer = None
        if deadline_s is not None:
            timer = asyncio.get_running_loop().call_later(deadline_s, self.stop, "duration")
        all_done = asyncio.gather(*tasks, return_exceptions=True)
        stop_wait = asyncio.ensure_future(self.stop_sending.wait())
        try:
            await asyncio.wait({all_done, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if not all_done.done():
                # stopping: replies in flight get a short grace, then their records say so
                await asyncio.wait({all_done}, timeout=self.settings.grace)
                for task in tasks:
                    task.cancel()
            for result in await all_done:
                if isinstance(result, Exception):
                    raise result
        finally:
            stop_wait.cancel()
            if timer is not None:
                timer.cancel()
            await self.close_links()

    async def close_links(self) -> None:
        """Close every connection the users opened (a server's stop waits for them)."""
        links, self._links = self._links, []
        await asyncio.gather(*(link.close() for link in links), return_exceptions=True)

    async def run_user(self, user_id: int, phase: str = "main", messages=None, think: bool = True) -> None:
        settings = self.settings
        rng = random.Random(f"aura-lab:{self.gen_config.seed}:{user_id}:timing")
        links = [ServerLink(g.urls, start=user_id, timeout=settings.timeout) for g in self.groups]
        self._links.extend(links)
        if messages is None:
            messages = user_messages(self.gen_config, user_id, self.selector, self.pools)
        start = time.perf_counter_ns()
        if phase == "main" and settings.ramp_up > 0 and self.n_users > 1:
            if await self._pause(settings.ramp_up * user_id / self.n_users):
                return
            start = time.perf_counter_ns()
        scheduled = start
        for message in messages:
            if self.stop_sending.is_set():
                break
            open_loop = bool(settings.arrival_rate) and phase == "main"
            if open_loop:
                # the schedule does not wait for the server: latency counts from here
                scheduled += int(rng.expovariate(settings.arrival_rate) * 1e9)
                if await self._pause((scheduled - time.perf_counter_ns()) / 1e9):
                    break
            else:
                scheduled = time.perf_counter_ns()
            await self._send(message, links, phase, scheduled, open_loop)
            if self.on_message:
                self.on_message()
            if think and not open_loop and await self._pause(settings.think_time.sample(rng)):
                break

    async def _send(self, message: GeneratedMessage, links: list[ServerLink], phase: str,
                    scheduled: int, open_loop: bool) -> None:
        if len(links) == 1:  # the common case, without the cost of a task per message
            link = links[0]
            try:
                result = await link.exchange(message.text)
            except asyncio.CancelledError:
                self._record_all(message, links, phase, scheduled, open_loop, [
                    Exchange(link.url, link.sent_ns, None, "error", "interrupted", "run stopped before the reply")])
                raise
            self._record_all(message, links, phase, scheduled, open_loop, [result])
            return
        tasks = [asyncio.ensure_future(link.exchange(message.text)) for link in links]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            # stopped with replies in flight: the messages were sent, so they are recorded
            for task, link in zip(tasks, links):
                if not task.done() or task.cancelled():
                    task.cancel()
            self._record_all(message, links, phase, scheduled, open_loop, [
                t.result() if t.done() and not t.cancelled() and t.exception() is None
                else Exchange(link.url, link.sent_ns, None, "error", "interrupted", "run stopped before the reply")
                for t, link in zip(tasks, links)])
            raise
        self._record_all(message, links, phase, scheduled, open_loop, [t.result() for t in tasks])

    def _record_all(self, message, links, phase, scheduled, open_loop, results) -> None:
        for i, (group, link, result) in enumerate(zip(self.groups, links, results)):
            record = self.record(message, group, link, result, phase, scheduled, open_loop)
            self.writer.write(record)
            if i == 0:
                self._primary(message, record)

    def _primary(self, message: GeneratedMessage, record: dict) -> None:
        tally = self.tally
        tally.messages += 1
        if record["status"] != "ok":
            tally.errors += 1
        elif record["original_size"] is not None and record["compressed_size"] is not None:
            tally.original += record["original_size"]
            tally.compressed += record["compressed_size"]
            if message.template_id is not None and record["ratio"] is not None and record["phase"] == "main":
                self.selector.update(message.template_id, record["ratio"])
        if self.debug:
            self.debug(message, record)

    def record(self, message: GeneratedMessage, group: Group, link: ServerLink, result: Exchange,
               phase: str, scheduled: int, open_loop: bool) -> dict:
        reply = result.reply
        latency = None
        if result.received_ns is not None:
            latency = (result.received_ns - (scheduled if open_loop else result.sent_ns)) / 1e6
        template_id = reply.get("template_id")
        return {
            "run_id": self.settings.run_id,
            "phase": phase,
            "codec": group.label,
            "server_url": result.url,
            "user_id": message.user_id,
            "role": message.role,
            "turn": message.turn,
            "source": message.source,
            "template_id": message.template_id,
            "template_ids": list(message.template_ids),
            "slot_values": [list(v) for v in message.slot_values],
            "target_min": message.target_min,
            "target_max": message.target_max,
            "text": message.text,
            "length_chars": len(message.text),
            "length_bytes": len(message.text.encode("utf-8")),
            "scheduled_at": self.clock.wall(scheduled),
            "sent_at": self.clock.wall(result.sent_ns),
            "received_at": self.clock.wall(result.received_ns),
            "latency_ms": latency,
            "status": result.status,
            "error_kind": result.error_kind,
            "error": _writable(result.error if result.error is not None else _reply_error(reply)),
            "method": _writable(str(reply["method"]).upper()) if reply.get("method") is not None else None,
            "server_template_id": _int_or_none(template_id),
            "original_size": _int_or_none(reply.get("original_size")),
            "compressed_size": _int_or_none(reply.get("compressed_size")),
            "ratio": _float_or_none(reply.get("compression_ratio")),
            "roundtrip_ok": reply.get("roundtrip_ok") if isinstance(reply.get("roundtrip_ok"), bool) else None,
            "compress_us": _float_or_none(reply.get("compress_us")),
            "decompress_us": _float_or_none(reply.get("decompress_us")),
            "reconnects": link.stats.reconnects,
            "failovers": link.stats.failovers,
        }


def _reply_error(reply: dict) -> str | None:
    error = reply.get("error")
    return str(error) if error else None


def _writable(text: str | None) -> str | None:
    """Text from a reply as the trace file can hold it: JSON's ``\\ud800`` escapes give
    lone surrogates, which UTF-8 (and so Parquet) refuses; they are kept as escapes."""
    if text is None:
        return None
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _int_or_none(value) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -(2**31) <= number < 2**31 else None


def _float_or_none(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float's range
        return None
