"""The console's pages, one module per group: orders (list, detail, place, actions on an order),
operations (approvals, decisions, alerts, risks, dead letters, lag), stream (server-sent events)."""
