"""The verdict of a run, in a few sentences written from its figures.

Which codec saves the most bandwidth losslessly (by safe ratio, ``metrics.safe_ratio``)
and by how much over the next; where the primary codec stands; how many messages each
codec lost; which codec failed on which messages (and how they count in its ratios); the
one or two strongest levers the analyses found. Every claim carries its
number; the estimates carry a 95 % percentile-bootstrap interval over conversations
(users are resampled, not messages: the messages of one conversation are correlated,
and every codec of a run saw the same conversations, so one draw serves all codecs and
the differences between codecs are paired). Pure: figures in, dict out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import metrics
from .stats import CONFIDENCE, percentile_interval, user_draws
from .warmup import best_min_compression_size

MIN_LEVER_GAIN = 0.005  # a lever worth less than 0.5 % of the safe ratio is not mentioned
MAX_LEVERS = 2


def user_sums(frame: pd.DataFrame, codecs: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[bool]]:
    """Per codec and user: original bytes, safe wire bytes and measured wire bytes
    (matrices codecs x users over the sized rows), and per codec whether every sized row
    was checked for loss."""
    users = pd.Index(pd.unique(frame["user_id"].dropna())) if len(frame) else pd.Index([])
    original = np.zeros((len(codecs), len(users)))
    safe = np.zeros_like(original)
    measured = np.zeros_like(original)
    checked = []
    for i, codec in enumerate(codecs):
        rows = metrics.sized(metrics.select(frame, phase=None, codec=codec))
        lossy = metrics.lossy_flags(rows)
        checked.append(bool(len(rows)) and not np.isnan(lossy).any())
        where = users.get_indexer(rows["user_id"])
        size = rows["original_size"].to_numpy(float)
        wire = rows["compressed_size"].to_numpy(float)
        np.add.at(original[i], where, size)
        np.add.at(measured[i], where, wire)
        np.add.at(safe[i], where, np.where(lossy > 0, size, wire))
    return original, safe, measured, checked


def bootstrap_ratios(original: np.ndarray, wire: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Ratio of sums per codec for ``n_boot`` resamples of the users (columns), the same
    draw for every codec: an array n_boot x codecs (NaN where a draw has no bytes)."""
    n_users = original.shape[1]
    if n_users == 0 or n_boot <= 0:
        return np.full((0, original.shape[0]), np.nan)
    out = []
    for counts in user_draws(n_users, n_boot, np.random.default_rng(seed)):
        num, den = counts @ original.T, counts @ wire.T
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(den > 0, num / np.where(den > 0, den, 1), np.nan))
    return np.vstack(out)


def verdict(
    frame: pd.DataFrame,
    summary: dict,
    *,
    min_compression_size: int | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """The verdict over ``frame`` (one phase, every codec) and its per-codec ``summary``:
    ``ranking`` (codecs by safe ratio with intervals), ``unranked`` (not checked),
    ``best``, ``margin`` (best over the next, paired interval), ``primary``, ``losses``,
    ``failures`` (codecs with failed replies), ``levers`` and ``lines`` (the sentences,
    in order). ``frame`` is ``failures.with_failures_raw``'s, as ``summarise`` passes it."""
    codecs = list(summary.get("codecs", {}))
    users = int(frame["user_id"].nunique()) if len(frame) else 0
    out: dict = {
        "method": f"{CONFIDENCE:.0%} percentile bootstrap over {users} conversations (users), {n_boot} resamples",
        "ranking": [],
        "unranked": [],
        "best": None,
        "margin": None,
        "primary": None,
        "losses": [],
        "failures": [],
        "levers": [],
        "lines": [],
    }
    if not codecs or not len(frame):
        return out
    figures = summary["codecs"]
    original, safe, _, checked = user_sums(frame, codecs)
    boots = bootstrap_ratios(original, safe, n_boot, seed)
    column = {c: i for i, c in enumerate(codecs)}
    ranked = sorted(
        (c for c, ok in zip(codecs, checked) if ok and figures[c]["safe_ratio"] is not None),
        key=lambda c: (-figures[c]["safe_ratio"], codecs.index(c)),
    )
    for c in ranked:
        low, high = percentile_interval(boots[:, column[c]])
        out["ranking"].append({"codec": c, "safe_ratio": figures[c]["safe_ratio"], "low": low, "high": high})
    out["unranked"] = [c for c in codecs if c not in ranked]
    lines = out["lines"]
    if ranked:
        best = out["ranking"][0]
        out["best"] = {**best, "saved_percent": figures[best["codec"]]["safe_bandwidth_saved_percent"]}
        lines.append(_best_line(out, figures, boots, column))
    else:
        lines.append(
            "No codec can be ranked by safe ratio: no round trip was checked "
            "(the server does not report them; add --verify CODEC to check them here)."
        )
    if ranked and out["unranked"]:
        lines.append(
            "Not ranked (round trips not checked, their losses unknown): "
            + ", ".join(f"{c} (measured ratio {_r(figures[c]['overall_ratio'])})" for c in out["unranked"])
            + "."
        )
    primary = summary.get("primary_codec") or codecs[0]
    out["primary"] = _primary(primary, figures[primary], ranked, out["ranking"])
    lines.append(_primary_line(out["primary"], figures[primary]))
    out["losses"] = [_loss(c, figures[c]) for c in codecs]
    lines.append(
        "Messages lost (delivered but not decompressible): " + "; ".join(_loss_text(x) for x in out["losses"]) + "."
    )
    out["failures"] = [
        {"codec": c, **figures[c]["failures"]} for c in codecs if (figures[c].get("failures") or {}).get("messages")
    ]
    if out["failures"]:
        lines.append("Failed replies: " + "; ".join(_failure_text(x) for x in out["failures"]) + ".")
    out["levers"] = _levers(frame, primary, figures, ranked, boots, column, min_compression_size)
    lines.extend(f"Lever: {lever['text']}" for lever in out["levers"])
    return out


def _best_line(out: dict, figures: dict, boots: np.ndarray, column: dict) -> str:
    best = out["best"]
    name = best["codec"]
    text = (
        f"{name} saves the most bandwidth losslessly: safe ratio {_r(best['safe_ratio'])} "
        f"{_span(best['low'], best['high'], _r)}, {_p(best['saved_percent'])} of bytes saved"
    )
    if len(out["ranking"]) < 2:
        return text + " (the only codec checked for loss)."
    nxt = out["ranking"][1]
    diff = boots[:, column[name]] - boots[:, column[nxt["codec"]]]
    low, high = percentile_interval(diff)
    delta = best["safe_ratio"] - nxt["safe_ratio"]
    out["margin"] = {"over": nxt["codec"], "delta": delta, "low": low, "high": high}
    text += f"; {_r(delta)} {_span(low, high, _r)} above {nxt['codec']} ({_r(nxt['safe_ratio'])})"
    if low is not None and low <= 0:
        text += ": within the interval the two cannot be told apart on this run"
    return text + "."


def _primary(name: str, figures: dict, ranked: list[str], ranking: list[dict]) -> dict:
    entry = next((r for r in ranking if r["codec"] == name), None)
    return {
        "codec": name,
        "rank": ranked.index(name) + 1 if name in ranked else None,
        "of": len(ranked),
        "safe_ratio": figures["safe_ratio"],
        "low": entry["low"] if entry else None,
        "high": entry["high"] if entry else None,
        "overall_ratio": figures["overall_ratio"],
        "lossy": figures["loss"]["lossy"],
        "delivered": figures["loss"]["delivered"],
        "loss_status": figures["loss"]["status"],
    }


def _primary_line(p: dict, figures: dict) -> str:
    name = p["codec"]
    if p["rank"] is None:
        return (
            f"Primary codec {name}: measured ratio {_r(p['overall_ratio'])}, round trips "
            f"{figures['loss']['status']}: whether it loses messages is unknown."
        )
    text = (
        f"Primary codec {name}: safe ratio {_r(p['safe_ratio'])} {_span(p['low'], p['high'], _r)}, "
        f"rank {p['rank']} of {p['of']}"
    )
    if p["lossy"]:
        text += (
            f"; LOSSY: {p['lossy']} of {p['delivered']} delivered messages did not survive "
            f"decompress(compress(m)) == m (its measured ratio {_r(p['overall_ratio'])} counts them)"
        )
    return text + "."


def _loss(codec: str, figures: dict) -> dict:
    loss = figures["loss"]
    return {
        "codec": codec,
        "lossy": loss["lossy"] if loss["checked"] else None,
        "checked": loss["checked"],
        "delivered": loss["delivered"],
        "status": loss["status"],
    }


def _loss_text(loss: dict) -> str:
    if loss["status"] == metrics.NOT_CHECKED:
        return f"{loss['codec']} {metrics.NOT_CHECKED}"
    text = f"{loss['codec']} {loss['lossy']} of {loss['checked']}"
    if loss["lossy"]:
        text += f" ({loss['lossy'] / loss['checked']:.1%}) LOSSY"
    if loss["status"] != "checked":
        text += f" ({loss['delivered'] - loss['checked']} not checked)"
    return text


def _failure_text(failed: dict) -> str:
    """Which codec failed on how many messages of how many bytes, of which kinds, and how
    they count: as sent raw in its ratios (another codec delivered them) or in no ratio."""
    n = failed["messages"]
    kinds = ", ".join(f"{k} {v}" for k, v in failed["by_kind"].items())
    text = f"{failed['codec']} failed on {n} message{'s' if n != 1 else ''} of {failed['bytes']:,} bytes ({kinds})"
    raw, out = failed["counted_raw"], failed["left_out"]
    if raw and not out:
        return text + ", counted in its ratios as sent raw"
    if out and not raw:
        return text + f", left out of every ratio (no codec delivered {'it' if n == 1 else 'them'})"
    return (
        f"{text}: {raw} ({failed['counted_raw_bytes']:,} bytes) counted in its ratios as sent raw, "
        f"{out} left out of every ratio (no codec delivered {'it' if out == 1 else 'them'})"
    )


def _levers(
    frame: pd.DataFrame,
    primary: str,
    figures: dict,
    ranked: list[str],
    boots: np.ndarray,
    column: dict,
    min_compression_size: int | None,
) -> list[dict]:
    """The strongest changes the figures point to: the primary's loss first (a lossy
    codec cannot be deployed as it is), then the largest gains in safe ratio."""
    levers = []
    lossy_methods = figures[primary]["roundtrip_failures_by_method"]
    # the method names the server's own encoding only when the server did the check
    if lossy_methods and set(figures[primary]["loss"]["checked_by"]) == {"server"}:
        method, count = max(lossy_methods.items(), key=lambda kv: kv[1])
        total = sum(lossy_methods.values())
        levers.append(
            {
                "kind": "loss",
                "gain": None,
                "figures": {"method": method, "lossy": count, "lossy_total": total},
                "text": f"fix {primary}'s loss first: {count} of its {total} lossy messages were sent as {method}.",
            }
        )
    gains = []
    if primary in ranked and ranked[0] != primary:
        best = ranked[0]
        ratio = boots[:, column[best]] / boots[:, column[primary]] - 1
        low, high = percentile_interval(ratio)
        gain = figures[best]["safe_ratio"] / figures[primary]["safe_ratio"] - 1
        gains.append(
            {
                "kind": "codec",
                "gain": gain,
                "figures": {"from": primary, "to": best, "gain": gain, "low": low, "high": high},
                "text": (
                    f"primary {primary} -> {best}: safe ratio {_r(figures[primary]['safe_ratio'])} -> "
                    f"{_r(figures[best]['safe_ratio'])} ({_signed(gain)} {_span(low, high, _signed)})."
                ),
            }
        )
    threshold = _threshold_lever(frame, primary, figures[primary], min_compression_size)
    if threshold is not None:
        gains.append(threshold)
    gains = [g for g in gains if g["gain"] is not None and g["gain"] >= MIN_LEVER_GAIN]
    gains.sort(key=lambda g: -g["gain"])
    return (levers + gains)[:MAX_LEVERS]


def _threshold_lever(frame: pd.DataFrame, codec: str, figures: dict, current: int | None) -> dict | None:
    """``min_compression_size`` for the primary codec: the threshold below which sending
    raw gives the best safe ratio over this run (``warmup.best_min_compression_size``),
    with what it means when it lies above every message."""
    rows = metrics.sized(metrics.select(frame, phase=None, codec=codec))
    if rows.empty:
        return None
    size = rows["original_size"].to_numpy(float)
    wire = rows["compressed_size"].to_numpy(float)
    lossy = metrics.lossy_flags(rows)
    checked = not np.isnan(lossy).any()
    if checked:
        wire = np.where(lossy > 0, size, wire)
    now = figures["safe_ratio"] if checked else figures["overall_ratio"]
    suggested, ratio = best_min_compression_size(size, wire, prefer=current)
    if suggested is None or ratio is None or not now or suggested == current:
        return None
    gain = ratio / now - 1
    which = "safe ratio" if checked else "measured ratio (loss not checked)"
    longest = int(size.max())
    raw_everything = suggested > longest
    start = (
        f"min_compression_size {current} -> {suggested} bytes"
        if current is not None
        else (f"min_compression_size {suggested} bytes")
    )
    if raw_everything:
        text = (
            f"{start}, above the longest message ({longest} bytes): send everything raw; "
            f"{codec} does not pay on this traffic ({which} {_r(now)} -> {_r(ratio)}, {_signed(gain)})."
        )
    else:
        text = (
            f"{start}: send messages under {suggested} bytes raw ({which} {_r(now)} -> {_r(ratio)}, {_signed(gain)})."
        )
    return {
        "kind": "min_compression_size",
        "gain": gain,
        "figures": {
            "codec": codec,
            "current": current,
            "suggested": suggested,
            "longest_message": longest,
            "raw_everything": raw_everything,
            "ratio_now": now,
            "ratio_at_suggestion": ratio,
        },
        "text": text,
    }


def _r(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def _span(low: float | None, high: float | None, fmt) -> str:
    return "[interval n/a]" if low is None or high is None else f"[{fmt(low)}, {fmt(high)}]"
