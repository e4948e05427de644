"""CPCV splits and PBO against brute force, noise and a real edge."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.validation.cross_validation import cpcv_splits, pbo


@settings(max_examples=150, deadline=None)
@given(
    n_obs=st.integers(4, 300),
    groups=st.integers(2, 10),
    data=st.data(),
)
def test_purging_and_embargo_drop_exactly_the_right_observations(
    n_obs: int, groups: int, data: st.DataObject
) -> None:
    # Property: purging and embargo drop exactly the right observations
    groups = min(groups, n_obs)
    test_groups = data.draw(st.integers(1, groups - 1))
    purge = data.draw(st.integers(0, 20))
    embargo = data.draw(st.integers(0, 20))
    splits = cpcv_splits(
        n_obs, groups=groups, test_groups=test_groups, purge=purge, embargo=embargo
    )
    assert len(splits) == math.comb(groups, test_groups)
    bounds = [i * n_obs // groups for i in range(groups + 1)]
    blocks = [set(range(bounds[g], bounds[g + 1])) for g in range(groups)]
    seen_tests = set()
    for split, combo in zip(
        splits, itertools.combinations(range(groups), test_groups), strict=True
    ):
        test = set().union(*(blocks[g] for g in combo))
        assert set(split.test.tolist()) == test
        # purge reaches back from each test block's start, embargo on from its end
        starts = [t for t in test if t - 1 not in test]
        stops = [t for t in test if t + 1 not in test]
        before = {i for s in starts for i in range(max(0, s - purge), s)}
        after = {i for s in stops for i in range(s + 1, min(n_obs, s + 1 + embargo))}
        train = set(range(n_obs)) - test - before - after
        assert set(split.train.tolist()) == train
        assert split.purged == len(before - test)
        assert split.embargoed == len(after - test - before)
        seen_tests.add(tuple(split.test.tolist()))
    assert len(seen_tests) == len(splits)


def _brute_pbo(matrix: np.ndarray, splits: list) -> float:
    def sharpe(block: np.ndarray) -> np.ndarray:
        return block.mean(axis=0) / block.std(axis=0, ddof=1)

    below_median = 0
    for split in splits:
        best = int(np.argmax(sharpe(matrix[split.train])))
        tested = sharpe(matrix[split.test])
        order = sorted(range(len(tested)), key=lambda i: tested[i])
        rank = order.index(best) + 1
        omega = rank / (len(tested) + 1)
        below_median += math.log(omega / (1 - omega)) <= 0
    return below_median / len(splits)


def test_pbo_of_noise_is_near_one_half_and_equals_brute_force() -> None:
    rng = np.random.default_rng(11)
    matrix = rng.normal(0, 0.01, size=(600, 100))
    splits = cpcv_splits(600, groups=10, test_groups=5, purge=0, embargo=0)
    result = pbo(matrix, splits)
    assert result.pbo == pytest.approx(_brute_pbo(matrix, splits))
    assert 0.35 <= result.pbo <= 0.65
    assert len(result.logits) == len(splits)


def test_pbo_of_a_real_edge_is_near_zero() -> None:
    rng = np.random.default_rng(12)
    matrix = rng.normal(0, 0.01, size=(600, 40))
    matrix[:, 17] += 0.003
    splits = cpcv_splits(600, groups=8, test_groups=4, purge=2, embargo=2)
    assert pbo(matrix, splits).pbo <= 0.05


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        cpcv_splits(10, groups=4, test_groups=4, purge=0, embargo=0)
    with pytest.raises(InvalidInputError):
        pbo(np.zeros((10, 1)), cpcv_splits(10, groups=2, test_groups=1, purge=0, embargo=0))
