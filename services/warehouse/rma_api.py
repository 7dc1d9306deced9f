"""Warehouse HTTP API for customer returns (RMA): what is expected, and a person records the goods
received and the inspection (restock or scrap). Effects: customer_returns.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from contracts.common import StockLine
from services.runtime.http_auth import Caller, requires
from services.runtime.outbox import Tx
from services.runtime.roles import AUDITOR, OPERATOR, WAREHOUSE
from services.runtime.service import Service
from services.warehouse import customer_returns, handlers


class Receipt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[StockLine] | None = Field(default=None, description="What arrived; default: everything expected")


class InspectedLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    restock: int = Field(default=0, ge=0, le=1_000_000)
    scrap: int = Field(default=0, ge=0, le=1_000_000)


class Inspection(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "lines": [{"sku": "SKU-BOLT-M8", "restock": 2, "scrap": 1}]}})

    lines: list[InspectedLine] = Field(min_length=1)


def router(service: Service) -> APIRouter:
    api = APIRouter(tags=["customer returns"])

    @api.get("/rmas", dependencies=[requires(WAREHOUSE, OPERATOR, AUDITOR)])
    async def rmas(order_id: str | None = Query(default=None, max_length=64),
                   status: str | None = Query(default=None, pattern="^(expected|received|inspected)$")
                   ) -> list[dict[str, Any]]:
        return await customer_returns.listing(service.pool, order_id, status)

    @api.post("/rmas/{rma}/receive", responses={404: {"description": "Not expected"},
                                                409: {"description": "Already received, or more than approved"}})
    async def receive(rma: str, body: Receipt | None = None, caller: Caller = requires(WAREHOUSE)) -> dict[str, Any]:
        async with service.pool.acquire() as conn, conn.transaction():
            tx = Tx(conn, service.name, initiated_by=caller.initiator())
            try:
                return await customer_returns.receive(tx, rma, (body or Receipt()).lines)
            except LookupError as exc:
                raise HTTPException(404, str(exc)) from exc
            except customer_returns.ReturnRefused as exc:
                raise HTTPException(409, str(exc)) from exc

    @api.post("/rmas/{rma}/inspect", responses={404: {"description": "No such return"},
                                                409: {"description": "Not received, or does not add up"}})
    async def inspect(rma: str, body: Inspection, caller: Caller = requires(WAREHOUSE)) -> dict[str, Any]:
        restock, scrap = {}, {}
        for line in body.lines:
            restock[line.sku] = restock.get(line.sku, 0) + line.restock
            scrap[line.sku] = scrap.get(line.sku, 0) + line.scrap
        async with service.pool.acquire() as conn, conn.transaction():
            tx = Tx(conn, service.name, initiated_by=caller.initiator())
            try:
                return await customer_returns.inspect(tx, rma, restock, scrap, handlers.move)
            except LookupError as exc:
                raise HTTPException(404, str(exc)) from exc
            except customer_returns.ReturnRefused as exc:
                raise HTTPException(409, str(exc)) from exc

    return api
