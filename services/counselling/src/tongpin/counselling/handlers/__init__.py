"""Counselling's command and event handlers, one module per room; dependencies arrive as keyword parameters.

common         the trace events carry on, business and security time, ids
mutation       load a case, apply one command, store it with its events (retrying a concurrent change)
case_opening   concerns from intake and triage become cases: both halves, merges, overrides, crises
cases          case commands: assign, reply, resolve, reopen, feedback
talks          offline talks (约谈): schedule, reschedule, cancel, held
access         need-to-know and breaking the glass
escalations    the committee: written material, decisions, the board
notes          sealed notes
targets        time targets: overdue flags, talk reminders, figures
staff          the staff directory and login
broadcasts     education tasks and notices for the channels
notifications  each staff member's feed and the outbound webhook
"""
