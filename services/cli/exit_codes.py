"""The CLI's exit codes, the same for every command, so that scripts can tell what went wrong.

0 success · 1 failed (anything else) · 2 invalid input (bad option or argument, a 422) ·
3 not found (no such order, dead letter, group) · 4 unavailable (a service, Kafka or the database
does not answer) · 5 over threshold (`orderflow lag --max-lag/--max-lag-seconds`, a group not OK).
"""

OK = 0
FAILED = 1
INVALID_INPUT = 2      # also what typer/click use for usage errors
NOT_FOUND = 3
UNAVAILABLE = 4
OVER_THRESHOLD = 5
