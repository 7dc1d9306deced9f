"""HTTP endpoints for a service's dead letters (every department): read by operators and auditors,
replayed, skipped and purged by operators only. The audit trail records each POST (http_auth.py);
dead_letter_actions records each replay, skip and purge with who and when (dead_letters.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from services.runtime import dead_letters
from services.runtime.dead_letters import Filter
from services.runtime.http_auth import Caller, requires
from services.runtime.http_hardening import MAX_AGE_SECONDS, MAX_KEY
from services.runtime.roles import AUDITOR, OPERATOR

if TYPE_CHECKING:
    from services.runtime.service import Service


class ReplayRequest(BaseModel):
    """Replay as recorded, or corrected: `payload` replaces the payload, `envelope` the whole record."""

    model_config = ConfigDict(extra="forbid", strict=True)

    payload: dict[str, Any] | None = None
    envelope: dict[str, Any] | None = None
    note: str | None = Field(default=None, max_length=500)
    dry_run: bool = False


class SkipRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500)


class PurgeRequest(BaseModel):
    """Which dead letters to delete from the table. Without `status`, only resolved ones (replayed or
    skipped); `status: "open"` deletes unresolved ones too (they then count as handled)."""

    model_config = ConfigDict(extra="forbid", strict=True)    # a deletion takes `true`, not 0 or "yes"

    status: str | None = Field(default=None, pattern="^(open|replayed|skipped)$")
    reason: str | None = Field(default=None, max_length=200)
    from_id: int | None = Field(default=None, ge=1, le=MAX_KEY)
    to_id: int | None = Field(default=None, ge=1, le=MAX_KEY)
    older_than: float | None = Field(default=None, ge=0, le=MAX_AGE_SECONDS, description="seconds")
    message_type: str | None = None
    note: str | None = Field(default=None, max_length=500)
    dry_run: bool = False


LetterId = Annotated[int, Path(ge=1, le=MAX_KEY)]


def _statuses(status: str | None) -> list[str | None]:
    return [status] if status else ["replayed", "skipped"]


def router(service: "Service", logical_topic_of: Callable[[str], str]) -> APIRouter:
    api = APIRouter(tags=["dead letters"])

    def pool():
        return service.pool                 # 503 until the database was first reached

    @api.get("/dead-letters", dependencies=[requires(OPERATOR, AUDITOR)])
    async def list_letters(status: str | None = Query(default=None, pattern="^(open|replayed|skipped|any)$",
                                                      description="default: any"),
                           reason: str | None = Query(default=None, max_length=200),
                           from_id: int | None = Query(default=None, ge=1, le=MAX_KEY),
                           to_id: int | None = Query(default=None, ge=1, le=MAX_KEY),
                           older_than: float | None = Query(default=None, ge=0, le=MAX_AGE_SECONDS, description="seconds"),
                           newer_than: float | None = Query(default=None, ge=0, le=MAX_AGE_SECONDS, description="seconds"),
                           message_type: str | None = Query(default=None, max_length=100),
                           limit: int = Query(default=50, ge=1, le=1000)) -> list[dict[str, Any]]:
        """This service's dead letters, newest first (filters: status, reason substring, id range, age, type)."""
        where = Filter(status=None if status in (None, "any") else status, reason=reason, from_id=from_id,
                       to_id=to_id, older_than=older_than, newer_than=newer_than, message_type=message_type)
        return await dead_letters.search(pool(), where, limit)

    @api.api_route("/dead-letters/purge", methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def purge_is_a_post() -> JSONResponse:
        """Without this, GET /dead-letters/purge would match /dead-letters/{letter_id} and answer 422."""
        return JSONResponse({"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": "POST"})

    @api.get("/dead-letters/{letter_id}", dependencies=[requires(OPERATOR, AUDITOR)])
    async def show_letter(letter_id: LetterId) -> dict[str, Any]:
        """One dead letter with its raw value, key, headers and every action taken on it."""
        try:
            return await dead_letters.show(pool(), letter_id)
        except dead_letters.NotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @api.post("/dead-letters/{letter_id}/replay", responses={
        404: {"description": "No such dead letter"}, 409: {"description": "Already replayed or skipped"},
        422: {"description": "The correction is not a valid message"}})
    async def replay_letter(letter_id: LetterId, request: ReplayRequest | None = None,
                            caller: Caller = requires(OPERATOR)) -> dict[str, Any]:
        """Replay through `<service>.replay.v1` as its original topic, with the original key and a new
        message id linked to this dead letter; `dry_run` shows the record without sending it."""
        request = request or ReplayRequest()
        try:
            return await dead_letters.replay(pool(), service.name, letter_id, caller.initiator(),
                                             logical_topic_of=logical_topic_of, payload=request.payload,
                                             envelope=request.envelope, note=request.note, dry_run=request.dry_run)
        except dead_letters.NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except dead_letters.Conflict as exc:
            raise HTTPException(409, str(exc)) from None
        except dead_letters.Invalid as exc:
            raise RequestValidationError(exc.errors or [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]
                                         ) from None

    @api.post("/dead-letters/{letter_id}/skip", responses={404: {"description": "No such dead letter"},
                                                          409: {"description": "Already replayed or skipped"}})
    async def skip_letter(letter_id: LetterId, request: SkipRequest | None = None,
                          caller: Caller = requires(OPERATOR)) -> dict[str, Any]:
        """Mark as handled without replaying (it stops counting as an open dead letter)."""
        try:
            return await dead_letters.skip(pool(), service.name, letter_id, caller.initiator(),
                                           (request or SkipRequest()).note)
        except dead_letters.NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except dead_letters.Conflict as exc:
            raise HTTPException(409, str(exc)) from None

    @api.post("/dead-letters/purge")
    async def purge_letters(request: PurgeRequest, caller: Caller = requires(OPERATOR)) -> dict[str, Any]:
        """Delete matching dead letters from the table (every deletion is recorded)."""
        result: dict[str, Any] = {"purged": [], "matched": [], "dry_run": request.dry_run}
        for status in _statuses(request.status):
            where = Filter(status=status, reason=request.reason, from_id=request.from_id, to_id=request.to_id,
                           older_than=request.older_than, message_type=request.message_type)
            part = await dead_letters.purge(pool(), service.name, where, caller.initiator(), dry_run=request.dry_run,
                                            note=request.note)
            result["purged"] += part["purged"]
            result["matched"] += part["matched"]
        return result

    return api
