"""Placeholder of issue 15's groundwork; its owner replaces it."""


class PromotionGate:
    """Built by ``bootstrap_research``."""
