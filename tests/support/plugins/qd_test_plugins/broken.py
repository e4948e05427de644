"""A plug-in whose import fails."""

import qd_test_plugins_missing_dependency  # noqa: F401
