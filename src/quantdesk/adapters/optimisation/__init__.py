"""Optimisation engines behind quantdesk's study port: Optuna, its storage in our database."""
