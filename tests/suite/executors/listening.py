"""Which TCP ports a process tree listens on, read from /proc (Linux)."""

import os
import socket
import struct
from pathlib import Path


def descendants(pid: int) -> set[int]:
    """``pid`` and every process below it."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, of in parents.items() if of == parent and child not in found]
        found.update(children)
        frontier.extend(children)
    return found


def socket_inodes(pids) -> dict[int, int]:
    """socket inode -> pid holding it."""
    inodes = {}
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes[int(target[8:-1])] = pid
        except OSError:
            continue
    return inodes


def _address(hex_address: str, family: int) -> tuple[str, int]:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if family == socket.AF_INET:
        packed = struct.pack("<I", int.from_bytes(raw, "big"))
    else:  # four little-endian 32-bit words
        packed = b"".join(struct.pack("<I", int.from_bytes(raw[i : i + 4], "big")) for i in range(0, 16, 4))
    return socket.inet_ntop(family, packed), int(port, 16)


def listening_sockets_of_descendants(pid: int) -> list[tuple[str, int, int]]:
    """(address, port, pid) of every TCP socket in LISTEN state held by ``pid`` or below it."""
    inodes = socket_inodes(descendants(pid))
    found = []
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[9]) in inodes:  # 0A: LISTEN
                found.append((*_address(fields[1], family), inodes[int(fields[9])]))
    return found
