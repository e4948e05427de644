"""The job fakes moved to tests/fakes.py; this name stays for the callers that used it."""

from fakes import InlineJobRunner, InMemoryJobStore

__all__ = ["InMemoryJobStore", "InlineJobRunner"]
