"""`orderflow`: the operator CLI (stack, orders, topics, consumer lag, dead letters)."""
