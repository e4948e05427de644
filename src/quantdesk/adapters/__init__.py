"""Ring 2: the technologies behind the ports, each in a package named for it."""
