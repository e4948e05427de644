"""Which service process owns a job: several server processes (``uvicorn --workers N``) may
share one database, and each runs, recovers and cancels only its own jobs or a dead owner's.
"""

import os
import socket
import uuid


def this_owner() -> str:
    """``host:pid:instance``: which service process runs a job."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def owner_alive(owner: str, me: str) -> bool:
    """Whether the service process that owns a job may still run it.

    Another host's process cannot be seen from here: it is taken to be alive. In this
    process only ``me`` is alive (an earlier service instance here has stopped)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != me.partition(":")[0] or not pid_text.isdigit():
        return host != me.partition(":")[0]
    pid = int(pid_text)
    if pid == os.getpid():
        return owner == me
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
