"""The only code that speaks NautilusTrader (with ``strategies``)."""
