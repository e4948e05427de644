"""CPCV splits and PBO against brute force, noise and a real edge."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.validation import cross_validation
from quantdesk.services.validation.cross_validation import Split, cpcv_splits, pbo, sharpe_columns


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


@pytest.mark.parametrize(
    ("n_obs", "groups", "test_groups", "purge", "embargo"),
    [
        (10, 4, 4, 0, 0),  # nothing left to train on
        (10, 4, 0, 0, 0),  # nothing tested
        (3, 4, 1, 0, 0),  # more groups than observations
        (10, 4, 1, -1, 0),
        (10, 4, 1, 0, -1),
    ],
)
def test_impossible_splits_are_refused_with_the_numbers(
    n_obs: int, groups: int, test_groups: int, purge: int, embargo: int
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        cpcv_splits(n_obs, groups=groups, test_groups=test_groups, purge=purge, embargo=embargo)
    error = refused.value
    assert error.code == "invalid_cpcv"
    assert error.data == {"n_obs": n_obs, "groups": groups, "test_groups": test_groups}
    assert f"test groups ({test_groups}) < groups ({groups}) <= observations ({n_obs})" in str(
        error
    )


def test_the_split_count_is_bounded_inclusively(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cross_validation, "SPLITS_MAX", 20)  # comb(6, 3) == 20
    assert len(cpcv_splits(60, groups=6, test_groups=3, purge=0, embargo=0)) == 20
    monkeypatch.setattr(cross_validation, "SPLITS_MAX", 19)
    with pytest.raises(InvalidInputError) as refused:
        cpcv_splits(60, groups=6, test_groups=3, purge=0, embargo=0)
    assert refused.value.code == "invalid_cpcv"
    assert refused.value.data == {"groups": 6, "test_groups": 3}
    assert "6 groups with 3 tested make more than 19 splits" in str(refused.value)


def test_pbo_takes_two_configurations_and_two_observations_per_side() -> None:
    rng = np.random.default_rng(3)
    splits = cpcv_splits(4, groups=2, test_groups=1, purge=0, embargo=0)  # 2 train, 2 test
    result = pbo(rng.normal(size=(4, 2)), splits)
    assert len(result.logits) == 2 and 0.0 <= result.pbo <= 1.0
    # integer returns are taken as floats
    assert pbo(np.array([[1, 2], [3, 1], [2, 5], [1, 1]]), splits).logits == pytest.approx(
        pbo(np.array([[1.0, 2.0], [3.0, 1.0], [2.0, 5.0], [1.0, 1.0]]), splits).logits
    )


@pytest.mark.parametrize(
    ("matrix", "splits"),
    [
        (np.zeros((10, 1)), cpcv_splits(10, groups=2, test_groups=1, purge=0, embargo=0)),
        (np.zeros(10), cpcv_splits(10, groups=2, test_groups=1, purge=0, embargo=0)),
        (np.zeros((10, 3)), []),
    ],
)
def test_pbo_refuses_a_matrix_or_splits_it_cannot_use(matrix: np.ndarray, splits: list) -> None:
    with pytest.raises(InvalidInputError) as refused:
        pbo(matrix, splits)
    assert refused.value.code == "invalid_pbo"
    assert refused.value.data == {"rows": matrix.shape[0], "splits": len(splits)}
    assert "PBO needs a T x N matrix of at least two configurations and one split" in str(
        refused.value
    )


@pytest.mark.parametrize(("train", "test"), [(1, 2), (2, 1)])
def test_pbo_refuses_a_split_too_small_to_rank_on(train: int, test: int) -> None:
    split = Split(
        train=np.arange(train, dtype=np.int64),
        test=np.arange(train, train + test, dtype=np.int64),
        purged=0,
        embargoed=0,
    )
    with pytest.raises(InvalidInputError) as refused:
        pbo(np.ones((train + test, 3)), [split])
    assert refused.value.code == "invalid_pbo"
    assert refused.value.data == {"train": train, "test": test}
    assert "fewer than two observations to train or test on" in str(refused.value)


def test_sharpe_columns_follow_the_rule_for_zero_deviation_and_one_row() -> None:
    returns = np.array(
        [[0.01, 0.0, 0.02, -0.01], [0.03, 0.0, 0.02, -0.01], [0.02, 0.0, 0.02, -0.01]]
    )
    got = sharpe_columns(returns)
    assert got.dtype == np.float64
    assert got[0] == pytest.approx(0.02 / np.std([0.01, 0.03, 0.02], ddof=1))
    assert (got[1], got[2], got[3]) == (0.0, np.inf, -np.inf)  # zero std: 0, or +-inf by sign
    one_row = sharpe_columns(np.array([[0.01, 0.0, -0.02]]))
    assert list(one_row) == [np.inf, 0.0, -np.inf]


def test_tied_test_sharpes_take_their_average_rank() -> None:
    # three identical configurations: the training winner is column 0 (lowest), and its test
    # Sharpe ties with all three: rank (1 + 2 + 3) / 3 = 2 of 4 slots, omega 1/2, logit 0,
    # which counts as overfit (the winner did no better than the median)
    column = np.array([0.01, 0.03, 0.02, 0.05])
    splits = cpcv_splits(4, groups=2, test_groups=1, purge=0, embargo=0)
    result = pbo(np.column_stack([column, column, column]), splits)
    assert result.logits == [0.0, 0.0] and result.pbo == 1.0


def test_the_logit_of_a_rank_is_exact() -> None:
    # train rows 2-3 pick column 2 (Sharpe 6.4 against 2.1 and 2.1); on test rows 0-1 it is
    # the best of 3 (3.5 against 1.4 and 2.8): rank 3 of 4 slots, omega 3/4, logit ln 3
    matrix = np.array(
        [
            [0.01, 0.03, 0.02],
            [0.03, 0.05, 0.03],
            [0.01, 0.01, 0.04],
            [0.02, 0.02, 0.05],
        ]
    )
    train_rows = Split(train=np.array([2, 3]), test=np.array([0, 1]), purged=0, embargoed=0)
    assert pbo(matrix, [train_rows]).logits == [pytest.approx(math.log(3))]
