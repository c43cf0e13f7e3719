"""Chapter 8's arithmetic of scale: training compute, and scaling laws fitted to measured losses.

A scaling law says how a language model's held-out loss falls as it grows. Kaplan et al.
(2020, arXiv:2001.08361) fitted power laws in parameters N and training tokens D; Hoffmann et
al. (2022, "Chinchilla", arXiv:2203.15556) fitted one law in both,

    L(N, D) = E + A / N**alpha + B / D**beta,

and from it the compute-optimal split of a budget of C = 6 N D floating-point operations
between parameters and tokens. :func:`fit_loss_law` fits that law the way Chinchilla's third
approach does (section 3.3 and appendix D.2): the Huber loss (delta 1e-3) between the predicted
and the measured log loss, minimised by L-BFGS from a grid of starting points, the predicted log
loss written as a log-sum-exp so that the fit runs in log space. (Every starting point is scored
at once, and L-BFGS runs from the best few of them rather than from all.)
:func:`fit_power_law` is the one-variable case, L(x) = E + A / x**alpha, for a law in N alone
or in D alone.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from typing import NamedTuple

import torch

HUBER_DELTA = 1e-3  # Chinchilla's (appendix D.2)


def training_flops(parameters: float, tokens: float) -> float:
    """C = 6 N D: about 2 N operations per token for the forward pass and 4 N for the backward
    pass (Kaplan et al., 2020, section 2.1), attention's own products left out."""
    if parameters <= 0 or tokens <= 0:
        raise ValueError(f"parameters={parameters} and tokens={tokens} must both be > 0")
    return 6.0 * parameters * tokens


# --8<-- [start:compute_optimal]
class LossLaw(NamedTuple):
    """L(N, D) = E + A / N**alpha + B / D**beta."""
    E: float
    A: float
    B: float
    alpha: float
    beta: float

    def loss(self, parameters: float, tokens: float) -> float:
        return self.E + self.A / parameters**self.alpha + self.B / tokens**self.beta

    def compute_optimal(self, flops: float) -> tuple[float, float]:
        """(N, D) that minimise the loss for ``flops`` = 6 N D (Hoffmann et al., 2022, eq. 4):
        N = G (C/6)**(beta/(alpha+beta)), D = (C/6)**(alpha/(alpha+beta)) / G, with
        G = (alpha A / (beta B))**(1/(alpha+beta))."""
        if flops <= 0:
            raise ValueError(f"flops={flops} must be > 0")
        total = self.alpha + self.beta
        g = (self.alpha * self.A / (self.beta * self.B)) ** (1 / total)
        parameters = g * (flops / 6) ** (self.beta / total)
        return parameters, flops / (6 * parameters)
# --8<-- [end:compute_optimal]


class PowerLaw(NamedTuple):
    """L(x) = E + A / x**alpha."""
    E: float
    A: float
    alpha: float

    def loss(self, x: float) -> float:
        return self.E + self.A / x**self.alpha


def _check_runs(losses: Sequence[float], **columns: Sequence[float]) -> None:
    for name, values in columns.items():
        if len(values) != len(losses):
            raise ValueError(f"{name} has {len(values)} values and losses {len(losses)}: give "
                             "one of each per run")
        if any(v <= 0 for v in values):
            raise ValueError(f"{name} must be > 0 for every run (they enter as logarithms)")
    if any(loss <= 0 for loss in losses):
        raise ValueError("losses must be > 0 (the fit compares their logarithms)")


# --8<-- [start:fit_loss_law]
def _huber_objective(thetas: torch.Tensor, log_inputs: torch.Tensor,
                     log_losses: torch.Tensor) -> torch.Tensor:
    """(starts,): the summed Huber loss of each parameter vector [e, a_1.., alpha_1..] between
    log-sum-exp(a_i - alpha_i log x_i, e), the predicted log loss, and the measured one."""
    k = log_inputs.size(1)
    e, a, alpha = thetas[:, :1], thetas[:, 1 : 1 + k], thetas[:, 1 + k :]
    terms = a[:, None, :] - alpha[:, None, :] * log_inputs  # (starts, runs, k)
    terms = torch.cat([terms, e[:, None, :].expand(-1, len(log_inputs), 1)], dim=2)
    predicted = torch.logsumexp(terms, dim=2)  # log(E + sum_i A_i / x_i**alpha_i)
    return torch.nn.functional.huber_loss(predicted, log_losses.expand_as(predicted),
                                          reduction="none", delta=HUBER_DELTA).sum(dim=1)


def _huber_fit(log_inputs: torch.Tensor, log_losses: torch.Tensor,
               grid: list[list[float]], refine: int = 8) -> list[float]:
    """The Huber fit: every point of ``grid`` scored at once, then L-BFGS from the ``refine``
    best of them; the best end point."""
    starts = torch.tensor(grid, dtype=torch.float64)
    scores = _huber_objective(starts, log_inputs, log_losses)
    best, best_value = None, math.inf
    for start in starts[scores.argsort()[:refine]]:
        theta = start.clone()[None].requires_grad_(True)
        optimizer = torch.optim.LBFGS([theta], lr=1.0, max_iter=500, tolerance_grad=1e-12,
                                      tolerance_change=1e-14, line_search_fn="strong_wolfe")

        def objective() -> torch.Tensor:
            optimizer.zero_grad()
            value = _huber_objective(theta, log_inputs, log_losses).sum()
            value.backward()
            return value

        optimizer.step(objective)
        with torch.no_grad():
            value = _huber_objective(theta, log_inputs, log_losses).item()
        if math.isfinite(value) and value < best_value:
            best, best_value = theta.detach()[0].tolist(), value
    if best is None:
        raise RuntimeError("no start of the fit reached a finite loss")
    return best


def fit_loss_law(parameters: Sequence[float], tokens: Sequence[float],
                 losses: Sequence[float], start: LossLaw | None = None) -> LossLaw:
    """L(N, D) fitted to one measured held-out loss per run (N parameters, D training tokens),
    by Chinchilla's third approach (module docstring), from its grid of starting points.
    With ``start`` (a bootstrap's refits start from the fit to every run), L-BFGS runs from
    it and from the grid's best point only: a start where a constant has run off to 0 (E, at
    times) could not move it again, as its gradient vanishes there."""
    _check_runs(losses, parameters=parameters, tokens=tokens)
    if len(losses) < 5:
        raise ValueError(f"{len(losses)} runs cannot fit the law's 5 constants: give at least 5")
    log_inputs = torch.tensor([[math.log(n), math.log(d)] for n, d in zip(parameters, tokens)],
                              dtype=torch.float64)
    log_losses = torch.tensor([math.log(loss) for loss in losses], dtype=torch.float64)
    # Chinchilla's grid of starting points (appendix D.2), in the order e, a, b, alpha, beta.
    grid = itertools.product([-1.0, -0.5, 0.0, 0.5, 1.0], [0.0, 5.0, 10.0, 15.0, 20.0, 25.0],
                             [0.0, 5.0, 10.0, 15.0, 20.0, 25.0], [0.0, 0.5, 1.0, 1.5, 2.0],
                             [0.0, 0.5, 1.0, 1.5, 2.0])
    starts, refine = [list(point) for point in grid], 8
    if start is not None:  # L-BFGS from ``start`` and from the grid's best point
        starts = [[math.log(start.E), math.log(start.A), math.log(start.B), start.alpha,
                   start.beta], *starts]
        refine = 2
    e, a, b, alpha, beta = _huber_fit(log_inputs, log_losses, starts, refine)
    return LossLaw(math.exp(e), math.exp(a), math.exp(b), alpha, beta)
# --8<-- [end:fit_loss_law]


def fit_power_law(x: Sequence[float], losses: Sequence[float],
                  start: PowerLaw | None = None) -> PowerLaw:
    """L(x) = E + A / x**alpha fitted to one measured loss per run, as :func:`fit_loss_law`."""
    _check_runs(losses, x=x)
    if len(losses) < 3:
        raise ValueError(f"{len(losses)} runs cannot fit the law's 3 constants: give at least 3")
    log_inputs = torch.tensor([[math.log(v)] for v in x], dtype=torch.float64)
    log_losses = torch.tensor([math.log(loss) for loss in losses], dtype=torch.float64)
    grid = itertools.product([-1.0, -0.5, 0.0, 0.5, 1.0], [0.0, 5.0, 10.0, 15.0, 20.0, 25.0],
                             [0.0, 0.5, 1.0, 1.5, 2.0])
    starts, refine = [list(point) for point in grid], 8
    if start is not None:  # L-BFGS from ``start`` and from the grid's best point
        starts, refine = [[math.log(start.E), math.log(start.A), start.alpha], *starts], 2
    e, a, alpha = _huber_fit(log_inputs, log_losses, starts, refine)
    return PowerLaw(math.exp(e), math.exp(a), alpha)


def bootstrap(fit, columns: Sequence[Sequence[float]], rounds: int = 100,
              seed: int = 0) -> list[tuple]:
    """``fit`` (:func:`fit_loss_law` or :func:`fit_power_law`) refitted to ``rounds`` resamples
    of the runs, drawn with replacement, each refit starting from the fit to every run (and
    from the best point of the grid);
    ``columns`` are the fit's arguments, one value per run. The spread of the refitted
    constants is the fit's uncertainty over which runs were made."""
    if len({len(column) for column in columns}) != 1:
        raise ValueError("columns must hold one value per run each: their lengths differ")
    full = fit(*columns)
    n_runs = len(columns[0])
    rng = random.Random(seed)
    refits = []
    for _ in range(rounds):
        rows = [rng.randrange(n_runs) for _ in range(n_runs)]
        refits.append(fit(*[[column[row] for row in rows] for column in columns], start=full))
    return refits
