"""Ring 0: pydantic models and pure rules. Imports nothing of ours and no framework."""
