"""A logged conversation as a simulated user's messages: its chat messages in logged
order, the texts as they are (system and tool messages, kept apart by the reader, are
not sent). Pure."""

from __future__ import annotations

from .conversations import TRACE_ROLE, Conversation
from .generator import GeneratedMessage


def replay_messages(conversation: Conversation, user_id: int) -> list[GeneratedMessage]:
    """The messages user ``user_id`` sends to replay ``conversation``. Each keeps the
    conversation id, its index in the logged conversation and its logged time (seconds
    after the conversation's first timed message)."""
    times = [m.at for m in conversation.messages if m.at is not None]
    start = min(times) if times else None
    n = len(conversation.messages)
    return [
        GeneratedMessage(
            user_id=user_id,
            turn=turn,
            n_turns=n,
            role=TRACE_ROLE.get(m.role) if m.role else None,
            text=m.text,
            source="replay",
            conversation_id=conversation.id,
            message_index=m.index,
            logged_at=None if m.at is None or start is None else m.at - start,
        )
        for turn, m in enumerate(conversation.messages)
    ]
