r"""Worked updates: every quantity of one optimizer step, element by element.

``explain("rmsprop", param, grad, lr=0.01, alpha=0.9)`` runs the real optimizer on
a copy of ``param`` and returns, per step and per element, the quantities of its
update rule (for RMSprop: g, g², v, √v+ε, step, new θ) with the formula above
them — the worked example the course notes try by hand and get wrong.

``state=`` starts the optimizer from a given state instead of a fresh one, so the
premise of a worked example ("the previous average of g² was g²") can be set:
``explain("rmsprop", θ, g, lr=0.01, alpha=0.9, state={"v": g**2})``.

Where the numbers come from:

* **θ new** is what the optimizer itself computed (its parameter after ``step``);
* the **state** columns (m, v, momentum buffers, ...) are the optimizer's state
  arrays after the step;
* the **derived** columns (g², m̂, v̂, √v̂+ε, step, ...) are recomputed here from
  the gradient, the state and the hyperparameters, for display. They satisfy
  ``θ new = θ − Σ subtracted columns`` to rounding, which the tests check for every
  optimizer and every documented switch.
"""

from gdlab.lab.explain.rules import RULES
from gdlab.lab.explain.steps import ExplainedStep, Explanation
from gdlab.lab.explain.worked import explain

__all__ = ["RULES", "ExplainedStep", "Explanation", "explain"]
