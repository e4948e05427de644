"""Mutation check of the core logic: does some test fail when one line of it is wrong?

Runs mutmut over one target (or all) in a private copy of the tree under `.mutation/<name>/`,
so that several runs (and the developer's own edits) never share mutmut's `mutants/` folder,
and only with the unit and property tests that exercise that target: a module takes minutes.
Prints killed/total per target and every surviving mutant with its diff.

    python tools/mutation.py                        # every target
    python tools/mutation.py src/quantdesk/domain/risk.py --jobs 1
    python tools/mutation.py fingerprint --tests tests/unit/services/test_fingerprint.py
    python tools/mutation.py performance --resume   # go on after an interruption (or --report)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"


@dataclass(frozen=True)
class Target:
    """One mutated file, the mutants of it that count, and the tests that should kill them."""

    name: str
    source: str
    tests: tuple[str, ...]  # globs relative to the root; missing ones are skipped
    only: str = "*"  # fnmatch over mutmut's mutant names, to restrict a module to a function


# Unit tests only by default (the scores in the README were measured so): ~1.5 s a mutant
# instead of up to 50 s with the property tests; pass --tests to widen a run.
TARGETS = (
    Target(
        "risk",
        "src/quantdesk/domain/risk.py",
        ("tests/unit/domain/test_risk*.py",),
    ),
    Target(
        "risk_screen",
        "src/quantdesk/domain/risk_screen.py",
        ("tests/unit/domain/test_risk*.py",),
    ),
    Target(
        "risk_model",
        "src/quantdesk/domain/risk_model.py",
        ("tests/unit/domain/test_risk*.py",),
    ),
    Target(
        "risk_values",
        "src/quantdesk/domain/risk_values.py",
        ("tests/unit/domain/test_risk*.py",),
    ),
    Target(
        "audit",
        "src/quantdesk/domain/audit.py",
        ("tests/unit/domain/test_audit*.py",),
    ),
    Target(
        "audit_replay",
        "src/quantdesk/domain/audit_replay.py",
        ("tests/unit/domain/test_audit*.py",),
    ),
    Target(
        "signals",
        "src/quantdesk/domain/signals.py",
        ("tests/unit/domain/test_signal*.py",),
    ),
    Target(
        "bar_validation",
        "src/quantdesk/services/bar_validation.py",
        ("tests/unit/services/test_bar_validation*.py",),
    ),
    Target(
        "tick_batches",
        "src/quantdesk/services/tick_batches.py",
        (
            "tests/unit/services/test_tick_validation.py",
            "tests/unit/services/test_tick_migration.py",
            "tests/integration/test_tick_ingest.py",
        ),
    ),
    Target(
        "performance",
        "src/quantdesk/services/performance.py",
        ("tests/unit/services/test_performance*.py", "tests/property/test_metrics_properties.py"),
    ),
    Target(
        "fingerprint",
        "src/quantdesk/services/backtests.py",
        ("tests/unit/services/test_fingerprint*.py",),
        only="quantdesk.services.backtests.xǁBacktestServiceǁfingerprint__mutmut_*",
    ),
    Target(
        "windows",
        "src/quantdesk/domain/validation/windows.py",
        ("tests/property/test_validation_windows.py",),
    ),
    Target(
        "cross_validation",
        "src/quantdesk/services/validation/cross_validation.py",
        ("tests/unit/validation/test_cross_validation.py",),
    ),
    Target(
        "overfitting",
        "src/quantdesk/services/validation/overfitting.py",
        ("tests/unit/validation/test_overfitting_stats.py",),
    ),
    Target(
        "resampling",
        "src/quantdesk/services/validation/resampling.py",
        ("tests/unit/validation/test_resampling.py",),
    ),
)

# mutmut's exit codes (mutmut.stats.status_by_exit_code), grouped as this report counts them.
KILLED = {1: "killed", 3: "killed", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout"}
SURVIVED = {0: "survived", 5: "no tests", 33: "no tests"}


def _pick(arg: str) -> Target:
    for target in TARGETS:
        if arg in (target.name, target.source) or ROOT / arg == ROOT / target.source:
            return target
    names = ", ".join(t.name for t in TARGETS)
    sys.exit(f"mutation: no target {arg!r} (one of: {names}, or their source paths)")


def _test_paths(target: Target, override: list[str] | None) -> list[str]:
    patterns = override or list(target.tests)
    found = sorted({str(p.relative_to(ROOT)) for pat in patterns for p in ROOT.glob(pat)})
    if not found:
        sys.exit(f"mutation: no tests found for {target.name} ({', '.join(patterns)})")
    return found


def _prepare(target: Target, tests: list[str]) -> Path:
    """A fresh copy of src/, tests/, examples/ and pyproject.toml with this target's config."""
    work = WORK / target.name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    skip = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.pyc")
    for folder in ("src", "tests", "examples"):
        shutil.copytree(ROOT / folder, work / folder, ignore=skip)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    config = {
        "source_paths": ["src"],
        "only_mutate": [target.source],
        "also_copy": ["examples"],
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-p", "no:xdist", "-q"],
        "pytest_add_cli_args_test_selection": tests,
        "use_git_change_detection": False,
        "timeout_multiplier": 10.0,
        "timeout_constant": 5.0,
    }
    lines = ["", "[tool.mutmut]"] + [f"{k} = {json.dumps(v)}" for k, v in config.items()]
    (work / "pyproject.toml").write_text(pyproject + "\n".join(lines) + "\n", encoding="utf-8")
    return work


def _mutmut(work: Path, *args: str, log: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("mutmut")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if log is None:
        return subprocess.run(
            [str(exe), *args], cwd=work, env=env, capture_output=True, text=True, check=False
        )
    with log.open("w", encoding="utf-8") as out:
        return subprocess.run(
            [str(exe), *args], cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT, text=True
        )


def _verdicts(work: Path, target: Target) -> dict[str, int | None]:
    from fnmatch import fnmatch

    meta = work / "mutants" / (target.source + ".meta")
    if not meta.exists():
        return {}
    codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    return {name: code for name, code in codes.items() if fnmatch(name, target.only)}


def run(target: Target, tests: list[str], jobs: int, diffs: bool, mode: str) -> tuple[int, int]:
    """Mutate and test (mode "fresh"), go on with an interrupted run ("resume"), or only report."""
    work = WORK / target.name
    if mode == "fresh" or not work.exists():
        work = _prepare(target, tests)
    log = work / "mutmut.log"
    print(f"== {target.name}: {target.source} against {len(tests)} test file(s), log {log}")
    returncode = 0
    if mode != "report":
        # Named mutants are re-run even when they have a verdict: name none for a whole module,
        # so that --resume goes on where it stopped.
        names = [] if target.only == "*" else [target.only]
        returncode = _mutmut(work, "run", "--max-children", str(jobs), *names, log=log).returncode
    verdicts = _verdicts(work, target)
    if returncode != 0 or not verdicts:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:]
        print("\n".join(tail))
        print(f"== {target.name}: mutmut failed (exit {returncode}); see {log}")
        return 0, 0
    status = Counter(
        KILLED.get(c, SURVIVED.get(c, "other")) if c is not None else "not checked"
        for c in verdicts.values()
    )
    killed = status["killed"] + status["timeout"]
    survivors = sorted(n for n, c in verdicts.items() if c not in KILLED)
    print(
        f"== {target.name}: killed {killed}/{len(verdicts)} ({100 * killed / len(verdicts):.1f}%)"
        f"  [{', '.join(f'{k} {v}' for k, v in sorted(status.items()))}]"
    )
    for name in survivors:
        code = verdicts[name]
        label = SURVIVED.get(code, "other") if code is not None else "not checked"
        print(f"-- survivor ({label}): {name}")
        if diffs:
            shown = _mutmut(work, "show", name).stdout.splitlines()
            print("\n".join(line for line in shown if line.startswith(("+", "-", "@@"))))
    return killed, len(verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help="target names or source paths (default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once (default 1)")
    parser.add_argument("--tests", nargs="+", help="test files (globs) instead of the defaults")
    parser.add_argument("--no-diffs", action="store_true", help="list survivors without diffs")
    parser.add_argument("--only", help="mutant-name glob, e.g. 'quantdesk.domain.risk.x_check*'")
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--resume", action="store_true", help="go on with an interrupted run")
    modes.add_argument("--report", action="store_true", help="only print the last run's results")
    args = parser.parse_args()
    targets = [_pick(a) for a in args.targets] or list(TARGETS)
    if args.only:
        targets = [replace(t, only=args.only) for t in targets]
    totals = []
    for target in targets:
        mode = "report" if args.report else "resume" if args.resume else "fresh"
        tests = _test_paths(target, args.tests)
        killed, total = run(target, tests, args.jobs, not args.no_diffs, mode)
        totals.append((target.name, killed, total))
    print("== summary")
    for name, killed, total in totals:
        score = f"{100 * killed / total:.1f}%" if total else "failed"
        print(f"{name:16} {killed:4}/{total:<4} {score}")
    if any(total == 0 for _, _, total in totals):
        sys.exit(1)


if __name__ == "__main__":
    main()
