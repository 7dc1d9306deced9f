"""Bank reconciliation, the rules (pure): read a bank statement (CSV, or ISO 20022 camt.053 through
`pycamt`) into lines, and decide how an incoming payment is applied to open invoices.

Matching, per incoming (credit) line:
  1. by reference: invoice numbers (INV-000123) and order numbers (SO-000123) in the remittance text.
     The payer's account, when it is registered for a customer, must be that customer's; the currency
     must be the invoice's. The amount is applied to the referenced invoices, oldest due first, up to
     what each still owes: all of it applied and nothing left owing -> `matched`; an invoice still owes
     -> `partial`; money left over -> `overpaid` (the rest stays on the line, listed for a person).
  2. without a reference: by customer (the payer's registered account) and amount: exactly one open
     invoice of that customer owing exactly the amount -> `matched`.
  3. otherwise `unmatched`, with the reason, listed for a person to assign.
Debit lines (money going out) are `ignored`. The statement's id (camt `Stmt/Id`; for a CSV the id
given on import, else a hash of the file) makes a re-import a no-op, and each line's bank reference
(camt `AcctSvcrRef`, CSV `bank_ref`) is applied at most once, even across statements.

CSV columns (header row; `,` or `;` separated; decimal point or, with `;`, decimal comma):
    booking_date, amount, currency, reference, counterparty_name, counterparty_iban, bank_ref
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")
INVOICE_REF = re.compile(r"\bINV[-\s]?(\d{6,})\b", re.IGNORECASE)
ORDER_REF = re.compile(r"\bSO[-\s]?(\d{6,})\b", re.IGNORECASE)
CSV_COLUMNS = ("booking_date", "amount", "currency", "reference", "counterparty_name", "counterparty_iban", "bank_ref")
MAX_STATEMENT_BYTES = 5 * 1024 * 1024


class StatementError(ValueError):
    """The file is not a statement we can read; the message says where and why."""


@dataclass(frozen=True)
class BankLine:
    bank_ref: str
    amount: Decimal               # positive: money in; negative: money out
    currency: str
    booking_date: dt.date | None
    reference: str                # remittance information as given
    counterparty_name: str | None = None
    counterparty_iban: str | None = None


@dataclass(frozen=True)
class Statement:
    statement_id: str
    format: str                   # csv | camt.053
    account: str | None
    lines: tuple[BankLine, ...]


# --- reading ----------------------------------------------------------------------------------

def detect_format(body: bytes, content_type: str | None) -> str:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("application/xml", "text/xml") or body.lstrip()[:1] == b"<":
        return "camt.053"
    return "csv"


def parse(body: bytes, *, format: str | None = None, content_type: str | None = None,
          statement_id: str | None = None) -> Statement:
    if not body.strip():
        raise StatementError("the statement is empty")
    if len(body) > MAX_STATEMENT_BYTES:
        raise StatementError(f"the statement is larger than {MAX_STATEMENT_BYTES} bytes")
    kind = format or detect_format(body, content_type)
    if kind == "csv":
        return parse_csv(body, statement_id=statement_id)
    if kind in ("camt.053", "camt053", "camt"):
        return parse_camt053(body, statement_id=statement_id)
    raise StatementError(f"unknown statement format {kind!r}: csv or camt.053")


def _amount(text: str, decimal_comma: bool) -> Decimal:
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if decimal_comma:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"amount {text!r} is not a number") from None
    if value != value.quantize(CENT):
        raise ValueError(f"amount {text!r} has more than two decimals")
    return value.quantize(CENT)


def parse_csv(body: bytes, *, statement_id: str | None = None) -> Statement:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise StatementError("the CSV is not UTF-8") from None
    try:
        return _parse_csv(body, text, statement_id)
    except csv.Error as exc:                      # e.g. a stray quote or carriage return
        raise StatementError(f"not a readable CSV: {exc}") from None


def _parse_csv(body: bytes, text: str, statement_id: str | None) -> Statement:
    first = text.splitlines()[0] if text.splitlines() else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in ("amount", "currency", "reference") if c not in header]
    if missing:
        raise StatementError(f"CSV header lacks {', '.join(missing)}; expected columns {', '.join(CSV_COLUMNS)}")
    sid = statement_id or "CSV-" + hashlib.sha256(body).hexdigest()[:20]
    lines, seen = [], set()
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        if not any(row.values()):
            continue
        try:
            amount = _amount(row["amount"], decimal_comma=delimiter == ";")
            booked = dt.date.fromisoformat(row["booking_date"]) if row.get("booking_date") else None
        except ValueError as exc:
            raise StatementError(f"line {number}: {exc}") from None
        currency = row["currency"].upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise StatementError(f"line {number}: currency {row['currency']!r} is not an ISO 4217 code")
        bank_ref = row.get("bank_ref") or f"{sid}:{number}"
        if bank_ref in seen:
            raise StatementError(f"line {number}: bank_ref {bank_ref!r} appears twice in the statement")
        seen.add(bank_ref)
        lines.append(BankLine(bank_ref=bank_ref, amount=amount, currency=currency, booking_date=booked,
                              reference=row.get("reference", ""), counterparty_name=row.get("counterparty_name") or None,
                              counterparty_iban=_iban(row.get("counterparty_iban"))))
    return Statement(statement_id=sid, format="csv", account=None, lines=tuple(lines))


def parse_camt053(body: bytes, *, statement_id: str | None = None) -> Statement:
    """camt.053 (any version pycamt knows) through pycamt, which parses with lxml without entities
    or network access. Entries without their own bank reference get one from statement id + position."""
    from lxml import etree
    from pycamt.parser import Camt053Parser

    try:
        parser = Camt053Parser(body)
        transactions = parser.get_transactions()
        info = parser.get_statement_info()
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise StatementError(f"not a readable camt.053 document: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the library raises its own types for bad documents
        raise StatementError(f"not a readable camt.053 document: {type(exc).__name__}: {exc}") from None
    ids = [el.text for el in parser.tree.iter() if isinstance(el.tag, str) and etree.QName(el).localname == "Id"
           and etree.QName(el.getparent()).localname in ("Stmt", "Rpt")]
    account = info[0].get("IBAN") if info else None
    sid = statement_id or (f"{account or 'camt'}:{ids[0]}" if ids else
                           "CAMT-" + hashlib.sha256(body).hexdigest()[:20])
    lines, seen = [], set()
    for index, tx in enumerate(transactions, start=1):
        try:
            amount = _amount(tx.get("Amount") or "", decimal_comma=False)
        except ValueError as exc:
            raise StatementError(f"entry {index}: {exc}") from None
        if tx.get("CreditDebitIndicator") == "DBIT":
            amount = -amount
        if tx.get("ReversalIndicator") == "true":
            amount = -amount
        ref = tx.get("TransactionID") or tx.get("EndToEndId")
        bank_ref = ref if ref and ref != "NOTPROVIDED" and ref not in seen else f"{sid}:{index}"
        seen.add(bank_ref)
        reference = " ".join(p for p in (tx.get("RemittanceInformationFull") or tx.get("RemittanceInformation"),
                                         tx.get("AdditionalRemittanceInformation")) if p)
        booked = tx.get("BookingDate")
        try:
            booking_date = dt.date.fromisoformat(booked[:10]) if booked else None
        except ValueError:
            booking_date = None
        lines.append(BankLine(bank_ref=bank_ref, amount=amount, currency=(tx.get("Currency") or "").upper(),
                              booking_date=booking_date, reference=reference,
                              counterparty_name=tx.get("DebtorName"), counterparty_iban=_iban(tx.get("DebtorIBAN"))))
    return Statement(statement_id=sid, format="camt.053", account=account, lines=tuple(lines))


def _iban(value: str | None) -> str | None:
    return value.replace(" ", "").upper() if value else None


# --- matching ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class OpenInvoice:
    invoice_number: str
    order_id: str
    order_number: str | None
    customer_id: str
    currency: str
    outstanding: Decimal
    due_at: dt.datetime


@dataclass(frozen=True)
class Allocation:
    invoice_number: str
    amount: Decimal


@dataclass
class Match:
    status: str                                    # matched | partial | overpaid | unmatched | ignored
    basis: str | None = None                       # reference | amount_and_customer
    allocations: list[Allocation] = field(default_factory=list)
    unapplied: Decimal = Decimal("0.00")
    reason: str | None = None

    @property
    def applied(self) -> Decimal:
        return sum((a.amount for a in self.allocations), Decimal("0.00"))


def references(text: str) -> tuple[list[str], list[str]]:
    """(invoice numbers, order numbers) named in a remittance text, normalised, in order of appearance."""
    invoices = list(dict.fromkeys(f"INV-{m}" for m in INVOICE_REF.findall(text or "")))
    orders = list(dict.fromkeys(f"SO-{m}" for m in ORDER_REF.findall(text or "")))
    return invoices, orders


def allocate(amount: Decimal, invoices: list[OpenInvoice]) -> tuple[list[Allocation], Decimal]:
    """Oldest due first, each up to what it owes; returns (allocations, what is left)."""
    left, parts = amount, []
    for invoice in sorted(invoices, key=lambda i: (i.due_at, i.invoice_number)):
        take = min(left, invoice.outstanding)
        if take > 0:
            parts.append(Allocation(invoice.invoice_number, take))
            left -= take
    return parts, left


def match(line: BankLine, *, referenced: list[OpenInvoice], named: list[str], payer_customer: str | None,
          customer_invoices: list[OpenInvoice]) -> Match:
    """How one bank line is applied. `referenced`: the open or paid invoices its reference names (with
    what they still owe, possibly 0), `named`: the reference numbers found, `payer_customer`: the
    customer whose registered account paid (None: unknown), `customer_invoices`: that customer's open
    invoices (for matching without a reference)."""
    if line.amount <= 0:
        return Match("ignored", reason="not an incoming payment", unapplied=Decimal("0.00"))
    if named:
        if not referenced:
            return Match("unmatched", unapplied=line.amount,
                         reason=f"reference {', '.join(named)} names no invoice or order of ours")
        customers = {i.customer_id for i in referenced}
        if payer_customer is not None and customers != {payer_customer}:
            return Match("unmatched", unapplied=line.amount,
                         reason=f"reference {', '.join(named)} belongs to {', '.join(sorted(customers))}, "
                                f"but the payer's account is registered for {payer_customer}")
        if len(customers) > 1:
            return Match("unmatched", unapplied=line.amount,
                         reason=f"reference names invoices of several customers ({', '.join(sorted(customers))})")
        wrong = sorted({i.currency for i in referenced} - {line.currency})
        if wrong:
            return Match("unmatched", unapplied=line.amount,
                         reason=f"paid in {line.currency}, invoiced in {', '.join(wrong)}")
        parts, left = allocate(line.amount, referenced)
        if not parts:
            return Match("unmatched", unapplied=line.amount,
                         reason=f"{', '.join(named)} owes nothing any more (paid or credited)")
        owing = sum((i.outstanding for i in referenced), Decimal("0.00")) - (line.amount - left)
        status = "overpaid" if left > 0 else ("partial" if owing > 0 else "matched")
        return Match(status, basis="reference", allocations=parts, unapplied=left,
                     reason=f"{left} more than {', '.join(named)} owed" if left > 0 else None)
    if payer_customer is None:
        return Match("unmatched", unapplied=line.amount, reason="no invoice or order reference, and the payer's "
                                                                "account is not registered for a customer")
    same = [i for i in customer_invoices if i.currency == line.currency and i.outstanding == line.amount]
    if len(same) == 1:
        return Match("matched", basis="amount_and_customer", allocations=[Allocation(same[0].invoice_number,
                                                                                      line.amount)])
    why = "no open invoice" if not same else f"{len(same)} open invoices"
    return Match("unmatched", unapplied=line.amount,
                 reason=f"no reference; {why} of {payer_customer} owes exactly {line.amount} {line.currency}")
