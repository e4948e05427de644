"""Combinatorially purged cross-validation and the probability of backtest overfitting.

Splits (López de Prado, *Advances in Financial Machine Learning*, ch. 7 and 12): the ``n``
observations (days) are cut into ``groups`` contiguous groups (sizes differ by at most one);
group ``g`` holds ``[g n // groups, (g + 1) n // groups)``;
every combination of ``test_groups`` of them is one split's test set. Training is everything
else, less ``purge`` observations right before each test block (their outcomes overlap the
test) and ``embargo`` observations right after it (serial correlation leaks forwards). A
block is a maximal run of adjacent test groups; nothing is purged inside one.

PBO (Bailey, Borwein, López de Prado, Zhu, *The Probability of Backtest Overfitting*, 2015,
CSCV): for each split the configuration with the best training Sharpe (mean / std, ddof 1;
ties: the lowest column) is ranked among all ``N`` by its test Sharpe: ``ω = rank / (N + 1)``
with rank 1 the worst and ties taking their average rank; ``λ = ln(ω / (1 - ω))``. PBO is the
share of splits with ``λ <= 0``: the in-sample winner did no better than the median out of
sample. A Sharpe with zero deviation is 0 for a zero mean, else ±inf by the mean's sign.
"""

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.columns import Float64Array

IndexArray = npt.NDArray[np.int64]
SPLITS_MAX = 20_000


@dataclass(frozen=True)
class Split:
    train: IndexArray
    test: IndexArray
    purged: int  # training observations dropped before a test block
    embargoed: int  # dropped after one (and not already purged)


@dataclass(frozen=True)
class PboResult:
    pbo: float
    logits: list[float]


def cpcv_splits(
    n_obs: int, *, groups: int, test_groups: int, purge: int, embargo: int
) -> list[Split]:
    if not 1 <= test_groups < groups <= n_obs or purge < 0 or embargo < 0:
        raise InvalidInputError(
            f"CPCV needs 1 <= test groups ({test_groups}) < groups ({groups}) <= observations "
            f"({n_obs}) and a purge and embargo of at least 0",
            code="invalid_cpcv",
            data={"n_obs": n_obs, "groups": groups, "test_groups": test_groups},
        )
    if math.comb(groups, test_groups) > SPLITS_MAX:
        raise InvalidInputError(
            f"{groups} groups with {test_groups} tested make more than {SPLITS_MAX:,} splits",
            code="invalid_cpcv",
            data={"groups": groups, "test_groups": test_groups},
        )
    bounds = [i * n_obs // groups for i in range(groups + 1)]  # exact: no float rounding
    splits: list[Split] = []
    for combo in itertools.combinations(range(groups), test_groups):
        tested = np.zeros(n_obs, dtype=bool)
        for g in combo:
            tested[bounds[g] : bounds[g + 1]] = True
        before = np.zeros(n_obs, dtype=bool)
        after = np.zeros(n_obs, dtype=bool)
        edges = np.diff(np.concatenate(([0], tested.astype(np.int8), [0])))
        for start in np.flatnonzero(edges == 1):
            before[max(0, start - purge) : start] = True
        for stop in np.flatnonzero(edges == -1):
            after[stop : min(n_obs, stop + embargo)] = True
        trainable = ~tested
        purged = trainable & before
        embargoed = trainable & after & ~before
        train = trainable & ~before & ~after
        splits.append(
            Split(
                train=np.flatnonzero(train).astype(np.int64),
                test=np.flatnonzero(tested).astype(np.int64),
                purged=int(purged.sum()),
                embargoed=int(embargoed.sum()),
            )
        )
    return splits


def sharpe_columns(returns: Float64Array) -> Float64Array:
    """Per column mean / std (ddof 1) of a ``T x N`` block (the rule above for zero std)."""
    mean = returns.mean(axis=0)
    std = returns.std(axis=0, ddof=1) if returns.shape[0] > 1 else np.zeros(returns.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(std > 0, mean / np.where(std > 0, std, 1.0), np.sign(mean) * np.inf)
    return np.asarray(np.nan_to_num(out, nan=0.0, posinf=np.inf, neginf=-np.inf), np.float64)


def pbo(performance: Float64Array, splits: Sequence[Split]) -> PboResult:
    """PBO over ``splits`` of the ``T x N`` daily returns of N configurations."""
    matrix = np.asarray(performance, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] < 2 or not splits:
        raise InvalidInputError(
            "PBO needs a T x N matrix of at least two configurations and one split",
            code="invalid_pbo",
            data={"rows": int(matrix.shape[0]), "splits": len(splits)},
        )
    n = matrix.shape[1]
    logits: list[float] = []
    for split in splits:
        if split.train.shape[0] < 2 or split.test.shape[0] < 2:
            raise InvalidInputError(
                "a CPCV split left fewer than two observations to train or test on",
                code="invalid_pbo",
                data={"train": int(split.train.shape[0]), "test": int(split.test.shape[0])},
            )
        best = int(np.argmax(sharpe_columns(matrix[split.train])))
        tested = sharpe_columns(matrix[split.test])
        below = int(np.count_nonzero(tested < tested[best]))
        equal = int(np.count_nonzero(tested == tested[best]))
        omega = (below + (equal + 1) / 2) / (n + 1)
        logits.append(math.log(omega / (1 - omega)))
    return PboResult(pbo=sum(1 for x in logits if x <= 0) / len(logits), logits=logits)
