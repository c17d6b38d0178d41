"""IDX files (the MNIST format), gzipped or not: the header checked, the payload returned as bytes.

An IDX file is two zero bytes, a type byte (``0x08``: unsigned bytes, the only type read here),
the number of dimensions ``d``, ``d`` big-endian 32-bit sizes, then the values in C order. A file
whose header or length disagrees with itself is refused with one line (:class:`IdxError`), so a
truncated download is never read as data.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

from suite.errors import UsageError

UNSIGNED_BYTE = 0x08


class IdxError(UsageError):
    """A file that is not a well-formed IDX file of unsigned bytes."""


def read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when it is gzipped (by its magic number, not its name)."""
    data = Path(path).read_bytes()
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise IdxError(f"{path} is a damaged gzip file ({error}): get it again") from None


def parse(data: bytes, path: Path) -> tuple[tuple[int, ...], bytes]:
    """(dimensions, values) of an IDX file of unsigned bytes."""
    if len(data) < 4 or data[:2] != b"\0\0":
        raise IdxError(f"{path} is not an IDX file (no IDX magic number): pass the IDX files, gzipped or not")
    kind, ndim = data[2], data[3]
    if kind != UNSIGNED_BYTE:
        raise IdxError(f"{path} holds IDX type 0x{kind:02x}; only unsigned bytes (0x08) are read")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(f"{path} is truncated inside its header: get it again")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    values = data[header:]
    if len(values) != math.prod(dims):
        raise IdxError(f"{path} holds {len(values)} values, its header says {dims} = {math.prod(dims)}: get it again")
    return dims, values


def read_idx(path: Path) -> tuple[tuple[int, ...], bytes]:
    return parse(read_bytes(path), path)


def write_idx(path: Path, dims, values: bytes, compress: bool = False) -> None:
    """Write an IDX file of unsigned bytes (for small test sets and conversions)."""
    data = bytes([0, 0, UNSIGNED_BYTE, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + bytes(values)
    Path(path).write_bytes(gzip.compress(data, mtime=0) if compress else data)
