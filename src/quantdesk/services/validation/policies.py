"""Placeholder of issue 15's groundwork; its owner replaces it."""


class PolicyService:
    """Built by ``bootstrap_research``."""
