"""Validation of a strategy version before it may trade: the policy, the report, the record."""
