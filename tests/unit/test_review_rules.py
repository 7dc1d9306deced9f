"""Departments' review rules (pure): logistics' destination/carrier/date opinion and late-carrier
detection, finance's payment terms and credit levels, the warehouse's stock opinion; sales' intake:
ISO countries and the price of a changed sample (bug: new lines got the list price)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from pydantic import ValidationError

from contracts.common import OrderType, PricedLine
from contracts.risk import RiskKind
from services.finance import rules as finance
from services.logistics import rules as logistics
from services.runtime.risks import risk_id, subject_key_of
from services.sales import intake
from services.warehouse import rules as warehouse

TODAY = dt.date(2031, 1, 1)
NOW = dt.datetime(2031, 1, 1, 12, tzinfo=dt.timezone.utc)
CARRIERS = [logistics.Carrier("SWIFT", frozenset({"DE", "GB"}), Decimal("15"), Decimal("1.2"), 1, 10),
            logistics.Carrier("SLOW", frozenset({"DE"}), Decimal("5"), Decimal("0.5"), 4, 10)]


# --- logistics: review ------------------------------------------------------------------------

def test_an_unserved_destination_is_rejected_a_served_one_approved():
    assert logistics.review_order(CARRIERS, country="US", today=TODAY, deliver_by=None, joint=False) == \
        logistics.Opinion(False, ("no carrier serves US",))
    assert logistics.review_order(CARRIERS, country="GB", today=TODAY, deliver_by=None, joint=False).approved


def test_joint_review_names_a_date_no_carrier_can_make_as_a_condition():
    opinion = logistics.review_order(CARRIERS, country="DE", today=TODAY, deliver_by=TODAY, joint=True)
    assert opinion.approved and opinion.conditions == ("earliest delivery 2031-01-02 with SWIFT, after the requested "
                                                       "2031-01-01",)


def test_joint_review_notes_carriers_fully_booked_today():
    full = [logistics.Carrier("SWIFT", frozenset({"GB"}), Decimal("15"), Decimal("1"), 1, 10, booked_today=10)]
    opinion = logistics.review_order(full, country="GB", today=TODAY, deliver_by=None, joint=True)
    assert opinion.approved and "fully booked" in opinion.conditions[0]


# --- logistics: late carriers -----------------------------------------------------------------

def shipment(**kw) -> logistics.InTransit:
    return logistics.InTransit(**{"shipment_id": "SHP-1", "carrier": "SWIFT", "eta": TODAY, "eta_at": None,
                                  "dispatched_at": NOW, "picked_up_at": None, "last_scan_at": None,
                                  "rebooked": False, **kw})


GRACE, SILENCE = dt.timedelta(hours=2), dt.timedelta(days=2)


def test_not_late_before_the_end_of_the_eta_day_plus_grace():
    end = dt.datetime(2031, 1, 2, 2, tzinfo=dt.timezone.utc)
    assert logistics.lateness(shipment(), end - dt.timedelta(seconds=1), grace=GRACE, silence=SILENCE) is None
    late = logistics.lateness(shipment(), end, grace=GRACE, silence=SILENCE)
    assert late.cause == "eta_passed" and late.rebook and not late.collected


def test_a_promised_time_wins_over_the_eta_day():
    late = logistics.lateness(shipment(eta_at=NOW), NOW + GRACE, grace=GRACE, silence=SILENCE)
    assert late is not None and "never collected" in late.summary


def test_collected_or_already_rebooked_shipments_are_not_rebooked():
    at = NOW + dt.timedelta(days=2)
    assert not logistics.lateness(shipment(picked_up_at=NOW), at, grace=GRACE, silence=SILENCE).rebook
    assert not logistics.lateness(shipment(rebooked=True), at, grace=GRACE, silence=SILENCE).rebook


def test_silent_tracking_counts_from_the_last_scan():
    s = shipment(eta=TODAY + dt.timedelta(days=10), picked_up_at=NOW, last_scan_at=NOW)
    assert logistics.lateness(s, NOW + SILENCE - dt.timedelta(seconds=1), grace=GRACE, silence=SILENCE) is None
    late = logistics.lateness(s, NOW + SILENCE, grace=GRACE, silence=SILENCE)
    assert late.cause == "tracking_silent" and late.collected and not late.rebook


# --- finance: terms and credit ----------------------------------------------------------------

@pytest.mark.parametrize("requested, negotiable, expected", [
    (None, None, (None, None)),
    (30, None, (None, None)),
    (45, None, (None, "payment terms net 45 instead of the agreed net 30")),
    (61, None, ("payment terms net 61 beyond what can be agreed (agreed net 30, at most net 60)", None)),
    (61, 90, (None, "payment terms net 61 instead of the agreed net 30")),
])
def test_payment_terms_against_the_agreement(requested, negotiable, expected):
    assert finance.terms_review(requested, 30, negotiable) == expected


def test_the_credit_check_refuses_terms_no_joint_review_approved():
    assert "a joint review must approve them" in finance.terms_outside_agreement(60, 30, None)
    assert finance.terms_outside_agreement(60, 30, "maria") is None
    assert finance.terms_outside_agreement(30, 30, None) is None


def test_review_order_rejects_over_the_limit_and_conditions_near_it():
    account = finance.CreditAccount(Decimal("1000.00"), Decimal("0.00"), Decimal("10"))
    lines = [PricedLine(sku="A", quantity=1, unit_price=Decimal("950.00"))]
    reasons, conditions = finance.review_order(OrderType.STANDARD, lines, Decimal("950.00"), account,
                                               {"A": Decimal("950.00")}, requested_terms=45, agreed_terms=30,
                                               negotiable_terms=None)
    assert reasons == [] and conditions == ["uses 95% of the credit limit",
                                            "payment terms net 45 instead of the agreed net 30"]
    reasons, _ = finance.review_order(OrderType.STANDARD, lines, Decimal("1950.00"), account,
                                      {"A": Decimal("950.00")}, requested_terms=None, agreed_terms=30,
                                      negotiable_terms=None)
    assert reasons[0].startswith("credit limit exceeded")


def test_credit_levels():
    assert finance.credit_level(Decimal("899"), Decimal("1000")) is None
    assert finance.credit_level(Decimal("900"), Decimal("1000")) == "near_limit"
    assert finance.credit_level(Decimal("100"), Decimal("1000"), refused_amount=Decimal("901")) == "over_limit"
    assert finance.overdue(TODAY - dt.timedelta(days=1), TODAY, Decimal("1")) and \
        not finance.overdue(TODAY, TODAY, Decimal("1")) and not finance.overdue(TODAY - dt.timedelta(1), TODAY, 0)


# --- warehouse ----------------------------------------------------------------------------------

def test_the_warehouse_approves_and_names_what_must_be_bought():
    assert warehouse.review_order({"A": 5, "B": 2}, {"A": 5, "B": 0}) == (
        [], ["B: 0 of 2 on the shelf now; 2 must be bought (ships after the purchase)"])


# --- sales intake -------------------------------------------------------------------------------

def body(**kw) -> dict:
    return {"customer_id": "C", "lines": [{"sku": "A", "quantity": 1}], **kw}


ADDRESS = {"name": "n", "street": "s", "city": "c", "postal_code": "1"}


@pytest.mark.parametrize("country", ["ZZ", "de", "XX", "EU"])
def test_intake_refuses_what_is_not_an_iso_country(country):
    with pytest.raises(ValidationError, match="ISO 3166-1"):
        intake.OrderRequest.model_validate(body(delivery_address={**ADDRESS, "country": country}))


def test_intake_accepts_a_real_country_special_flags_and_terms():
    request = intake.OrderRequest.model_validate(body(delivery_address={**ADDRESS, "country": "US"}, special=True,
                                                      special_reason="x", payment_terms_days=60))
    assert request.delivery_address.country == "US" and request.special and request.payment_terms_days == 60


def test_a_changed_sample_stays_free_bug():
    current = [PricedLine(sku="A", quantity=1, unit_price=Decimal("0.00"))]
    lines = intake.price_change_lines(OrderType.SAMPLE, current, {"B": 2}, {"A": Decimal("10"), "B": Decimal("2500")})
    assert {l.sku: l.unit_price for l in lines} == {"A": Decimal("0.00"), "B": Decimal("0.00")}


def test_a_changed_standard_order_keeps_agreed_prices_and_lists_new_lines():
    current = [PricedLine(sku="A", quantity=1, unit_price=Decimal("9.00"))]
    lines = intake.price_change_lines(OrderType.STANDARD, current, {"A": 3, "B": 1},
                                      {"A": Decimal("10"), "B": Decimal("25")})
    assert [(l.sku, l.quantity, l.unit_price) for l in lines] == [("A", 3, Decimal("9.00")), ("B", 1, Decimal("25"))]
    assert intake.price_change_lines(OrderType.STANDARD, current, {"A": 0}, {"A": Decimal("10")}) == ()


def test_risk_ids_are_stable_keys():
    rid = risk_id(RiskKind.CARRIER, "eta_passed", "SHP-1")
    assert rid == "carrier.eta_passed:SHP-1" and subject_key_of(rid) == "SHP-1"
