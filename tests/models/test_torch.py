"""gdlab.models.torch: a torch module trained by fit over views of one gdlab buffer,
its gradients written by backprop into a second one, train/eval modes, buffers in
checkpoints, thread counts and bad input."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from gdlab import checkpoint, data, optim, train  # noqa: E402
from gdlab.models import TrainableModel  # noqa: E402
from gdlab.models.torch import RNG_BUFFER, TorchModel  # noqa: E402
from gdlab.models.torch_nets import (  # noqa: E402
    build_2c2d,
    build_cnn,
    two_conv_two_dense,
)


def digits(rows: int = 240) -> data.Dataset:
    """The first rows of the digits' training split (and a fifth as many to test),
    with a validation split: a CNN trains on it in a fraction of a second."""
    ds = data.load("digits")
    return data.Dataset(
        ds.X_train[:rows],
        ds.y_train[:rows],
        ds.X_test[: rows // 5],
        ds.y_test[: rows // 5],
        ds.classes,
        "digits-head",
    ).split_validation()


@pytest.fixture(scope="module")
def small() -> data.Dataset:
    return digits()


def test_parameters_and_gradients_are_views_of_one_buffer_each(
    small: data.Dataset,
) -> None:
    model = build_cnn(small, seed=0, dtype="float32")
    assert isinstance(model, TrainableModel)
    named = dict(model.module.named_parameters())
    assert list(model.params) == list(named)
    assert list(model.params.buffers) == [np.dtype(np.float32)]
    for name, p in named.items():
        assert p.data_ptr() == model.params[name].ctypes.data
    loss, grads = model.loss_and_grad(small.X_train[:32], small.y_train[:32])
    assert grads is model.grads  # backprop wrote into it: no copy handed over
    for name, p in named.items():
        assert p.grad is not None
        assert p.grad.data_ptr() == grads[name].ctypes.data
    # an update of the buffer is the module's: torch sees the new weights
    before = model.loss(small.X_train[:32], small.y_train[:32])
    optim.SGD(model.params, lr=0.5).step(grads)
    assert model.loss(small.X_train[:32], small.y_train[:32]) < before
    assert loss == pytest.approx(before, rel=1e-6)  # train = eval: no BN, no dropout


def test_accuracy_reuses_the_loss_pass_only_while_nothing_changed(
    small: data.Dataset,
) -> None:
    model = build_cnn(small, seed=0, dtype="float64")
    X, y = small.X_val, small.y_val
    model.loss(X, y)
    with torch.no_grad():
        rows = torch.from_numpy(np.asarray(X, dtype=np.float64)).reshape(-1, 1, 8, 8)
        logits = model.module.eval()(rows)
    assert model.accuracy(X, y) == float(np.mean(logits.argmax(1).numpy() == y))
    model.loss(X, y)
    model.params["7.weight"][...] = 0.0  # every logit now the bias alone
    model.params["7.bias"][...] = np.arange(10.0)  # class 9 always wins
    assert model.accuracy(X, y) == float(np.mean(y == 9))
    model.loss(X, y)
    assert model.accuracy(X.copy(), y) == float(np.mean(y == 9))  # another array


def test_gradient_matches_central_differences_in_float64(small: data.Dataset) -> None:
    model = build_cnn(small, seed=3, dtype="float64", channels=2)
    X, y = small.X_train[:6], small.y_train[:6]
    _, grads = model.loss_and_grad(X, y)
    flat = model.params.buffers[np.dtype(np.float64)]
    exact = grads.buffers[np.dtype(np.float64)].copy()
    h, worst = 1e-6, 0.0
    for i in range(flat.size):
        x = flat[i]
        flat[i] = x + h
        up = model.loss(X, y)
        flat[i] = x - h
        down = model.loss(X, y)
        flat[i] = x
        worst = max(worst, abs((up - down) / (2 * h) - exact[i]))
    assert flat.size == 266
    assert worst < 1e-8


def test_a_second_step_overwrites_the_gradient_even_after_zero_grad(
    small: data.Dataset,
) -> None:
    model = build_cnn(small, seed=0, dtype="float64")
    X, y = small.X_train[:16], small.y_train[:16]
    first = model.loss_and_grad(X, y)[1].copy()
    model.module.zero_grad()  # sets every .grad to None
    again = model.loss_and_grad(X, y)[1]
    assert np.array_equal(
        again.buffers[np.dtype(np.float64)], first.buffers[np.dtype(np.float64)]
    )


class Recorder(nn.Module):
    """A linear classifier with dropout that records its mode at each forward, and
    torch's thread count."""

    def __init__(self) -> None:
        super().__init__()
        self.dropout = nn.Dropout(0.5)
        self.linear = nn.Linear(64, 10)
        self.modes: list[bool] = []
        self.threads: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.modes.append(self.training)
        self.threads.append(torch.get_num_threads())
        return self.linear(self.dropout(x))


def test_fit_trains_in_train_mode_and_evaluates_in_eval_mode(
    small: data.Dataset,
) -> None:
    module = Recorder()
    model = TorchModel(module, nn.CrossEntropyLoss(), dtype="float64")
    config = train.TrainConfig(epochs=2, batch_size=60)
    hist = train.fit(
        model, optim.create("adam", model.params), small, config, progress=False
    )
    steps = len(hist.steps)
    evaluations = len(hist.epochs) * 3  # train, val and test: one pass for both
    # the loss and the accuracy (one chunk each)
    assert module.modes.count(True) == steps
    assert module.modes.count(False) == evaluations + 1  # + the work count's probe
    # dropout is off in eval mode: an evaluation is the same twice
    X, y = small.X_val, small.y_val
    assert model.loss(X, y) == model.loss(X, y)
    assert hist.epochs[-1]["val_loss"] == model.loss(X, y)


def test_small_work_runs_torch_on_one_thread_and_restores_the_count(
    small: data.Dataset,
) -> None:
    module = Recorder()
    model = TorchModel(module, nn.CrossEntropyLoss())
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model.loss_and_grad(small.X_train[:32], small.y_train[:32])
        assert module.threads[-1] == 1  # 32 rows x 640 multiply-adds: tiny
        assert torch.get_num_threads() == 2
        model.threads = 2  # as TorchModel(..., threads=2): the count asked for
        model.loss_and_grad(small.X_train[:32], small.y_train[:32])
        assert module.threads[-1] == 2
        torch.set_num_threads(1)
        model.loss(small.X_train, small.y_train)
        assert module.threads[-1] == 2
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_gdlab_kernels_give_torch_its_thread_count_back() -> None:
    """Numba's OpenMP calls bind to torch's libgomp when torch loaded first (as
    here): Numba's ``set_num_threads`` around a small step set torch's count to
    Numba's, and torch then ran every later op on every core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        w = {"w": np.zeros(10)}
        optim.Adam(w, lr=0.1).step({"w": np.ones(10)})
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


KILLED_RUN = """
import sys, time
sys.path.insert(0, {root!r})
from tests.models.test_torch import bn_run
from gdlab import train
from gdlab.callbacks import Callback
class Slow(Callback):  # 27 steps of 0.05 s: still running when it is killed
    def on_step(self, step, optimizer):
        time.sleep(0.05)
model, opt, ds, config = bn_run()
train.fit(model, opt, ds, config, checkpoint_dir=sys.argv[1], checkpoint_every=2,
          progress=False, callbacks=[Slow()])
"""


def bn_run() -> tuple[TorchModel, optim.Optimizer, data.Dataset, train.TrainConfig]:
    """A CNN with BatchNorm and dropout (its buffers and random stream matter)."""
    ds = digits(200)
    model = build_cnn(ds, seed=5, dtype="float64", channels=4, batchnorm=True)
    model.module.append(nn.Dropout(0.2))
    return (
        model,
        optim.create("momentum", model.params, lr=0.05),
        ds,
        train.TrainConfig(epochs=3, batch_size=20),
    )


@pytest.mark.slow
def test_buffers_are_checkpointed_and_resume_after_sigkill_is_bit_identical(
    tmp_path: Path,
) -> None:
    model, opt, ds, config = bn_run()
    expected = train.fit(model, opt, ds, config, progress=False)
    script = KILLED_RUN.format(root=str(Path(__file__).parents[2]))
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while not checkpoint.paths(tmp_path) and child.poll() is None:
        assert time.monotonic() < deadline, "the child wrote no checkpoint in 120 s"
        time.sleep(0.005)
    time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    _, stderr = child.communicate()
    assert child.returncode == -signal.SIGKILL, stderr.decode()  # killed mid-run
    arrays, _, _ = checkpoint.load_latest(tmp_path)
    assert {"buffer/1.running_mean", "buffer/1.num_batches_tracked"} <= set(arrays)
    assert f"buffer/{RNG_BUFFER}" in arrays
    again, opt2, _, _ = bn_run()
    hist, resumed, _ = train.resume(tmp_path, again, opt2, ds, progress=False)
    assert resumed is again
    f64 = np.dtype(np.float64)
    assert np.array_equal(again.params.buffers[f64], model.params.buffers[f64])
    for name, buffer in model.buffers.items():
        assert np.array_equal(again.buffers[name], buffer), name
    assert [e["val_loss"] for e in hist.epochs] == [
        e["val_loss"] for e in expected.epochs
    ]


def test_a_checkpoint_without_the_models_buffers_is_refused(tmp_path: Path) -> None:
    model, opt, ds, _ = bn_run()
    train.fit(
        model,
        opt,
        ds,
        train.TrainConfig(epochs=1, batch_size=100),
        progress=False,
        checkpoint_dir=tmp_path,
    )
    newest = checkpoint.paths(tmp_path)[0]
    arrays, meta = checkpoint.read(newest)
    del arrays["buffer/1.running_var"]
    checkpoint.save(tmp_path, 10**6, arrays, checkpoint.CheckpointMeta.from_dict(meta))
    again, opt2, _, _ = bn_run()
    with pytest.raises(
        ValueError, match=r"arrays\['buffer/1.running_var'\] must be present"
    ):
        train.resume(tmp_path, again, opt2, ds, progress=False)


def test_fmnist_2c2d_has_deepobs_architecture_and_initialization() -> None:
    net = two_conv_two_dense(28, 10)  # Fashion-MNIST's images
    assert sum(p.numel() for p in net.parameters()) == 3_274_634
    w = net[7].weight.detach().numpy()
    assert w.shape == (1024, 3136)
    assert np.abs(w).max() <= 0.1
    assert 0.04 < float(w.std()) < 0.05  # a normal of std 0.05 cut at 2 std: 0.044
    rng = np.random.default_rng(0)
    fake = data.Dataset(  # 8x8 images: the same layers, a small dense one
        rng.random((8, 64)),
        rng.integers(0, 10, 8),
        rng.random((4, 64)),
        rng.integers(0, 10, 4),
        tuple("0123456789"),
        "fake",
    )
    model = build_2c2d(fake, seed=0, dtype="float32")
    shapes = {n: model.params[n].shape for n in model.params}
    assert shapes == {
        "0.weight": (32, 1, 5, 5),
        "0.bias": (32,),
        "3.weight": (64, 32, 5, 5),
        "3.bias": (64,),
        "7.weight": (1024, 256),
        "7.bias": (1024,),
        "9.weight": (10, 1024),
        "9.bias": (10,),
    }
    assert np.all(model.params["0.bias"] == np.float32(0.05))
    assert model.loss(fake.X_train, fake.y_train) > 0


def test_weights_depend_on_the_seed_alone(small: data.Dataset) -> None:
    torch.manual_seed(123)
    a = build_cnn(small, seed=4, dtype="float64")
    state = torch.get_rng_state()
    b = build_cnn(small, seed=4, dtype="float64")
    assert torch.equal(state, torch.get_rng_state())  # the global stream untouched
    assert (
        a.params.buffers[np.dtype(np.float64)].tolist()
        == b.params.buffers[np.dtype(np.float64)].tolist()
    )
    c = build_cnn(small, seed=5, dtype="float64")
    assert not np.array_equal(a.params["0.weight"], c.params["0.weight"])


@pytest.mark.parametrize("dtype", [np.float64, "float64", torch.float64])
def test_dtype_is_numpys_or_torchs(dtype: object) -> None:
    model = TorchModel(nn.Linear(2, 2), nn.MSELoss(), dtype=dtype)
    assert model.dtype == np.dtype(np.float64)
    assert model.module.weight.dtype == torch.float64
    assert list(model.params.buffers) == [np.dtype(np.float64)]


def test_a_run_spec_names_the_cnn_and_a_torch_optimizer() -> None:
    from gdlab.experiment import RunSpec, build

    run = build(RunSpec(data="digits", model="cnn:channels=2,batchnorm=true",
                        optimizer="torch:Adam", lr=0.01))  # fmt: skip
    assert (
        repr(run.model) == "TorchModel(cnn(channels=2, batchnorm=True), dtype=float32)"
    )
    assert type(run.optimizer).__name__ == "torch:Adam"
    with pytest.raises(ValueError, match=r"option 'width' of cnn must be one of"):
        build(RunSpec(data="digits", model="cnn:width=4"))


def test_the_nets_register_without_loading_torch() -> None:
    probe = (
        "import sys\nfrom gdlab.models import torch_nets\nnames = []\n"
        "torch_nets.register_builtin(lambda name, build: names.append(name))\n"
        "print(names, 'torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "['cnn', 'fmnist_2c2d'] False"


class Scalarless(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: TorchModel([nn.Linear(2, 2)], nn.MSELoss()),
            r"TorchModel: module must be a torch.nn.Module, got 'list'",
        ),
        (
            lambda: TorchModel(Scalarless(), nn.MSELoss()),
            r"TorchModel: module must be a module with parameters to train",
        ),
        (
            lambda: TorchModel(
                nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2).double()), nn.MSELoss()
            ),
            r"TorchModel: module's parameters must be of one dtype \(or give "
            r"dtype=\), got 'float32, float64'",
        ),
        (
            lambda: TorchModel(nn.Linear(2, 2), nn.MSELoss(), dtype="float16"),
            r"TorchModel: dtype must be float32 or float64, got 'float16'",
        ),
        (
            lambda: TorchModel(nn.Linear(2, 2).half(), nn.MSELoss()),
            r"TorchModel: dtype must be float32 or float64, got 'float16'",
        ),
        (
            lambda: TorchModel(nn.Linear(2, 2), "mse"),
            r"TorchModel: loss must be a callable",
        ),
        (
            lambda: TorchModel(nn.Linear(2, 2), nn.MSELoss(), input_shape=(0, 2)),
            r"TorchModel: input_shape must be a tuple of sizes > 0",
        ),
    ],
)
def test_bad_modules_are_refused_with_one_message(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


def test_a_loss_that_is_no_scalar_is_refused_before_training() -> None:
    model = TorchModel(nn.Linear(3, 1), nn.MSELoss(reduction="none"), name="lin")
    X, y = np.ones((4, 3)), np.zeros(4)
    with pytest.raises(
        ValueError,
        match=r"TorchModel\(lin, dtype=float32\): loss must be a scalar tensor "
        r"\(the batch's mean\), got \(2, 1\)",
    ):
        model.check(X, y)
    before = model.params.buffers[np.dtype(np.float32)].copy()
    with pytest.raises(ValueError, match="loss must be a scalar"):
        model.loss_and_grad(X, y)
    assert np.array_equal(model.params.buffers[np.dtype(np.float32)], before)


def test_data_the_module_cannot_take_is_refused(small: data.Dataset) -> None:
    model = TorchModel(nn.Linear(10, 3), nn.CrossEntropyLoss(), name="lin")
    with pytest.raises(
        ValueError,
        match=r"TorchModel\(lin, dtype=float32\): the module cannot take the "
        r"data: .*shapes",
    ):
        model.check(small.X_train, small.y_train)
    model = TorchModel(nn.Linear(64, 3), nn.CrossEntropyLoss(), name="lin")
    with pytest.raises(
        ValueError,
        match=r"y must be labels in \[0, 3\) \(the module's outputs\), "
        r"got 'labels \d\.\.9'",
    ):
        model.check(small.X_train[:40], small.y_train[:40])
    with pytest.raises(ValueError, match=r"cnn: channels must be an integer, got 'x'"):
        build_cnn(small, seed=0, dtype="float64", channels="x")
    with pytest.raises(
        ValueError, match=r"cnn: channels must be an integer >= 1, got 0"
    ):
        build_cnn(small, seed=0, dtype="float64", channels="0")
    with pytest.raises(ValueError, match=r"cnn: channels must be at most 1024"):
        build_cnn(small, seed=0, dtype="float64", channels="1000000")  # 72 TB
    with pytest.raises(ValueError, match=r"cnn: batchnorm must be"):
        build_cnn(small, seed=0, dtype="float64", batchnorm="maybe")
    with pytest.raises(ValueError, match=r"cnn: dataset must be a classification"):
        build_cnn(data.load("regression"), seed=0, dtype="float64")
    ten = data.Dataset(
        np.ones((4, 10)),
        np.zeros(4, int),
        np.ones((2, 10)),
        np.zeros(2, int),
        ("a",),
        "t",
    )
    with pytest.raises(
        ValueError, match=r"cnn: dataset must be square one-channel images .*, got 10"
    ):
        build_cnn(ten, seed=0, dtype="float64")
