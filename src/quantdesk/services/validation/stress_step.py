"""Stress scenarios in the pipeline: the stress module's cases run as trials on this
validation's pool, their scratch catalogs removed afterwards, the real catalog's checksum
taken before and after (equal: it was never touched)."""

from quantdesk.domain.validation.report import StepReport, StressSection, ValidationStep
from quantdesk.services.ports.scratch import ScratchCatalogs
from quantdesk.services.validation.checks import step_report
from quantdesk.services.validation.context import ValidationContext
from quantdesk.services.validation.stress import prepare_stress, remove_scratch, stress_section

STEP = ValidationStep.STRESS
KEY_PREFIX = "stress-"


def stress_step(
    ctx: ValidationContext, scratch: ScratchCatalogs
) -> tuple[StressSection, StepReport]:
    before = scratch.checksum()
    cases = prepare_stress(
        ctx.request,
        list(ctx.policy.stress.scenarios),
        scratch,
        key_prefix=KEY_PREFIX,
        seed=ctx.policy.seed,
    )
    try:
        specs = [case.spec for case in cases if case.spec is not None]
        outcomes = ctx.run(specs, count_parameters=False)
    finally:
        remove_scratch(cases, scratch)
    after = scratch.checksum()
    section, checks = stress_section(cases, outcomes, ctx.policy.thresholds, before, after)
    return section, step_report(STEP, checks)
