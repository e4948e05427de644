"""Transport schemas: what the API takes and answers (pydantic and domain only, so the
Python client imports them without the server)."""
