"""Compile an element-wise update rule once, run it fused and in place.

An update rule is a plain Python function whose first argument is the flat
parameter buffer and which loops ``for i in prange(p.size)``. :class:`Kernel`
compiles it with Numba's parallel loop lowering (which also tells LLVM that the
arrays do not overlap, so the loop is vectorized) and IEEE semantics (no
fast-math). Two things are fixed at compile time, so that the loop the CPU runs
is only the arithmetic the step needs and moves no more bytes than it must:

* every ``bool`` argument (``amsgrad``, ``maximize``, ...): one variant is
  compiled per combination the caller uses, with the flag a constant, so a branch
  not taken is not in the loop at all;
* the dtype the arithmetic runs in: the parameters' own. ``float`` arguments
  and float literals become float32 for float32 parameters — torch's fused and foreach
  kernels compute in float32 too — and float64 stays float64, so float64 results
  match PyTorch's to rounding. (Computing float32 updates in float64 makes Adam
  compute-bound: 0.6x the memory bandwidth on a 2-core AMD EPYC.)

A variant is the rule's own source with the flags and the dtype substituted, so each
rule is written once. Variants are cached on disk by Numba, keyed by the rule's
source file and by this file's content. A rule outside gdlab (a plugin's) is cached
by its variant's source instead: the variant is written to
``$GDLAB_KERNEL_CACHE`` (default ``~/.cache/gdlab/kernels``) as a module named after
its hash, so every process on the machine — a sweep's workers — finds the machine
code that the first one compiled, whatever name the plugin was imported under.

Threads: :func:`threads` picks them for all the kernels of one optimizer step by the
step's total size. Below :data:`PARALLEL_MIN_SIZE` elements they run their serial
variant (the same source compiled without parallel loops, the same arithmetic) on
the calling thread only: a pool's start-up costs more than it saves there,
Numba's OpenMP workers spin after a parallel loop, stealing the cores that the
BLAS of the next forward pass needs (a 784-100-10 MLP trained 17x slower that
way), and even on one thread a parallel loop's scheduling cost 3x the loop.
In a larger step, an array below :data:`PARALLEL_MIN_ARRAY` elements runs the
serial variant too (an optimizer's step over a dict of arrays picks it array by
array): starting the parallel loop costs more than the loop there.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.util
import inspect
import os
import pathlib
import sys
import textwrap
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

PARALLEL_MIN_SIZE = 1 << 20
PARALLEL_MIN_ARRAY = 1 << 13
"""Below this many elements an array's update runs serial even in a parallel step:
100 float32 arrays of 4,096 took 2.5 µs each serial against 3.8 µs in parallel
loops (SGD-momentum; Adam 4.0 against 4.8), of 16,384 8.4 against 6.9 (Adam
12.9 against 13.0), on 2 cores at load 1.5."""

prange = range
"""What a rule loops with: ``range`` in Python, ``numba.prange`` once compiled
(Numba, which imports SciPy, loads at the first compilation, not with gdlab)."""

# In each variant's name, so that a change to this file (the options, the
# substitutions) never loads machine code that Numba cached before it.
_STAMP = f"{zlib.crc32(pathlib.Path(__file__).read_bytes()):08x}"


_mode = threading.local()
"""``serial``: whether the kernels called now run their serial variant (set by
:func:`threads` for the thread that steps)."""


def threads(
    size: int, *, only_kernels: bool = False
) -> contextlib.AbstractContextManager[None]:
    """Run the kernels called inside on every core if ``size`` (the elements that
    they update together) is at least :data:`PARALLEL_MIN_SIZE`, else their serial
    variant on the calling thread (and any other Numba code on one thread).

    ``only_kernels``: the caller runs no Numba code but :class:`Kernel` calls
    inside (the default update of an optimizer), so a small step only picks the
    serial variants, which start no thread: Numba's thread count (and torch's,
    which shares OpenMP with it) is neither read nor set (that cost 5 µs, a
    seventh of a 79,510-parameter step).

    Inside a small step's ``threads`` (a loop that sets them once around all its
    steps, as :mod:`gdlab.population` does) a small step's own call costs nothing:
    Numba's thread count is already 1 and the serial variants already chosen."""
    if size < PARALLEL_MIN_SIZE and (only_kernels or getattr(_mode, "serial", False)):
        return _Serial()
    return _threads(size)


def serial() -> bool:
    """Whether the kernels called now run their serial variant (inside a small
    step's :func:`threads`)."""
    return bool(getattr(_mode, "serial", False))


class _Serial:
    """The serial variants inside, Numba's thread count left as it is."""

    def __enter__(self) -> None:
        self.before = getattr(_mode, "serial", False)
        _mode.serial = True

    def __exit__(self, *exc: object) -> None:
        _mode.serial = self.before


@contextlib.contextmanager
def _threads(size: int) -> Iterator[None]:
    import numba

    # Numba's OpenMP calls bind to the libgomp that torch loaded first, if it
    # did: starting Numba's pool or setting its count sets torch's too. Torch
    # gets its own count back after the kernels (a torch model chose it).
    torch = sys.modules.get("torch")  # loaded by a torch workload, never from here
    torch_threads = torch.get_num_threads() if torch is not None else 0
    before = numba.get_num_threads()
    serial = getattr(_mode, "serial", False)
    try:
        if size >= PARALLEL_MIN_SIZE:
            yield
        else:
            _mode.serial = True  # the serial variants: no parallel loop at all
            if before > 1:
                numba.set_num_threads(1)  # any other Numba code: one thread
            try:
                yield
            finally:
                _mode.serial = serial
                if before > 1:
                    numba.set_num_threads(before)
    finally:
        if torch is not None and torch.get_num_threads() != torch_threads:
            torch.set_num_threads(torch_threads)


class _Specialize(ast.NodeTransformer):
    """Flags -> constants, float literals -> the dtype (``_dtype(1.0)``)."""

    def __init__(self, flags: dict[str, bool]) -> None:
        self.flags = flags

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.flags and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Constant(self.flags[node.id]), node)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if type(node.value) is float:
            call = ast.Call(ast.Name("_dtype", ast.Load()), [node], [])
            return ast.copy_location(call, node)
        return node


class Kernel:
    """A compiled element-wise update: ``kernel(p, *arrays_and_scalars)``."""

    def __init__(self, rule: Callable[..., None]) -> None:
        self.rule = rule
        self.__doc__ = rule.__doc__
        rest = list(inspect.signature(rule).parameters.values())[1:]
        self.arguments = [a.name for a in rest]
        """The rule's arguments after the parameter buffer, in order."""
        self.flags = [a.name for a in rest if a.annotation in ("bool", bool)]
        """The rule's ``bool`` arguments, constants in each compiled variant."""
        self._flag_at = [i for i, a in enumerate(rest) if a.name in self.flags]
        self.variants: dict[tuple[Any, ...], Any] = {}
        """(dtype, *flag values, parallel) -> the compiled variant, for those used
        so far: ``parallel`` False is the serial variant :func:`threads` picks for
        a small step (a parallel loop on one thread cost 3x the serial loop, 110
        against 40 µs for 79,510 float32 SGD updates between BLAS calls)."""

    def __call__(self, p: np.ndarray, *args: Any) -> None:
        self.variant(p.dtype, args, not getattr(_mode, "serial", False))(p, *args)

    def variant(self, dtype: np.dtype[Any], args: Any, parallel: bool) -> Any:
        """The compiled variant that ``kernel(p, *args)`` runs for ``p`` of
        ``dtype`` (compiled, or loaded from the disk cache, at its first use); a
        caller that calls it many times with the same flags may keep it."""
        key = (dtype, *[args[i] for i in self._flag_at], parallel)
        compiled = self.variants.get(key)
        if compiled is None:
            compiled = self.variants[key] = self._compile(key)
        return compiled

    @property
    def flag_positions(self) -> list[int]:
        """Where the flags are among the arguments after ``p``."""
        return list(self._flag_at)

    def runs(self, p: np.ndarray, n: int, *args: Any) -> None:
        """The rule over ``p.size // n`` runs of ``n`` elements each, laid end to
        end in every array argument, with each ``float`` argument a 1-D array of
        one value per run (``lr[r]`` for run r's elements ``[r·n, (r+1)·n)``);
        flags are shared. Each run gets exactly the numbers of the rule called on
        its own elements with its own values: a compiled loop over the runs calls
        the rule's own variant on each run's slices (:meth:`_compile_runs`)."""
        key = (p.dtype, *[args[i] for i in self._flag_at], True)  # parallel
        compiled = self.variants.get((*key, "runs"))
        if compiled is None:
            plain = self.variants.get(key)
            if plain is None:
                plain = self.variants[key] = self._compile(key)
            compiled = self.variants[(*key, "runs")] = self._compile_runs(plain)
        compiled(p, *args, n)

    @property
    def floats(self) -> list[str]:
        """The rule's ``float`` arguments: one value per run in :meth:`runs`."""
        return [a for a, kind in self._kinds().items() if kind == "float"]

    def _kinds(self) -> dict[str, str]:
        """Each argument after ``p`` -> ``"float"``, ``"bool"``, ``"int"`` or
        ``"array"`` (any other annotation)."""
        rest = list(inspect.signature(self.rule).parameters.values())[1:]
        kinds = {}
        for a in rest:
            name = getattr(a.annotation, "__name__", a.annotation)
            kinds[a.name] = name if name in ("float", "bool", "int") else "array"
        return kinds

    def _compile(self, key: tuple[Any, ...]) -> Any:
        """The variant for ``key`` = (dtype, *flag values, parallel): the rule's
        source with each flag a constant (the argument is kept, never read), each
        ``float`` argument cast to the dtype on entry and each float literal of the
        dtype, compiled with Numba's parallel loops or as a plain loop (where
        ``prange`` is ``range``)."""
        rule, (dtype, *values, parallel) = self.rule, key
        flags = {k: bool(v) for k, v in zip(self.flags, values, strict=True)}
        tree = ast.parse(textwrap.dedent(inspect.getsource(rule)))
        fn = tree.body[0]
        assert isinstance(fn, ast.FunctionDef)
        bits = "".join(str(int(v)) for v in flags.values())
        mode = "" if parallel else "_serial"
        fn.name = f"{rule.__name__}__{dtype.name}_{bits}{mode}_{_STAMP}"
        fn.decorator_list, fn.returns = [], None
        casts = []
        for a in fn.args.args:
            if isinstance(a.annotation, ast.Name) and a.annotation.id == "float":
                casts += ast.parse(f"{a.arg} = _dtype({a.arg})").body
            a.annotation = None
        fn.body = casts + [_Specialize(flags).visit(s) for s in fn.body]
        ast.increment_lineno(tree, rule.__code__.co_firstlineno - 1)
        import numba

        namespace = {**rule.__globals__, "_dtype": dtype.type, "prange": numba.prange}
        if not rule.__module__.startswith("gdlab."):
            # Numba's disk cache finds a function's module by name: a plugin
            # imported under another name elsewhere would miss it. Its variant
            # gets a module of its own, named by its source.
            function = _by_source(ast.unparse(tree), fn.name, namespace)
        else:
            exec(
                compile(ast.fix_missing_locations(tree), inspect.getfile(rule), "exec"),
                namespace,
            )
            function = namespace[fn.name]
        return numba.njit(
            function, cache=True, error_model="numpy", parallel=bool(parallel)
        )

    def _compile_runs(self, plain: Any) -> Any:
        """The driver of :meth:`runs`: a compiled loop over the runs that calls
        ``plain`` (a variant of the rule) on each run's slice of every array, with
        its run's ``float`` values. The loop over a run's elements stays the
        rule's parallel one, which Numba vectorizes knowing that the arrays do not
        overlap (the same loop nested in a loop over runs was not: 5x slower)."""
        rule, kinds = self.rule, self._kinds()
        p = next(iter(inspect.signature(rule).parameters))
        calls = []
        for name, kind in kinds.items():
            if kind == "array":  # an unused (empty) array stays empty
                calls.append(f"{name}[_s:_e]")
            elif kind == "float":
                calls.append(f"{name}[_r]")
            else:
                calls.append(name)
        # the rule's source in the name: the driver's cached machine code holds
        # the rule's, which must not outlive an edit of the rule
        version = zlib.crc32(inspect.getsource(rule).encode())
        name = f"{plain.py_func.__name__}_runs_{version:08x}"
        source = (
            f"def {name}({p}, {', '.join(kinds)}, _n):\n"
            f"    for _r in range({p}.size // _n):\n"
            "        _s = _r * _n\n"
            "        _e = _s + _n\n"
            f"        _plain({p}[_s:_e], {', '.join(calls)})\n"
        )
        import numba

        function = _by_source(source, name, {"_plain": plain})
        return numba.njit(function, cache=True, error_model="numpy")


def cache_folder() -> pathlib.Path:
    """Where plugin kernels are cached: ``$GDLAB_KERNEL_CACHE`` or
    ``~/.cache/gdlab/kernels``."""
    folder = os.environ.get("GDLAB_KERNEL_CACHE")
    if folder:
        return pathlib.Path(folder)
    return pathlib.Path.home() / ".cache" / "gdlab" / "kernels"


def _by_source(source: str, name: str, namespace: dict[str, Any]) -> Any:
    """Function ``name`` of ``source`` (a variant), defined in a module named by
    the hash of the source and written to :func:`cache_folder`, with the rule's
    globals; the module stays in ``sys.modules`` for Numba's cache to find."""
    key = hashlib.sha256(source.encode()).hexdigest()[:20]
    module_name = f"gdlab_kernel_{key}"
    module = sys.modules.get(module_name)
    if module is None:
        folder = cache_folder()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{module_name}.py"
        if not path.exists() or path.read_text() != source:
            partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            partial.write_text(source)
            os.replace(partial, path)  # atomic: a reader sees all of it or none
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        module.__dict__.update(
            {k: v for k, v in namespace.items() if not k.startswith("__")}
        )
        sys.modules[module_name] = module
        exec(compile(source, str(path), "exec"), module.__dict__)
    return module.__dict__[name]


def elementwise(rule: Callable[..., None]) -> Kernel:
    """Compile ``rule``, an element-wise loop over flat arrays, into a Kernel."""
    return Kernel(rule)
