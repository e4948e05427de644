"""Ring 1: use cases. They need ports (``ports.py``), never a framework."""
