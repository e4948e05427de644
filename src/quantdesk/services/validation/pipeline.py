"""Placeholder of issue 15's groundwork; its owner replaces it."""


class ValidationService:
    """Built by ``bootstrap_research``."""
