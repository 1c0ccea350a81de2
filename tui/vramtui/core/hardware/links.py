"""Network links between the nodes of a llama.cpp RPC cluster: bandwidth and round trip, sourced.

`bandwidth_gbps` is what one TCP stream carries (gigabits per second of payload), not the line
rate: llama.cpp's RPC backend speaks plain TCP (ggml/src/ggml-rpc/transport.cpp), one socket per
server. `rtt_s` is a TCP request/response round trip through both kernels, the cost every
synchronous RPC command pays once.

Sources:
- Ethernet payload rate: a 1500-byte MTU frame carries 1448 bytes of TCP payload (IPv4 20 +
  TCP 20 + timestamps 12) in 1538 bytes on the wire (preamble 8, header 14, FCS 4, gap 12):
  1448 / 1538 = 94.1 % of the line rate, the "941 Mbit/s" iperf3 shows on gigabit Ethernet.
- Ethernet round trip: netperf TCP_RR 12,507 transactions/s on a LAN = 80 us per round trip
  (grpc/grpc#7988); the kernel stack, not the wire, sets it, so every speed shares it.
- USB4 / Thunderbolt networking (thunderbolt-net, `thunderbolt0`): about 9-10 Gbit/s between
  two Strix Halo boxes whatever the 40 Gbit/s cable says: Jeff Geerling "could only get
  10 Gbps over TB4 using thunderbolt0" on four Framework Desktops (geerlingguy/ai-benchmarks
  #21); "both transports hit the same ~9 Gbit/s link ceiling" on 2x Framework Desktop over a
  USB4 40G cable (kyuz0/amd-strix-halo-vllm-toolboxes #70, urbanswelt). Round trip: in that
  thread's TP=2 decode at one request, sockets over thunderbolt0 ran 18 tok/s against 23 tok/s
  for 11-22 us RDMA, 12 ms more per token over ~64 all-reduce exchanges: ~0.19 ms more per
  exchange, so about 0.2 ms per TCP round trip over thunderbolt0 (interrupt coalescing on the
  AMD USB4 host interface, same thread).
- 25/50 GbE: what kyuz0's two-node RPC results ran on (kyuz0.github.io/amd-strix-halo-toolboxes,
  "two Strix Halo systems ... connected over 50 Gbps Ethernet"); a single TCP stream rarely
  fills it: 17.8 Gbit/s measured over TCP between two DGX Sparks (defilantech/LLMKube #1423).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vramtui.core.errors import SettingsError

ETHERNET_PAYLOAD = 1448 / 1538  # TCP payload per wire byte at MTU 1500 (module doc)
ETHERNET_RTT_S = 80e-6  # netperf TCP_RR 12,507/s on a LAN (grpc/grpc #7988)
THUNDERBOLT_NET_RTT_S = 200e-6  # sockets over thunderbolt0, derived in the module doc
SINGLE_STREAM_CAP_GBPS = 17.8  # one TCP stream between two hosts (defilantech/LLMKube #1423)


@dataclass(frozen=True, slots=True)
class LinkPreset:
    id: str
    name: str
    bandwidth_gbps: float  # TCP payload, gigabits per second
    rtt_s: float  # one TCP request/response round trip
    source: str

    @property
    def bytes_per_second(self) -> float:
        return self.bandwidth_gbps * 1e9 / 8

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "bandwidth_gbps": round(self.bandwidth_gbps, 3),
            "rtt_ms": round(self.rtt_s * 1e3, 3),
            "source": self.source,
        }


def _ethernet(link_id: str, gbit: float) -> LinkPreset:
    rate = min(gbit * ETHERNET_PAYLOAD, SINGLE_STREAM_CAP_GBPS)
    return LinkPreset(
        id=link_id,
        name=f"{gbit:g} GbE",
        bandwidth_gbps=rate,
        rtt_s=ETHERNET_RTT_S,
        source="line rate x 94.1 % TCP payload at MTU 1500; 80 us TCP round trip (grpc #7988)"
        + ("; one TCP stream capped at 17.8 Gbit/s (LLMKube #1423)" if rate < gbit * 0.9 else ""),
    )


LINKS: tuple[LinkPreset, ...] = (
    _ethernet("1gbe", 1),
    _ethernet("2.5gbe", 2.5),
    _ethernet("5gbe", 5),
    _ethernet("10gbe", 10),
    _ethernet("25gbe", 25),
    _ethernet("50gbe", 50),
    LinkPreset(
        id="usb4",
        name="USB4 / Thunderbolt networking",
        bandwidth_gbps=9.0,
        rtt_s=THUNDERBOLT_NET_RTT_S,
        source="thunderbolt-net between two Strix Halo boxes: ~9-10 Gbit/s (geerlingguy/"
        "ai-benchmarks #21, kyuz0/amd-strix-halo-vllm-toolboxes #70); ~0.2 ms round trip "
        "derived from #70's socket vs RDMA decode",
    ),
)
DEFAULT_LINK = "10gbe"
_ALIASES = {
    "thunderbolt": "usb4",
    "tb4": "usb4",
    "tb": "usb4",
    "1g": "1gbe",
    "2.5g": "2.5gbe",
    "5g": "5gbe",
    "10g": "10gbe",
    "25g": "25gbe",
    "50g": "50gbe",
}


def link_ids() -> list[str]:
    return [link.id for link in LINKS]


def get_link(name: str) -> LinkPreset:
    """A link preset by id (`1gbe`, `25gbe`, `10gbe`, `usb4`...) or a few aliases."""
    key = name.strip().lower().replace(" ", "").replace("_", "")
    key = _ALIASES.get(key, key)
    for link in LINKS:
        if link.id == key:
            return link
    raise SettingsError(f"link {name!r} is not one of {', '.join(link_ids())}")
