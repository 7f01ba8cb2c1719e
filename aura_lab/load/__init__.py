"""Load: the engine that plays users against servers (``engine``, through ``links``),
the records it writes (``records``), and the run around it (``runner``, ``phases``,
``distributed``, ``console``). The only package besides ``servers`` that does network I/O."""
