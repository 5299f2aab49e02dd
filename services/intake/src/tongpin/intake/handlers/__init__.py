"""Intake's commands and event handlers, one module per room; dependencies arrive as keyword parameters.

common      the two clocks (business and system), the trace ids events carry on, retry pauses
channels    channels, members joining and leaving, participation at a date
roster      the roster import, finding a member, the unit a person or a concern counts in
messages    accepting a message once per source id and announcing concern.raised
public      the public form: receipt codes, their threads, lock-outs, rate limits, oversight's status
delivery    replies and broadcasts queued per channel and sent through its adapter, with back-off
retention   removing what people wrote after the retention period
reading     the reading list: triage's decisions list messages, staff read them, targets pass
"""
