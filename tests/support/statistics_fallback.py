"""FALLBACK FOR LATE DEPENDENCIES, TESTS ONLY - delete once issue 15's statistics land.

Issue 15's statistics modules ([H1]: ``domain/validation/windows.py``,
``services/validation/cross_validation.py``, ``overfitting.py``, ``resampling.py``) were not
in the tree when the pipeline's acceptance tests were written. Importing this module
registers minimal stand-ins under those names, ONLY for the names that cannot be imported,
so the pipeline's tests run; the moment the real modules exist they are used and this is
inert. Never imported by product code.
"""

import importlib.util
import itertools
import math
import sys
import types
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.validation.report import Percentiles


def mod(name: str, **attrs: Any) -> None:
    """Register a stand-in module unless the real one can be imported."""
    try:
        if importlib.util.find_spec(name) is not None:
            return
    except ModuleNotFoundError:
        pass
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m


@dataclass
class Window:
    index: int
    is_start_ns: int
    is_end_ns: int
    oos_start_ns: int
    oos_end_ns: int


def walk_forward_windows(start_ns, end_ns, *, windows, in_sample_ratio, mode, align_ns):
    units = (end_ns - start_ns) // align_ns
    oos = int(units // (in_sample_ratio + windows))
    is_len = int(oos * in_sample_ratio)
    if oos < 1 or is_len < 1:
        raise InvalidInputError("too short")
    out = []
    for i in range(windows):
        o0 = start_ns + (is_len + i * oos) * align_ns
        s0 = start_ns if mode == "anchored" else o0 - is_len * align_ns
        o1 = o0 + oos * align_ns - 1 if i < windows - 1 else end_ns
        out.append(Window(i, s0, o0 - 1, o0, o1))
    return out


@dataclass
class Split:
    train: np.ndarray
    test: np.ndarray
    purged: int
    embargoed: int


def cpcv_splits(n_obs, *, groups, test_groups, purge, embargo):
    bounds = np.linspace(0, n_obs, groups + 1).astype(int)
    out = []
    for combo in itertools.combinations(range(groups), test_groups):
        test = np.concatenate([np.arange(bounds[g], bounds[g + 1]) for g in combo])
        mask = np.ones(n_obs, bool)
        mask[test] = False
        drop = np.zeros(n_obs, bool)
        emb = np.zeros(n_obs, bool)
        for g in combo:
            a, b = bounds[g], bounds[g + 1]
            drop[max(0, a - purge) : a] = True
            drop[b : min(n_obs, b + purge)] = True
            emb[b : min(n_obs, b + purge + embargo)] = True
        purged = int((mask & drop).sum())
        mask &= ~drop
        e = int((mask & emb).sum())
        mask &= ~emb
        out.append(Split(np.flatnonzero(mask), test, purged, e))
    return out


@dataclass
class PboResult:
    pbo: float
    logits: list


def _sr(m):
    s = m.std(axis=0, ddof=1)
    s[s == 0] = np.inf
    return m.mean(axis=0) / s


def pbo(performance, splits):
    logits = []
    for sp in splits:
        best = int(np.argmax(_sr(performance[sp.train])))
        oos = _sr(performance[sp.test])
        rank = (np.argsort(np.argsort(oos))[best] + 1) / (oos.shape[0] + 1)
        logits.append(math.log(rank / (1 - rank)))
    return PboResult(float(np.mean(np.array(logits) <= 0)), logits)


@dataclass
class SharpeStats:
    sr: float
    skew: float
    kurtosis: float
    n: int
    psr: float
    sr0: float
    dsr: float


def deflated_sharpe(returns, *, trials, sharpe_variance):
    r = np.asarray(returns)
    n = r.shape[0]
    sr = r.mean() / r.std(ddof=1)
    z = (r - r.mean()) / r.std()
    skew = float((z**3).mean())
    kurt = float((z**4).mean())
    g = 0.5772156649
    sr0 = (
        math.sqrt(sharpe_variance)
        * ((1 - g) * norm.ppf(1 - 1 / trials) + g * norm.ppf(1 - 1 / (trials * math.e)))
        if trials > 1
        else 0.0
    )

    def psr(b):
        return float(
            norm.cdf(
                (sr - b) * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr * sr)
            )
        )

    return SharpeStats(float(sr), skew, kurt, n, psr(0), sr0, psr(sr0))


def percentiles(v):
    p = np.percentile(np.asarray(v), [5, 25, 50, 75, 95])
    return Percentiles(p5=p[0], p25=p[1], p50=p[2], p75=p[3], p95=p[4])


@dataclass
class Dist:
    final_equity: Percentiles
    max_drawdown: Percentiles
    fan: dict


def _dd(eq):
    peak = np.maximum.accumulate(eq, axis=1)
    return (eq / peak - 1).min(axis=1)


def trade_order_bootstrap(pnls, start_equity, samples, seed):
    if not pnls:
        return None
    rng = np.random.default_rng(seed)
    p = np.asarray(pnls)
    eq = start_equity + np.cumsum(np.array([rng.permutation(p) for _ in range(samples)]), axis=1)
    return Dist(percentiles(eq[:, -1]), percentiles(-_dd(eq)), {})


def daily_bootstrap(returns, start_equity, samples, seed, fan_points):
    rng = np.random.default_rng(seed)
    r = np.asarray(returns)
    eq = start_equity * np.cumprod(1 + rng.choice(r, size=(samples, r.shape[0])), axis=1)
    fan = {f"p{q}": np.percentile(eq, q, axis=0).tolist() for q in (5, 25, 50, 75, 95)}
    return Dist(percentiles(eq[:, -1]), percentiles(-_dd(eq)), fan)


def bootstrap_p_value(returns, samples, seed):
    r = np.asarray(returns)
    rng = np.random.default_rng(seed)
    c = r - r.mean()
    means = rng.choice(c, size=(samples, r.shape[0])).mean(axis=1)
    return float((1 + np.sum(means >= r.mean())) / (1 + samples))


def buy_and_hold_return(closes):
    return float(closes[-1] / closes[0] - 1)


def random_entry_returns(closes, *, holding_bars, exposure, seeds, seed):
    rng = np.random.default_rng(seed)
    lr = np.diff(np.log(closes))
    n = lr.shape[0]
    out = []
    for _ in range(seeds):
        pos = np.zeros(n)
        t = 0
        while t < n:
            h = int(rng.choice(holding_bars))
            gap = int(h * (1 - exposure) / max(exposure, 1e-9))
            t += int(rng.integers(0, gap + 1))
            pos[t : t + h] = rng.choice([-1.0, 1.0])
            t += h
        out.append(float(np.exp((pos * lr).sum()) - 1))
    return out


def install() -> None:
    mod(
        "quantdesk.domain.validation.windows",
        Window=Window,
        walk_forward_windows=walk_forward_windows,
    )
    mod(
        "quantdesk.services.validation.cross_validation",
        Split=Split,
        cpcv_splits=cpcv_splits,
        PboResult=PboResult,
        pbo=pbo,
    )
    mod(
        "quantdesk.services.validation.overfitting",
        SharpeStats=SharpeStats,
        deflated_sharpe=deflated_sharpe,
    )
    mod(
        "quantdesk.services.validation.resampling",
        percentiles=percentiles,
        trade_order_bootstrap=trade_order_bootstrap,
        daily_bootstrap=daily_bootstrap,
        bootstrap_p_value=bootstrap_p_value,
        buy_and_hold_return=buy_and_hold_return,
        random_entry_returns=random_entry_returns,
    )


install()
