"""Which addresses a set of processes listens on, read from /proc (Linux).

Used to prove that every component of a local cluster listens on 127.0.0.1 only. Reading /proc
needs no extra tool and sees sockets of processes that are not our children.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"


@dataclass(frozen=True)
class Listener:
    pid: int
    protocol: str  # tcp, tcp6, udp or udp6
    address: str
    port: int


def _socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        entries = list(fd_dir.iterdir())
    except OSError:
        return inodes
    for entry in entries:
        try:
            target = str(entry.readlink())
        except OSError:
            continue  # the fd closed while we looked
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def decode_address(hex_address: str) -> tuple[str, int]:
    """Decode /proc/net/{tcp,udp}[6] `local_address` (host-order 32-bit words, hex)."""
    host_hex, port_hex = hex_address.split(":")
    raw = bytes.fromhex(host_hex)
    # Each 32-bit word is stored in host (little-endian) order.
    packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(packed)), int(port_hex, 16)


def parse_proc_net(text: str, protocol: str) -> list[tuple[str, int, int]]:
    """(address, port, inode) of each listening (TCP) or bound (UDP) socket in a /proc/net table."""
    wanted = _TCP_LISTEN if protocol.startswith("tcp") else _UDP_UNCONNECTED
    sockets: list[tuple[str, int, int]] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != wanted:
            continue
        address, port = decode_address(fields[1])
        sockets.append((address, port, int(fields[9])))
    return sockets


def listening_sockets(pids: Iterable[int]) -> list[Listener]:
    """Every TCP listener and bound UDP socket owned by the given processes."""
    found: list[Listener] = []
    for pid in pids:
        inodes = _socket_inodes(pid)
        if not inodes:
            continue
        for protocol in ("tcp", "tcp6", "udp", "udp6"):
            try:
                text = Path(f"/proc/{pid}/net/{protocol}").read_text(encoding="ascii")
            except OSError:
                continue
            for address, port, inode in parse_proc_net(text, protocol):
                if inode in inodes:
                    found.append(Listener(pid=pid, protocol=protocol, address=address, port=port))
    return found
