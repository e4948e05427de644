"""Which strategy classes a definition or request may name, decided before anything is imported.

DESIGN.md §2: plug-ins come only from allowed packages or the ``quantdesk.strategies``
entry-point group. A path is allowed if it is a quantdesk built-in, lies in an allowed
package (whole dotted segments: ``acme`` allows ``acme.trend``, never ``acmex``), or is exactly
a declared entry point (its config then in the strategy's own module or package). The policy
is pure string logic; a plug-in that passes it is then imported in a child process by the
``PluginInspector``, so the serving process never imports a class only to find out what it is.
"""

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.ports.plugins import PluginClass, PluginInspector

BUILTIN_PACKAGE = "quantdesk.strategies"
ENTRY_POINT_GROUP = "quantdesk.strategies"
PACKAGES_SETTING = "QUANTDESK_PLUGIN_PACKAGES"

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = re.compile(rf"{_NAME}(?:\.{_NAME})*")
_IMPORT_PATH = re.compile(rf"({_NAME}(?:\.{_NAME})*):({_NAME})")


def is_dotted_name(text: str) -> bool:
    """``acme`` or ``acme.strategies``: ASCII identifiers joined by dots, nothing else."""
    return _DOTTED.fullmatch(text) is not None


def is_import_path(text: str) -> bool:
    """``package.module:Class``, the only form a strategy or config class is named in."""
    return _IMPORT_PATH.fullmatch(text) is not None


def within(module: str, package: str) -> bool:
    """``module`` is ``package`` or inside it, by whole dotted segments."""
    return module == package or module.startswith(package + ".")


class Origin(StrEnum):
    """Where an allowed class comes from; only built-ins are trusted without inspection."""

    BUILTIN = "built-in"
    PACKAGE = "allowed package"
    ENTRY_POINT = "entry point"


class PluginRefusedError(InvalidInputError):
    """A strategy or config class that may not be imported, or that is not what it must be."""

    def __init__(self, message: str, *, hint: str, reason: str, path: str) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason  # not_an_import_path, not_allowed, config_outside_plugin, ...
        self.path = path


@dataclass(frozen=True)
class PluginUse:
    """A strategy/config pair where a document names it; ``where`` prefixes the field names
    in messages (``"strategy 2: "``, ``"parameters."``)."""

    where: str
    plugin: PluginClass


@dataclass(frozen=True)
class PluginPolicy:
    """The allowed places: packages (from settings) and entry-point values (``module:Class``)."""

    packages: tuple[str, ...] = ()
    entry_points: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for package in self.packages:
            if not is_dotted_name(package):
                raise InvalidInputError(
                    f"plug-in package {package!r} is not a dotted package name",
                    hint=f"check {PACKAGES_SETTING}: names like acme or acme.strategies",
                )
        for value in self.entry_points:
            if not is_import_path(value):
                raise InvalidInputError(f"entry point {value!r} is not of the form module:Class")

    def origin(self, use: PluginUse) -> tuple[Origin, Origin]:
        """Where the strategy and the config class come from; refused if either is not allowed."""
        plugin = use.plugin
        strategy_module = _module(use.where, "strategy_path", plugin.strategy_path)
        config_module = _module(use.where, "config_path", plugin.config_path)
        strategy = self._place(strategy_module)
        if strategy is None and plugin.strategy_path in self.entry_points:
            strategy = Origin.ENTRY_POINT
        if strategy is None:
            raise self._refused(use.where, "strategy_path", plugin.strategy_path, strategy_module)
        config = self._place(config_module)
        if config is None and strategy is Origin.ENTRY_POINT:
            home = _home_package(strategy_module)
            if within(config_module, home):
                config = Origin.ENTRY_POINT
            else:
                raise PluginRefusedError(
                    f"{use.where}config_path {plugin.config_path!r} is not allowed: the config "
                    f"of entry point {plugin.strategy_path} must be in its own module or package "
                    f"({home})",
                    hint=self.allowed(),
                    reason="config_outside_plugin",
                    path=plugin.config_path,
                )
        if config is None:
            raise self._refused(use.where, "config_path", plugin.config_path, config_module)
        return strategy, config

    def needs_inspection(self, use: PluginUse) -> bool:
        """True unless both classes are built-ins (which quantdesk ships and trusts)."""
        return self.origin(use) != (Origin.BUILTIN, Origin.BUILTIN)

    def allowed(self) -> str:
        """The allowed places in words, for a refusal's hint."""
        packages, points = _listed(self.packages), _listed(self.entry_points)
        return (
            f"allowed: quantdesk's built-ins ({BUILTIN_PACKAGE}), the plug-in packages "
            f"({packages}; setting {PACKAGES_SETTING}) and the strategies declared as entry "
            f"points of group {ENTRY_POINT_GROUP} by installed distributions ({points})"
        )

    def _place(self, module: str) -> Origin | None:
        if within(module, BUILTIN_PACKAGE):
            return Origin.BUILTIN
        if any(within(module, package) for package in self.packages):
            return Origin.PACKAGE
        return None

    def _refused(self, where: str, field: str, path: str, module: str) -> PluginRefusedError:
        return PluginRefusedError(
            f"{where}{field} {path!r} is not allowed: module {module} is not a quantdesk "
            "built-in, not in an allowed plug-in package and not a declared entry point "
            "(nothing was imported)",
            hint=self.allowed(),
            reason="not_allowed",
            path=path,
        )


class PluginGate:
    """The policy first (no import), then, for plug-ins, the inspector (another process).

    ``policy`` may be a function, called once on first use: reading the installed entry
    points costs start-up time a command that names no strategy should not pay. Without an
    inspector only built-ins pass (a plug-in cannot be checked, so it is refused).
    """

    def __init__(
        self,
        policy: PluginPolicy | Callable[[], PluginPolicy] | None = None,
        inspector: PluginInspector | None = None,
    ) -> None:
        self._policy_source = policy
        self._policy: PluginPolicy | None = policy if isinstance(policy, PluginPolicy) else None
        self._inspector = inspector

    @property
    def policy(self) -> PluginPolicy:
        if self._policy is None:
            source = self._policy_source
            self._policy = source() if callable(source) else PluginPolicy()
        return self._policy

    def check(self, uses: Iterable[PluginUse]) -> list[PluginUse]:
        """Refuse the first use the policy does not allow; return the plug-ins among them."""
        return [use for use in uses if self.policy.needs_inspection(use)]

    def vet(self, uses: Sequence[PluginUse]) -> None:
        """``check``, then import every distinct plug-in once, in one child process."""
        plugins: dict[PluginClass, PluginUse] = {}
        for use in self.check(uses):
            plugins.setdefault(use.plugin, use)
        if not plugins:
            return
        if self._inspector is None:
            use = next(iter(plugins.values()))
            raise PluginRefusedError(
                f"{use.where}strategy_path {use.plugin.strategy_path!r} is a plug-in and this "
                "desk has no way to check plug-ins",
                hint="only quantdesk's built-in strategies can be used here",
                reason="no_inspector",
                path=use.plugin.strategy_path,
            )
        for finding in self._inspector.inspect(list(plugins)):
            if finding.problem is not None:
                use = plugins[finding.plugin]
                raise PluginRefusedError(
                    f"{use.where}strategy_path {use.plugin.strategy_path!r} cannot be used: "
                    f"{finding.problem}",
                    hint="a plug-in's strategy_path names a subclass of NautilusTrader's "
                    "Strategy and its config_path a subclass of StrategyConfig, both importable",
                    reason="plugin_check_failed",
                    path=use.plugin.strategy_path,
                )


def _module(where: str, field: str, path: str) -> str:
    match = _IMPORT_PATH.fullmatch(path)
    if match is None:
        raise PluginRefusedError(
            f"{where}{field} {path!r} is not an import path of the form package.module:Class",
            hint="ASCII identifiers joined by dots, a colon, then the class name",
            reason="not_an_import_path",
            path=path,
        )
    return match.group(1)


def _listed(names: Sequence[str], limit: int = 10) -> str:
    """Names for a hint, at most ``limit`` of them (a desk may install many entry points)."""
    if not names:
        return "none"
    more = len(names) - limit
    return ", ".join(names[:limit]) + (f" and {more} more" if more > 0 else "")


def _home_package(module: str) -> str:
    """The package a module belongs to (a top-level module is its own)."""
    parent, _, _ = module.rpartition(".")
    return parent or module
