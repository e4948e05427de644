"""Strategy definitions, the registry's unit, one module per concern."""
