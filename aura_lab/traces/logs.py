"""Conversation logs in: the one reader of every format a team's chat logs come in,
streaming (a file is read a line or an element at a time, never whole).

Formats (``detect`` tells them apart by their content, not their names):

- ``sharegpt``: a JSON array, or JSONL, of ``{"id", "conversations": [{"from", "value"}]}``;
- ``openai``: JSONL (or a JSON array) of ``{"messages": [{"role", "content"}]}``, the
  content a string or a list of parts (the text parts are joined);
- ``peer``: a folder of the peer's ``user_<id>_traces.jsonl`` (one conversation per user,
  read by ``traces.peer``; the peer records no role);
- ``run``: an aura-lab run folder, or a folder of runs (one conversation per user of the
  primary codec's main phase; streamed replies are put back together);
- ``corpus``: corpus JSONL (``traffic.corpus``'s format): loose messages, each its own
  conversation unless lines carry a ``conversation_id``.

Roles are normalised to human, assistant and system (``traffic.conversations``); system
and tool messages are kept apart from the chat. Nothing odd is fatal: an empty text, a
missing or unknown role, a content part that is not text, a line that is not JSON, an
item without a message list are counted, with the first places they occur (file and
line), in a ``LogReport``. What is fatal (an unreadable file, a JSON array that breaks
off) raises ``InputError`` with the file and line.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError
from ..inputs import SURROGATE_FIX, TEXT_KEYS, first_character, iter_json_array_file, iter_jsonl_file, surrogate_problem
from ..traffic.conversations import LOG_ROLE, Conversation, LogMessage, normal_role
from ..traffic.framing import Framing
from .folder import RunFolder
from .peer import load_peer_traces
from .reader import load_traces

FORMATS = ("sharegpt", "openai", "peer", "run", "corpus")
EXAMPLES = 3  # places kept per kind of problem
TIME_KEYS = ("timestamp", "created_at", "create_time", "created", "time")
_TEXT_PARTS = ("text", "input_text", "output_text")


@dataclass
class LogReport:
    """What reading logs found: per file its format, conversations and messages; per
    kind of thing counted (a problem skipped, a message kept apart) a count and the
    first places (``file:line``)."""

    files: list[dict] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def problem(self, kind: str, where: str) -> None:
        self.counts[kind] += 1
        places = self.examples.setdefault(kind, [])
        if len(places) < EXAMPLES:
            places.append(where)

    @property
    def conversations(self) -> int:
        return sum(f["conversations"] for f in self.files)

    @property
    def messages(self) -> int:
        return sum(f["messages"] for f in self.files)

    def to_dict(self) -> dict:
        return {"files": self.files, "counted": dict(self.counts), "examples": self.examples}

    def lines(self) -> list[str]:
        out = [
            f"{f['path']}: {f['format']}, {f['conversations']} conversations, {f['messages']} chat messages"
            for f in self.files
        ]
        for kind, count in self.counts.most_common():
            out.append(f"  {count} x {kind} (e.g. {', '.join(self.examples.get(kind, []))})")
        return out

    def nothing_read(self, paths: Iterable[str | Path], where: str) -> InputError:
        """The error for logs that gave no conversation with a chat message: the files,
        and what reading them found."""
        found = "; ".join(line.strip() for line in self.lines()) or "nothing readable"
        return InputError(
            f"no conversation with a chat message in {', '.join(map(str, paths))}",
            where=where,
            fix=f"what reading found: {found[:400]}",
        )


def detect(path: Path) -> str:
    """The format of a log file or folder (see the module's note)."""
    if path.is_dir():
        if (path / "traces").is_dir() or any((p / "traces").is_dir() for p in path.iterdir()):
            return "run"
        if any(path.glob("user_*_traces.jsonl")):
            return "peer"
        raise InputError(
            "a folder that is neither a run, a folder of runs, nor the peer's traces",
            where=str(path),
            fix="give log files, a run folder, or a folder of user_<id>_traces.jsonl",
        )
    first = first_character(path, "log")
    if first == "[":
        return "array"
    if first != "{":
        raise InputError("not JSON or JSONL", where=str(path), fix="give ShareGPT or OpenAI JSON/JSONL")
    for _, obj in iter_jsonl_file(path, "log", on_bad=lambda where, what: None):
        if isinstance(obj, dict):
            if isinstance(obj.get("conversations"), list):
                return "sharegpt"
            if isinstance(obj.get("messages"), list):
                return "openai"
            if {"user_id", "turn", "message"} <= set(obj):
                raise InputError(
                    "one of the peer's trace files", where=str(path), fix="give the folder that holds them"
                )
            if any(k in obj for k in TEXT_KEYS):
                return "corpus"
        break
    raise InputError(
        "not a conversation log: its first object has no 'conversations', 'messages' or text",
        where=str(path),
        fix="give ShareGPT or OpenAI JSON/JSONL, a corpus JSONL, a run folder or the peer's trace folder",
    )


def read_logs(paths: str | Path | Iterable[str | Path], report: LogReport | None = None) -> Iterator[Conversation]:
    """The conversations of every log file or folder, in order, lazily."""
    report = report if report is not None else LogReport()
    for path in [paths] if isinstance(paths, (str, Path)) else paths:
        path = Path(path)
        if not path.exists():
            raise InputError("log file not found", where=str(path), fix="check the path")
        kind = detect(path)
        entry: dict[str, Any] = {"path": str(path), "format": kind, "conversations": 0, "messages": 0}
        report.files.append(entry)
        digest = hashlib.sha256() if path.is_file() else None
        if kind == "run":
            items: Iterator[Conversation] = _run_conversations(path, report)
        elif kind == "peer":
            items = _peer_conversations(path, report)
        elif kind == "corpus":
            items = _corpus_conversations(path, report, digest)
        else:
            items = _chat_conversations(path, kind, report, digest, entry)
        for conversation in items:
            entry["conversations"] += 1
            entry["messages"] += len(conversation)
            yield conversation
        if digest is not None:
            entry["sha256"] = digest.hexdigest()


def _objects(lines: Iterator[tuple[int, object]], path: Path, report: LogReport) -> Iterator[tuple[int, str, dict]]:
    """``(line, "file:line", item)`` for each item that is a JSON object; the others reported."""
    for lineno, obj in lines:
        where = f"{path}:{lineno}"
        if isinstance(obj, dict):
            yield lineno, where, obj
        else:
            report.problem("item is not a JSON object", where)


def _chat_conversations(path: Path, kind: str, report: LogReport, digest, entry: dict) -> Iterator[Conversation]:
    if kind == "array":
        lines: Iterator[tuple[int, object]] = iter_json_array_file(path, "log", digest=digest)
    else:
        lines = iter_jsonl_file(path, "log", on_bad=lambda where, what: report.problem(what, where), digest=digest)
    for lineno, where, obj in _objects(lines, path, report):
        turns = obj.get("conversations", obj.get("messages"))
        if kind == "array":  # ShareGPT or OpenAI, item by item
            entry["format"] = "sharegpt" if "conversations" in obj else "openai"
        if not isinstance(turns, list):
            report.problem("no 'conversations' or 'messages' list", where)
            continue
        ident = next((str(obj[k]) for k in ("id", "conversation_id", "custom_id") if obj.get(k) is not None), None)
        conversation = _conversation(ident or f"{path.name}:{lineno}", turns, where, report)
        if conversation is not None:
            yield conversation


def _conversation(ident: str, turns: list, where: str, report: LogReport) -> Conversation | None:
    chat, apart = [], []
    for index, turn in enumerate(turns):
        if not isinstance(turn, dict):
            report.problem("message is not an object", where)
            continue
        name = turn.get("from", turn.get("role"))
        role = normal_role(name)
        if role is None:
            report.problem("no role" if name is None else f"unknown role {str(name)[:40]!r}", where)
            continue
        text = _text(turn.get("value", turn.get("content", turn.get("text"))), role, turn, where, report)
        if text is None:
            continue
        message = LogMessage(role, text, index, _time(turn, where, report))
        if role in ("system", "tool"):
            report.problem(f"{role} message (kept apart)", where)
            apart.append(message)
        else:
            chat.append(message)
    if not chat:
        report.problem("conversation without a chat message", where)
        return None
    return Conversation(ident, chat, where, apart)


def _text(value, role: str, turn: dict, where: str, report: LogReport) -> str | None:
    if isinstance(value, list):  # OpenAI's content parts
        texts = []
        for part in value:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and part.get("type") in _TEXT_PARTS and isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                report.problem("content part that is not text (dropped)", where)
        value = "\n".join(texts) if texts else ""
    if value is None:
        kind = "assistant message without text (a tool call)" if turn.get("tool_calls") else "message without text"
        report.problem(kind, where)
        return None
    if not isinstance(value, str):
        report.problem(f"text is a {type(value).__name__}, not a string", where)
        return None
    if not value.strip():
        report.problem(f"empty {role} message", where)
        return None
    problem = surrogate_problem(value)
    if problem:  # no socket and no trace file can carry it: an error now, not a crash mid-run
        raise InputError(f"a {role or 'log'} message's text has {problem}", where=where, fix=SURROGATE_FIX)
    return value


def _time(turn: dict, where: str, report: LogReport) -> float | None:
    """A message's timestamp in seconds since the epoch (numbers in ms are recognised)."""
    value = next((turn[k] for k in TIME_KEYS if turn.get(k) is not None), None)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / 1000 if value > 1e11 else float(value)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        report.problem("timestamp that is not ISO 8601 or a number", where)
        return None
    return (moment if moment.tzinfo else moment.astimezone()).timestamp()


def _corpus_conversations(path: Path, report: LogReport, digest) -> Iterator[Conversation]:
    """Loose messages (category ai/human); consecutive lines with one ``conversation_id``
    make a conversation."""
    current: Conversation | None = None
    lines = iter_jsonl_file(path, "log", on_bad=lambda where, what: report.problem(what, where), digest=digest)
    for lineno, where, obj in _objects(lines, path, report):
        key = next((k for k in TEXT_KEYS if k in obj), None)
        category = obj.get("category")
        role = normal_role(category) if category is not None else None
        if category is None:
            report.problem("message without a category (role unknown)", where)
        elif role not in ("human", "assistant"):
            report.problem(f"unknown category {str(category)[:40]!r}", where)
            continue
        text = _text(obj.get(key) if key else None, role or "", obj, where, report)
        if text is None:
            continue
        ident = obj.get("conversation_id", obj.get("conversation"))
        if current is not None and (ident is None or str(ident) != current.id):
            yield current
            current = None
        if current is None:
            current = Conversation(
                str(ident) if ident is not None else f"{path.name}:{lineno}", [], where, structured=ident is not None
            )
        current.messages.append(LogMessage(role, text, len(current.messages), _time(obj, where, report)))
    if current is not None:
        yield current


def _peer_conversations(path: Path, report: LogReport) -> Iterator[Conversation]:
    """The peer's traces: one conversation per user, in turn order; no roles."""
    frame = load_peer_traces(path)
    report.problem("the peer's traces record no role", str(path))
    yield from trace_conversations(frame, f"peer:{path.name}", report, str(path))


def _run_conversations(path: Path, report: LogReport) -> Iterator[Conversation]:
    runs = [path] if (path / "traces").is_dir() else sorted(p for p in path.iterdir() if (p / "traces").is_dir())
    for run in runs:
        manifest = RunFolder(run).read_manifest() if RunFolder(run).is_run() else None
        frame = load_traces(run)
        frame = frame[frame["phase"].astype(str) == "main"]
        codec = manifest.primary_codec if manifest else None
        codec = codec or (str(frame["codec"].iloc[0]) if len(frame) else None)
        frame = frame[frame["codec"].astype(str) == codec]
        options = manifest.options if manifest else {}
        framing = Framing(
            options.get("framing") == "stream",
            int(options.get("chunk_tokens") or 4),
            str(options.get("envelope") or "none"),
            bool(options.get("resend_whole")),
        )
        yield from trace_conversations(frame, run.name, report, str(run), framing)


def trace_conversations(
    frame: pd.DataFrame,
    prefix: str = "traces",
    report: LogReport | None = None,
    where: str = "traces",
    framing: Framing | None = None,
) -> Iterator[Conversation]:
    """Trace records of one codec (one per message, or per frame of a streamed reply put
    back together with ``framing``) as conversations, one per user."""
    report = report if report is not None else LogReport()
    if frame.empty:
        return
    frame = frame.sort_values(["user_id", "turn", *(["frame_index"] if "frame_index" in frame else [])])
    for user_id, rows in frame.groupby("user_id", sort=True):
        messages = []
        for turn, part in rows.groupby("turn", sort=True):
            texts = [t for t in part["text"] if isinstance(t, str)]
            if not texts:
                report.problem("record without text", f"{where} user {user_id} turn {turn}")
                continue
            framed = framing is not None and "frame_index" in part and part["frame_index"].notna().any()
            text = framing.reassemble(texts) if framed and framing is not None else texts[0]
            first = part.iloc[0]
            role = LOG_ROLE.get(str(first["role"])) if pd.notna(first.get("role")) else None
            at = first.get("sent_at") if pd.notna(first.get("sent_at")) else first.get("received_at")
            messages.append(LogMessage(role, text, int(turn), at.timestamp() if pd.notna(at) else None))
        conversation_id = rows["conversation_id"].dropna() if "conversation_id" in rows else pd.Series(dtype=str)
        ident = str(conversation_id.iloc[0]) if len(conversation_id) else f"{prefix}:{user_id}"
        if messages:
            yield Conversation(ident, messages, f"{where} user {user_id}")
