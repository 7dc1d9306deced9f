"""Notification service simulator (stand-in for e-mail, SMS and letters): consumes
`customer.notifications.v1` and "sends" each notification once, rendered from its template in the
customer's language (en, de, fr, sv; others fall back to en) for its channel: an e-mail gets a
subject and a body, an SMS one short line, a letter an address line. Sending is a log line and the
counter `orderflow_notifications_sent_total{kind,channel,language}` on its /metrics (the e2e tests
read it), with a receipt on `customer.notification_receipts.v1` (sales shows it on the order's
timeline); a redelivered notification (same notification_id) is not sent twice while it runs."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from prometheus_client import Counter

from contracts import customer
from contracts.envelope import Envelope
from services.simulators.base import Simulator

log = logging.getLogger(__name__)
sim = Simulator("notifier", customer.NOTIFICATIONS)
SENT = Counter("orderflow_notifications_sent_total", "Customer notifications sent", ["kind", "channel", "language"])
DUPLICATES = Counter("orderflow_notifications_duplicates_total", "Notifications received again and not re-sent")
_seen: OrderedDict[str, None] = OrderedDict()
REMEMBER = 100_000

SUBJECTS = {
    "en": {"order_confirmed": "Order {order_number} confirmed", "shipped": "Order {order_number} is on its way",
           "delayed": "Order {order_number} is delayed", "delivered": "Order {order_number} delivered",
           "invoice": "Invoice {invoice_number}", "payment_reminder": "{level_name}: invoice {invoice_number}",
           "return_update": "Your return {rma}", "order_cancelled": "Order {order_number} {status}"},
    "de": {"order_confirmed": "Auftrag {order_number} bestätigt", "shipped": "Auftrag {order_number} ist unterwegs",
           "delayed": "Auftrag {order_number} verspätet sich", "delivered": "Auftrag {order_number} zugestellt",
           "invoice": "Rechnung {invoice_number}", "payment_reminder": "Zahlungserinnerung ({level_name}): "
                                                                       "Rechnung {invoice_number}",
           "return_update": "Ihre Rücksendung {rma}", "order_cancelled": "Auftrag {order_number} storniert"},
    "fr": {"order_confirmed": "Commande {order_number} confirmée", "shipped": "Commande {order_number} expédiée",
           "delayed": "Commande {order_number} retardée", "delivered": "Commande {order_number} livrée",
           "invoice": "Facture {invoice_number}", "payment_reminder": "Relance ({level_name}) : facture {invoice_number}",
           "return_update": "Votre retour {rma}", "order_cancelled": "Commande {order_number} annulée"},
    "sv": {"order_confirmed": "Order {order_number} bekräftad", "shipped": "Order {order_number} är på väg",
           "delayed": "Order {order_number} är försenad", "delivered": "Order {order_number} levererad",
           "invoice": "Faktura {invoice_number}", "payment_reminder": "Påminnelse ({level_name}): faktura {invoice_number}",
           "return_update": "Din retur {rma}", "order_cancelled": "Order {order_number} avbruten"},
}
DETAILS = {
    "shipped": "{carrier} {tracking_number}", "delayed": "{carrier} {tracking_number}, ETA {eta}",
    "invoice": "{amount} {currency}, due {due_date}", "payment_reminder": "{outstanding} {currency} + fee {fee}",
    "return_update": "{status}", "delivered": "{feedback}", "order_confirmed": "{total} {currency}",
    "order_cancelled": "{reason}",
}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def render(n: customer.CustomerNotification) -> str:
    """The text as the customer gets it on its channel, in its language."""
    values = _Blank({**n.params.model_dump(exclude_none=True), "order_number": n.order_number or ""})
    subject = SUBJECTS.get(n.language[:2], SUBJECTS["en"])[n.kind].format_map(values)
    detail = DETAILS.get(n.kind, "").format_map(values)
    if n.channel == "sms":
        return f"{subject}: {detail}"[:160]
    if n.channel == "letter":
        return f"To {n.recipient}: {subject}. {detail}"
    return f"Subject: {subject}\n\n{detail}"


@sim.on(customer.CustomerNotification)
async def send(n: customer.CustomerNotification, cause: Envelope) -> None:
    if n.notification_id in _seen:
        DUPLICATES.inc()
        return
    _seen[n.notification_id] = None
    while len(_seen) > REMEMBER:
        _seen.popitem(last=False)
    text = render(n)
    SENT.labels(n.kind, n.channel, n.language).inc()
    log.info("%s to customer %s (%s): %s", n.channel, n.customer_id, n.language, text.replace("\n", " | "))
    await sim.send(customer.NotificationSent(notification_id=n.notification_id, customer_id=n.customer_id,
                                             order_id=n.order_id, kind=n.kind, channel=n.channel,
                                             detail=f"{n.channel} to {n.recipient}"), cause)


if __name__ == "__main__":
    asyncio.run(sim.run_forever())
