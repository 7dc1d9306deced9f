"""Finance HTTP API for bank reconciliation: import a statement (CSV or camt.053), see statements
and lines, assign what could not be matched. Rules: reconciliation.py; effects: bank.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.finance import bank, credit_control, reconciliation, store
from services.finance.handlers import review_credit
from services.runtime.http_auth import Caller, requires
from services.runtime.http_hardening import MAX_KEY
from services.runtime.outbox import Tx
from services.runtime.roles import AUDITOR, FINANCE
from services.runtime.service import Service

STATEMENT_BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}, "example": "booking_date,amount,currency,reference,counterparty_name,"
                 "counterparty_iban,bank_ref\n2026-03-02,125.00,EUR,INV-000042,Acme,DE89370400440532013000,B-1"},
    "application/xml": {"schema": {"type": "string"}, "description": "ISO 20022 camt.053"}}}}


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_number: str = Field(min_length=1, max_length=32)
    amount: Decimal | None = Field(default=None, gt=0, max_digits=14, decimal_places=2,
                                   description="Default: all that is left on the line (up to what the invoice owes)")


def router(service: Service, config: credit_control.CreditConfig) -> APIRouter:
    api = APIRouter(tags=["bank reconciliation"])

    @api.post("/bank-statements", status_code=201, openapi_extra=STATEMENT_BODY,
              responses={200: {"description": "Imported before: nothing applied again, the earlier outcome"},
                         422: {"description": "Not a readable statement; `detail` says where"}})
    async def import_statement(request: Request, response: Response,
                               format: str | None = Query(default=None, pattern="^(csv|camt.053)$",
                                                          description="Default: from Content-Type / the content"),
                               statement_id: str | None = Query(default=None, max_length=100,
                                                                description="CSV: the statement's id (default: a "
                                                                            "hash of the file)"),
                               caller: Caller = requires(FINANCE)) -> dict[str, Any]:
        """Import a bank statement and apply its incoming payments to invoices (see reconciliation.py)."""
        body = await request.body()
        async with service.pool.acquire() as conn, conn.transaction():
            tx = Tx(conn, service.name, initiated_by=caller.initiator())
            try:
                result = await bank.import_statement(tx, body, format=format,
                                                     content_type=request.headers.get("content-type"),
                                                     statement_id=statement_id, config=config, review=review_credit)
            except reconciliation.StatementError as exc:
                raise HTTPException(422, f"bank statement not imported: {exc}") from exc
        if result.already_imported:
            response.status_code = 200
        return result.summary()

    @api.get("/bank-statements", dependencies=[requires(FINANCE, AUDITOR)])
    async def statements() -> list[dict[str, Any]]:
        return await store.bank_statements(service.pool)

    @api.get("/bank-lines", dependencies=[requires(FINANCE, AUDITOR)])
    async def lines(statement_id: str | None = Query(default=None, max_length=200),
                    status: str | None = Query(default=None, pattern="^(matched|partial|overpaid|unmatched|ignored)$"),
                    open: bool = Query(default=False, description="Only lines with money left to assign")
                    ) -> list[dict[str, Any]]:
        """Bank lines with how each was applied; `open=true`: what a person still has to assign."""
        return await store.bank_lines(service.pool, statement_id=statement_id, status=status, open_only=open)

    @api.post("/bank-lines/{line_id}/assign",
              responses={404: {"description": "No such line or invoice"}, 409: {"description": "Cannot be applied"}})
    async def assign(line_id: Annotated[int, Path(ge=1, le=MAX_KEY)], body: Assignment, caller: Caller = requires(FINANCE)) -> dict[str, Any]:
        """Apply what is left on a bank line to an invoice (a person's match)."""
        async with service.pool.acquire() as conn, conn.transaction():
            tx = Tx(conn, service.name, initiated_by=caller.initiator())
            try:
                return await bank.assign(tx, line_id, body.invoice_number, body.amount, config=config,
                                         review=review_credit)
            except LookupError as exc:
                raise HTTPException(404, str(exc)) from exc
            except bank.AssignRefused as exc:
                raise HTTPException(409, str(exc)) from exc

    return api
