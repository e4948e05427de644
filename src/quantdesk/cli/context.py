"""What every command receives: a platform built on first use, for the chosen home."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from quantdesk.services.platform import Platform


@dataclass
class CliContext:
    factory: Callable[[Path | None], Platform]
    home: Path | None = None
    _platform: Platform | None = field(default=None, repr=False)

    @property
    def platform(self) -> Platform:
        if self._platform is None:
            self._platform = self.factory(self.home)
        return self._platform
