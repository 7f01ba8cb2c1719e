"""What a run shows while it goes: the progress bar, printed lines, debug samples."""
from __future__ import annotations

import json
import random
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .engine import Engine
    from .run_config import RunConfig

class Printer:
    """Prints through tqdm so lines do not tear the progress bar; silent when quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet

    def __call__(self, text: str = "") -> None:
        if not self.quiet:
            from tqdm.auto import tqdm

            tqdm.write(text)


def progress_bar(config: RunConfig, planned: int, engine: Engine):
    if config.quiet or not config.progress:
        return None
    from tqdm.auto import tqdm

    bar = tqdm(total=planned, unit="msg", desc=f"{engine.groups[0].label}", dynamic_ncols=True,
               file=sys.stderr, mininterval=0.5)
    last = [0.0]

    def tick():
        bar.update(1)
        now = time.monotonic()
        if now - last[0] >= 0.5:
            last[0] = now
            ratio = engine.tally.ratio()
            bar.set_postfix(ratio=f"{ratio:.3f}" if ratio else "-", errors=engine.tally.errors, refresh=False)

    engine.on_message = tick
    return bar


def debug_printer(config: RunConfig, say):
    """The peer's debug sample lines: tagged messages plus 5% at random (seeded)."""
    rng = random.Random(f"aura-lab:{config.seed}:debug")

    def show(message, record):
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
        say(f"[DEBUG User {message.user_id} Turn {message.turn}] {record['method'] or record['error_kind']} "
            f"{ratio_text} {latency_text}{tag_text} | {json.dumps(text, ensure_ascii=False)}")

    return show
