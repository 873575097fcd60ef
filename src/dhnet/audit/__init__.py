"""The hash-chained audit trail: who did or saw what, when, from where and why."""
