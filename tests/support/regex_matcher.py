"""The template matcher aura-lab had before ``PatternLibrary.match``: one regex per
pattern with lazy slots (exponential in the words on some texts that do not match). The
reference the linear matcher is tested and benchmarked against."""

from __future__ import annotations

import re


def regex_of(pattern: str) -> re.Pattern:
    """``pattern``'s regex: literals escaped, a slot ``{i}`` a lazy group, a repeated slot a backreference."""
    parts, seen, pos = [], set(), 0
    for m in re.finditer(r"\{(\d+)\}", pattern):
        parts.append(re.escape(pattern[pos : m.start()]))
        idx = int(m.group(1))
        parts.append(f"(?P=s{idx})" if idx in seen else f"(?P<s{idx}>.+?)")
        seen.add(idx)
        pos = m.end()
    parts.append(re.escape(pattern[pos:]))
    return re.compile("".join(parts), re.DOTALL)


def regex_match(pattern: str, text: str) -> list[str] | None:
    """The slot values of ``text`` in ``pattern``, or None when it does not match."""
    regex = regex_of(pattern)
    found = regex.fullmatch(text)
    return [found.group(f"s{i}") for i in range(len(regex.groupindex))] if found else None
