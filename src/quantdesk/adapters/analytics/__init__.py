"""Numerical and text models from third-party libraries behind the services' ports.

``garch``: GARCH(1,1) fits with the ``arch`` package; ``vader``: VADER sentiment scores.
"""
