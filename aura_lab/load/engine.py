"""The load loop: simulated users sending generated (or replayed) messages to server groups.

Every load loop here is bounded: by the users' conversation lengths (messages), by the
run's duration and by a hard ceiling in seconds, and it stops by itself. Each message
(each frame of a streamed reply) sent to each group gets exactly one trace record,
whatever happened to it. A streamed reply's frames go one after the other, each
waiting for its reply, without a pause; the think time comes before the next message.

The engine talks to servers through links (``aura_lab.load.links``) and tells what
happened through one event per message (``Exchanged``); the trace writer, the tally,
the template selector, the debug printer and the progress bar are listeners.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..config import LOGGED_GAP_CAP_S, MAX_REPLY_SIZE, REPLY_TIMEOUT_S, RunConfig
from ..timing import ThinkTime
from ..traffic.framing import Framing
from ..traffic.generator import GeneratedMessage, GeneratorConfig, TemplatePools, user_messages
from ..traffic.selection import Selector, UniformSelector
from ..wire.frames import direction_of
from ..wire.judge import Exchange
from .ahead import AHEAD_MESSAGES, Ahead
from .events import Exchanged, Listener, Tally, selector_feed, writer_listener
from .links import Group, Link
from .records import Clock, build_record
from .verify import Verifier
from .watchdog import Watchdog

__all__ = ["Engine", "EngineSettings", "Exchanged", "Listener", "Tally", "selector_feed", "writer_listener"]


@dataclass
class EngineSettings:
    """How users behave in time. Seconds throughout."""

    run_id: str
    think_time: ThinkTime
    arrival_rate: float | None = None  # messages per second per user: an open loop
    ramp_up: float = 0.0
    timeout: float = REPLY_TIMEOUT_S
    grace: float = 2.0  # seconds replies in flight may take after a stop
    max_reply_size: int = MAX_REPLY_SIZE  # bytes
    framing: Framing = field(default_factory=Framing)
    logged_timing: bool = False  # pauses from the messages' logged times (a replay)

    @classmethod
    def of(cls, config: RunConfig, run_id: str) -> EngineSettings:
        """The settings a run's options give."""
        return cls(
            run_id=run_id,
            think_time=config.think(),
            arrival_rate=config.arrival_rate,
            ramp_up=config.ramp_up,
            timeout=config.timeout,
            max_reply_size=config.max_reply_size,
            framing=Framing(config.framing == "stream", config.chunk_tokens, config.envelope, config.resend_whole),
            logged_timing=config.replay_timing == "logged",
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
        traffic: Callable[[int], Iterable[GeneratedMessage]] | None = None,
        verifier: Verifier | None = None,
    ):
        """``traffic(user_id)`` gives a user's messages (a replay); by default they are
        generated from ``gen_config``."""
        self.settings = settings
        self.traffic = traffic
        self.logged_gaps = {"used": 0, "cut": 0, "missing": 0}  # logged pauses, for the manifest
        self.gen_config = gen_config
        self.groups = groups
        self.selector = selector
        self.n_users = n_users
        self.pools = TemplatePools(gen_config.library)
        self.clock = Clock()
        self.tally = Tally()
        learns = not isinstance(selector, UniformSelector)  # a uniform draw learns nothing: no feed
        self.listeners: list[Listener] = [self.tally, *([selector_feed(selector)] if learns else []), *listeners]
        self.stop_sending = asyncio.Event()
        self.stop_reason: str | None = None
        self.verifier = verifier
        # a reply's records and listeners run once the user's next message is sent, while
        # the server works on it (1 user: 0.68 -> 0.86 of a bare client's rate); not when
        # the next message depends on them (a learning selector) or a check must come first
        self._defer = not learns and verifier is None
        self._deferred_error: BaseException | None = None
        self._links: list[Link] = []
        self._checking: set[asyncio.Task] = set()  # messages waiting for the client's check
        self.watchdog = Watchdog(settings.timeout)  # every link's reply timeouts
        self._sleepers: set[asyncio.Future] = set()  # users pausing (think time, an open loop's schedule)
        self._prepared: dict[int, Iterable[GeneratedMessage]] = {}  # users' messages made ahead

    def listen(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stop_sending.set()
        for waker in self._sleepers:
            _wake(waker)

    async def _pause(self, seconds: float) -> bool:
        """Sleep, waking early on a stop. True when the run should stop sending. A
        future and a timer, as ``asyncio.sleep`` costs (no task, no Event per pause:
        an open loop pauses before every message); ``stop`` wakes every sleeper."""
        if seconds > 0 and not self.stop_sending.is_set():
            loop = asyncio.get_running_loop()
            waker = loop.create_future()
            timer = loop.call_later(seconds, _wake, waker)
            self._sleepers.add(waker)
            try:
                await waker
            finally:
                timer.cancel()
                self._sleepers.discard(waker)
        return self.stop_sending.is_set()

    async def run_users(self, user_ids: list[int], deadline_s: float | None = None) -> None:
        """Play every user (concurrently) until all are done, a stop, or ``deadline_s``."""
        self.prepare(user_ids)
        tasks = [asyncio.create_task(self.run_user(u)) for u in user_ids]
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
            await asyncio.sleep(0)  # the last replies' deferred announcements
            if self._deferred_error is not None:
                raise self._deferred_error
        finally:
            stop_wait.cancel()
            if timer is not None:
                timer.cancel()
            await self.close_links()

    async def close_links(self) -> None:
        """Wait for the client's pending checks (briefly, after a stop: the rest are
        recorded unchecked), then close every connection the users opened (a server's
        stop waits for them). Deferred announcements run first."""
        await asyncio.sleep(0)
        if self._checking:
            await asyncio.wait(set(self._checking), timeout=self.settings.grace if self.stop_reason else None)
            for task in list(self._checking):
                task.cancel()
            await asyncio.gather(*self._checking, return_exceptions=True)
        links, self._links = self._links, []
        await asyncio.gather(*(link.close() for link in links), return_exceptions=True)
        self.watchdog.close()

    def prepare(self, user_ids: list[int]) -> None:
        """Make the users' first messages now, before any is sent (``run_users`` does it
        for those not prepared): traffic that does not depend on replies is made in
        bulk, ``AHEAD_MESSAGES`` for all users together (16 a user at least), then
        ``AHEAD_REFILL`` at a time; interleaved with I/O, generation costs twice as much."""
        for user_id in user_ids:
            if user_id not in self._prepared:
                self._prepared[user_id] = self._messages(user_id)

    def _messages(self, user_id: int) -> Iterable[GeneratedMessage]:
        if self.traffic is not None:
            return self.traffic(user_id)
        messages = user_messages(self.gen_config, user_id, self.selector, self.pools)
        if self.gen_config.profile.two_sided or isinstance(self.selector, UniformSelector):
            return Ahead(messages, max(16, AHEAD_MESSAGES // max(1, self.n_users)))
        return messages  # a learning selector's choices depend on the replies before them

    async def run_user(self, user_id: int, phase: str = "main", messages=None, think: bool = True) -> None:
        settings = self.settings
        rng = random.Random(f"aura-lab:{self.gen_config.seed}:{user_id}:timing")
        links = [g.new_link(user_id, settings.timeout, settings.max_reply_size, self.watchdog) for g in self.groups]
        self._links.extend(links)
        if messages is None:
            messages = self._prepared.pop(user_id, None) or self._messages(user_id)
        ramp = settings.ramp_up * user_id / self.n_users if phase == "main" and self.n_users > 1 else 0.0
        if await self._pause(ramp):
            return
        open_loop = bool(settings.arrival_rate) and phase == "main"
        if open_loop:
            # the schedule starts once the user is connected: a connection that takes a
            # while to open does not make the first sends late (a failure is the first
            # exchange's to record)
            for link in links:
                await link.open()
        scheduled = time.perf_counter_ns()
        previous: GeneratedMessage | None = None
        for message in messages:
            if self.stop_sending.is_set():
                break
            if open_loop:
                # the schedule does not wait for the server: latency counts from here
                scheduled += int(rng.expovariate(settings.arrival_rate) * 1e9)  # type: ignore[arg-type]
                if await self._pause((scheduled - time.perf_counter_ns()) / 1e9):
                    break
            else:
                if previous is not None and think and await self._pause(self._gap(previous, message, scheduled, rng)):
                    break
                scheduled = time.perf_counter_ns()
            frames = settings.framing.frames(message.text, message.role)
            reply_id = f"{message.user_id}:{message.turn}" if settings.framing.stream and message.role == "ai" else None
            for index, frame in enumerate(frames):
                if index and self.stop_sending.is_set():
                    break  # frames not sent are not recorded
                await self._send(
                    message,
                    links,
                    phase,
                    scheduled if index == 0 else time.perf_counter_ns(),
                    open_loop and index == 0,
                    (frame, index, reply_id, index == len(frames) - 1) if reply_id else None,
                )
            previous = message
        if self.verifier is not None:
            self.verifier.forget(user_id)

    def _gap(self, previous: GeneratedMessage, message: GeneratedMessage, sent: int, rng: random.Random) -> float:
        """Seconds to wait before ``message``: the think time, or (logged timing) what
        is left of the logged gap since ``previous`` was sent, a long gap cut short."""
        if not self.settings.logged_timing:
            return self.settings.think_time.sample(rng)
        if previous.logged_at is None or message.logged_at is None:
            self.logged_gaps["missing"] += 1
            return self.settings.think_time.sample(rng)
        gap = message.logged_at - previous.logged_at
        self.logged_gaps["used"] += 1
        if gap > LOGGED_GAP_CAP_S:
            self.logged_gaps["cut"] += 1
            gap = LOGGED_GAP_CAP_S
        return gap - (time.perf_counter_ns() - sent) / 1e9

    async def _send(
        self,
        message: GeneratedMessage,
        links: list[Link],
        phase: str,
        scheduled: int,
        open_loop: bool,
        frame: tuple[str, int, str, bool] | None = None,
    ) -> None:
        """Send the message, or ``frame`` (text, index, reply id, last) of it, to every group."""
        text = message.text if frame is None else frame[0]
        direction = direction_of(message.role)
        if len(links) == 1:  # the common case, without the cost of a task per message
            link = links[0]
            try:
                result = await link.exchange(text, direction)
            except asyncio.CancelledError:
                self._announce(message, links, phase, scheduled, open_loop, [_interrupted(link)], frame)
                raise
            if self._defer:
                asyncio.get_running_loop().call_soon(
                    self._deferred, message, links, phase, scheduled, open_loop, [result], frame
                )
            else:
                self._deliver(message, links, phase, scheduled, open_loop, [result], frame)
            return
        tasks = [asyncio.ensure_future(link.exchange(text, direction)) for link in links]
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
                frame,
            )
            raise
        self._deliver(message, links, phase, scheduled, open_loop, [t.result() for t in tasks], frame)

    def _deferred(self, *exchange) -> None:
        """``_deliver`` as a loop callback: an error stops the run and is raised by
        ``run_users`` (a callback's error would otherwise only be logged)."""
        try:
            self._deliver(*exchange)
        except Exception as exc:
            if self._deferred_error is None:
                self._deferred_error = exc
            self.stop("failed")

    def _deliver(
        self,
        message: GeneratedMessage,
        links: list[Link],
        phase: str,
        scheduled: int,
        open_loop: bool,
        results: list[Exchange],
        frame: tuple[str, int, str, bool] | None = None,
    ) -> None:
        """Announce an exchange; first, when the primary server did not say whether the
        message survived its round trip and a verifier is set, have the client check it
        (off the user's path: the next message does not wait for the check)."""
        primary = results[0]
        if self.verifier is None or primary.status != "ok" or isinstance(primary.reply.get("roundtrip_ok"), bool):
            self._announce(message, links, phase, scheduled, open_loop, results, frame)
            return
        task = asyncio.ensure_future(
            self._check_then_announce(message, links, phase, scheduled, open_loop, results, frame)
        )
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
        frame: tuple[str, int, str, bool] | None = None,
    ) -> None:
        assert self.verifier is not None
        try:
            # what went to the server: the frame of a streamed reply, in the user's order
            text = message.text if frame is None else frame[0]
            results[0].verified = await self.verifier.check(message.user_id, text, direction_of(message.role))
        finally:  # also when cancelled: the record is kept, unchecked
            self._announce(message, links, phase, scheduled, open_loop, results, frame)

    def _announce(
        self,
        message: GeneratedMessage,
        links: list[Link],
        phase: str,
        scheduled: int,
        open_loop: bool,
        results: list[Exchange],
        frame: tuple[str, int, str, bool] | None = None,
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
                *(frame[:3] if frame else ()),
            )
            for group, link, result in zip(self.groups, links, results)
        ]
        for group, result in zip(self.groups, results):
            group.learn(result.reply)
        event = Exchanged(message, phase, records, frame[3] if frame else True)
        for listener in self.listeners:
            listener(event)


def _wake(waker: asyncio.Future) -> None:
    if not waker.done():
        waker.set_result(None)


def _interrupted(link: Link) -> Exchange:
    return Exchange(link.url, link.sent_ns, None, "error", "interrupted", "run stopped before the reply")
