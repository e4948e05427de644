"""NautilusTrader strategies, one per family, and their shared base (signals in, risk gate out)."""
