"""The protocol both sides share, without I/O: the server's replies (``protocol``) and
the client's judgement of them (``judge``). Described in docs/protocol.md."""
