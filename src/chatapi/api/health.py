from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from chatapi.api.deps import StateDep
from chatapi.api.state import AppState
from chatapi.health import DATABASE, MEDIA
from chatapi.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(state: StateDep) -> JSONResponse:
    """The database answers, and the broker when one is configured; and no store's last
    write failed (a full disk): `checks` names what is down and why."""
    checks: dict[str, str] = {}
    try:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready"
        checks["database"] = f"down: {type(exc).__name__}"
    if state.settings.redis_url:
        checks["broker"] = "ok" if state.broker.healthy else "down"
    await _retry_failed_writes(state)
    checks["media"] = "ok"
    for store, reason in state.write_health.failing().items():
        checks[store] = f"writes failing: {reason}"
    ready = all(v == "ok" for v in checks.values())
    body = Health(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


# A write that changes nothing, for the database: it still needs the database to take
# a write (a page, a WAL record), which is what a full disk refuses.
_DATABASE_PROBE = text("UPDATE alembic_version SET version_num = version_num")


async def _retry_failed_writes(state: AppState) -> None:
    """A store marked failing gets one harmless write per readiness check, so that an
    instance a load balancer took out of rotation (no writes reach it) comes back."""
    failing = state.write_health.failing()
    if MEDIA in failing:
        await state.storage.check_writable()
    if DATABASE in failing:
        try:
            async with state.uow() as uow:
                await uow.session.execute(_DATABASE_PROBE)
                await uow.commit()
        except Exception:  # noted by the unit of work; readiness stays down
            pass
