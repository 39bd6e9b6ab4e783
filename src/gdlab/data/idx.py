"""Read and write IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a header followed by the array's elements in C order, all big-endian:

====================  =====================================================
bytes                 content
====================  =====================================================
0-1                   two zero bytes
2                     dtype code: 0x08 ubyte, 0x09 signed byte, 0x0B short
                      (2 bytes), 0x0C int (4 bytes), 0x0D float (4 bytes),
                      0x0E double (8 bytes)
3                     number of dimensions ``d`` (0 to 255)
4 to 4 + 4d           the ``d`` sizes, each an unsigned 32-bit integer
4 + 4d to the end     ``prod(sizes)`` elements of the dtype, nothing after
====================  =====================================================

MNIST's ``train-images-idx3-ubyte`` starts ``00 00 08 03`` then 60000, 28, 28;
``train-labels-idx1-ubyte`` starts ``00 00 08 01`` then 60000. Files are often
distributed gzip-compressed (``.gz``); :func:`read_idx` recognises gzip by its
content, :func:`write_idx` compresses when the name ends in ``.gz``.

Every problem with a file (missing, truncated, extra bytes, bad magic number, unknown
dtype code, corrupted gzip) raises one ``ValueError`` naming the file and the problem.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: dtype code -> big-endian numpy dtype.
DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"

PathLike = str | os.PathLike[str]


def _problem(path: PathLike, problem: str) -> ValueError:
    return ValueError(f"IDX file {os.fspath(path)!r}: {problem}")


def _gunzip(path: PathLike, raw: bytes) -> bytes:
    """Decompress every gzip member of ``raw``; a broken stream is a ValueError."""
    parts = []
    try:
        while raw:
            inflater = zlib.decompressobj(wbits=31)
            parts.append(inflater.decompress(raw))
            if not inflater.eof:
                raise _problem(path, "corrupted gzip data (truncated stream)")
            raw = inflater.unused_data
            if not raw.strip(b"\0"):  # gzip tolerates zero padding after a member
                break
    except zlib.error as e:
        raise _problem(path, f"corrupted gzip data ({e})") from None
    return b"".join(parts)


def _read_bytes(path: PathLike) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise _problem(path, "no such file") from None
    except OSError as e:
        raise _problem(path, f"cannot be read ({e.strerror or e})") from None
    if raw[:2] == _GZIP_MAGIC:
        return _gunzip(path, raw)
    if os.fspath(path).endswith(".gz"):
        raise _problem(path, "not gzip data although the name ends in .gz")
    return raw


def parse_idx(data: bytes, path: PathLike = "<bytes>") -> NDArray[Any]:
    """Parse the (uncompressed) bytes of an IDX file; read-only, big-endian view.

    ``path`` only names the source in error messages.
    """
    if len(data) < 4:
        raise _problem(path, f"truncated: {len(data)} bytes, shorter than the header")
    if data[0] != 0 or data[1] != 0:
        raise _problem(
            path, f"bad magic number {data[:4].hex()}: must start with two zero bytes"
        )
    code, ndim = data[2], data[3]
    if code not in DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in DTYPES)
        raise _problem(path, f"unknown dtype code 0x{code:02X} (known: {known})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise _problem(
            path, f"truncated: {len(data)} bytes, the header needs {header} bytes"
        )
    shape = tuple(int(s) for s in np.frombuffer(data, ">u4", ndim, offset=4))
    dtype = DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) < expected:
        raise _problem(
            path,
            f"truncated: {len(data)} bytes, shape {shape} of {dtype.name} needs "
            f"{expected}",
        )
    if len(data) > expected:
        raise _problem(
            path,
            f"{len(data) - expected} extra bytes after the data of shape {shape} "
            f"({expected} bytes expected)",
        )
    return np.frombuffer(data, dtype, offset=header).reshape(shape)


def _read_view(path: PathLike) -> NDArray[Any]:
    """Like :func:`read_idx` without the copy: a read-only, big-endian view."""
    return parse_idx(_read_bytes(path), path)


def read_idx(path: PathLike) -> NDArray[Any]:
    """Read an IDX file (gzip-compressed or raw) into a native-endian numpy array.

    The array has the file's shape and dtype (``uint8`` for MNIST); it is a fresh,
    writable array. A malformed file raises ``ValueError`` naming it and the problem.
    """
    array = _read_view(path)
    return array.astype(array.dtype.newbyteorder("="))


def write_idx(path: PathLike, array: ArrayLike) -> Path:
    """Write ``array`` as an IDX file, gzip-compressed if ``path`` ends in ``.gz``.

    The dtype must be one IDX knows: uint8, int8, int16, int32, float32 or float64.
    Returns the path written.
    """
    a = np.asarray(array)
    native = a.dtype.newbyteorder("=")
    if native not in _CODES:
        known = ", ".join(str(dt) for dt in _CODES)
        raise ValueError(
            f"write_idx: array dtype must be one of {known}, got {a.dtype}"
        )
    if a.ndim > 255 or any(s >= 2**32 for s in a.shape):
        raise ValueError(
            f"write_idx: array must have <= 255 dims each < 2**32, got shape {a.shape}"
        )
    header = bytes([0, 0, _CODES[native], a.ndim])
    header += np.asarray(a.shape, dtype=">u4").tobytes()
    data = header + np.ascontiguousarray(a, dtype=native.newbyteorder(">")).tobytes()
    path = Path(path)
    if path.name.endswith(".gz"):
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        data = compressor.compress(data) + compressor.flush()
    path.write_bytes(data)
    return path
