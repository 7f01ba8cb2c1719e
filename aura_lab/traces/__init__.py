"""Traces: the schema (``schema``), the writer, the reader, the run folder and its
manifest (``folder``), and the peer's file formats (``peer``). Reading and writing go
through here and nowhere else."""
