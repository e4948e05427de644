"""SQLAlchemy storage for the registry and audit log (arrives with the registry issue)."""
