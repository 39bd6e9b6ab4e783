"""A PyTorch module and a loss as a gdlab model: ``fit`` trains it with gdlab's
optimizers, fused over one buffer (extra ``gdlab[torch]``; loaded only when used).

:class:`TorchModel` moves the module's parameters into one gdlab
:class:`~gdlab.Params` and leaves each ``nn.Parameter`` a view of it
(``torch.from_numpy`` over the buffer's slices), so an optimizer built on
``model.params`` updates the whole network in one pass. Each parameter's ``.grad``
is a view of a second buffer of the same layout (``model.grads``): backprop
accumulates straight into it (zeroed first, one ``memset`` per step) and
``loss_and_grad`` hands it over without a copy::

    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    model = TorchModel(net, nn.CrossEntropyLoss(), input_shape=(1, 8, 8))
    fit(model, optim.create("adam", model.params), load("digits"))

Rows of the dataset (``X`` is (samples, features)) are reshaped to
``(samples, *input_shape)`` and cast to the model's dtype (float32 or float64).
Training steps run the module in ``train()`` mode, evaluations (``loss``,
``accuracy``) in ``eval()`` mode without gradients, so dropout and BatchNorm
behave as in PyTorch's own loops. Buffers (BatchNorm's running statistics) and the
model's own random stream (dropout's masks) are :attr:`TorchModel.buffers`, which
checkpoints save and ``resume`` restores, so a resumed run is bit-identical.

Threads: torch's ops take one thread where the work is small, by the rule
gdlab's own models follow for BLAS (:mod:`gdlab._blas`) and its optimizers for
Numba (:mod:`gdlab.optim.kernel`): fewer than 10⁸ multiply-adds in a step or an
evaluation chunk. torch's OpenMP pool and Numba's are two pools; each taking every
core of a busy machine, they spin against each other (an 8-epoch fit of the digits
CNN: ``benchmarks/bench_torch_threads.py``). ``threads=`` fixes the count instead.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, DTypeLike, NDArray
from torch import nn

from gdlab import _blas, _checks
from gdlab.params import Params

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""A loss: ``loss(output, target)`` -> a 0-d tensor, the batch's mean."""

EVAL_ROWS = 1024
"""Rows per forward pass when evaluating (the activations of a whole dataset
through a CNN would not fit in memory)."""
RNG_BUFFER = "torch.rng_state"
"""The name of the model's random stream among its buffers."""
CLASSIFICATION_LOSSES = (nn.CrossEntropyLoss, nn.NLLLoss)

_F32: np.dtype[np.floating] = np.dtype(np.float32)
_F64: np.dtype[np.floating] = np.dtype(np.float64)
_DTYPES = {_F32: torch.float32, _F64: torch.float64}


def _numpy_dtype(owner: str, dtype: object) -> np.dtype[np.floating]:
    """``dtype`` (NumPy's or torch's, or its name) as NumPy's float32 or float64."""
    if isinstance(dtype, torch.dtype):
        dtype = str(dtype).removeprefix("torch.")
    try:
        found = None if dtype is None else np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        found = None
    for known in (_F32, _F64):
        if found == known:
            return known
    _checks.fail(owner, "dtype", "float32 or float64", dtype)


class TorchModel:
    """``module`` trained on ``loss(module(x), y)`` with gdlab's optimizers.

    Args:
        module: a ``torch.nn.Module`` on the CPU with at least one parameter that
            requires a gradient (frozen ones stay constants of the model).
        loss: ``loss(output, target)`` returning the batch's mean as a 0-d
            tensor (``nn.CrossEntropyLoss()``, ``nn.MSELoss()``, a function).
        input_shape: the shape of one sample, e.g. ``(1, 8, 8)``; default: rows
            as they are.
        dtype: ``float32`` or ``float64``; the module is converted to it. Default:
            its parameters' own, which must be one of those two, and one for all.
        classifier: whether :meth:`accuracy` applies (targets are class indices);
            default: True for ``CrossEntropyLoss`` and ``NLLLoss``.
        seed: seeds the model's own random stream (dropout's masks), which is
            kept apart from torch's global one and saved in checkpoints.
        name: how ``repr`` names the model (a checkpoint compares it on resume);
            default: the module's repr on one line.
        threads: torch's threads for the module's work; default: one for a
            step or evaluation chunk under 10⁸ multiply-adds, else torch's own
            count.

    Raises ValueError for a module that is none, has no parameters to train,
    mixes dtypes or lives off the CPU, and (from :meth:`check` and each step) for
    a loss that returns no scalar.
    """

    def __init__(
        self,
        module: nn.Module,
        loss: Loss,
        *,
        input_shape: Sequence[int] | None = None,
        dtype: DTypeLike | None = None,
        classifier: bool | None = None,
        seed: int = 0,
        name: str | None = None,
        threads: int | None = None,
    ) -> None:
        owner = "TorchModel"
        if not isinstance(module, nn.Module):
            _checks.fail(owner, "module", "a torch.nn.Module", type(module).__name__)
        if not callable(loss):
            _checks.fail(owner, "loss", "a callable loss(output, target)", loss)
        seed = _checks.integer(owner, "seed", seed, low=0)
        if threads is not None:
            threads = _checks.integer(owner, "threads", threads, low=1)
        self.threads = threads
        trained = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not trained:
            _checks.fail(owner, "module", "a module with parameters to train", module)
        places = sorted({str(p.device) for _, p in trained})
        if places != ["cpu"]:
            _checks.fail(owner, "module", "on the CPU", ", ".join(places))
        if dtype is None:
            kinds = sorted({str(p.dtype).removeprefix("torch.") for _, p in trained})
            if len(kinds) > 1:
                _checks.fail(
                    owner,
                    "module's parameters",
                    "of one dtype (or give dtype=)",
                    ", ".join(kinds),
                )
            dtype = kinds[0]
        self.dtype = _numpy_dtype(owner, dtype)
        if input_shape is not None:
            shape = tuple(input_shape) if isinstance(input_shape, Sequence) else ()
            if not shape or not all(
                isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape
            ):
                _checks.fail(owner, "input_shape", "a tuple of sizes > 0", input_shape)
            input_shape = shape
        if classifier is None:
            classifier = isinstance(loss, CLASSIFICATION_LOSSES)
        self.module = module.to(dtype=_DTYPES[self.dtype])
        self.input_shape: tuple[int, ...] | None = input_shape
        self.is_classifier = _checks.flag(owner, "classifier", classifier)
        self.loss_name = f"torch:{getattr(loss, '__name__', type(loss).__name__)}"
        self._loss = loss
        self._name = name
        self._tensors = [p for _, p in trained]
        self._params = Params(
            {n: p.detach().numpy() for n, p in trained}, dtype=self.dtype
        )
        self._grads = self._params.zeros_like()
        with torch.no_grad():
            for n, p in trained:
                p.data = torch.from_numpy(self._params[n])
        self._grad_views = [torch.from_numpy(self._grads[n]) for n, _ in trained]
        generator = torch.Generator().manual_seed(seed)
        self._rng: NDArray[np.uint8] = generator.get_state().numpy().copy()
        self._training: bool | None = None
        self._work: int | None = None
        self._counted: tuple[object, object, list[NDArray[Any]], float] | None = None

    # --- what the training loop reads -------------------------------------------

    @property
    def params(self) -> Params:
        """The trained parameters in one buffer, named as ``named_parameters``."""
        return self._params

    @property
    def grads(self) -> Params:
        """The gradient buffer (each ``param.grad`` is a view of it)."""
        return self._grads

    @property
    def buffers(self) -> dict[str, NDArray[Any]]:
        """The module's buffers (``running_mean``, ``num_batches_tracked``, ...) and
        its random stream (:data:`RNG_BUFFER`), as arrays that share their memory:
        a checkpoint saves them, a resume writes into them."""
        found = {n: b.numpy() for n, b in self.module.named_buffers()}
        return {**found, RNG_BUFFER: self._rng}

    def __repr__(self) -> str:
        what = self._name or " ".join(repr(self.module).split())
        return f"TorchModel({what}, dtype={self.dtype.name})"

    def loss_and_grad(self, X: ArrayLike, y: ArrayLike) -> tuple[float, Params]:
        """The loss on the batch (train mode) and its gradient, written by backprop
        into :attr:`grads` (returned; the next call overwrites it)."""
        x, t = self._inputs(X, y)
        self._mode(training=True)
        for buffer in self._grads.buffers.values():
            buffer.fill(0)
        for p, g in zip(self._tensors, self._grad_views, strict=True):
            p.grad = g  # again each step: a module.zero_grad() sets them to None
        with self._threads(x, 3), self._own_rng(), torch.enable_grad():
            output = self.module(x)
            value = self._scalar(self._loss(output, self._targets(output, t)))
            value.backward()  # forward and backward: about 3 forwards' work
        return float(value.detach()), self._grads

    def loss(self, X: ArrayLike, y: ArrayLike) -> float:
        """The mean loss on ``(X, y)`` in eval mode, :data:`EVAL_ROWS` at a time.

        A classifier counts its correct rows in the same pass, and
        :meth:`accuracy` on the same arrays right after (as ``fit`` asks) gives
        that count while the parameters and buffers are unchanged: one forward
        pass over the data for both."""
        total, correct, n = self._evaluate(X, y)
        if not n:
            return math.nan
        if self.is_classifier:
            self._counted = (X, y, self._state_now(), correct / n)
        return total / n

    def accuracy(self, X: ArrayLike, y: ArrayLike) -> float:
        """The fraction of rows whose largest output is their label (eval mode)."""
        if not self.is_classifier:
            raise ValueError(f"{self!r}: accuracy needs a classifier's loss")
        if self._counted is not None:
            X_then, y_then, then, fraction = self._counted
            if X_then is X and y_then is y:
                now = self._state_now()
                if all(np.array_equal(a, b) for a, b in zip(then, now, strict=True)):
                    return fraction
        _, correct, n = self._evaluate(X, y)
        return correct / n if n else math.nan

    def check(self, X: ArrayLike, y: ArrayLike) -> None:
        """Run the loss on the first rows of ``(X, y)`` in eval mode and check
        every label against the module's outputs, changing nothing: a ValueError
        now, before anything trains, for data the module cannot take or a loss
        that returns no scalar."""
        X, y = np.asarray(X), np.asarray(y)
        rows = min(2, len(y))
        try:
            self._evaluate(X[:rows], y[:rows])
        except RuntimeError as error:  # shapes the module's layers refuse
            first = str(error).splitlines()[0]
            raise ValueError(
                f"{self!r}: the module cannot take the data: {first}"
            ) from None
        if self.is_classifier and len(y) > rows:
            x, _ = self._inputs(X[:1], y[:1])
            with torch.no_grad():
                output = self.module(x)
            self._targets(output, torch.from_numpy(self._labels(y)))

    # --- helpers ---------------------------------------------------------------------

    def _evaluate(self, X: ArrayLike, y: ArrayLike) -> tuple[float, int, int]:
        """The summed loss (the batch mean times its rows), the correct rows of a
        classifier and the rows, in eval mode, :data:`EVAL_ROWS` at a time."""
        x, t = self._inputs(X, y)
        self._mode(training=False)
        total, correct = 0.0, 0
        with torch.no_grad(), self._threads(x[:EVAL_ROWS], 1):
            for start in range(0, len(t), EVAL_ROWS):
                output = self.module(x[start : start + EVAL_ROWS])
                target = self._targets(output, t[start : start + EVAL_ROWS])
                total += float(self._scalar(self._loss(output, target))) * len(target)
                if self.is_classifier:
                    correct += int((output.argmax(dim=1) == target).sum())
        return total, correct, len(t)

    def _inputs(self, X: ArrayLike, y: ArrayLike) -> tuple[Any, Any]:
        owner = repr(self)
        x = np.ascontiguousarray(X, dtype=self.dtype)
        labels = np.asarray(y)
        if x.ndim != 2 or labels.shape != (len(x),):
            _checks.fail(
                owner,
                "X, y",
                "(samples, features) and (samples,)",
                f"shapes {x.shape} and {labels.shape}",
            )
        shape = self.input_shape or x.shape[1:]
        if math.prod(shape) != x.shape[1]:
            _checks.fail(owner, "X", f"rows of {math.prod(shape)} features", x.shape[1])
        if self.is_classifier:
            target = torch.from_numpy(self._labels(labels))
        else:
            target = torch.from_numpy(np.ascontiguousarray(labels, dtype=self.dtype))
        return torch.from_numpy(x).reshape(len(x), *shape), target

    def _labels(self, labels: NDArray[Any]) -> NDArray[np.int64]:
        if labels.dtype.kind not in "iu" and not (
            labels.dtype.kind == "f" and np.all(labels == np.round(labels))
        ):
            _checks.fail(repr(self), "y", "integer class labels", labels.dtype)
        return labels.astype(np.int64)

    def _state_now(self) -> list[NDArray[Any]]:
        """Copies of what an evaluation depends on: parameters and buffers."""
        arrays = [b.copy() for b in self._params.buffers.values()]
        return arrays + [b.numpy().copy() for b in self.module.buffers()]

    def _targets(self, output: Any, t: Any) -> Any:
        """Targets as the loss takes them: labels checked against the outputs'
        classes; regression targets in the outputs' shape."""
        if self.is_classifier:
            classes = output.shape[1] if output.ndim == 2 else 0
            if len(t) and (int(t.min()) < 0 or int(t.max()) >= classes):
                _checks.fail(
                    repr(self),
                    "y",
                    f"labels in [0, {classes}) (the module's outputs)",
                    f"labels {int(t.min())}..{int(t.max())}",
                )
            return t
        if output.shape != t.shape and output.numel() == t.numel():
            return t.reshape(output.shape)
        return t

    def _scalar(self, value: object) -> Any:
        if not isinstance(value, torch.Tensor) or value.ndim != 0:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else value
            _checks.fail(
                repr(self), "loss", "a scalar tensor (the batch's mean)", shape
            )
        return value

    def _mode(self, *, training: bool) -> None:
        if self._training is not training or self.module.training is not training:
            self.module.train(training)
            self._training = training

    @contextlib.contextmanager
    def _threads(self, x: Any, passes: int) -> Iterator[None]:
        """torch's ops on one thread for the block when ``passes`` passes of the
        rows ``x`` through the module are fewer than
        :data:`gdlab._blas.ONE_THREAD_BELOW` multiply-adds (the rule gdlab's
        models follow for BLAS; Numba's kernels take one thread below their own
        size, :mod:`gdlab.optim.kernel`)."""
        before, wanted = torch.get_num_threads(), self.threads
        if wanted is None:
            work = passes * len(x) * self._work_per_row(x)
            wanted = 1 if work < _blas.ONE_THREAD_BELOW else before
        if wanted == before:
            yield
            return
        torch.set_num_threads(wanted)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def _work_per_row(self, x: Any) -> int:
        """Multiply-adds of one row through the module, counted once on a row of
        zeros in eval mode (changing nothing): for each submodule with a
        ``weight``, its size times the output positions it slides over."""
        if self._work is None:
            counted = [0]

            def count(module: nn.Module, _: object, output: object) -> None:
                weight = getattr(module, "weight", None)
                if isinstance(weight, torch.Tensor) and isinstance(
                    output, torch.Tensor
                ):
                    per_row = output.numel() // max(output.shape[0], 1)
                    channels = weight.shape[0] if weight.ndim else 1
                    counted[0] += weight.numel() * max(per_row // channels, 1)

            hooks = [m.register_forward_hook(count) for m in self.module.modules()]
            training = self.module.training
            try:
                self.module.eval()
                with torch.no_grad():
                    self.module(torch.zeros_like(x[:1]))
            except RuntimeError:  # the module takes other rows: judged elsewhere
                pass
            finally:
                for hook in hooks:
                    hook.remove()
                self.module.train(training)
            total = sum(b.size for b in self._params.buffers.values())
            self._work = max(counted[0], total)
        return self._work

    @contextlib.contextmanager
    def _own_rng(self) -> Iterator[None]:
        """torch's global CPU generator set to the model's stream for the block
        (dropout draws from it), then given back as it was."""
        outside = torch.get_rng_state()
        torch.set_rng_state(torch.from_numpy(self._rng))
        try:
            yield
        finally:
            self._rng[...] = torch.get_rng_state().numpy()
            torch.set_rng_state(outside)


__all__ = ["RNG_BUFFER", "TorchModel"]
