"""Combinatorially purged cross-validation and the probability of backtest overfitting.

CPCV (López de Prado, *Advances in Financial Machine Learning*, ch. 7 and 12): ``n_obs``
observations in time order are cut into ``groups`` contiguous groups (group g holds
indices ``[g*n//G, (g+1)*n//G)``); every combination of ``test_groups`` groups is one
split's test set. Training is the rest minus, for each test group ``[a, b)``: the
``purge`` observations before it (``[a - purge, a)``: their outcome may reach into the
test) and the ``embargo`` observations after it (``[b, b + embargo)``: serial correlation
leaks the test into them). Indices inside the test set are never dropped from training as
they were never in it; an index both purged (before one test group) and embargoed (after
another) counts as purged.

PBO (Bailey, Borwein, López de Prado & Zhu, 2015, "The probability of backtest
overfitting", CSCV): ``performance`` is T observations x N configurations (returns). In
each split, the configuration with the highest Sharpe ratio (mean / std, ddof=1; 0 for a
zero std) on the training rows is chosen (ties: the lowest column index); its relative
rank on the test rows is ``ω = rank / (N + 1)`` with rank 1 the worst and N the best,
tied test Sharpes sharing their average rank (so N identical configurations give ω = 1/2);
its logit is ``λ = ln(ω / (1 - ω))``. PBO is the share of splits with ``λ <= 0``: the
in-sample winner at or below the median out of sample. CSCV itself is ``cpcv_splits(T,
groups=S, test_groups=S // 2, purge=0, embargo=0)``.
"""

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.columns import Float64Array, Int64Array


@dataclass(frozen=True, eq=False)
class Split:
    """One CPCV split: sorted row indices to train and test on, and what was dropped."""

    train: Int64Array
    test: Int64Array
    purged: int
    embargoed: int


@dataclass(frozen=True)
class PboResult:
    """``logits``, ``best`` (the in-sample winner's column) and ``omega`` per split."""

    pbo: float
    logits: list[float]
    best: list[int]
    omega: list[float]


def group_bounds(n_obs: int, groups: int) -> list[int]:
    """Start of each group and ``n_obs`` at the end: ``groups + 1`` increasing indices."""
    return [g * n_obs // groups for g in range(groups + 1)]


def cpcv_splits(
    n_obs: int, *, groups: int, test_groups: int, purge: int, embargo: int
) -> list[Split]:
    """Every ``C(groups, test_groups)`` split in lexicographic order of the test groups.

    Raises ``InvalidInputError`` (code ``cpcv_splits``) unless ``2 <= groups <= n_obs``,
    ``1 <= test_groups < groups`` and ``purge, embargo >= 0``.
    """
    data = {
        "n_obs": n_obs,
        "groups": groups,
        "test_groups": test_groups,
        "purge": purge,
        "embargo": embargo,
    }
    if not (2 <= groups <= n_obs and 1 <= test_groups < groups and purge >= 0 and embargo >= 0):
        raise InvalidInputError(
            f"CPCV needs 2 <= groups ({groups}) <= observations ({n_obs}), 1 <= test groups "
            f"({test_groups}) < groups, and a purge ({purge}) and embargo ({embargo}) >= 0",
            code="cpcv_splits",
            data=data,
        )
    bounds = group_bounds(n_obs, groups)
    out: list[Split] = []
    for combo in itertools.combinations(range(groups), test_groups):
        in_test = np.zeros(n_obs, dtype=np.bool_)
        before = np.zeros(n_obs, dtype=np.bool_)
        after = np.zeros(n_obs, dtype=np.bool_)
        for g in combo:
            a, b = bounds[g], bounds[g + 1]
            in_test[a:b] = True
            before[max(0, a - purge) : a] = True
            after[b : min(n_obs, b + embargo)] = True
        purged = before & ~in_test
        embargoed = after & ~in_test & ~purged
        train = ~(in_test | purged | embargoed)
        out.append(
            Split(
                train=np.flatnonzero(train).astype(np.int64),
                test=np.flatnonzero(in_test).astype(np.int64),
                purged=int(np.count_nonzero(purged)),
                embargoed=int(np.count_nonzero(embargoed)),
            )
        )
    return out


def column_sharpe(rows: Float64Array) -> Float64Array:
    """Per-observation Sharpe of each column (mean / std with ddof=1; 0 where std is 0)."""
    if rows.shape[0] < 2:
        return np.zeros(rows.shape[1], dtype=np.float64)
    mean = rows.mean(axis=0)
    std = rows.std(axis=0, ddof=1)
    safe = np.where(std > 0, std, 1.0)
    sharpe: Float64Array = np.where(std > 0, mean / safe, 0.0)
    return sharpe


def pbo(performance: Float64Array, splits: Sequence[Split]) -> PboResult:
    """The probability of backtest overfitting of the module docstring.

    Raises ``InvalidInputError`` (code ``pbo``) for fewer than two configurations, no
    splits or a matrix that is not two-dimensional.
    """
    matrix = np.asarray(performance, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] < 2 or not splits:
        raise InvalidInputError(
            "PBO needs a T x N matrix with N >= 2 configurations and at least one split",
            code="pbo",
            data={"shape": str(matrix.shape), "splits": len(splits)},
        )
    n = matrix.shape[1]
    logits: list[float] = []
    best: list[int] = []
    omega: list[float] = []
    for split in splits:
        chosen = int(np.argmax(column_sharpe(matrix[split.train])))  # first of the ties
        tested = column_sharpe(matrix[split.test])
        below = int(np.count_nonzero(tested < tested[chosen]))
        tied = int(np.count_nonzero(tested == tested[chosen]))  # the chosen one included
        rank = below + (tied + 1) / 2  # the average rank of the tied group, 1 = worst
        w = rank / (n + 1)
        best.append(chosen)
        omega.append(w)
        logits.append(math.log(w / (1 - w)))
    share = sum(1 for x in logits if x <= 0) / len(logits)
    return PboResult(pbo=share, logits=logits, best=best, omega=omega)
