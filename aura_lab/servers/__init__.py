"""The embedded compression servers: the asyncio WebSocket server (``server``) and
where it runs, a child process or a thread (``hosting``)."""
