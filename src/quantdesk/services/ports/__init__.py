"""What the use cases need from the outside world, as Protocols; adapters implement them.

One module per feature (``ports/catalog.py``, ``ports/runs.py`` ...); this package re-exports
the names of the core features so ``from quantdesk.services.ports import X`` keeps working.
"""

from quantdesk.services.ports.backtests import BacktestRunner, EngineRun
from quantdesk.services.ports.catalog import (
    BarChunks,
    BarSource,
    BarStaging,
    MarketDataCatalog,
    StagedCommit,
)
from quantdesk.services.ports.database import SchemaMigrator
from quantdesk.services.ports.producers import (
    GarchFit,
    GarchFitter,
    Headline,
    HeadlineFeed,
    HeadlineSource,
    SentimentScorer,
)
from quantdesk.services.ports.progress import Advance, ProgressReporter, SilentProgress
from quantdesk.services.ports.registry import (
    AuditLog,
    ConfigSchemaChecker,
    Expect,
    StrategyChangeListener,
    StrategyStore,
)
from quantdesk.services.ports.risk import KillSwitchStore
from quantdesk.services.ports.runs import (
    ReportRenderer,
    ReportWriter,
    RunArtifacts,
    RunIndex,
    RunStore,
)
from quantdesk.services.ports.signals import (
    DeadLetterStore,
    ReceivedSignal,
    SignalBus,
    SignalEventSink,
    SignalRecord,
    SignalRecordSource,
    SignalRejectStore,
    SignalStore,
)
from quantdesk.services.ports.ticks import TickCatalog

__all__ = [
    "Advance",
    "AuditLog",
    "BacktestRunner",
    "BarChunks",
    "BarSource",
    "BarStaging",
    "ConfigSchemaChecker",
    "DeadLetterStore",
    "EngineRun",
    "Expect",
    "GarchFit",
    "GarchFitter",
    "Headline",
    "HeadlineFeed",
    "HeadlineSource",
    "KillSwitchStore",
    "MarketDataCatalog",
    "ProgressReporter",
    "ReceivedSignal",
    "ReportRenderer",
    "ReportWriter",
    "RunArtifacts",
    "RunIndex",
    "RunStore",
    "SchemaMigrator",
    "SentimentScorer",
    "SignalBus",
    "SignalEventSink",
    "SignalRecord",
    "SignalRecordSource",
    "SignalRejectStore",
    "SignalStore",
    "SilentProgress",
    "StagedCommit",
    "StrategyChangeListener",
    "StrategyStore",
    "TickCatalog",
]
