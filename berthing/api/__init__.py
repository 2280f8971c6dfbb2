"""berthing's HTTP APIs: OpenStack Placement's (``placement``) and its own (``native``),
with identity, policy and the one mapping of errors to HTTP they share."""

__all__: list[str] = []
