"""A folder of gzip IDX files a few hundred kB in size cannot make a load take
gigabytes (issue 27: 264 kB of gzip peaked at 2.28 GB RSS, the float32 conversion
and the validation split multiplying the reader's 1032x bound)."""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest

from gdlab import data
from gdlab.data import idx

MiB = 1 << 20


def member(payload: bytes) -> bytes:
    """One gzip member (a gzip file may be several, read one after the other)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(payload) + c.flush()


def idx_of_zeros(path: Path, shape: tuple[int, ...]) -> Path:
    """An IDX file of zeros of ``shape``, gzipped as members of 1 MiB: written in
    milliseconds, never held whole."""
    head = bytes([0, 0, 8, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    n = int(np.prod(shape))
    full, rest = divmod(n, MiB)
    block = member(bytes(MiB))
    parts = [member(head), block * full, member(bytes(rest))]
    path.write_bytes(b"".join(parts))
    return path


def bomb_folder(folder: Path, n: int = 330_000) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    idx_of_zeros(folder / "train-images-idx3-ubyte.gz", (n, 28, 28))
    idx_of_zeros(folder / "train-labels-idx1-ubyte.gz", (n,))
    idx_of_zeros(folder / "t10k-images-idx3-ubyte.gz", (100, 28, 28))
    idx_of_zeros(folder / "t10k-labels-idx1-ubyte.gz", (100,))
    return folder


PEAK = textwrap.dedent(
    """
    import resource, sys
    import sklearn.model_selection  # the split's import, in the baseline too
    from gdlab import data
    try:
        data.load("mnist", path=sys.argv[1])
        print("loaded")
    except ValueError as error:
        print("refused", error)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    """
)


def peak_of_load(folder: Path) -> tuple[str, int]:
    """What a fresh process says loading ``folder``, and its peak RSS in bytes."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    said, peak = done.stdout.strip().rsplit("\n", 1)
    return said, int(peak)


def test_the_bomb_is_the_one_of_the_issue(tmp_path: Path) -> None:
    folder = bomb_folder(tmp_path / "bomb")
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size < 300_000
    with gzip.open(folder / "train-images-idx3-ubyte.gz") as f:
        assert f.read(16)[4:8] == struct.pack(">I", 330_000)


@pytest.fixture(scope="module")
def base_peak(tmp_path_factory: pytest.TempPathFactory) -> int:
    """The peak RSS of a process that loads nothing (the folder is missing)."""
    said, peak = peak_of_load(tmp_path_factory.mktemp("none") / "missing")
    assert said.startswith("refused MNIST not found")
    return peak


def test_a_gzip_bomb_folder_is_refused_in_little_memory(
    tmp_path: Path, base_peak: int
) -> None:
    folder = bomb_folder(tmp_path / "bomb")
    said, peak = peak_of_load(folder)
    image_file = folder / "train-images-idx3-ubyte.gz"
    assert said.startswith(
        f"refused IDX file {str(image_file)!r}: too large for its gzip: shape "
        "(330000, 28, 28) of uint8 needs 258720016 bytes; "
    )
    assert "gunzip the file to read it raw" in said
    assert peak - base_peak < 40 * MiB  # 1 MiB per decompression thread, at most


def test_the_bound_is_proportional_to_the_gzip_size(
    tmp_path: Path, base_peak: int
) -> None:
    """Just under the bound loads; the whole load then stays within ~9x the data
    (uint8, float32, the split's copies) above the interpreter's own."""
    n = idx.GZIP_FLOOR // 784  # images of zeros: the floor any file may hold
    folder = bomb_folder(tmp_path / "under", n=n)
    said, peak = peak_of_load(folder)
    assert said == "loaded"
    assert peak - base_peak < 9 * 2 * idx.GZIP_FLOOR + 16 * MiB
    assert data.load("mnist", path=folder).n_train == n - (n // 10 + 1)
