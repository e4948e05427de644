"""Job runners behind the JobRunner port: local worker processes (the embedded default)."""
