"""Search spaces and studies: what an optimisation explores and what it found."""
