"""Oversight's HTTP response and request bodies, one module per room (``XRead``, ``XUpdate``, ``XPage``)."""
