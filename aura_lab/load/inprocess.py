"""Codecs in this process instead of servers: the groups of an offline replay and of an
offline run (``RunConfig.offline``), each codec built as its server would build it (the
run's threshold, its own scratch folder) and described as its server's ``GET /health``
would describe it."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from ..codecs import parse_codec
from ..config import MAX_MESSAGE_SIZE
from ..traces.folder import ServerInfo
from ..traffic.templates import PatternLibrary
from ..wire.protocol import health
from .links import Group


def in_process_groups(
    specs: Sequence[str],
    min_compression_size: int,
    scratch: str,
    stack: contextlib.ExitStack | contextlib.AsyncExitStack,
) -> list[Group]:
    """One group per codec spec, its codec built now and closed when ``stack`` closes."""
    groups = []
    for index, spec in enumerate(specs):
        parsed = parse_codec(spec)
        codec = parsed.build(
            **parsed.defaults(min_compression_size=min_compression_size, workdir=f"{scratch}/codec-{index}")
        )
        stack.callback(codec.close)
        groups.append(Group(spec, codec=codec, min_compression_size=min_compression_size, context=codec.context))
    return groups


def in_process_servers(groups: Sequence[Group]) -> list[ServerInfo]:
    """The manifest's servers for in-process groups (``inprocess://SPEC``)."""
    out = []
    for group in groups:
        assert group.codec is not None
        body = health(
            group.codec,
            group.server_stats,
            min_compression_size=group.min_compression_size,
            max_size=MAX_MESSAGE_SIZE,
            templates=len(group.codec.templates()),
        )
        out.append(ServerInfo(f"inprocess://{group.label}", group.label, True, {**body, "codec": group.label}))
    return out


def group_templates(group: Group) -> PatternLibrary | None:
    """The template library of an in-process codec (None when it uses none)."""
    patterns = group.codec.templates() if group.codec is not None else {}
    return PatternLibrary(patterns, source=f"{group.label} (in-process)") if patterns else None
