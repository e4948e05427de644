"""Placeholder of issue 15's groundwork; its owner replaces it."""


class OptimisationService:
    """Built by ``bootstrap_research``."""
