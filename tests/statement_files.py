"""Bank statement files as banks send them, for the reconciliation tests: ISO 20022 camt.053.001.02
(one statement, entries with the bank's reference AcctSvcrRef, the payer, unstructured remittance)
and the documented CSV layout."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape

COMPANY_IBAN = "DE02120300000000202051"


@dataclass(frozen=True)
class Entry:
    bank_ref: str
    amount: Decimal
    reference: str
    payer_iban: str | None = None
    payer_name: str = "Customer"
    currency: str = "EUR"
    credit: bool = True


def camt053(statement_id: str, entries: list[Entry], booked: dt.date | None = None) -> bytes:
    day = (booked or dt.date.today()).isoformat()
    ntries = []
    for e in entries:
        debtor = (f"<RltdPties><Dbtr><Nm>{escape(e.payer_name)}</Nm></Dbtr>"
                  + (f"<DbtrAcct><Id><IBAN>{e.payer_iban}</IBAN></Id></DbtrAcct>" if e.payer_iban else "")
                  + "</RltdPties>")
        ntries.append(f"""
      <Ntry>
        <Amt Ccy="{e.currency}">{e.amount:.2f}</Amt>
        <CdtDbtInd>{'CRDT' if e.credit else 'DBIT'}</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>{day}</Dt></BookgDt>
        <ValDt><Dt>{day}</Dt></ValDt>
        <AcctSvcrRef>{escape(e.bank_ref)}</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
          <AmtDtls><TxAmt><Amt Ccy="{e.currency}">{e.amount:.2f}</Amt></TxAmt></AmtDtls>
          {debtor}
          <RmtInf><Ustrd>{escape(e.reference)}</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>MSG-{escape(statement_id)}</MsgId><CreDtTm>{day}T18:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>{escape(statement_id)}</Id>
      <CreDtTm>{day}T18:00:00</CreDtTm>
      <Acct><Id><IBAN>{COMPANY_IBAN}</IBAN></Id><Ccy>EUR</Ccy></Acct>{''.join(ntries)}
    </Stmt>
  </BkToCstmrStmt>
</Document>
""".encode()


def csv_statement(entries: list[Entry], booked: dt.date | None = None, delimiter: str = ",") -> bytes:
    day = (booked or dt.date.today()).isoformat()
    rows = [delimiter.join(("booking_date", "amount", "currency", "reference", "counterparty_name",
                            "counterparty_iban", "bank_ref"))]
    for e in entries:
        amount = f"{e.amount if e.credit else -e.amount:.2f}"
        if delimiter == ";":
            amount = amount.replace(".", ",")
        rows.append(delimiter.join((day, amount, e.currency, e.reference, e.payer_name, e.payer_iban or "",
                                    e.bank_ref)))
    return ("\n".join(rows) + "\n").encode()
