"""The API's resources, one router module each (``build_router() -> APIRouter`` with its prefix
and one tag), mounted by ``create_app`` under ``/api/v1`` in this order.

A new resource adds its module's name here (one line)."""

ROUTER_MODULES: tuple[str, ...] = (
    "health",
    "auth",
    "users",
    "strategies",
    "backtest",
    "jobs",
    "signals",
    "risk",
    "data",
    "audit",
    "feature_flags",
    "validation",
    "optimisation",
    "migrations",
)
