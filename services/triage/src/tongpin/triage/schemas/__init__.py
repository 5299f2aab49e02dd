"""Triage's HTTP request and response bodies, one module per room (``XCreate``, ``XRead``, ``XPage``)."""
