"""``aura-lab serve``: embedded compression servers in the foreground, until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time

from ..codecs import codec_names, codec_options, parse_codec
from ..config import BOUNDS, DEFAULT_PORT, MAX_MESSAGE_SIZE, MIN_COMPRESSION_SIZE
from ..errors import InputError
from ..servers.hosting import serve_many


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
        "--port", type=int, default=DEFAULT_PORT, help=f"first port (default {DEFAULT_PORT}; 0 picks free ports)"
    )
    parser.add_argument(
        "--min-compression-size",
        type=int,
        default=MIN_COMPRESSION_SIZE,
        metavar="BYTES",
        help=f"messages shorter than this are sent uncompressed (default {MIN_COMPRESSION_SIZE}; "
        f"{BOUNDS['min_compression_size'].describe()})",
    )
    parser.add_argument(
        "--max-size",
        type=int,
        default=MAX_MESSAGE_SIZE,
        metavar="BYTES",
        help=f"largest message accepted (default {MAX_MESSAGE_SIZE}; {BOUNDS['max_size'].describe()})",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        metavar="N",
        help=f"start N servers on consecutive ports ({BOUNDS['replicas'].describe()})",
    )
    parser.add_argument("--training", metavar="FILE", help="corpus JSONL to train the zstd-dict dictionary on")


def command(args: argparse.Namespace) -> int:
    parse_codec(args.codec)  # an unknown codec or option: a clear error before anything starts
    for name, flag in (
        ("replicas", "--replicas"),
        ("port", "--port"),
        ("max_size", "--max-size"),
        ("min_compression_size", "--min-compression-size"),
    ):
        BOUNDS[name].check(getattr(args, name), flag)
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
