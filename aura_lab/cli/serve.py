"""``aura-lab serve``: embedded compression servers in the foreground, until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time

from ..codecs import codec_names, codec_options, parse_codec
from ..config import BOUNDS, DEFAULT_PORT, MAX_MESSAGE_SIZE, MIN_COMPRESSION_SIZE, number_text
from ..errors import InputError
from ..servers.hosting import serve_many
from ..servers.limits import LIMIT_BOUNDS, ServerLimits
from ..servers.server import TRANSPORT_SLACK
from .options import number

# the server's limits: (flag, help); defaults and ranges in servers.limits
LIMIT_FLAGS = {
    "max_connections": ("--max-connections", "open connections; more get HTTP 503"),
    "max_buffered": ("--max-buffered", "bytes of received messages not yet answered, all connections together"),
    "idle_timeout": ("--idle-timeout", "seconds a connection may stay without a message"),
    "ping_interval": ("--ping-interval", "seconds between keepalive pings"),
    "ping_timeout": ("--ping-timeout", "seconds a client has to answer a ping"),
    "max_unread_pongs": ("--max-unread-pongs", "pongs a client that reads nothing may leave waiting (ping flood)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--codec",
        default="aura",
        metavar="SPEC",
        help=f"a codec: {', '.join(codec_names())}, with options as NAME:key=value,... "
        "(e.g. deflate-stream:window_bits=12), or package.module:Class (default aura)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; anything else warns)")
    parser.add_argument(
        "--port",
        type=number("port"),
        default=DEFAULT_PORT,
        help=f"first port (default {DEFAULT_PORT}; 0 picks free ports)",
    )
    parser.add_argument(
        "--min-compression-size",
        type=number("min_compression_size"),
        default=MIN_COMPRESSION_SIZE,
        metavar="BYTES",
        help=f"messages shorter than this are sent uncompressed (default {MIN_COMPRESSION_SIZE}; "
        f"{BOUNDS['min_compression_size'].describe()})",
    )
    parser.add_argument(
        "--max-size",
        type=number("max_size"),
        default=MAX_MESSAGE_SIZE,
        metavar="BYTES",
        help=f"largest message accepted (default {MAX_MESSAGE_SIZE}; {BOUNDS['max_size'].describe()})",
    )
    parser.add_argument(
        "--replicas",
        type=number("replicas"),
        default=1,
        metavar="N",
        help=f"start N servers on consecutive ports ({BOUNDS['replicas'].describe()})",
    )
    parser.add_argument("--training", metavar="FILE", help="corpus JSONL to train the zstd-dict dictionary on")
    defaults = ServerLimits()
    for name, (flag, text) in LIMIT_FLAGS.items():
        bound = LIMIT_BOUNDS[name]
        parser.add_argument(
            flag,
            type=number(name, bound),
            default=getattr(defaults, name),
            metavar="N",
            help=f"{text} (default {number_text(getattr(defaults, name))}; {bound.describe()})",
        )


def command(args: argparse.Namespace) -> int:
    parse_codec(args.codec)  # an unknown codec or option: a clear error before anything starts
    for name, flag in (
        ("replicas", "--replicas"),
        ("port", "--port"),
        ("max_size", "--max-size"),
        ("min_compression_size", "--min-compression-size"),
    ):
        BOUNDS[name].check(getattr(args, name), flag)
    if not args.host.strip():
        raise InputError(
            f"give an address to bind, got {args.host!r}",
            where="--host",
            fix="127.0.0.1, or 0.0.0.0 for every interface",
        )
    limits = ServerLimits(**{name: getattr(args, name) for name in LIMIT_FLAGS}).check(
        {name: flag for name, (flag, _) in LIMIT_FLAGS.items()}
    )
    largest = 2 * args.max_size + TRANSPORT_SLACK
    if limits.max_buffered < largest:
        raise InputError(
            f"must be at least the largest message the server reads ({largest} bytes with --max-size "
            f"{args.max_size}), got {limits.max_buffered}",
            where="--max-buffered",
        )
    options = {}
    if args.training:
        if "training" not in codec_options(args.codec):
            raise InputError(f"applies to zstd-dict, not {args.codec}", where="--training")
        options["training"] = os.path.abspath(args.training)  # the child lives elsewhere
    stopping = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        with serve_many(
            [args.codec] * args.replicas,
            args.host,
            args.port,
            min_compression_size=args.min_compression_size,
            max_size=args.max_size,
            codec_options={args.codec: options},
            limits=limits,
        ) as handles:
            for handle in handles:
                print(f"aura-lab serve: {handle.url} codec={handle.codec} pid={handle.pid}", flush=True)
            while not stopping.is_set():
                time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("aura-lab serve: stopped", flush=True)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run embedded compression servers in the foreground",
        description="Serve the peer's compression protocol with one codec until Ctrl-C.",
    )
    add_arguments(parser)
    parser.set_defaults(func=command)
