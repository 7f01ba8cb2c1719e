"""What a run shows while it goes: printed lines, the progress bar, debug samples.
The bar and the debug printer are engine listeners."""

from __future__ import annotations

import json
import random
import sys
import time
from typing import Any

from ..config import RunConfig
from .engine import Exchanged, Tally


class Printer:
    """Prints through tqdm so lines do not tear the progress bar; silent when quiet.
    ``warn`` prints to stderr even when quiet and keeps the warning (``warnings``: the
    manifest holds the same list)."""

    def __init__(self, quiet: bool, warnings: list[str] | None = None):
        self.quiet = quiet
        self.warnings: list[str] = [] if warnings is None else warnings

    def __call__(self, text: str = "") -> None:
        if not self.quiet:
            from tqdm.auto import tqdm

            tqdm.write(text)

    def warn(self, text: str) -> None:
        from tqdm.auto import tqdm

        if text not in self.warnings:
            self.warnings.append(text)
        tqdm.write(f"warning: {text}", file=sys.stderr)


class ProgressBar:
    """A tqdm bar over the planned messages: the primary codec's running ratio and errors."""

    def __init__(self, planned: int, label: str, tally: Tally):
        from tqdm.auto import tqdm

        self.tally = tally
        self.bar: Any = tqdm(
            total=planned, unit="msg", desc=label, dynamic_ncols=True, file=sys.stderr, mininterval=0.5
        )
        self._last = 0.0
        self._shown = 0  # messages the bar shows: it moves twice a second, not per message

    def __call__(self, event: Exchanged) -> None:
        if not event.last:
            return  # a streamed reply advances the bar once
        now = time.monotonic()
        if now - self._last >= 0.5:
            self._last = now
            self._catch_up()

    def _catch_up(self) -> None:
        self.bar.update(self.tally.messages - self._shown)
        self._shown = self.tally.messages
        self._postfix()

    def _postfix(self) -> None:
        ratio = self.tally.ratio()
        self.bar.set_postfix(ratio=f"{ratio:.3f}" if ratio else "-", errors=self.tally.errors, refresh=False)

    def close(self) -> None:
        self._catch_up()  # the final figures, not those of up to half a second ago
        self.bar.close()


def debug_printer(config: RunConfig, say):
    """The peer's debug sample lines: tagged messages plus 5% at random (seeded)."""
    rng = random.Random(f"aura-lab:{config.seed}:debug")

    def show(event: Exchanged) -> None:
        message, record = event.message, event.primary
        tags = []
        ratio, latency = record["ratio"], record["latency_ms"]
        if ratio is not None and ratio > 5:
            tags.append("EXCELLENT")
        if ratio is not None and ratio < 0.98:
            tags.append("EXPANSION")
        if latency is not None and latency > 10:
            tags.append("HIGH_LAT")
        if record["roundtrip_ok"] is False:
            tags.append("LOSSY")
        if record["status"] != "ok":
            tags.append("ERROR")
        if not tags and rng.random() >= 0.05:
            return
        text = message.text if len(message.text) <= 60 else message.text[:57] + "..."
        ratio_text = f"{ratio:.2f}:1" if ratio is not None else "-"
        latency_text = f"{latency:.2f}ms" if latency is not None else "-"
        tag_text = f" [{', '.join(tags)}]" if tags else ""
        say(
            f"[DEBUG User {message.user_id} Turn {message.turn}] {record['method'] or record['error_kind']} "
            f"{ratio_text} {latency_text}{tag_text} | {json.dumps(text, ensure_ascii=False)}"
        )

    return show
