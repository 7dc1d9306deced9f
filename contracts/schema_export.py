"""JSON Schema export of every contract, and the compatibility check against committed snapshots.

    python -m contracts.schema_export        # (re)write contracts/schemas/*.json

The snapshots in `contracts/schemas/` are what other systems validate against. Regenerate them
only for an *additive* change (new optional field, new message type, new enum value);
`tests/unit/test_contract_compat.py` fails on anything else. A breaking change is a new topic
version (`<dept>.<kind>.v2`), never an edit of v1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import contracts  # noqa: F401  (registers every message type)
from contracts.envelope import DeadLetter, message_types
from contracts.headers import headers_schema
from contracts.typed import any_envelope_schema

SCHEMA_DIR = Path(__file__).parent / "schemas"
ENVELOPE = "envelope"
DEADLETTER = "deadletter"
HEADERS = "headers"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "urn:orderflow:schema:"        # `$id` of contracts/schemas/<name>.json is urn:orderflow:schema:<name>

V2_REMINDER = ("a breaking change needs a new topic version (e.g. '<dept>.events.v2' with a new message type), "
               "not an edit of a published v1 contract")


def identified(name: str, schema: dict) -> dict:
    """The schema with its `$schema` dialect and `$id` first, so every file stands on its own."""
    return {"$schema": DIALECT, "$id": f"{ID_BASE}{name}", **schema}


def current_schemas() -> dict[str, dict]:
    """JSON Schema of every registered message type (its payload), by type name."""
    return {name: identified(name, model.model_json_schema()) for name, model in sorted(message_types().items())}


def all_schemas() -> dict[str, dict]:
    """Everything that is snapshotted: the message types, the envelope (every record value: the payload
    a discriminated union on `type`), the Kafka headers and the dead letter (DLQ record value)."""
    return {**current_schemas(), ENVELOPE: identified(ENVELOPE, any_envelope_schema()),
            HEADERS: identified(HEADERS, headers_schema()),
            DEADLETTER: identified(DEADLETTER, DeadLetter.model_json_schema())}


def dumps(schema: dict) -> str:
    return json.dumps(schema, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def load_snapshots(directory: Path = SCHEMA_DIR) -> dict[str, dict]:
    return {path.name.removesuffix(".json"): json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(directory.glob("*.json"))}


def main(directory: Path = SCHEMA_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    schemas = all_schemas()
    for name, schema in schemas.items():
        (directory / f"{name}.json").write_text(dumps(schema), encoding="utf-8")
    print(f"wrote {len(schemas)} schemas to {directory}")


# --- compatibility ----------------------------------------------------------------------------

def _resolve(node: Any, defs: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Inline local `$ref`s (`#/$defs/Name`); a recursive reference becomes {'$recursive': Name}."""
    if isinstance(node, list):
        return [_resolve(item, defs, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("$ref"), str):
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return {"$recursive": name}
        if name not in defs:
            raise KeyError(f"unresolvable $ref {node['$ref']!r}")
        target = _resolve(defs[name], defs, (*seen, name))
        return {**target, **{k: _resolve(v, defs, seen) for k, v in node.items() if k != "$ref"}}
    return {k: _resolve(v, defs, seen) for k, v in node.items() if k != "$defs"}


def resolve_refs(schema: dict) -> dict:
    return _resolve(schema, schema.get("$defs", {}))


def _variants(node: dict) -> list[dict]:
    for key in ("anyOf", "oneOf"):
        if key in node:
            return [v for member in node[key] for v in _variants(member)]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _variants({**{k: v for k, v in node.items() if k != "allOf"}, **node["allOf"][0]})
    return [node]


_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null",
               list: "array", dict: "object"}


def _node_types(node: dict) -> set[str]:
    declared = node.get("type")
    if isinstance(declared, (str, list)):
        names = {declared} if isinstance(declared, str) else set(declared)
        # a string's format is part of its type: date -> date-time breaks parsers
        return {f"string({node['format']})" if n == "string" and "format" in node else n for n in names}
    if "const" in node:
        return {_JSON_TYPES.get(type(node["const"]), "any")}
    if "enum" in node:
        return {_JSON_TYPES.get(type(v), "any") for v in node["enum"]}
    if "properties" in node:
        return {"object"}
    if "items" in node:
        return {"array"}
    if "$recursive" in node:
        return {f"ref:{node['$recursive']}"}
    return {"any"}


def _types(node: dict) -> set[str]:
    return set().union(*(_node_types(v) for v in _variants(node)))


def _enum_values(node: dict) -> set | None:
    """Allowed values when every variant is restricted to an enum/const, else None (unrestricted)."""
    values: set = set()
    for variant in _variants(node):
        if "enum" in variant:
            values.update(json.dumps(v, sort_keys=True) for v in variant["enum"])
        elif "const" in variant:
            values.add(json.dumps(variant["const"], sort_keys=True))
        elif variant.get("type") == "null":
            continue
        else:
            return None
    return values or None


def _first(node: dict, json_type: str) -> dict | None:
    return next((v for v in _variants(node) if json_type in _node_types(v)), None)


_ANNOTATIONS = {"title", "description", "type", "additionalProperties", "default", "examples"}


def _unconstrained(node: dict) -> bool:
    """An object schema that allows any content: no properties, no required, extra properties allowed."""
    return (set(node) <= _ANNOTATIONS and node.get("type") == "object"
            and node.get("additionalProperties", True) is True)


def _compare(old: dict, new: dict, path: str, problems: list[str]) -> None:
    where = path or "<root>"
    old_types, new_types = _types(old), _types(new)
    if old_types != new_types:
        problems.append(f"type of {where!r} changed from {sorted(old_types)} to {sorted(new_types)}")
        return
    old_enum, new_enum = _enum_values(old), _enum_values(new)
    if old_enum is not None and new_enum is not None:
        removed = sorted(old_enum - new_enum)
        if removed:
            problems.append(f"enum value(s) {', '.join(removed)} removed from {where!r}")

    old_obj, new_obj = _first(old, "object"), _first(new, "object")
    if old_obj is not None and _unconstrained(old_obj):
        # The old schema promised nothing about this object's content (e.g. the envelope's `payload`
        # before it was published as a union per `type`): describing it now breaks no reader, and the
        # only writers always sent what the description now says.
        return
    if old_obj is not None and new_obj is not None:
        old_props, new_props = old_obj.get("properties", {}), new_obj.get("properties", {})
        prefix = f"{path}." if path else ""
        for name in old_props:
            if name not in new_props:
                problems.append(f"property {prefix + name!r} removed")
            else:
                _compare(old_props[name], new_props[name], prefix + name, problems)
        for name in sorted(set(new_obj.get("required", [])) - set(old_obj.get("required", []))):
            state = "optional property made required" if name in old_props else "new required property"
            problems.append(f"{state} {prefix + name!r}")
        old_extra, new_extra = old_obj.get("additionalProperties"), new_obj.get("additionalProperties")
        if isinstance(old_extra, dict) and isinstance(new_extra, dict):
            _compare(old_extra, new_extra, f"{prefix}{{*}}", problems)

    old_arr, new_arr = _first(old, "array"), _first(new, "array")
    if old_arr is not None and new_arr is not None:
        if isinstance(old_arr.get("items"), dict) and isinstance(new_arr.get("items"), dict):
            _compare(old_arr["items"], new_arr["items"], f"{path}[]", problems)


def breaking_changes(old: dict, new: dict) -> list[str]:
    """What in `new` breaks readers or writers of `old` (both full JSON Schemas); empty when compatible.

    Breaking: a property removed, a property's JSON type changed, a new required property (or an
    optional one made required), an enum value removed. Allowed: new optional properties, new enum
    values, changed descriptions/titles/defaults."""
    problems: list[str] = []
    _compare(resolve_refs(old), resolve_refs(new), "", problems)
    return problems


def catalogue_breaking_changes(old: dict[str, dict], new: dict[str, dict]) -> list[str]:
    """Breaking changes across all snapshots, each message naming the type and the v2 rule."""
    problems = []
    for name, old_schema in sorted(old.items()):
        if name not in new:
            problems.append(f"{name}: message type removed; {V2_REMINDER}")
            continue
        problems.extend(f"{name}: {p}; {V2_REMINDER}" for p in breaking_changes(old_schema, new[name]))
    return problems


if __name__ == "__main__":
    main()
