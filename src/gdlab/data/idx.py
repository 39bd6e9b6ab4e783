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
dtype code, corrupted gzip, a declared size the file cannot hold) raises one
``ValueError`` naming the file and the problem. Sizes are Python integers (dims of
2^22 x 2^21 x 2^21 do not wrap around to 0), and the data is read in chunks into the
array, never held twice.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
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
_CHUNK = 1 << 20
MAX_GZIP_RATIO = 1032
"""The most a deflate stream expands (zlib's documented bound): a gzip file of n bytes
holds at most 1032·n bytes of data."""
GZIP_RATIO_LIMIT = 32
"""The most gdlab lets a gzip IDX file expand: it may declare at most
``max(GZIP_FLOOR, 32·n)`` bytes of data for its ``n`` bytes. Real image sets compress
2-5x (MNIST's images 4.8x, Fashion-MNIST's 1.8x); 1032x is a file of zeros."""
GZIP_FLOOR = 1 << 20
"""Data any gzip IDX file may hold whatever its ratio (1 MiB: a million labels,
which compress well when sorted)."""

PathLike = str | os.PathLike[str]


def _problem(path: PathLike, problem: str) -> ValueError:
    return ValueError(f"IDX file {os.fspath(path)!r}: {problem}")


def _parse(
    f: io.BufferedIOBase,
    path: PathLike,
    limit: int,
    limit_text: str,
    bomb: bool = False,
) -> NDArray[Any]:
    """Read one IDX array from the stream ``f``, which cannot hold more than
    ``limit`` bytes (``limit_text`` says how much it has): the declared size is
    checked against it before anything is allocated, then exactly that many bytes
    are read, in chunks, and one more chunk proves that nothing follows."""
    head = f.read(4)
    if len(head) < 4:
        raise _problem(path, f"truncated: {len(head)} bytes, shorter than the header")
    if head[0] != 0 or head[1] != 0:
        raise _problem(
            path, f"bad magic number {head.hex()}: must start with two zero bytes"
        )
    code, ndim = head[2], head[3]
    if code not in DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in DTYPES)
        raise _problem(path, f"unknown dtype code 0x{code:02X} (known: {known})")
    header = 4 + 4 * ndim
    dims = f.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise _problem(
            path, f"truncated: {4 + len(dims)} bytes, the header needs {header} bytes"
        )
    shape = struct.unpack(f">{ndim}I", dims)
    dtype = DTYPES[code]
    expected = header + math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    needs = f"shape {shape} of {dtype.name} needs {expected}"
    if expected > limit and bomb:
        raise _problem(path, f"too large for its gzip: {needs} bytes; {limit_text}")
    if expected > limit:
        raise _problem(path, f"truncated: {limit_text}, {needs}")
    try:
        array = np.empty(shape, dtype)
    except MemoryError:
        raise _problem(path, f"too large for memory: {needs} bytes") from None
    flat = array.reshape(-1).view(np.uint8)
    done = 0
    while done < flat.size:
        chunk = f.read(min(_CHUNK, flat.size - done))
        if not chunk:
            raise _problem(path, f"truncated: {header + done} bytes, {needs}")
        flat[done : done + len(chunk)] = np.frombuffer(chunk, np.uint8)
        done += len(chunk)
    extra = len(f.read(_CHUNK))
    if extra:
        count = f"{extra}" if extra < _CHUNK else f"at least {extra}"
        raise _problem(
            path,
            f"{count} extra bytes after the data of shape {shape} "
            f"({expected} bytes expected)",
        )
    return array


def parse_idx(data: bytes, path: PathLike = "<bytes>") -> NDArray[Any]:
    """Parse the (uncompressed) bytes of an IDX file into a big-endian array.

    ``path`` only names the source in error messages.
    """
    return _parse(io.BytesIO(data), path, len(data), f"{len(data)} bytes")


def read_view(path: PathLike) -> NDArray[Any]:
    """Like :func:`read_idx` without the byte swap: the big-endian array as stored.

    gzip is decompressed as it is read. A gzip file may declare at most
    ``max(GZIP_FLOOR, GZIP_RATIO_LIMIT·n)`` bytes of data for its ``n`` bytes (a
    deflate stream could expand 1032x: a "gzip bomb"); more is refused before any
    memory is taken, with a ValueError saying how to read such a file anyway
    (decompress it: a raw file's size on disk is its bound). So a 2 MB gzip file
    yields at most 64 MB, and a dataset loaded from such files (as uint8, then
    float32, then split) holds at most about 9x its data: a folder of 2 MB of gzip
    takes well under 1 GB, not the tens of gigabytes a 1032x expansion would.
    """
    try:
        with open(path, "rb") as raw:
            size = os.fstat(raw.fileno()).st_size
            if raw.read(2) != _GZIP_MAGIC:
                if os.fspath(path).endswith(".gz"):
                    raise _problem(path, "not gzip data although the name ends in .gz")
                raw.seek(0)
                return _parse(raw, path, size, f"{size} bytes")
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw) as f:
                limit = max(GZIP_FLOOR, GZIP_RATIO_LIMIT * size)
                text = (
                    f"{size} bytes of gzip may hold at most {limit} bytes of data "
                    f"(gdlab refuses gzip that expands more than {GZIP_RATIO_LIMIT}x, "
                    "as real IDX data never does: gunzip the file to read it raw)"
                )
                return _parse(f, path, limit, text, bomb=True)
    except FileNotFoundError:
        raise _problem(path, "no such file") from None
    except EOFError:
        raise _problem(path, "corrupted gzip data (truncated stream)") from None
    except (zlib.error, gzip.BadGzipFile) as e:
        raise _problem(path, f"corrupted gzip data ({e})") from None
    except OSError as e:
        raise _problem(path, f"cannot be read ({e.strerror or e})") from None


def read_idx(path: PathLike) -> NDArray[Any]:
    """Read an IDX file (gzip-compressed or raw) into a native-endian numpy array.

    The array has the file's shape and dtype (``uint8`` for MNIST); it is a fresh,
    writable array. A malformed file raises ``ValueError`` naming it and the problem.
    """
    array = read_view(path)
    if array.dtype.isnative:
        return array
    return array.byteswap(inplace=True).view(array.dtype.newbyteorder())


def write_idx(path: PathLike, array: ArrayLike) -> Path:
    """Write ``array`` as an IDX file, gzip-compressed if ``path`` ends in ``.gz``.

    The dtype must be one IDX knows: uint8, int8, int16, int32, float32 or float64.
    The file is written atomically (:mod:`gdlab.outputs`). Returns the path written.
    """
    from gdlab import outputs

    a = np.asarray(array)
    native = a.dtype.newbyteorder("=")
    if native not in _CODES:
        known = ", ".join(str(dt) for dt in _CODES)
        raise ValueError(
            f"write_idx {path}: array dtype must be one of {known}, got {a.dtype}"
        )
    if a.ndim > 255 or any(s >= 2**32 for s in a.shape):
        raise ValueError(
            f"write_idx {path}: array must have <= 255 dims each < 2**32, "
            f"got shape {a.shape}"
        )
    header = bytes([0, 0, _CODES[native], a.ndim])
    header += np.asarray(a.shape, dtype=">u4").tobytes()
    data = header + np.ascontiguousarray(a, dtype=native.newbyteorder(">")).tobytes()
    path = Path(path)
    if path.name.endswith(".gz"):
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        data = compressor.compress(data) + compressor.flush()
    return outputs.write_bytes(path, data)
