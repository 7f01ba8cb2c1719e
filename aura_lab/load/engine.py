"""The load loop: simulated users sending generated messages to server groups.

Every load loop here is bounded: by the users' conversation lengths (messages), by the
run's duration and by a hard ceiling in seconds, and it stops by itself. Each message
sent to each group gets exactly one trace record, whatever happened to it.

The engine talks to servers through links (``aura_lab.load.links``) and tells what
happened through one event per message (``Exchanged``); the trace writer, the tally,
the template selector, the debug printer and the progress bar are listeners.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import REPLY_TIMEOUT_S, RunConfig
from ..timing import ThinkTime
from ..traces.writer import TraceWriter
from ..traffic.generator import GeneratedMessage, GeneratorConfig, TemplatePools, user_messages
from ..traffic.selection import Selector
from ..wire.judge import Exchange
from .links import Group, Link
from .records import Clock, build_record
from .verify import Verifier


@dataclass(frozen=True)
class Exchanged:
    """One message sent to every group and what came back: one trace record per group,
    the primary group's first."""

    message: GeneratedMessage
    phase: str
    records: list[dict]

    @property
    def primary(self) -> dict:
        return self.records[0]


Listener = Callable[[Exchanged], None]


@dataclass
class Tally:
    """Running figures of the primary group (the progress bar's)."""

    messages: int = 0
    errors: int = 0
    original: int = 0
    compressed: int = 0

    def ratio(self) -> float | None:
        return self.original / self.compressed if self.compressed else None

    def __call__(self, event: Exchanged) -> None:
        record = event.primary
        self.messages += 1
        if record["status"] != "ok":
            self.errors += 1
        elif record["original_size"] is not None and record["compressed_size"] is not None:
            self.original += record["original_size"]
            self.compressed += record["compressed_size"]


def writer_listener(writer: TraceWriter) -> Listener:
    """Writes every record of each exchange to the trace writer."""

    def write(event: Exchanged) -> None:
        writer.write_many(event.records)

    return write


def selector_feed(selector: Selector) -> Listener:
    """Feeds a learning selector the primary codec's ratio for each message generated
    from a template, in the warmup too (the warmup is where it learns first)."""

    def feed(event: Exchanged) -> None:
        record = event.primary
        if record["status"] == "ok" and record["ratio"] is not None and event.message.template_id is not None:
            selector.update(event.message.template_id, record["ratio"])

    return feed


@dataclass
class EngineSettings:
    """How users behave in time. Seconds throughout."""

    run_id: str
    think_time: ThinkTime
    arrival_rate: float | None = None  # messages per second per user: an open loop
    ramp_up: float = 0.0
    timeout: float = REPLY_TIMEOUT_S
    grace: float = 2.0  # seconds replies in flight may take after a stop

    @classmethod
    def of(cls, config: RunConfig, run_id: str) -> EngineSettings:
        """The settings a run's options give."""
        return cls(
            run_id=run_id,
            think_time=config.think(),
            arrival_rate=config.arrival_rate,
            ramp_up=config.ramp_up,
            timeout=config.timeout,
        )


class Engine:
    """Runs users against groups; every exchange is announced to ``listeners``."""

    def __init__(
        self,
        settings: EngineSettings,
        gen_config: GeneratorConfig,
        groups: list[Group],
        selector: Selector,
        n_users: int,
        listeners: Iterable[Listener] = (),
        verifier: Verifier | None = None,
    ):
        self.settings = settings
        self.gen_config = gen_config
        self.groups = groups
        self.selector = selector
        self.n_users = n_users
        self.pools = TemplatePools(gen_config.library)
        self.clock = Clock()
        self.tally = Tally()
        self.listeners: list[Listener] = [self.tally, selector_feed(selector), *listeners]
        self.stop_sending = asyncio.Event()
        self.stop_reason: str | None = None
        self.verifier = verifier
        self._links: list[Link] = []
        self._checking: set[asyncio.Task] = set()  # messages waiting for the client's check

    def listen(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stop_sending.set()

    async def _pause(self, seconds: float) -> bool:
        """Sleep, waking early on a stop. True when the run should stop sending."""
        if seconds > 0 and not self.stop_sending.is_set():
            try:
                await asyncio.wait_for(self.stop_sending.wait(), seconds)
            except TimeoutError:
                pass
        return self.stop_sending.is_set()

    async def run_users(
        self,
        user_ids: list[int],
        deadline_s: float | None = None,
        conversations: Mapping[int, Sequence[GeneratedMessage]] | None = None,
    ) -> None:
        """Play every user (concurrently) until all are done, a stop, or ``deadline_s``.
        ``conversations`` gives users their messages (a replay); else they are generated."""
        given = conversations or {}
        tasks = [asyncio.create_task(self.run_user(u, messages=given.get(u))) for u in user_ids]
        timer = None
        if deadline_s is not None:
            timer = asyncio.get_running_loop().call_later(deadline_s, self.stop, "duration")
        all_done: asyncio.Future[list] = asyncio.gather(*tasks, return_exceptions=True)
        stop_wait: asyncio.Future[Any] = asyncio.ensure_future(self.stop_sending.wait())
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
        """Wait for the client's pending checks (briefly, after a stop: the rest are
        recorded unchecked), then close every connection the users opened (a server's
        stop waits for them)."""
        if self._checking:
            await asyncio.wait(set(self._checking), timeout=self.settings.grace if self.stop_reason else None)
            for task in list(self._checking):
                task.cancel()
            await asyncio.gather(*self._checking, return_exceptions=True)
        links, self._links = self._links, []
        await asyncio.gather(*(link.close() for link in links), return_exceptions=True)

    async def run_user(self, user_id: int, phase: str = "main", messages=None, think: bool = True) -> None:
        settings = self.settings
        rng = random.Random(f"aura-lab:{self.gen_config.seed}:{user_id}:timing")
        links = [g.new_link(user_id, settings.timeout) for g in self.groups]
        self._links.extend(links)
        if messages is None:
            messages = user_messages(self.gen_config, user_id, self.selector, self.pools)
        start = time.perf_counter_ns()
        if phase == "main" and settings.ramp_up > 0 and self.n_users > 1:
            if await self._pause(settings.ramp_up * user_id / self.n_users):
                return
            start = time.perf_counter_ns()
        scheduled = start
        open_loop = bool(settings.arrival_rate) and phase == "main"
        for message in messages:
            if self.stop_sending.is_set():
                break
            if open_loop:
                # the schedule does not wait for the server: latency counts from here
                scheduled += int(rng.expovariate(settings.arrival_rate) * 1e9)  # type: ignore[arg-type]
                if await self._pause((scheduled - time.perf_counter_ns()) / 1e9):
                    break
            else:
                scheduled = time.perf_counter_ns()
            await self._send(message, links, phase, scheduled, open_loop)
            if think and not open_loop and await self._pause(settings.think_time.sample(rng)):
                break
        if self.verifier is not None:
            self.verifier.forget(user_id)

    async def _send(
        self, message: GeneratedMessage, links: list[Link], phase: str, scheduled: int, open_loop: bool
    ) -> None:
        if len(links) == 1:  # the common case, without the cost of a task per message
            link = links[0]
            try:
                result = await link.exchange(message.text)
            except asyncio.CancelledError:
                self._announce(message, links, phase, scheduled, open_loop, [_interrupted(link)])
                raise
            self._deliver(message, links, phase, scheduled, open_loop, [result])
            return
        tasks = [asyncio.ensure_future(link.exchange(message.text)) for link in links]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            # stopped with replies in flight: the messages were sent, so they are recorded
            for task in tasks:
                if not task.done():
                    task.cancel()
            self._announce(
                message,
                links,
                phase,
                scheduled,
                open_loop,
                [
                    t.result() if t.done() and not t.cancelled() and t.exception() is None else _interrupted(link)
                    for t, link in zip(tasks, links)
                ],
            )
            raise
        self._deliver(message, links, phase, scheduled, open_loop, [t.result() for t in tasks])

    def _deliver(
        self,
        message: GeneratedMessage,
        links: list[Link],
        phase: str,
        scheduled: int,
        open_loop: bool,
        results: list[Exchange],
    ) -> None:
        """Announce an exchange; first, when the primary server did not say whether the
        message survived its round trip and a verifier is set, have the client check it
        (off the user's path: the next message does not wait for the check)."""
        primary = results[0]
        if self.verifier is None or primary.status != "ok" or isinstance(primary.reply.get("roundtrip_ok"), bool):
            self._announce(message, links, phase, scheduled, open_loop, results)
            return
        task = asyncio.ensure_future(self._check_then_announce(message, links, phase, scheduled, open_loop, results))
        self._checking.add(task)
        task.add_done_callback(self._checking.discard)

    async def _check_then_announce(
        self,
        message: GeneratedMessage,
        links: list[Link],
        phase: str,
        scheduled: int,
        open_loop: bool,
        results: list[Exchange],
    ) -> None:
        assert self.verifier is not None
        try:
            results[0].verified = await self.verifier.check(message.user_id, message.text)
        finally:  # also when cancelled: the record is kept, unchecked
            self._announce(message, links, phase, scheduled, open_loop, results)

    def _announce(
        self,
        message: GeneratedMessage,
        links: list[Link],
        phase: str,
        scheduled: int,
        open_loop: bool,
        results: list[Exchange],
    ) -> None:
        records = [
            build_record(
                self.settings.run_id,
                phase,
                group.label,
                message,
                result,
                scheduled,
                open_loop,
                self.clock,
                link.stats.reconnects,
                link.stats.failovers,
            )
            for group, link, result in zip(self.groups, links, results)
        ]
        for group, result in zip(self.groups, results):
            group.learn(result.reply)
        event = Exchanged(message, phase, records)
        for listener in self.listeners:
            listener(event)


def _interrupted(link: Link) -> Exchange:
    return Exchange(link.url, link.sent_ns, None, "error", "interrupted", "run stopped before the reply")
