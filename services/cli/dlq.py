"""`orderflow dlq list|show|replay|skip|purge`: the services' dead letters, through their HTTP API
(operator role for replay, skip and purge; see services/runtime/dead_letters.py for what a replay does)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from services.cli import client, exit_codes
from services.cli.client import call, console, fail, json_or_fail
from services.cli.stack import SERVICES

dlq_app = typer.Typer(help="Dead letters: list, show, replay, skip, purge.", no_args_is_help=True)

SERVICE_HELP = f"One of {', '.join(SERVICES)}"


def _service(name: str) -> str:
    if name not in SERVICES:
        raise fail(f"unknown service {name!r}; {SERVICE_HELP.lower()}", exit_codes.INVALID_INPUT)
    return name


def _filters(status: str | None, reason: str | None, from_id: int | None, to_id: int | None,
             older_than: float | None, newer_than: float | None, message_type: str | None) -> dict[str, Any]:
    given = {"status": status, "reason": reason, "from_id": from_id, "to_id": to_id, "older_than": older_than,
             "newer_than": newer_than, "message_type": message_type}
    return {k: v for k, v in given.items() if v is not None}


@dlq_app.command("list")
def dlq_list(service: Optional[str] = typer.Option(None, "--service", "-s", help=f"Only this service. {SERVICE_HELP}"),
             status: Optional[str] = typer.Option(None, "--status", help="open | replayed | skipped (default: any)"),
             reason: Optional[str] = typer.Option(None, "--reason", help="Reason contains this text."),
             from_id: Optional[int] = typer.Option(None, "--from-id", min=1),
             to_id: Optional[int] = typer.Option(None, "--to-id", min=1),
             older_than: Optional[float] = typer.Option(None, "--older-than", min=0, help="Seconds."),
             newer_than: Optional[float] = typer.Option(None, "--newer-than", min=0, help="Seconds."),
             message_type: Optional[str] = typer.Option(None, "--type", help="Message type, e.g. sales.place_order"),
             limit: int = typer.Option(20, "--limit", min=1, max=1000),
             as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Dead letters of every service (newest first), with reason, original coordinates and state."""
    params = {**_filters(status, reason, from_id, to_id, older_than, newer_than, message_type), "limit": limit}
    names = [_service(service)] if service else list(SERVICES)
    letters, unreachable = [], []
    for name in names:
        try:
            letters += [{**item, "service": name} for item in
                        json_or_fail(call(name, "GET", "/dead-letters", params=params), name)]
        except typer.Exit:
            if service:
                raise
            unreachable.append(name)
    letters.sort(key=lambda item: str(item.get("created_at")), reverse=True)
    letters = letters[:limit]
    if as_json:
        client.print_json(letters)
    else:
        table = Table(title=f"dead letters: {len(letters)}", title_justify="left")
        for column in ("id", "service", "state", "topic/partition@offset", "type", "created_at"):
            table.add_column(column, no_wrap=True)
        table.add_column("reason", overflow="fold", min_width=16)
        for item in letters:
            reason_text = str(item.get("reason") or "")
            table.add_row(str(item["id"]), item["service"], item.get("status") or "open",
                          f"{item.get('topic')}/{item.get('kafka_partition')}@{item.get('kafka_offset')}",
                          str(item.get("message_type") or "?"), str(item.get("created_at"))[:19].replace("T", " "),
                          reason_text if len(reason_text) <= 120 else reason_text[:119] + "…")
        console.print(table)
    if unreachable:
        raise fail(f"not reachable: {', '.join(unreachable)}", exit_codes.UNAVAILABLE)


@dlq_app.command("show")
def dlq_show(service: str = typer.Argument(..., help=SERVICE_HELP), letter_id: int = typer.Argument(..., min=1),
             as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """One dead letter: raw value, key, headers, reason, and every action taken on it."""
    letter = json_or_fail(call(_service(service), "GET", f"/dead-letters/{letter_id}"), f"{service} dead letter")
    if as_json:
        client.print_json(letter)
        return
    for key in ("id", "status", "reason", "topic", "kafka_partition", "kafka_offset", "origin_topic", "message_type",
                "message_id", "message_key", "created_at", "replay_of", "resolved_by", "resolved_at", "replayed_as"):
        if letter.get(key) is not None:
            console.print(f"[bold]{key}[/]: {letter[key]}", highlight=False)
    console.print("[bold]raw value[/]:", highlight=False)
    console.print(letter.get("raw_value") or "", highlight=False, markup=False)
    for action in letter.get("actions", []):
        console.print(f"  {action['at']} {action['action']} by {action['subject']} ({action.get('role')})"
                      + (f": {action['note']}" if action.get("note") else ""), highlight=False)


def _load_json(path: Path | None, what: str) -> Any:
    if path is None:
        return None
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise fail(f"cannot read {what} file {path}: {exc.strerror}", exit_codes.INVALID_INPUT) from None
    except ValueError as exc:
        raise fail(f"{what} file {path} is not JSON: {exc}", exit_codes.INVALID_INPUT) from None


@dlq_app.command("replay")
def dlq_replay(service: str = typer.Argument(..., help=SERVICE_HELP),
               letter_ids: list[int] = typer.Argument(..., help="Dead letter id(s)."),
               payload_file: Optional[Path] = typer.Option(None, "--payload-file",
                                                           help="JSON file: the corrected payload."),
               envelope_file: Optional[Path] = typer.Option(None, "--envelope-file",
                                                            help="JSON file: the corrected whole envelope."),
               note: Optional[str] = typer.Option(None, "--note", help="Why (kept with the action)."),
               dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be sent; send nothing."),
               as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Replay dead letters through the service's replay topic as their original topic (original key,
    new message id linked to the dead letter). Needs the operator role."""
    body = {"payload": _load_json(payload_file, "payload"), "envelope": _load_json(envelope_file, "envelope"),
            "note": note, "dry_run": dry_run}
    body = {k: v for k, v in body.items() if v not in (None, False)}
    results = []
    for letter_id in letter_ids:
        response = call(_service(service), "POST", f"/dead-letters/{letter_id}/replay", json=body)
        if response.status_code == 422:
            raise fail(f"dead letter {letter_id}: " + "; ".join(client.validation_errors(response)),
                       exit_codes.INVALID_INPUT)
        results.append(json_or_fail(response, f"replaying {service} dead letter {letter_id}"))
    if as_json:
        client.print_json(results)
        return
    for result in results:
        verb = "would replay" if result["dry_run"] else "replayed"
        console.print(f"{verb} dead letter {result['dead_letter_id']} as {result['envelope']['type']} on "
                      f"{result['topic']} (counts as {result['counts_as']}), key {result['key']}, "
                      f"new message id {result['message_id']}", highlight=False)
        if result["dry_run"]:
            console.print_json(data=result["envelope"])


@dlq_app.command("skip")
def dlq_skip(service: str = typer.Argument(..., help=SERVICE_HELP),
             letter_ids: list[int] = typer.Argument(..., help="Dead letter id(s)."),
             note: Optional[str] = typer.Option(None, "--note", help="Why (kept with the action)."),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """Mark dead letters as handled without replaying them. Needs the operator role."""
    results = [json_or_fail(call(_service(service), "POST", f"/dead-letters/{i}/skip", json={"note": note}),
                            f"skipping {service} dead letter {i}") for i in letter_ids]
    if as_json:
        client.print_json(results)
    else:
        console.print(f"skipped {', '.join(str(r['dead_letter_id']) for r in results)}")


@dlq_app.command("purge")
def dlq_purge(service: str = typer.Argument(..., help=SERVICE_HELP),
              status: Optional[str] = typer.Option(None, "--status",
                                                   help="open | replayed | skipped (default: replayed and skipped)"),
              reason: Optional[str] = typer.Option(None, "--reason"),
              from_id: Optional[int] = typer.Option(None, "--from-id", min=1),
              to_id: Optional[int] = typer.Option(None, "--to-id", min=1),
              older_than: Optional[float] = typer.Option(None, "--older-than", min=0, help="Seconds."),
              message_type: Optional[str] = typer.Option(None, "--type"),
              note: Optional[str] = typer.Option(None, "--note"),
              dry_run: bool = typer.Option(False, "--dry-run", help="List what would go; delete nothing."),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """Delete dead letters from a service's table (recorded; the DLQ topic keeps them until retention)."""
    body = {**_filters(status, reason, from_id, to_id, older_than, None, message_type), "note": note,
            "dry_run": dry_run}
    result = json_or_fail(call(_service(service), "POST", "/dead-letters/purge", json=body), f"purging {service}")
    if as_json:
        client.print_json(result)
    else:
        ids = result["matched"] if dry_run else result["purged"]
        console.print(f"{'would purge' if dry_run else 'purged'} {len(ids)} dead letter(s)"
                      + (f": {', '.join(map(str, ids))}" if ids else ""))
