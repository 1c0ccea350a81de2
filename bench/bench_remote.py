"""Remote GGUF header reads: requests and bytes per header size, vramtui vs the peers' strategies.

All three run against the same loopback HTTP server (tests/support/http_server.py) on the same
sparse files, and all three use vramtui's header parser, so only the fetching strategy differs:
- vramtui: a 256 KiB first range, then ranges sized from the parser's hint, streamed and
  dropped as soon as the parser is done (tui/vramtui/core/remote/header.py);
- hf-mem (alvarobartt/hf-mem, as research/memory-estimators.md §5 states it): GET bytes=0-1MB,
  and while the header does not parse, again with the prefix doubled, up to 100 MB;
- gguf-parser-go (gpustack, §1 "Remote"): a HEAD, then range GETs through a 4 MiB buffer.
"Bytes in" is what the client read; "bytes out" what the server wrote to the socket (more for
vramtui because a dropped stream still had data in flight on loopback).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx

from tests.support.gguf_files import header_size, write_test_gguf
from tests.support.http_server import LoopbackServer, serve
from vramtui.core.errors import ModelFileError
from vramtui.core.gguf.reader import BytesSource, parse_gguf_header
from vramtui.core.remote.header import RemoteOptions, RemoteStats, open_remote_model

MiB = 1 << 20
CASES = (  # name, vocab, layers
    ("small (1K vocab)", 1_000, 24),
    ("Qwen vocab (152K)", 151_936, 64),
    ("big vocab (262K)", 262_144, 62),
)


def _vramtui(url: str) -> tuple[int, int]:
    stats = RemoteStats()
    open_remote_model(url, mmproj="none", options=RemoteOptions(use_cache=False), stats=stats)
    return stats.requests, stats.bytes_received


def _hf_mem(url: str) -> tuple[int, int]:
    requests = received = 0
    size = MiB
    with httpx.Client() as client:
        while size <= 100 * MiB:
            r = client.get(url, headers={"Range": f"bytes=0-{size - 1}"})
            requests += 1
            received += len(r.content)
            try:
                parse_gguf_header(BytesSource(r.content), url)
                return requests, received
            except ModelFileError:
                size *= 2
    raise RuntimeError("header over 100 MB")


class _ChunkedSource:
    """gguf-parser-go's SeekerFile: HEAD for the size, then 4 MiB range reads."""

    def __init__(self, client: httpx.Client, url: str) -> None:
        self.client, self.url = client, url
        head = client.head(url)
        self.requests = 1
        self.received = 0
        self.size = int(head.headers["content-length"])
        self.chunks: dict[int, bytes] = {}

    def _chunk(self, index: int) -> bytes:
        if index not in self.chunks:
            start = index * 4 * MiB
            end = min(start + 4 * MiB, self.size) - 1
            r = self.client.get(self.url, headers={"Range": f"bytes={start}-{end}"})
            self.requests += 1
            self.received += len(r.content)
            self.chunks[index] = r.content
        return self.chunks[index]

    def read(self, offset: int, length: int, *, hint: int = 0) -> bytes:
        end = min(offset + length, self.size)
        out = bytearray()
        pos = offset
        while pos < end:
            chunk = self._chunk(pos // (4 * MiB))
            lo = pos % (4 * MiB)
            take = chunk[lo : lo + end - pos]
            out += take
            pos += len(take)
        return bytes(out)


def _parser_go(url: str) -> tuple[int, int]:
    with httpx.Client() as client:
        src = _ChunkedSource(client, url)
        parse_gguf_header(src, url)
        return src.requests, src.received


def _run(server: LoopbackServer, url: str, fn: object) -> tuple[int, int, int, float]:
    server.clear_log()
    started = time.perf_counter()
    requests, received = fn(url)  # type: ignore[operator]
    elapsed = time.perf_counter() - started
    time.sleep(0.05)  # let the server log the dropped stream
    return requests, received, server.bytes_sent(), elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, serve() as server:
        print(
            f"{'header':<20} {'strategy':<15} {'requests':>8} {'bytes in':>12} "
            f"{'bytes out':>12} {'in/header':>9} {'ms':>7}"
        )
        for name, vocab, layers in CASES:
            path = write_test_gguf(
                Path(tmp) / f"{vocab}.gguf",
                n_vocab=vocab,
                n_layers=layers,
                n_embd=512,
                file_size=20 << 30,
            )
            url = server.add_file(f"/{vocab}.gguf", path)
            hsize = header_size(path)
            print(f"{name:<20} header = {hsize:,} bytes")
            for label, fn in (
                ("vramtui", _vramtui),
                ("hf-mem", _hf_mem),
                ("gguf-parser-go", _parser_go),
            ):
                req, got, sent, secs = _run(server, url, fn)
                print(
                    f"{'':<20} {label:<15} {req:>8} {got:>12,} {sent:>12,} "
                    f"{got / hsize:>9.2f} {secs * 1000:>7.1f}"
                )


if __name__ == "__main__":
    main()
