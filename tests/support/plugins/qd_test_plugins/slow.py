"""A plug-in whose import never ends (for the check's time bound)."""

import time

time.sleep(3600)
