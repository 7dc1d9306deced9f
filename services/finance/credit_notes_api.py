"""Finance HTTP API: a credit note by hand (a person's correction of an invoice, with the reason),
refunding what the customer then has paid too much. Effects: settlement.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from services.finance import settlement
from services.runtime.http_auth import Caller, requires
from services.runtime.outbox import Tx
from services.runtime.roles import FINANCE
from services.runtime.service import Service


class ManualCreditNote(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "invoice_number": "INV-000042", "amount": "11.90", "reason": "price agreed on the phone was 10.00 lower"}})

    invoice_number: str = Field(min_length=1, max_length=32)
    amount: Decimal = Field(gt=0, max_digits=14, decimal_places=2, description="Gross, in the invoice's currency")
    reason: str = Field(min_length=3, max_length=500)
    refund: bool = Field(default=True, description="Refund what the customer has then paid too much")


def router(service: Service) -> APIRouter:
    api = APIRouter(tags=["settlement"])

    @api.post("/credit-notes", status_code=201,
              responses={404: {"description": "No such invoice"}, 409: {"description": "More than is left to credit"}})
    async def issue(body: ManualCreditNote, caller: Caller = requires(FINANCE)) -> dict[str, Any]:
        async with service.pool.acquire() as conn, conn.transaction():
            tx = Tx(conn, service.name, initiated_by=caller.initiator())
            try:
                return await settlement.manual_credit_note(tx, body.invoice_number, body.amount,
                                                           f"{body.reason} (by {caller.subject})", body.refund)
            except LookupError as exc:
                raise HTTPException(404, str(exc)) from exc
            except settlement.CreditRefused as exc:
                raise HTTPException(409, str(exc)) from exc

    return api
