"""AURA's ``ProductionHybridCompressor`` (aura-compression 2.0.2) with the peer's settings.

The compressor writes ``.aura_cache/``, ``ml_model.json``, ``sidechain/`` and
``audit_logs/`` into the *current* directory, when it is built and again when it is
garbage-collected. It is therefore built and closed with the working directory set to
a scratch directory (``workdir``; a temporary one by default), and the file it writes
at exit is pointed there too. The server in a child process simply lives in that
directory.

Its output is what would go on the wire whatever its size (its own UNCOMPRESSED
framing adds a header), so the server never swaps it for the raw text, and it is handed
every message, short and empty ones included, as the peer's server does: the compressor
applies its own ``min_compression_size`` (a short message costs one byte more).

``templates=FILE`` adds the templates of a template file (``{id: pattern}``, as
``aura_lab.analysis.discovery.save_template_file`` writes mined ones) to the compressor's
own library with its ``TemplateLibrary.add``, before the first message: a message that
matches one is then encoded as ``BINARY_SEMANTIC`` with its id. Ids must fit the wire
format's two bytes and not be one of AURA's built-in ids; a pattern AURA already holds is
skipped. ``info()`` says which file, its SHA-256 and how many were added, so the run's
manifest records the library the codec used.

There is no ``metadata=FILE``: aura-compression 2.0.2's compressor reads no template
metadata (no constructor argument, no loader; its library is patterns alone). Slot
examples shape the traffic the generator makes (``--metadata``), not the codec, so the
option is refused with that reason instead of being ignored.
"""

from __future__ import annotations

import gc
import os
import re
import string
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from ..config import MIN_COMPRESSION_SIZE
from ..inputs import read_template_patterns
from ..paths import scratch_cwd
from ..patterns import Matcher
from .base import Codec, CodecResult


class AuraCodec(Codec):
    name = "aura"
    method = "AURA"
    package = "aura-compression"
    falls_back_on_expansion = False
    applies_own_threshold = True  # as the peer's server: every message goes to the compressor
    path_options = ("templates",)
    refused_options: ClassVar[dict[str, str]] = {
        "metadata": "aura-compression 2.0.2's compressor reads no template metadata (its library is patterns "
        "alone); metadata shapes the traffic: give it to the run (--metadata FILE, or metadata = FILE in an "
        "experiment), and templates to the codec with aura:templates=FILE",
    }

    def __init__(
        self,
        min_compression_size: int = MIN_COMPRESSION_SIZE,
        workdir: str | Path | None = None,
        enable_aura: bool = True,
        templates: str | None = None,
    ):
        import aura_compression  # imported here so that a missing package is named by get_codec

        self.min_compression_size = int(min_compression_size)
        self.enable_aura = bool(enable_aura)
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"aura-lab-aura-{os.getpid()}-")
            workdir = self._tmp.name
        self.workdir = Path(workdir).resolve()
        with scratch_cwd(self.workdir):
            self._compressor = aura_compression.ProductionHybridCompressor(
                enable_aura=self.enable_aura,
                enable_audit_logging=False,
                min_compression_size=self.min_compression_size,
            )
            self.added: dict[str, Any] = {}
            _match_linearly(self._compressor.template_library)
            if templates:
                self.added = self._add_templates(Path(templates))
            self._templates = {
                int(tid): str(pattern) for tid, pattern in self._compressor.template_library.list_templates().items()
            }
        # Its ML selector saves ./ml_model.json when garbage-collected, wherever the
        # process is by then: pin that file to the scratch directory.
        selector = getattr(self._compressor, "_ml_selector", None)
        if selector is not None and hasattr(selector, "model_file"):
            selector.model_file = self.workdir / "ml_model.json"

    def _add_templates(self, path: Path) -> dict[str, Any]:
        """Add a template file's patterns to the compressor's library; what was added."""
        patterns, sha256 = read_template_patterns(path)
        library = self._compressor.template_library
        own = {int(t): str(p) for t, p in library.list_templates().items()}
        known = set(own.values())
        added = skipped = 0
        for tid, pattern in sorted(patterns.items()):
            where = f"{path}: template {tid}"
            if not 0 <= tid <= MAX_TEMPLATE_ID:
                raise ValueError(f"{where}: ids go on the wire in two bytes: give one in 0..{MAX_TEMPLATE_ID}")
            if tid in own and own[tid] != pattern:
                raise ValueError(f"{where}: id {tid} is AURA's own template {own[tid]!r}; give the templates "
                                 "ids outside its library (mined ones are numbered from 1000)")  # fmt: skip
            numbers = sorted({int(n) for n in _SLOT.findall(pattern)})
            if numbers != list(range(len(numbers))):
                raise ValueError(f"{where}: slots must be numbered {{0}}, {{1}}, ... without gaps: {pattern[:80]!r}")
            if pattern in known:
                skipped += 1  # AURA holds this pattern already: a second id would gain nothing
                continue
            library.add(tid, _escape_braces(pattern))
            known.add(pattern)
            added += 1
        return {"templates_file": str(path.resolve()), "templates_sha256": sha256, "templates_added": added,
                "templates_skipped": skipped}  # fmt: skip

    def compress(self, text: str, state=None) -> CodecResult:
        data, method, metadata = self._compressor.compress(text)
        metadata = dict(metadata or {})
        return CodecResult(
            bytes(data),
            getattr(method, "name", str(method)).upper(),
            template_id=metadata.get("template_id"),
            metadata=metadata,
        )

    def decompress(self, data: bytes, state=None) -> str:
        text = self._compressor.decompress(data)
        if isinstance(text, tuple):  # some code paths return (text, metadata)
            text = text[0]
        return text

    def info(self) -> dict:
        return {
            "enable_aura": self.enable_aura,
            "enable_audit_logging": False,
            "min_compression_size": self.min_compression_size,
            "templates": len(self._templates),
            "workdir": str(self.workdir),
            **self.added,
        }

    def templates(self) -> dict[int, str]:
        return dict(self._templates)  # a copy the caller may change

    def close(self) -> None:
        compressor = getattr(self, "_compressor", None)
        if compressor is None:
            return
        selector = getattr(compressor, "_ml_selector", None)
        with scratch_cwd(self.workdir):
            if selector is not None and self._tmp is None:
                selector.save_model()  # a workdir the caller chose keeps the learned model
            if selector is not None and hasattr(selector, "model_file"):
                # Background threads keep the compressor alive past gc; when it is finally
                # collected (at exit) its save must not recreate the removed directory.
                selector.model_file = Path(os.devnull)
            self._compressor = None
            del compressor, selector
            gc.collect()  # finalizers that do run now run inside the scratch dir
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


MAX_TEMPLATE_ID = 0xFFFF  # BINARY_SEMANTIC writes the template id in two bytes
_SLOT = re.compile(r"\{(\d+)\}")


def _escape_braces(pattern: str) -> str:
    """A pattern as AURA's library takes it: its literal braces doubled (it fills slots
    with ``str.format``), its ``{n}`` slots kept."""
    pieces = _SLOT.split(pattern)  # literal, slot number, literal, ...
    return "".join(
        piece.replace("{", "{{").replace("}", "}}") if i % 2 == 0 else f"{{{piece}}}" for i, piece in enumerate(pieces)
    )


def _match_linearly(library: Any) -> None:
    """Give each template of AURA's library, and each it registers later (whitespace
    variants, synced ones), a full-text match linear in the text.

    AURA matches a template with the regex ``^(.+?)literal(.+?)...$`` (one lazy group per
    slot occurrence): on a text that does not match, it tries every way of cutting the
    text at the literals, exponential in the slots. ``{0} {1} {0} {1} ... end`` against a
    119-byte message of 40 words took 44 s, and a server's event loop with it (its
    ``/health`` unanswered). ``patterns.Matcher`` finds the same slot values as the lazy
    groups would (the earliest end for each slot) with ``str.find``, in one pass; AURA's
    own checks follow as before: its slots hold no newline (``.`` in its regex), and the pattern
    filled with them must give the text back. (Its search for templates inside a text,
    ``find_substring_matches``, is not on ``compress``'s path in 2.0.2.)"""
    for record in list(library._records.values()):
        _linear_record(record)
    register = library._register_template

    def register_linear(template_id: int, pattern: str) -> None:
        register(template_id, pattern)
        _linear_record(library._records[template_id])

    library._register_template = register_linear


def _linear_record(record: Any) -> None:
    pieces = _format_pieces(record.pattern)
    if pieces is None:  # a field other than {n} (none in AURA 2.0.2's or in a template file): left as it is
        return
    # As in AURA's regex, each occurrence of a slot is a group of its own (so nothing is
    # searched: one pass), and a repeat is checked only by filling the pattern afterwards.
    occurrences = [(literal, k) for k, (literal, _) in enumerate(pieces[:-1])] + [pieces[-1]]
    first = {index: k for k, (_, index) in reversed(list(enumerate(pieces[:-1])))}
    matcher, pattern = Matcher(occurrences), record.pattern
    order = [first[index] for index in record.slot_order]  # AURA's order: each slot where it first appears

    def match(text: str) -> list[str] | None:
        values = matcher.match(text)
        if values is None or any("\n" in value for value in values):
            return None
        slots = [values[k] for k in order]
        return slots if pattern.format(*slots) == text else None

    record.match = match


def _format_pieces(pattern: str) -> list[tuple[str, int | None]] | None:
    """A ``str.format`` pattern (literal braces doubled) as ``patterns.pattern_pieces``
    gives them; None for a field that is not a bare slot number, or numbers with gaps."""
    pieces: list[tuple[str, int | None]] = []
    try:
        for literal, field, spec, conversion in string.Formatter().parse(pattern):
            if field is None:
                pieces.append((literal, None))
                continue
            if not field.isdigit() or spec or conversion:
                return None
            pieces.append((literal, int(field)))
    except ValueError:
        return None
    if not pieces or pieces[-1][1] is not None:
        pieces.append(("", None))
    numbers = {index for _, index in pieces if index is not None}
    if numbers != set(range(len(numbers))) or any(index is None for _, index in pieces[:-1]):
        return None
    return pieces
