"""quantdesk: a quant team's control desk on top of NautilusTrader.

Not affiliated with, endorsed by, or supported by Nautech Systems Pty Ltd.
The Python API starts at :func:`quantdesk.bootstrap.bootstrap`.
"""

__version__ = "0.1.0"
