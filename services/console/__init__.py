"""The operations console: a browser front end for people (clerks, managers, finance, operators).

It is a client like any other: it calls the departments' public HTTP APIs with the signed-in
user's own token (so the audit trail names the person) and follows the event topics as the
`outside-reader` principal for live updates. It never reads a department's database and keeps
no state of its own beyond the signed session cookie and an in-memory lag history.

Modules: settings (ORDERFLOW_CONSOLE_*), app (wiring), session (who is signed in, CSRF, roles per
route), signin (dev users / OIDC), api (the departments' HTTP APIs), capabilities (what the
deployed APIs offer), live (event topics -> server-sent events), lag (consumer lag history),
swimlanes (the order timeline as SVG), routes/* (pages), templates/, static/.
"""

# Released independently (services/runtime/version.py).
__version__ = "0.1.0"
