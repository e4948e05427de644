"""Parameter optimisation: search spaces, studies, sweeps and vectorised screens (issue 15)."""
