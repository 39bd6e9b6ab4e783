"""The IDX reader and writer: round trips of every dtype, and every kind of bad file."""

from __future__ import annotations

import gzip
import re
import struct
import tempfile
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gdlab import data
from gdlab.data.idx import DTYPES

DTYPE_CODES = {np.dtype(dt.newbyteorder("=")): code for code, dt in DTYPES.items()}


def header(code: int, shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


@pytest.mark.parametrize("dtype", list(DTYPE_CODES), ids=str)
@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 4), (2, 3, 4), (1, 2, 1, 3)])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_every_dtype(
    tmp_path: Path, dtype: np.dtype, shape: tuple[int, ...], suffix: str
) -> None:
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    if info is not None:
        a = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    else:
        a = rng.standard_normal(shape).astype(dtype)
    path = data.write_idx(tmp_path / f"a-idx{suffix}", a)
    b = data.read_idx(path)
    assert b.dtype == dtype and b.dtype.isnative
    assert b.shape == shape
    np.testing.assert_array_equal(a, b)
    assert b.flags.writeable


def test_bytes_are_the_documented_layout(tmp_path: Path) -> None:
    a = np.array([[1.5, -2.0, 3.25]], dtype=np.float64)
    raw = data.write_idx(tmp_path / "x-idx2-double", a).read_bytes()
    assert raw == header(0x0E, (1, 3)) + struct.pack(">3d", 1.5, -2.0, 3.25)
    images = np.zeros((5, 28, 28), dtype=np.uint8)
    raw = data.write_idx(tmp_path / "i-idx3-ubyte", images).read_bytes()
    assert raw[:16].hex() == "00000803" + "00000005" + "0000001c" + "0000001c"


def test_gz_name_writes_gzip_and_raw_name_does_not(tmp_path: Path) -> None:
    a = np.arange(10, dtype=np.int16)
    gz = data.write_idx(tmp_path / "a.gz", a)
    raw = data.write_idx(tmp_path / "a", a)
    assert gzip.decompress(gz.read_bytes()) == raw.read_bytes()
    # gzip is recognised by content: a compressed file without .gz reads too.
    renamed = tmp_path / "compressed-without-suffix"
    renamed.write_bytes(gz.read_bytes())
    np.testing.assert_array_equal(data.read_idx(renamed), a)


def test_multi_member_gzip_reads(tmp_path: Path) -> None:
    raw = header(0x08, (4,)) + bytes([1, 2, 3, 4])
    path = tmp_path / "m.gz"
    path.write_bytes(gzip.compress(raw[:6]) + gzip.compress(raw[6:]))
    np.testing.assert_array_equal(data.read_idx(path), [1, 2, 3, 4])


@given(
    a=hnp.arrays(
        st.sampled_from(list(DTYPE_CODES)),
        hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
    ),
    gz=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_round_trip_property(a: np.ndarray, gz: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        b = data.read_idx(data.write_idx(Path(tmp) / ("a.gz" if gz else "a"), a))
    assert b.shape == a.shape and b.dtype == a.dtype
    np.testing.assert_array_equal(a, b)  # NaNs compare equal here


GOOD = header(0x08, (2, 3)) + bytes(range(6))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", r"truncated: 0 bytes, shorter than the header"),
        (b"\0\0\x08", r"truncated: 3 bytes"),
        (
            b"\x01\0\x08\x01" + struct.pack(">I", 1) + b"\0",
            r"bad magic number 01000801",
        ),
        (b"\0\x07\x08\x01" + struct.pack(">I", 1) + b"\0", r"bad magic number"),
        (b"\0\0\x0a\x01" + struct.pack(">I", 1) + b"\0", r"unknown dtype code 0x0A"),
        (
            b"\0\0\x08\x03" + struct.pack(">I", 60000),
            r"truncated: 8 bytes, the header needs 16 bytes",
        ),
        (GOOD[:-1], r"truncated: 17 bytes, shape \(2, 3\) of uint8 needs 18"),
        (GOOD + b"\0\0", r"2 extra bytes after the data of shape \(2, 3\)"),
        (
            header(0x0E, (2,)) + bytes(12),
            r"truncated: 20 bytes, shape \(2,\) of float64 needs 24",
        ),
    ],
    ids=[
        "empty",
        "short-header",
        "magic-byte-0",
        "magic-byte-1",
        "dtype-code",
        "truncated-dims",
        "truncated-data",
        "extra-bytes",
        "truncated-double",
    ],
)
@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_broken_files_are_refused(
    tmp_path: Path, content: bytes, problem: str, compress: bool
) -> None:
    path = tmp_path / ("bad.gz" if compress else "bad")
    path.write_bytes(gzip.compress(content) if compress else content)
    with pytest.raises(
        ValueError, match=rf"^IDX file '{re.escape(str(path))}': {problem}"
    ):
        data.read_idx(path)


@pytest.mark.parametrize(
    ("mangle", "problem"),
    [
        (lambda z: z[:-9], r"corrupted gzip data \(truncated stream\)"),
        (lambda z: z[:-4] + b"\xff\xff\xff\xff", r"corrupted gzip data \(.*\)"),
        (lambda z: z[:20] + bytes(b ^ 0x5A for b in z[20:40]) + z[40:], "corrupted"),
        (lambda z: z[:10] + b"garbage, not deflate", r"corrupted gzip data"),
        (lambda z: b"\x1f\x8b", r"corrupted gzip data"),
        (lambda z: gzip.decompress(z), r"not gzip data although the name ends in .gz"),
    ],
    ids=["truncated", "bad-crc", "flipped-bytes", "not-deflate", "magic-only", "raw"],
)
def test_bad_gzip_is_refused(
    tmp_path: Path, mangle: Callable[[bytes], bytes], problem: str
) -> None:
    z = gzip.compress(header(0x08, (100,)) + bytes(range(100)))
    path = tmp_path / "bad-idx1-ubyte.gz"
    path.write_bytes(mangle(z))
    with pytest.raises(
        ValueError, match=rf"^IDX file '{re.escape(str(path))}': {problem}"
    ):
        data.read_idx(path)


def test_missing_file_and_folder_are_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"IDX file '.*nope': no such file"):
        data.read_idx(tmp_path / "nope")
    with pytest.raises(ValueError, match=r"IDX file '.*': cannot be read"):
        data.read_idx(tmp_path)


@pytest.mark.parametrize("dtype", [np.int64, np.uint16, np.bool_, np.complex128])
def test_writer_refuses_dtypes_idx_lacks(tmp_path: Path, dtype: type) -> None:
    with pytest.raises(ValueError, match=r"^write_idx .*: array dtype must be one of"):
        data.write_idx(tmp_path / "x", np.zeros(3, dtype=dtype))
    assert not (tmp_path / "x").exists()


def test_writer_accepts_big_endian_input(tmp_path: Path) -> None:
    a = np.arange(5, dtype=">i4")
    np.testing.assert_array_equal(data.read_idx(data.write_idx(tmp_path / "x", a)), a)


# --- files that claim more than they hold -------------------------------------------


def gzip_of_zeros(path: Path, head: bytes, size: int) -> Path:
    """``head`` then ``size`` zero bytes, gzip-compressed without holding them."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(head)]
    block = bytes(1 << 20)
    for _ in range(size // len(block)):
        parts.append(compressor.compress(block))
    path.write_bytes(b"".join(parts) + compressor.flush())
    return path


def refused(path: Path) -> tuple[str, int]:
    """The error of reading ``path``, and the most memory Python and NumPy held
    meanwhile."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as error:
            data.read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return str(error.value), peak


def test_a_gzip_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    # 64 MiB of zeros in ~65 kB of gzip, under a header that declares 2^31 images
    shape = (2**31, 28, 28)
    path = gzip_of_zeros(tmp_path / "bomb-idx3-ubyte.gz", header(0x08, shape), 64 << 20)
    size = path.stat().st_size
    assert size < 100_000
    started = time.perf_counter()
    message, peak = refused(path)
    assert time.perf_counter() - started < 1
    assert peak < 1 << 20
    assert message == (
        f"IDX file {str(path)!r}: too large for its gzip: shape {shape} of uint8 "
        f"needs {16 + 2**31 * 28 * 28} bytes; {size} bytes of gzip may hold at most "
        f"{max(1 << 20, 32 * size)} bytes of data (gdlab refuses gzip that expands "
        "more than 32x, as real IDX data never does: gunzip the file to read it raw)"
    )


def test_decompression_stops_at_the_declared_size(tmp_path: Path) -> None:
    path = gzip_of_zeros(tmp_path / "long-idx1-ubyte.gz", header(0x08, (10,)), 64 << 20)
    message, peak = refused(path)
    assert peak < 4 << 20  # the 10 bytes, then one chunk of 1 MiB
    assert message == (
        f"IDX file {str(path)!r}: at least 1048576 extra bytes after the data of "
        "shape (10,) (18 bytes expected)"
    )


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_declared_sizes_do_not_overflow(tmp_path: Path, suffix: str) -> None:
    # 2^22 · 2^21 · 2^21 = 2^64 elements: 0 in int64, so the header alone passed
    head = header(0x08, (2**22, 2**21, 2**21))
    path = tmp_path / f"huge{suffix}"
    path.write_bytes(gzip.compress(head) if suffix else head)
    with pytest.raises(ValueError, match=rf"^IDX file '{re.escape(str(path))}': ") as e:
        data.read_idx(path)
    assert (
        "shape (4194304, 2097152, 2097152) of uint8 needs 18446744073709551632"
        in str(e.value)
    )


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.idx"
    data.write_idx(path, np.arange(6, dtype=np.uint8))
    before = path.read_bytes()
    (tmp_path / "locked").mkdir()
    with pytest.raises(OSError, match=r"cannot write .*locked"):
        data.write_idx(tmp_path / "locked", np.arange(3, dtype=np.uint8))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
