"""Readers for market data that lives outside the catalog (files now, PostgreSQL later)."""
