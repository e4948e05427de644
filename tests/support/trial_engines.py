"""TESTS ONLY: a trial engine without a backtest, for the pools' mechanics.

A pool worker builds it by import path (``FAKE_FACTORY``) from a JSON config, as it builds
the desk's real engine. A spec's key says what the fake does: ``kill...`` kills the worker
process (SIGKILL, as the out-of-memory killer does), ``crash...`` raises a plain exception,
``slow...`` takes ``slow_seconds``; any other key succeeds. Its outcome names the worker's
process id (``fingerprint``), so a test can tell workers apart.
"""

import json
import os
import signal
import time

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.trials import TrialOutcome, TrialSpec

FAKE_FACTORY = "support.trial_engines:fake_engine"
RAY_FAKE_FACTORY = "tests.support.trial_engines:fake_engine"  # a Ray worker's path: the cwd


class FakeEngine:
    def __init__(self, slow_seconds: float) -> None:
        self._slow = slow_seconds
        self.built_at = time.time()

    def evaluate(self, spec: TrialSpec) -> TrialOutcome:
        if spec.key.startswith("kill"):
            os.kill(os.getpid(), signal.SIGKILL)
        if spec.key.startswith("crash"):
            raise RuntimeError("the fake engine crashed")
        if spec.key.startswith("slow"):
            time.sleep(self._slow)
        return TrialOutcome(key=spec.key, fingerprint=str(os.getpid()), orders=len(spec.key))


def fake_engine(worker_config: str) -> FakeEngine:
    """``{"fail": true}`` refuses to build (a worker that cannot start its engine)."""
    config = json.loads(worker_config)
    if config.get("fail"):
        raise InvalidInputError("the fake engine refuses to start", code="fake_refused")
    return FakeEngine(float(config.get("slow_seconds", 0.5)))
