"""Plug-ins for the plug-in tests: a real strategy, a side effect, a non-strategy, a crash."""
