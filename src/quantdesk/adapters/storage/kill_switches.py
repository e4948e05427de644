"""Kill switches in a JSON file, changed atomically under a lock, with an append-only log."""

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

from quantdesk.domain.risk import KillSwitch, KillSwitchScope


class FileKillSwitchStore:
    """``QUANTDESK_HOME/risk/kill_switches.json`` (the state) and ``kill_switches.log.jsonl``."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._state = directory / "kill_switches.json"
        self._log = directory / "kill_switches.log.jsonl"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._directory.mkdir(parents=True, exist_ok=True)
        with (self._directory / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def thrown(self) -> list[KillSwitch]:
        if not self._state.exists():
            return []
        return [KillSwitch.model_validate(item) for item in json.loads(self._state.read_text())]

    def throw(self, switch: KillSwitch) -> None:
        with self._locked():
            current = {s.key: s for s in self.thrown()}
            current[switch.key] = switch
            self._write(list(current.values()))
            self._append({"action": "kill", **switch.model_dump(mode="json")})

    def release(self, scope: KillSwitchScope, target: str, actor: str, at_ns: int) -> bool:
        with self._locked():
            current = self.thrown()
            kept = [s for s in current if not (s.scope is scope and s.target == target)]
            if len(kept) == len(current):
                return False
            self._write(kept)
            self._append(
                {
                    "action": "release",
                    "scope": scope.value,
                    "target": target,
                    "actor": actor,
                    "at_ns": at_ns,
                }
            )
            return True

    def _write(self, switches: list[KillSwitch]) -> None:
        partial = self._state.with_suffix(".json.partial")
        with partial.open("w") as handle:
            json.dump([s.model_dump(mode="json") for s in switches], handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(self._state)

    def _append(self, entry: dict[str, object]) -> None:
        with self._log.open("a") as handle:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")
