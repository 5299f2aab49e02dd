"""Triage's commands and event handlers, one module per room; dependencies arrive as keyword parameters.

common      times as UTC
concerns    deciding on a raised concern: judgment, cluster, theme, assignee, and announcing it
overrides   staff corrections to a decision, recorded and announced again; their export
cases       the case lifecycle as the queue follows it, and oversight's status of each concern
staff       the assignment pool, kept in step with counselling's staff directory
"""
