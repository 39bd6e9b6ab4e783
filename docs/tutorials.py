"""The source of docs/tutorial.ipynb (English) and docs/tutorial.ko.ipynb (Korean):
one list of cells, the code shared, the prose in both languages, following the
five course notes section by section.

``python docs/tutorials.py`` writes both notebooks (without outputs);
``python tests/test_tutorial.py`` then executes them and stores their outputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

# Each cell: ("md", English, Korean) or ("code", source) or ("figure", source).
CELLS: list[tuple[str, ...]] = [
    (
        "md",
        """# gdlab, the course notes in a notebook

This notebook follows the five course notes (Korean study notes on gradient descent,
numbered 000–004 as in `README.md`'s table) section by section. Each section says
what the note says, shows gdlab's numbers computed by the library itself, puts the
note's numbers beside them where they differ, and says why.

It runs on gdlab's runtime dependencies alone (`pip install gdlab`): nothing here
needs pandas or ipywidgets (`pip install 'gdlab[notebook]'` adds them, for
`.to_frame()` tables and the widget playground). The Korean edition is
`docs/tutorial.ko.ipynb`; every command shown takes `--lang ko`.

Every `gdlab.report.plot_*` function draws into the `ax` it is given (a new Figure
when none) and returns the Figure, which Jupyter shows.""",
        """# gdlab으로 읽는 강의 노트

이 노트북은 경사 하강법에 관한 다섯 개의 강의 노트(README.md 표의 000–004)를 절마다
따라갑니다. 각 절은 노트의 내용을 요약하고, 라이브러리가 직접 계산한 gdlab의 값을
보여 주며, 노트의 값이 다르면 나란히 놓고 그 이유를 설명합니다.

gdlab의 실행 의존성만으로 돌아갑니다 (`pip install gdlab`): pandas나 ipywidgets는
필요 없습니다 (`pip install 'gdlab[notebook]'`로 `.to_frame()` 표와 위젯 놀이터를
추가할 수 있습니다). 영어판은 `docs/tutorial.ipynb`이며, 여기 나오는 모든 명령은
`--lang ko`로 한국어 출력을 냅니다.

`gdlab.report.plot_*` 함수는 주어진 `ax`에 그림을 그리고 (없으면 새 Figure) 그
Figure를 돌려주며, Jupyter가 그것을 보여 줍니다.""",
    ),
    (
        "code",
        """%matplotlib inline
import matplotlib
import numpy as np
from matplotlib.figure import Figure

from gdlab import data, i18n, report, schedules, surfaces
from gdlab.data import Dataset
from gdlab.experiment import RunSpec, build
from gdlab.lab import compare, course_mnist, examples, explain, figures, stability
from gdlab.report import course, fonts
from gdlab.train import TrainConfig, fit

matplotlib.rcParams["figure.dpi"] = 72  # lighter pictures stored in the notebook
LANGUAGE""",
    ),
    # --- note 000 -------------------------------------------------------------------
    (
        "md",
        """## Note 000 — the gradient method ("Deep Learning from Scratch", ch. 4)

### 000.1 The gradient method

The note: a network learns by moving every parameter against the gradient of the
loss, `w ← w − η·∂L/∂w`; η, the learning rate, is a *hyperparameter*, set by a
person, unlike the weights and biases that training learns. Here is one such step
on note 001's line fit, every quantity shown by the real optimizer:""",
        """## 노트 000 — 경사법 ("밑바닥부터 시작하는 딥러닝" 4장)

### 000.1 경사법의 개념

노트의 내용: 신경망은 모든 매개변수를 손실의 기울기 반대 방향으로 움직여 학습합니다,
`w ← w − η·∂L/∂w`. 학습률 η는 *하이퍼파라미터*로, 학습으로 정해지는 가중치·편향과
달리 사람이 정합니다. 노트 001의 직선 맞추기에서 그런 한 단계를, 실제 옵티마이저가
쓴 모든 값과 함께 보입니다:""",
    ),
    (
        "code",
        """regression = surfaces.get("regression")
print(explain.explain("sgd", [-1.0, 5.0], regression, lr=0.1).format())""",
    ),
    (
        "md",
        """### 000.2 Kinds of gradient descent

The note lists batch GD (all m samples per update), mini-batch GD (a batch size
chosen in powers of two) and stochastic GD (one sample per update). On 100 noisy
points of a line, with the same learning rate and number of updates, the smaller
the batch the noisier the path around batch GD's, and the cost falls unevenly but
falls:""",
        """### 000.2 경사법의 종류

노트는 배치 경사 하강법(갱신마다 m개 전부), 미니배치 경사 하강법(2의 거듭제곱으로
고른 배치 크기), 확률적 경사 하강법(갱신마다 1개)을 듭니다. 잡음 있는 직선 위의 점
100개에서 같은 학습률과 갱신 횟수로 돌리면, 배치가 작을수록 배치 경사 하강법의 경로
주위를 더 흔들리며 돌고, 비용은 고르지 않지만 줄어듭니다:""",
    ),
    ("figure", "course.plot_batch_modes(figures.batch_modes())"),
    (
        "md",
        """The note then lists Momentum with the problem "slow, cannot learn on flat
regions". That sentence describes plain SGD, the problem momentum was made to
solve. On the bowl x²/20 + y², whose x direction is flat, 30 steps at lr 0.1 from
(−7, 2):""",
        """노트는 이어서 Momentum의 문제점으로 "느림, 평탄한 지점에서 학습 불가"를 듭니다.
이 문장은 모멘텀이 풀려고 만들어진 기본 SGD의 문제를 말합니다. x 방향이 평탄한 그릇
x²/20 + y²에서 (−7, 2)부터 학습률 0.1로 30단계:""",
    ),
    (
        "code",
        """bowl = surfaces.get("quadratic")
flat = surfaces.runs(bowl, ["sgd", "momentum"], [0.1, 0.1], start=(-7, 2), steps=30)
for run in flat:
    print(f"{run.label:<20} x after 30 steps: {run.path[-1][0]:8.4f}")
claim = examples.momentum_claims()[1]
print(f"\\nnote {claim.note}: {claim.said}\\n  -> {claim.correction}")""",
    ),
    (
        "md",
        """Adagrad, the note says, gives weights that rarely change larger steps. With a
gradient of 0.1 where a weight is used and 0 where it is not, the weight used once
moves √5 times as far as the one used at every step:""",
        """노트에 따르면 Adagrad는 드물게 변하는 가중치에 더 큰 보폭을 줍니다. 쓰일 때 기울기
0.1, 아니면 0인 경우, 한 번만 쓰인 가중치는 매번 쓰인 가중치보다 √5배 멀리 움직입니다:""",
    ),
    ("code", 'print(examples.get("adagrad").format())'),
    (
        "md",
        """### 000.3 Mini-batch training, as the note's code does it

The note's loop (Saito's `train_neuralnet.py`): a 784-50-10 sigmoid network,
weights 0.01·N(0, 1), SGD at lr 0.1, batches of 100 drawn with replacement,
10,000 iterations; the loss of the batch recorded *after* each update, and the
accuracy printed when `i % iter_per_epoch == 0`. `gdlab train --preset
course-mnist` runs exactly that (on Fashion-MNIST, which Debian ships; it ends at
train/test accuracy 0.868/0.851 after 17 evaluations, where real MNIST gives about
0.94–0.95). Here the same loop on a slice of the bundled 8×8 digits, 1,400 images
in batches of 100, so `iter_per_epoch` = 14:""",
        """### 000.3 미니배치 학습 구현, 노트의 코드 그대로

노트의 루프(사이토의 `train_neuralnet.py`): 784-50-10 시그모이드 신경망, 가중치
0.01·N(0, 1), 학습률 0.1의 SGD, 복원 추출한 배치 100개, 10,000회 반복. 배치의 손실은
매 갱신 *후에* 기록하고, `i % iter_per_epoch == 0`일 때 정확도를 출력합니다.
`gdlab train --preset course-mnist`가 바로 그것을 실행합니다 (데비안이 제공하는
Fashion-MNIST에서; 평가 17회 후 훈련/시험 정확도 0.868/0.851, 실제 MNIST에서는 약
0.94–0.95). 여기서는 내장된 8×8 digits 중 1,400장을 배치 100으로 써서
`iter_per_epoch` = 14인 같은 루프를 돌립니다:""",
    ),
    (
        "code",
        """digits = data.load("digits", val_fraction=None)
part = Dataset(digits.X_train[:1400], digits.y_train[:1400], digits.X_test,
               digits.y_test, digits.classes, "digits")
spec = RunSpec(data="digits", val_fraction=None, model="mlp:64-50-10",
               activation="sigmoid", init="normal:0.01", optimizer="sgd", lr=0.1,
               train=TrainConfig(iterations=2100, batch_size=100,
                                 sampling="with-replacement", notes_loop=True))
run = build(spec, part)
mnist_like = fit(run.model, run.optimizer, run.dataset, spec.train, progress=False,
                 verbose=False)
rows = mnist_like.epochs
print(f"{len(rows)} evaluations, after the updates {[r['step'] for r in rows[:4]]}...")
for r in rows[::15]:
    print(f"train acc, test acc | {r['train_acc']:.3f}, {r['test_acc']:.3f}")
print("\\n".join(course_mnist.differences(mnist_like.config)))""",
    ),
    (
        "figure",
        """course.plot_notes_run([s["loss"] for s in mnist_like.steps],
                      [r["train_acc"] for r in rows], [r["test_acc"] for r in rows],
                      "the notes' loop — digits 8×8, 1,400 images")""",
    ),
    (
        "md",
        """The picture is the note's: the loss linear on 0–3 with a panel on the first
iterations (here 2,100 in all, the net
leaving its plateau near 0.1 after about 400), the accuracy on 0–1, train solid and test dashed. The
note's own plotting code draws the accuracy into the zoom panel (`plt.plot` after
`plt.subplots` draws into the last axes); gdlab gives it its own panel.

### 000.4 Evaluating on test data

An epoch is one pass over the training data: 10,000 samples in batches of 100 are
100 iterations. Training and test accuracy are recorded each epoch; a test accuracy
falling behind the training accuracy is overfitting.""",
        """그림은 노트의 것과 같습니다: 0–3 범위의 선형 손실과 처음 반복을 확대한 패널(여기서는
모두 2,100회이며, 약 400회 후 0.1 근처의 정체 구간을 벗어남), 0–1 범위의 정확도, 훈련은 실선, 시험은 점선. 노트의 그리기 코드는 정확도를
확대 패널에 그립니다 (`plt.subplots` 다음의 `plt.plot`은 마지막 축에 그립니다); gdlab은
별도의 패널에 그립니다.

### 000.4 시험 데이터로 평가하기

에폭은 훈련 데이터를 한 번 모두 쓰는 것입니다: 10,000개를 100개씩 배치로 쓰면 100회
반복입니다. 에폭마다 훈련·시험 정확도를 기록하고, 시험 정확도가 훈련 정확도에 뒤처지면
과적합입니다.""",
    ),
    (
        "code",
        """print("iterations per epoch:", TrainConfig(batch_size=100).steps_per_epoch(10_000))
last = rows[-1]
print(f"train - test accuracy after {last['step']} updates: "
      f"{last['train_acc'] - last['test_acc']:+.3f}")""",
    ),
    # --- note 001 -------------------------------------------------------------------
    (
        "md",
        """## Note 001 — gradient descent on a line fit

### 001.1 MSE (build-up 1)

The note fits ŷ = m·x + b to (1, 3) and (2, 5) from m = −1, b = 5 and measures it
by the mean squared error, its `get_mse` dividing the sum of squared errors by n.
Squaring keeps errors positive, keeps them from cancelling and punishes large ones
more. gdlab's regression surface is the same function:""",
        """## 노트 001 — 직선 맞추기로 보는 경사 하강법

### 001.1 MSE (build-up 1)

노트는 m = −1, b = 5에서 시작해 ŷ = m·x + b를 (1, 3), (2, 5)에 맞추고, 평균 제곱
오차로 잽니다. 노트의 `get_mse`는 오차 제곱의 합을 n으로 나눕니다. 제곱하면 오차가
양수로 유지되고, 서로 상쇄되지 않으며, 큰 오차를 더 강하게 처벌합니다. gdlab의
regression 곡면이 바로 그 함수입니다:""",
    ),
    (
        "code",
        """def get_mse(points, m, b):  # the note's function
    return sum((y - (m * x + b)) ** 2 for x, y in points) / len(points)


print("note's get_mse:", get_mse([(1, 3), (2, 5)], -1, 5))
print("gdlab's surface:", regression.value(np.array([-1.0, 5.0])))""",
    ),
    (
        "md",
        """The note also names the sum of squares for error (SSE, 오차 제곱 합) and the
cross-entropy error (CEE, 교차 엔트로피 오차) without a formula; with Saito's
½·Σ(y − t)² and −log y_t, on his softmax output:""",
        """노트는 오차 제곱 합(SSE)과 교차 엔트로피 오차(CEE)도 식 없이 언급합니다. 사이토의
½·Σ(y − t)²와 −log y_t로, 그의 소프트맥스 출력에서:""",
    ),
    ("code", 'print(examples.get("sse-vs-cee").format())'),
    ("figure", "course.plot_sse_vs_cee(figures.sse_vs_cee())"),
    (
        "md",
        """### 001.2 The loss curve (build-up 2)

The residuals of the starting line, and the loss as a function of one weight with
gradient steps on it; then the whole surface MSE(m, b), 3-D and contour, its
minimum at m = 2, b = 1 as the note says:""",
        """### 001.2 손실 곡선 (build-up 2)

시작 직선의 잔차와, 가중치 하나에 대한 손실 곡선 위의 경사 하강 단계; 이어서 MSE(m, b)
곡면 전체를 3차원과 등고선으로 그립니다. 노트 말대로 최솟값은 m = 2, b = 1입니다:""",
    ),
    ("figure", "course.plot_residuals(figures.residuals())"),
    (
        "figure",
        "course.plot_paths(figures.regression_paths(), three_d=True)",
    ),
    (
        "md",
        """### 001.3 The worked example: gradients, learning rate, one step

The note writes ∂MSE/∂m = 9m + 5b − 23 = −7 and ∂MSE/∂b = 5m + 3b − 13 = −3, then
`m ≔ −1 − 7λ = −1.7` and `b ≔ 5 − 3λ = 5.3` at λ = 0.1. The right partials are
−3 and −1 and the step goes to (−0.7, 5.1). Their −7 and −3 are Σx²·r and Σx·r
(one factor x too many each); their two step lines use opposite signs, and the
second, as written, is 4.7. λ = 0.5 overshoots (it is above 2/λmax = 0.29, see
003.3) and 0.005 crawls, as the note shows:""",
        """### 001.3 풀이 예제: 기울기, 학습률, 한 단계

노트는 ∂MSE/∂m = 9m + 5b − 23 = −7, ∂MSE/∂b = 5m + 3b − 13 = −3이라 쓰고, λ = 0.1에서
`m ≔ −1 − 7λ = −1.7`, `b ≔ 5 − 3λ = 5.3`이라 씁니다. 올바른 편미분은 −3과 −1이고, 한
단계 후 (−0.7, 5.1)로 갑니다. 노트의 −7과 −3은 Σx²·r과 Σx·r입니다 (각각 x를 한 번 더
곱함). 두 갱신 줄은 부호가 서로 반대이고, 둘째 줄은 쓰인 대로 계산하면 4.7입니다.
λ = 0.5는 지나치고 (2/λmax = 0.29보다 큼, 003.3 참고) 0.005는 기어갑니다:""",
    ),
    ("code", 'print(examples.get("regression").format())'),
    # --- note 002 -------------------------------------------------------------------
    (
        "md",
        """## Note 002 — Momentum, RMSProp, Adam

### 002.1 Momentum SGD

The note: momentum keeps the past gradients' direction, circles around the optimum
by inertia, "and so prevents overfitting". The last clause is wrong:""",
        """## 노트 002 — Momentum, RMSProp, Adam

### 002.1 Momentum SGD

노트의 내용: 모멘텀은 지난 기울기의 방향을 유지하고, 관성 때문에 최적값 주위를 돌며,
"따라서 과적합을 방지한다". 마지막 구절은 틀렸습니다:""",
    ),
    (
        "code",
        """claim = examples.momentum_claims()[0]
print(f"note {claim.note}: {claim.said}\\n  -> {claim.correction}")""",
    ),
    (
        "md",
        """### 002.2 RMSProp, the three-parameter example

θ = (0.8, 1.2, 0.5), g = (0.1, −0.3, 0.2), the previous average taken as g². The
note computes the averages as 0.009, 0.081, 0.038 (the right ones are 0.01, 0.09,
0.04), calls g²/√v a learning rate and subtracts it times |g|, getting 0.79, 1.11,
0.48. That 0.48 is 0.5 − 0.103·0.2 with their computed rate 0.103, not the 0.2
they wrote (which would give 0.46):""",
        """### 002.2 RMSProp, 매개변수 세 개짜리 예제

θ = (0.8, 1.2, 0.5), g = (0.1, −0.3, 0.2), 이전 평균은 g²로 둡니다. 노트는 평균을
0.009, 0.081, 0.038로 계산하고 (올바른 값은 0.01, 0.09, 0.04), g²/√v를 학습률이라
부르며 |g|를 곱해 빼서 0.79, 1.11, 0.48을 얻습니다. 그 0.48은 적힌 0.2가 아니라
계산된 값 0.103을 쓴 0.5 − 0.103·0.2입니다 (0.2라면 0.46):""",
    ),
    (
        "code",
        """rates = np.array([0.01, 0.09, 0.02]) / np.sqrt([0.009, 0.081, 0.038])
theirs = np.array(examples.THETA) - rates * np.abs(examples.GRAD)
print("the note's rates:", rates.round(3), "-> theta", theirs.round(4), "->",
      theirs.round(2))
print(examples.get("rmsprop").format())""",
    ),
    (
        "md",
        """### 002.3 Adam

Adam combines momentum (the first moment) and RMSProp (the second), each an
exponentially weighted average; see 004.6 for its first step and 003.9 for how it
behaves on the bowl.""",
        """### 002.3 Adam

Adam은 모멘텀(1차 모멘트)과 RMSProp(2차 모멘트)을 합친 것으로, 둘 다 지수 가중 이동
평균입니다. 첫 단계는 004.6, 그릇 위에서의 움직임은 003.9를 보세요.""",
    ),
    # --- note 003 -------------------------------------------------------------------
    (
        "md",
        """## Note 003 — "Deep Learning Basic 05: Gradient Descent Methods"

### 003.1 Stochastic, mini-batch and batch gradient descent

The same three modes as 000.2 (the figure there).

### 003.2 Batch size matters

The note cites Keskar et al. (2017): large batches reach sharp minimizers, small
ones flat minimizers, and flat minima generalize better because the test function
is the training function shifted a little. Keskar's sketch, computed:""",
        """## 노트 003 — "Deep Learning Basic 05: Gradient Descent Methods"

### 003.1 확률적, 미니배치, 배치 경사 하강법

000.2와 같은 세 방식입니다 (그림은 그곳에).

### 003.2 배치 크기의 중요성

노트는 Keskar 등(2017)을 인용합니다: 큰 배치는 뾰족한 최솟값에, 작은 배치는 평평한
최솟값에 도달하고, 시험 함수는 훈련 함수가 조금 이동한 것이라 평평한 최솟값이 더 잘
일반화합니다. Keskar의 그림을 계산해 그리면:""",
    ),
    ("figure", "course.plot_flat_sharp(figures.flat_sharp())"),
    (
        "md",
        """Measuring it on a real network, at equal training loss for every batch size,
is `gdlab study batch-size` (minutes; its report draws λmax against batch size).

### 003.3 Gradient descent and its step size

`W ← W − η·g`; the note: too large an η fails, too small never learns. On a
quadratic the line is exact: plain GD converges when η < 2/λmax, λmax the largest
eigenvalue of the Hessian. For note 001's line fit:""",
        """실제 신경망에서 모든 배치 크기를 같은 훈련 손실에서 재는 것은 `gdlab study
batch-size`입니다 (몇 분 걸리며, 보고서에 배치 크기별 λmax를 그립니다).

### 003.3 경사 하강법과 보폭

`W ← W − η·g`; 노트: η가 너무 크면 안 되고, 너무 작으면 학습이 되지 않습니다. 이차
함수에서는 경계가 정확합니다: 헤세 행렬의 가장 큰 고윳값 λmax에 대해 η < 2/λmax일 때
수렴합니다. 노트 001의 직선 맞추기에서:""",
    ),
    ("code", 'print(stability("regression").format())'),
    (
        "md",
        """### 003.4 Momentum

The note writes `a ← βa + g` and then `W ← W − η·g_(t+1)`: the update must use
`a`, or momentum is never applied. The three ways momentum is written (Saito's,
torch's and Ng's) are one optimizer, mapped exactly:""",
        """### 003.4 Momentum

노트는 `a ← βa + g` 다음에 `W ← W − η·g_(t+1)`이라 씁니다: 갱신에는 `a`를 써야 하며,
그렇지 않으면 모멘텀이 전혀 적용되지 않습니다. 모멘텀의 세 가지 표기(사이토, torch,
앤드루 응)는 정확히 대응되는 하나의 옵티마이저입니다:""",
    ),
    ("code", 'print(examples.get("momentum-forms").format())'),
    (
        "md",
        """### 003.5 Nesterov accelerated gradient

NAG takes the gradient where momentum is about to carry it (the look-ahead point);
written as torch does, it is `SGD(nesterov=True)`. It damps momentum's overshoot:""",
        """### 003.5 Nesterov accelerated gradient

NAG는 모멘텀이 데려갈 위치(앞선 위치)에서 기울기를 계산합니다. torch처럼 쓰면
`SGD(nesterov=True)`입니다. 모멘텀이 지나치는 것을 줄여 줍니다:""",
    ),
    ("code", 'print(examples.get("nag").format())'),
    ("figure", "course.plot_paths(figures.momentum_nag_paths())"),
    (
        "md",
        """### 003.6 Adagrad

G, the sum of squared gradients, only grows: every step shrinks, learning stalls
(the example in 000.2 prints the steps).

### 003.7 Adadelta

An exponentially weighted average of g² replaces the sum, and of the squared
updates replaces the learning rate. The note says it has no learning rate; torch
and gdlab keep `lr` (default 1) as a factor on the update:""",
        """### 003.6 Adagrad

기울기 제곱의 합 G는 커지기만 합니다: 모든 보폭이 줄어들어 학습이 멈춥니다 (000.2의
예제가 보폭을 출력합니다).

### 003.7 Adadelta

합 대신 g²의 지수 가중 이동 평균을, 학습률 대신 갱신량 제곱의 평균을 씁니다. 노트는
학습률이 없다고 하지만, torch와 gdlab은 갱신에 곱하는 `lr`(기본값 1)을 둡니다:""",
    ),
    ("code", 'print(examples.get("adadelta").format())'),
    (
        "md",
        """### 003.8 RMSprop and 003.9 Adam on the ill-conditioned bowl

On x²/20 + y², 20 times steeper in y than in x, 30 steps each. SGD at 0.95 is just
under y's stability limit 2/2 = 1, so it zig-zags hard in y while x shrinks by
only 1 − 0.95/10 per step; momentum overshoots; Adagrad and RMSprop divide each
coordinate's step by the size of its gradients, so both coordinates move at one
pace. Adam ends worst here (f ≈ 0.10 against SGD's 0.013): its step is about
lr·m̂/√v̂, close to lr whatever the gradient's size, so at lr 0.3 it keeps
circling the minimum at that scale — it needs a decaying learning rate, and one
start on one function ranks nothing (a fair comparison is at the end).""",
        """### 003.8 RMSprop과 003.9 Adam, 조건이 나쁜 그릇에서

y 방향이 x 방향보다 20배 가파른 x²/20 + y²에서 각각 30단계. 학습률 0.95의 SGD는 y의
안정 한계 2/2 = 1 바로 아래라 y로 심하게 지그재그하고, x는 단계마다 1 − 0.95/10배로만
줄어듭니다. 모멘텀은 지나치고, Adagrad와 RMSprop은 좌표마다 기울기 크기로 보폭을
나누어 두 좌표가 같은 속도로 움직입니다. 여기서 Adam이 가장 나쁘게 끝납니다 (f ≈ 0.10,
SGD는 0.013): 보폭이 대략 lr·m̂/√v̂로 기울기 크기와 상관없이 lr에 가까워, 학습률 0.3에서는
그 크기로 최솟값 주위를 계속 돕니다. 학습률 감쇠가 필요하며, 한 함수의 한 출발점은 아무
순위도 정하지 못합니다 (공정한 비교는 맨 끝에).""",
    ),
    (
        "code",
        """adaptive = surfaces.runs(bowl, ["sgd", "momentum", "adagrad", "rmsprop", "adam"],
                         [0.95, 0.1, 1.5, 0.3, 0.3], start=(-7, 2), steps=30)
adaptive""",
    ),
    ("figure", "adaptive.plot()"),
    (
        "md",
        """### 003.10 Further reading: RAdam and AdamP

Both are in gdlab (`radam`, `adamp`, equal to torch's and the authors' code). AdamP
removes the radial part of Adam's update when a weight is scale-invariant (it
feeds a normalization layer), so its norm does not grow and its effective step
η/‖w‖ does not shrink. On a loss that depends on w's direction only:""",
        """### 003.10 더 읽을거리: RAdam과 AdamP

둘 다 gdlab에 있습니다 (`radam`, `adamp`; torch 및 저자 코드와 같은 값). AdamP는
가중치가 크기 불변일 때 (정규화 층으로 들어갈 때) Adam 갱신의 반지름 방향 성분을 없애,
노름이 커지지 않고 실질 보폭 η/‖w‖가 줄지 않게 합니다. w의 방향에만 의존하는 손실에서:""",
    ),
    ("figure", "course.plot_adamp(figures.adamp_projection())"),
    # --- note 004 -------------------------------------------------------------------
    (
        "md",
        """## Note 004 — Andrew Ng's course, summarized

### 004.1 Mini-batch gradient descent and its size

Batch GD for a small training set (under about 2,000: 1 iteration = 1 epoch),
otherwise 64–512, powers of two. In gdlab the batch size is a number or `"full"`:""",
        """## 노트 004 — 앤드루 응 강의 요약

### 004.1 미니배치 경사 하강법과 그 크기

훈련 세트가 작으면 (약 2,000개 미만) 배치 경사 하강법 (1 iteration = 1 epoch), 아니면
64–512의 2의 거듭제곱. gdlab에서 배치 크기는 숫자이거나 `"full"`입니다:""",
    ),
    (
        "code",
        """for size in ("full", 512, 64):
    print(f"batch size {size!s:>4}: {TrainConfig(batch_size=size).steps_per_epoch(1437)}"
          " iterations per epoch on digits' 1,437 images")""",
    ),
    (
        "md",
        """### 004.2 Exponentially weighted averages and 004.3 bias correction

`v_t = β·v_(t−1) + (1−β)·θ_t` averages about 1/(1−β) values; starting from v_0 = 0
it starts too low, and `v_t/(1 − β^t)` corrects that, which matters early only:""",
        """### 004.2 지수 가중 이동 평균과 004.3 편향 보정

`v_t = β·v_(t−1) + (1−β)·θ_t`는 대략 1/(1−β)개의 값을 평균합니다. v_0 = 0에서 시작하면
처음 값이 너무 낮고, `v_t/(1 − β^t)`가 이를 보정하며, 이는 초기에만 중요합니다:""",
    ),
    ("code", 'print(examples.get("ema").format())'),
    (
        "figure",
        """series = figures.noisy_series()
course.plot_ema_curves(series, figures.ema_curves(series))""",
    ),
    (
        "md",
        """### 004.4 Momentum, 004.5 RMSProp

Ng writes momentum as an average, `v ← βv + (1−β)·dW; W ← W − α·v`: it is
`SGD(momentum=β, lr=α·(1−β))` (003.4 prints the mapping). His RMSProp divides by
√S_dW as in 002.2.

### 004.6 Adam and its β's

The note recommends β1 = 0.9, β2 = 0.99; torch and gdlab default to β2 = 0.999.
Thanks to the bias correction, the first step is lr·sign(g) whatever β2:""",
        """### 004.4 Momentum, 004.5 RMSProp

응은 모멘텀을 평균으로 씁니다, `v ← βv + (1−β)·dW; W ← W − α·v`: 이것은
`SGD(momentum=β, lr=α·(1−β))`입니다 (003.4가 대응을 출력합니다). 그의 RMSProp은 002.2처럼
√S_dW로 나눕니다.

### 004.6 Adam과 β

노트는 β1 = 0.9, β2 = 0.99를 추천합니다; torch와 gdlab의 기본값은 β2 = 0.999입니다.
편향 보정 덕분에 첫 단계는 β2와 상관없이 lr·sign(g)입니다:""",
    ),
    ("code", 'print(examples.get("adam-first-step").format())'),
    (
        "md",
        """### 004.7 Learning-rate decay

Step, exponential `lr0·e^(−k·epoch)`, inverse time `lr0/(1 + k·epoch)`,
polynomial `lr0·(1 − epoch/max)^p`, cosine annealing ("most used") and a warm-up
followed by a decay, per epoch as `gdlab train --schedule-unit epoch` applies
them. gdlab's warm-up starts above zero, at lr/(W + 1), as torch's `LinearLR` does
with its start factor, so its first epoch trains:""",
        """### 004.7 학습률 감쇠

계단, 지수 `lr0·e^(−k·epoch)`, 역시간 `lr0/(1 + k·epoch)`, 다항식
`lr0·(1 − epoch/max)^p`, 코사인 어닐링("가장 많이 사용"), 그리고 웜업 후 감쇠를
`gdlab train --schedule-unit epoch`처럼 에폭 단위로 그립니다. gdlab의 웜업은 torch의
`LinearLR`이 시작 계수로 하듯 0이 아니라 lr/(W + 1)에서 시작하므로 첫 에폭에도 학습합니다:""",
    ),
    ("figure", "course.plot_lr_decay(figures.lr_decay(epochs=100), 100)"),
    # --- beyond the notes ----------------------------------------------------------
    (
        "md",
        """## Beyond the notes: a fair comparison

One run says little about an optimizer: its learning rate may suit it better than
another's suits that one. A fair comparison gives every optimizer the same tuning
budget (here 3 quasi-random learning rates each), selects on the validation split
and reruns the selected setting on new seeds (here 2) for the test numbers. And it
repeats that whole procedure (here 3 studies, each with its own search), because
the search itself varies most: a ranking is claimed only where a paired t-test
over the studies, Holm-adjusted over the pairs, says so. Optimizers that share a
group letter have no claim between them. (`gdlab compare` does it from the
command line, with more studies and a report.)""",
        """## 노트 너머: 공정한 비교

한 번의 실행은 옵티마이저에 대해 말해 주는 것이 적습니다: 그 학습률이 다른 옵티마이저의
학습률보다 더 잘 맞았을 수 있습니다. 공정한 비교는 모든 옵티마이저에 같은 튜닝 예산(여기서는
준난수 학습률 3개씩)을 주고, 검증 데이터로 고른 뒤, 고른 설정을 새 시드(여기서는 2개)로
다시 돌려 시험 값을 냅니다. 그리고 탐색 자체가 가장 크게 흔들리므로 이 절차 전체를
반복합니다(여기서는 스터디 3번, 각자 자신의 탐색). 스터디에 대한 대응 t-검정이 쌍 전체에
대해 Holm 보정 후에도 차이를 말할 때만 순위를 주장합니다. 같은 그룹 문자를 가진 옵티마이저
사이에는 주장이 없습니다. (`gdlab compare`가 명령줄에서 더 많은 스터디와 보고서로 해 줍니다.)""",
    ),
    (
        "code",
        """import tempfile

with tempfile.TemporaryDirectory() as folder:
    fair = compare.compare(
        RunSpec(data="digits", model="mlp:64-32-10", train=TrainConfig(epochs=3)),
        ["sgd", "adam"], compare.Protocol(budget=3, seeds=2, studies=3),
        out=folder + "/compare", workers=1, progress=False,
    )
print(fair.established)
for row in fair.summary():  # .to_frame() gives this table to pandas users
    lrs = ", ".join(f"{lr:.3g}" for lr in row["selected_lr"])
    print(f"group {row['group']:<3} {row['optimizer']:<6} lr per study {lrs}  "
          f"test acc (median) {row['test_acc']:.3f}")""",
    ),
    (
        "figure",
        """fig = fair.plot()
fig.axes[0].set_ylim(top=min(1.0, fig.axes[0].get_ylim()[1]))  # accuracy ≤ 1
fig""",
    ),
]


def notebook(language: str) -> nbformat.NotebookNode:
    """The tutorial in ``language`` ("en" or "ko"), without outputs."""
    setup = (
        'i18n.use("ko")  # the examples speak Korean\nfonts.use_hangul()  # and so do '
        "the figures"
        if language == "ko"
        else 'i18n.use("en")'
    )
    cells = []
    for kind, *text in CELLS:
        if kind == "md":
            cells.append(nbformat.v4.new_markdown_cell(text[0 if language == "en" else 1]))
        else:
            source = text[0].replace("LANGUAGE", setup)
            cell = nbformat.v4.new_code_cell(source)
            if kind == "figure":
                cell.metadata["tags"] = ["figure"]
            cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


PATHS = {"en": HERE / "tutorial.ipynb", "ko": HERE / "tutorial.ko.ipynb"}


if __name__ == "__main__":
    for lang, path in PATHS.items():
        nbformat.write(notebook(lang), path)
        print(f"wrote {path}", file=sys.stderr)
