"""Validation of strategy versions (issue 15): policy, pipeline steps, report, promotion gate."""
