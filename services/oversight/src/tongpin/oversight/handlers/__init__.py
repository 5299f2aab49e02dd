"""Oversight's commands, queries and handlers, one module per room; dependencies arrive as keyword parameters.

Consumed events are recorded by the ledger appender (``appender.py``) a batch at a time; the oversight
items its batches open or move go through ``items.open_item`` and ``items.follow_case``. Events about a
subject not yet seen (a ``case.resolved`` before its ``case.opened``) are "not yet" (``common.NotYet``): the
consumer retries them through its back-off tiers, and on the last delivery they are recorded as
rejected instead, so they are acked rather than dead-lettered.

common      "not yet", and the facts a stored thread counts
items       oversight items opened from decisions, following their cases, changed by staff
ledger      verifying the hash chain, daily digests and the loop that keeps them
statistics  the reports of a period and unit with disclosure control, the public figure, the calendar
audit       writing down who queried oversight, what and when
"""
