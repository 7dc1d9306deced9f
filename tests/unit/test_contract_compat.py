"""Contract evolution guard: the committed JSON Schemas in contracts/schemas/ may only grow compatibly.

If this fails, do not regenerate the snapshot to make it pass: a breaking change needs a new topic
version (v2). Regenerate (`python -m contracts.schema_export`) only for additive changes.
"""

from __future__ import annotations

import copy

import pytest

from contracts.schema_export import (
    SCHEMA_DIR,
    all_schemas,
    breaking_changes,
    catalogue_breaking_changes,
    current_schemas,
    dumps,
    load_snapshots,
)
from contracts.envelope import message_types

SNAPSHOTS = load_snapshots()
CURRENT = all_schemas()


def test_snapshots_exist_for_every_message_type_and_the_envelope():
    # Guards against the check passing vacuously (no snapshots committed / wrong directory).
    assert SNAPSHOTS, f"no JSON Schema snapshots in {SCHEMA_DIR}; run python -m contracts.schema_export"
    missing = sorted(set(CURRENT) - set(SNAPSHOTS))
    assert not missing, (f"new contract(s) without a committed snapshot: {missing}; "
                         "run `python -m contracts.schema_export` and commit contracts/schemas/")


@pytest.mark.parametrize("name", sorted(SNAPSHOTS))
def test_snapshot_is_still_compatible(name):
    problems = catalogue_breaking_changes({name: SNAPSHOTS[name]}, CURRENT)
    assert not problems, "breaking contract change(s):\n  " + "\n  ".join(problems)


def test_current_schemas_cover_every_registered_type():
    assert set(current_schemas()) == set(message_types())
    assert {"envelope", "deadletter"} <= set(CURRENT)


def test_snapshot_files_are_in_canonical_form():
    # sorted keys, indent 2: regenerating an unchanged contract gives a clean diff
    for name, schema in SNAPSHOTS.items():
        assert (SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8") == dumps(schema), name


# --- the checker itself must catch every breaking kind --------------------------------------

BASE = CURRENT["finance.check_credit"]     # uses $defs: OrderType, PaymentMethod, PricedLine


def doctored(mutate) -> dict:
    schema = copy.deepcopy(BASE)
    mutate(schema)
    return schema


def _one(problems: list[str], *needles: str) -> None:
    assert len(problems) == 1, problems
    for needle in needles:
        assert needle in problems[0], problems


def test_checker_accepts_identical_schema():
    assert breaking_changes(BASE, copy.deepcopy(BASE)) == []


def test_checker_catches_removed_property():
    new = doctored(lambda s: (s["properties"].pop("customer_id"), s["required"].remove("customer_id")))
    _one(breaking_changes(BASE, new), "property 'customer_id' removed")


def test_checker_catches_removed_property_behind_ref():
    def mutate(s):
        s["$defs"]["PricedLine"]["properties"].pop("unit_price")
        s["$defs"]["PricedLine"]["required"].remove("unit_price")
    _one(breaking_changes(BASE, doctored(mutate)), "property 'lines[].unit_price' removed")


def test_checker_catches_type_change():
    new = doctored(lambda s: s["properties"]["order_id"].update(type="integer"))
    _one(breaking_changes(BASE, new), "type of 'order_id' changed", "string", "integer")


def test_checker_catches_type_change_behind_ref():
    new = doctored(lambda s: s["$defs"]["PricedLine"]["properties"]["quantity"].update(type="string"))
    _one(breaking_changes(BASE, new), "type of 'lines[].quantity' changed")


def test_checker_catches_union_type_change():
    # Money is number|string; narrowing it to number only is a type change too
    new = doctored(lambda s: s["properties"].update(total={"type": "number"}))
    _one(breaking_changes(BASE, new), "type of 'total' changed")


def test_checker_catches_string_format_change():
    old = CURRENT["logistics.book_shipment"]          # requested_delivery_date: date | None
    new = copy.deepcopy(old)
    new["properties"]["requested_delivery_date"]["anyOf"][0]["format"] = "date-time"
    _one(breaking_changes(old, new), "type of 'requested_delivery_date' changed", "string(date)")


def test_checker_catches_nullable_field_made_non_null_behind_ref():
    old = CURRENT["sales.place_order"]                 # delivery_address: Address | None
    new = copy.deepcopy(old)
    new["properties"]["delivery_address"] = {"$ref": "#/$defs/Address"}
    _one(breaking_changes(old, new), "type of 'delivery_address' changed")
    new["properties"]["delivery_address"] = {"anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}]}
    new["$defs"]["Address"]["properties"].pop("city")
    _one(breaking_changes(old, new), "property 'delivery_address.city' removed")


def test_checker_catches_new_required_property():
    def mutate(s):
        s["properties"]["priority"] = {"type": "integer"}
        s["required"].append("priority")
    _one(breaking_changes(BASE, doctored(mutate)), "new required property 'priority'")


def test_checker_catches_optional_property_made_required():
    old = copy.deepcopy(BASE)
    old["properties"]["note"] = {"type": "string"}
    new = copy.deepcopy(old)
    new["required"].append("note")
    _one(breaking_changes(old, new), "optional property made required 'note'")


def test_checker_catches_removed_enum_value_behind_ref():
    new = doctored(lambda s: s["$defs"]["OrderType"]["enum"].remove("sample"))
    _one(breaking_changes(BASE, new), "enum value(s) \"sample\" removed from 'order_type'")


def test_checker_catches_removed_literal_value():
    old = CURRENT["carrier.tracking_update"]
    new = copy.deepcopy(old)
    new["properties"]["status"]["enum"].remove("delayed")
    _one(breaking_changes(old, new), "\"delayed\" removed from 'status'")


def test_checker_catches_removed_message_type_and_reminds_of_v2():
    old = {"finance.check_credit": BASE, "finance.release_credit": CURRENT["finance.release_credit"]}
    new = {"finance.check_credit": BASE}
    problems = catalogue_breaking_changes(old, new)
    _one(problems, "finance.release_credit: message type removed", "v2")


def test_every_reported_problem_names_the_type_and_v2():
    new = doctored(lambda s: s["properties"]["order_id"].update(type="integer"))
    problems = catalogue_breaking_changes({"finance.check_credit": BASE}, {"finance.check_credit": new})
    _one(problems, "finance.check_credit:", "order_id", "new topic version", "v2")


def test_checker_allows_new_optional_property():
    new = doctored(lambda s: s["properties"].update(note={"anyOf": [{"type": "string"}, {"type": "null"}],
                                                          "default": None}))
    assert breaking_changes(BASE, new) == []


def test_checker_allows_new_optional_property_behind_ref():
    new = doctored(lambda s: s["$defs"]["PricedLine"]["properties"].update(discount_pct={"type": "number"}))
    assert breaking_changes(BASE, new) == []


def test_checker_allows_new_enum_value_and_new_message_type():
    new = doctored(lambda s: s["$defs"]["OrderType"]["enum"].append("subscription"))
    assert breaking_changes(BASE, new) == []
    assert catalogue_breaking_changes({"finance.check_credit": BASE},
                                      {"finance.check_credit": BASE, "finance.new_thing": BASE}) == []


def test_checker_ignores_cosmetic_changes():
    new = doctored(lambda s: (s.update(description="reworded"),
                              s["properties"]["order_id"].update(title="The order")))
    assert breaking_changes(BASE, new) == []


def test_checker_catches_several_problems_at_once():
    def mutate(s):
        s["properties"].pop("order_number")
        s["$defs"]["PaymentMethod"]["enum"].remove("card")
        s["properties"]["x"] = {"type": "string"}
        s["required"].append("x")
    problems = breaking_changes(BASE, doctored(mutate))
    assert len(problems) == 3, problems


def test_an_unconstrained_object_may_gain_a_schema_but_a_constrained_one_may_not_gain_required_fields():
    """The envelope's payload was published as `any object` and is now a union per `type`: allowed.
    The same change to an object that already had properties is still caught."""
    old = {"type": "object", "properties": {"payload": {"type": "object", "additionalProperties": True}}}
    typed = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
    assert breaking_changes(old, {"type": "object", "properties": {"payload": typed}}) == []
    constrained = {"type": "object", "properties": {"payload": {"type": "object", "properties": {
        "note": {"type": "string"}}}}}
    _one(breaking_changes(constrained, {"type": "object", "properties": {"payload": {
        **typed, "properties": {**typed["properties"], "note": {"type": "string"}}}}}),
        "new required property 'payload.order_id'")
    # Its type still may not change.
    _one(breaking_changes(old, {"type": "object", "properties": {"payload": {"type": "string"}}}), "payload")


def test_every_snapshot_names_its_dialect_and_id():
    for name, schema in SNAPSHOTS.items():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", name
        assert schema["$id"] == f"urn:orderflow:schema:{name}", name


def test_the_published_envelope_is_a_union_discriminated_on_type():
    envelope = SNAPSHOTS["envelope"]
    assert envelope["discriminator"]["propertyName"] == "type"
    assert set(envelope["discriminator"]["mapping"]) == set(message_types())
    assert len(envelope["oneOf"]) == len(message_types())
