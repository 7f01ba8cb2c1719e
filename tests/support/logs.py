"""Conversation logs for the tests, standing in for a team's real chat logs (aura-lab has
none it may ship): seeded, written as ShareGPT (a JSON array) and OpenAI chat JSONL.

Sizes follow the published figures of real assistant chats (docs/traffic.md): messages
per conversation and message size by role and band are drawn from the published
quantiles, interpolated here on their own (log-linear in p, with short tails), not with
aura-lab's models, so a test that fits aura-lab to these logs checks aura-lab against
something it did not make. Texts are cut, to the byte, from the project's corpus: the
answers for the assistant, the human messages for the human. Like real logs they hold
some oddities: conversations that start with the assistant, system prompts, empty
messages, a tool message, content as a list of parts, and timestamps (OpenAI file).
"""

from __future__ import annotations

import bisect
import json
import math
import random
from pathlib import Path

from aura_lab import paths
from aura_lab.traffic.profile import PUBLISHED_MESSAGES, PUBLISHED_PROBABILITIES, PUBLISHED_SIZES

START = 1_700_000_000.0  # epoch seconds of the first logged message


def _sampler(points: list[tuple[float, float]]):
    """Inverse CDF through ``(p, value)`` points, linear in log(value) between them."""
    ps = [p for p, _ in points]
    logs = [math.log(v) for _, v in points]

    def draw(rng: random.Random) -> float:
        u = rng.random()
        i = min(max(bisect.bisect_right(ps, u) - 1, 0), len(ps) - 2)
        t = (u - ps[i]) / (ps[i + 1] - ps[i])
        return math.exp(logs[i] + t * (logs[i + 1] - logs[i]))

    return draw


def _size_samplers():
    out = {}
    for role, bands in PUBLISHED_SIZES.items():
        for band, (quantiles, _) in bands.items():
            tail = 5.0 if role == "human" else 2.0
            points = [(0.0, max(2.0, quantiles[0] / 3)), *zip(PUBLISHED_PROBABILITIES, quantiles)]
            out[(role, band)] = _sampler([*points, (1.0, quantiles[-1] * tail)])
    return out


SIZES = _size_samplers()
MESSAGES = _sampler([(0.0, 1.0), *PUBLISHED_MESSAGES[0], (1.0, 60.0)])


def _stream(path: Path, human: bool) -> bytes:
    texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return ("\n\n".join(texts) if not human else "\n".join(texts)).encode("utf-8")


_ANSWERS = _stream(paths.ANSWERS_CORPUS, human=False)
_HUMAN = _stream(paths.HUMAN_CORPUS, human=True)


def _cut(stream: bytes, size: int, rng: random.Random) -> str:
    """``size`` bytes of corpus text (a few fewer where a character is cut in two)."""
    size = max(1, min(size, len(stream)))
    start = int(rng.random() * (len(stream) - size + 1))
    text = stream[start : start + size].decode("utf-8", "ignore").strip()
    return text or "ok"


def _band(nth: int) -> str:
    return "first" if nth == 1 else "2-3" if nth <= 3 else "later"


def make_conversations(n: int, seed: int = 0) -> list[list[dict]]:
    """``n`` conversations: lists of ``{"role": human|assistant, "text", "at"}``."""
    rng = random.Random(f"test-logs:{seed}")
    out = []
    clock = START
    for _ in range(n):
        length = max(1, round(MESSAGES(rng)))
        role = "assistant" if rng.random() < 0.03 else "human"  # long chats split into chunks
        seen = {"human": 0, "assistant": 0}
        messages = []
        for _ in range(length):
            seen[role] += 1
            size = round(SIZES[(role, _band(seen[role]))](rng))
            clock += rng.uniform(2, 40)
            messages.append(
                {"role": role, "text": _cut(_HUMAN if role == "human" else _ANSWERS, size, rng), "at": clock}
            )
            role = "assistant" if role == "human" else "human"
        out.append(messages)
    return out


def write_sharegpt(path: Path, conversations: list[list[dict]], seed: int = 0, oddities: bool = True) -> Path:
    """A ShareGPT JSON array (pretty-printed, one key a line, as the data sets ship)."""
    rng = random.Random(f"test-logs:sharegpt:{seed}")
    items = []
    for i, conversation in enumerate(conversations):
        turns = [{"from": "human" if m["role"] == "human" else "gpt", "value": m["text"]} for m in conversation]
        if oddities and rng.random() < 0.02:
            turns.insert(0, {"from": "system", "value": "You are ChatGPT, a large language model."})
        if oddities and rng.random() < 0.01:
            turns.append({"from": "gpt", "value": ""})  # ShareGPT holds empty values
        items.append({"id": f"sg-{seed}-{i:06d}", "conversations": turns})
    path.write_text(json.dumps(items, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def write_openai(path: Path, conversations: list[list[dict]], seed: int = 0, oddities: bool = True) -> Path:
    """OpenAI chat JSONL with a system prompt, content sometimes as parts, timestamps."""
    rng = random.Random(f"test-logs:openai:{seed}")
    with path.open("w", encoding="utf-8") as fh:
        for i, conversation in enumerate(conversations):
            messages: list[dict] = [{"role": "system", "content": "You are a helpful assistant."}] if oddities else []
            for m in conversation:
                content: object = m["text"]
                if oddities and rng.random() < 0.05:
                    content = [{"type": "text", "text": m["text"]}]
                role = "user" if m["role"] == "human" else "assistant"
                messages.append({"role": role, "content": content, "created_at": m["at"]})
            if oddities and rng.random() < 0.01:
                messages.append({"role": "tool", "content": '{"temperature": 21}', "tool_call_id": "call_1"})
            fh.write(json.dumps({"id": f"oa-{seed}-{i:06d}", "messages": messages}, ensure_ascii=False) + "\n")
    return path


def write_logs(folder: Path, n: int, seed: int = 0, oddities: bool = True) -> dict[str, Path]:
    """``{"sharegpt": ..., "openai": ...}``: the same ``n`` conversations in both formats."""
    folder.mkdir(parents=True, exist_ok=True)
    conversations = make_conversations(n, seed)
    return {
        "sharegpt": write_sharegpt(folder / f"sharegpt-{seed}.json", conversations, seed, oddities),
        "openai": write_openai(folder / f"openai-{seed}.jsonl", conversations, seed, oddities),
    }
