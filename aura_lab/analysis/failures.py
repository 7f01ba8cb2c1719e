"""One set of messages for every codec: how a message a codec failed on counts.

Every codec of a run is sent the same messages, but a codec can fail on one (its reply
not ``ok``: a timeout, a closed connection, ``compress`` raising on a long message).
Left out of that codec's sums, the message would leave its ratio over fewer bytes than
the others': a codec that fails on the messages that compress worst would look better.
So a failed message that another codec delivered counts, for the codec that failed on
it, as sent raw (what a deployment falling back on the raw text would send): its size
in both the original and the wire sums, in the ratio as measured and in the safe ratio.
A message no codec delivered is left out of every ratio: no codec's sizes say anything
about it. Either way it is an error of that codec.

``with_failures_raw`` marks those rows (``metrics.COUNTED_RAW``), which every figure of
``metrics`` then counts (``metrics.sized``); ``failure_figures`` says what a codec
failed on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import COUNTED_RAW, is_ok

FAILED_RAW_DEFINITION = (
    "a message the codec failed on that another codec delivered counts as sent raw in its ratios and byte totals; "
    "one that no codec delivered is left out of every ratio"
)
# the columns that name one message among a run's records: the records of one message on
# each codec share them (a streamed reply's frames are told apart by frame_index)
MESSAGE_KEY = ("run_id", "phase", "user_id", "role", "turn", "reply_id", "frame_index")


def with_failures_raw(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (the records of every codec of a run, or of several runs) with a boolean
    column ``COUNTED_RAW``: True on a failed row (reply not ``ok``) of a message another
    codec delivered with sizes. That row gets the message's size (bytes: its reply's
    ``original_size`` when it gave one, else the delivering codec's) as ``original_size``
    and ``compressed_size``, ``ratio`` 1.0 and ``roundtrip_ok`` True (raw text loses
    nothing). Its ``status`` and ``error_kind`` stay: it is still an error. Records are
    matched by ``MESSAGE_KEY``; without ``user_id`` and ``turn``, or for a key that names
    several records of one codec, nothing is counted raw."""
    out = df.copy()
    out[COUNTED_RAW] = False
    names = [c for c in MESSAGE_KEY if c in df]
    if df.empty or "codec" not in df or not {"user_id", "turn"} <= set(names):
        return out
    ok = is_ok(df).to_numpy()
    if ok.all():  # the common case, before the work of matching records
        return out
    keys = pd.DataFrame({c: df[c].astype("string").fillna("") for c in names}, index=df.index)
    one = ~keys.assign(_codec=df["codec"].astype("string").fillna("")).duplicated(keep=False).to_numpy()
    delivered = one & ok & df["original_size"].notna().to_numpy() & df["compressed_size"].notna().to_numpy()
    failed = one & ~ok
    if not delivered.any() or not failed.any():
        return out
    sizes = pd.to_numeric(df["original_size"], errors="coerce").to_numpy(float)
    size_of = keys[delivered].assign(_size=sizes[delivered]).groupby(names)["_size"].first().reset_index()
    found = keys[failed].merge(size_of, on=names, how="left")["_size"].to_numpy(float)
    matched = ~np.isnan(found)
    rows = df.index[failed][matched]
    if not len(rows):
        return out
    own = sizes[failed][matched]
    size = np.where(np.isnan(own), found[matched], own)
    for column in ("original_size", "compressed_size"):
        integral = pd.api.types.is_integer_dtype(out[column].dtype)
        out.loc[rows, column] = pd.array(size.astype(int), dtype=out[column].dtype) if integral else size
    out.loc[rows, "ratio"] = 1.0
    out.loc[rows, "roundtrip_ok"] = True
    out.loc[rows, COUNTED_RAW] = True
    return out


def failure_figures(df: pd.DataFrame) -> dict:
    """One codec's failed replies (not ``ok``), after ``with_failures_raw``: ``messages``,
    ``bytes`` (each message's size: its ``original_size``, else its text's
    ``length_bytes``; an unknown size counts 0), ``by_kind`` (``error_kind`` counts),
    ``counted_raw`` and ``counted_raw_bytes`` (another codec delivered them: sent raw in
    this codec's ratios), ``left_out`` and ``left_out_bytes`` (no codec delivered them:
    in no ratio), and ``error`` (the commonest error text; None without one)."""
    failed = df[~is_ok(df).to_numpy()]
    size = pd.to_numeric(failed["original_size"], errors="coerce")
    if "length_bytes" in failed:
        size = size.fillna(pd.to_numeric(failed["length_bytes"], errors="coerce"))
    size = size.fillna(0).to_numpy(float)
    raw = np.asarray(failed.get(COUNTED_RAW, False), bool) & np.ones(len(failed), bool)
    kinds = failed["error_kind"].astype("string").fillna("unknown").value_counts() if "error_kind" in failed else {}
    said = failed["error"].dropna().astype(str).value_counts() if "error" in failed else pd.Series(dtype=int)
    return {
        "messages": len(failed),
        "bytes": int(size.sum()),
        "by_kind": {str(k): int(v) for k, v in dict(kinds).items()},
        "counted_raw": int(raw.sum()),
        "counted_raw_bytes": int(size[raw].sum()),
        "left_out": int((~raw).sum()),
        "left_out_bytes": int(size[~raw].sum()),
        "error": str(said.index[0]) if len(said) else None,
    }
