"""What every command receives: a platform built on first use, for the chosen home."""

import errno
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.platform import Platform

# As the settings resolve it (QUANTDESK_HOME, any case, else this default); the CLI may not
# import the settings, a test checks that the two agree.
HOME_VARIABLE = "QUANTDESK_HOME"
DEFAULT_HOME = Path(".quantdesk")
_HINT = (
    "make it a directory you can write (what is missing is created), or point --home "
    "(or QUANTDESK_HOME) elsewhere"
)
# Errors of the file system under the home, not of quantdesk: the user can fix them.
_HOME_ERRNOS = {
    errno.EEXIST: "is a file, not a directory",
    errno.ENOTDIR: "is a file, not a directory",
    errno.EISDIR: "is a directory, not a file",
    errno.EACCES: "is not writable (permission denied)",
    errno.EPERM: "is not writable (operation not permitted)",
    errno.EROFS: "is on a read-only file system",
    errno.ENOSPC: "is on a full disk",
    errno.ENAMETOOLONG: "has a name too long for the file system",
    errno.ELOOP: "is a loop of symbolic links",
}


def resolve_home(home: Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """The home a command works in: the option, else the environment, else the default."""
    if home is not None:
        return home
    for name, value in (os.environ if environ is None else environ).items():
        if name.upper() == HOME_VARIABLE:
            return Path(value)
    return DEFAULT_HOME


@dataclass
class CliContext:
    factory: Callable[[Path | None], Platform]
    home: Path | None = None
    _platform: Platform | None = field(default=None, repr=False)

    @property
    def platform(self) -> Platform:
        if self._platform is None:
            home = resolve_home(self.home)
            check_home(home)
            try:
                self._platform = self.factory(self.home)
            except OSError as error:
                refusal = unusable_home(home, error)
                if refusal is None:
                    raise
                raise refusal from error
        return self._platform

    @property
    def resolved_home(self) -> Path:
        """Where this command's files (and its error log) go."""
        return self._platform.home if self._platform is not None else resolve_home(self.home)


def check_home(home: Path) -> None:
    """A home that cannot hold a catalog is refused by name before anything is built."""
    if home.exists() and not home.is_dir():
        raise InvalidInputError(f"QUANTDESK_HOME {home} is a file, not a directory", hint=_HINT)
    if home.is_dir() and not os.access(home, os.W_OK | os.X_OK):
        raise InvalidInputError(f"QUANTDESK_HOME {home} is not writable", hint=_HINT)


def unusable_home(home: Path, error: OSError) -> InvalidInputError | None:
    """A file-system error on a path inside the home (``runs`` is a file, ``catalog`` is not
    writable, the disk is full) as the user's to fix: which path, and why. Else None."""
    reason = _HOME_ERRNOS.get(error.errno or 0)
    if reason is None or error.filename is None:
        return None
    where = Path(os.fsdecode(error.filename))
    try:
        inside = where.resolve().is_relative_to(home.resolve())
    except (OSError, RuntimeError):  # a symlink loop: judged by the names as given
        inside = where.absolute().is_relative_to(home.absolute())
    if not inside:
        return None
    return InvalidInputError(f"QUANTDESK_HOME {home} is unusable: {where} {reason}", hint=_HINT)
