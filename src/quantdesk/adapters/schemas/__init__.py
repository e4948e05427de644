"""JSON-schema checks for custom strategies' free-form configs."""
