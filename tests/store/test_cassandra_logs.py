"""What a Cassandra store adds to its process's log when all is well: nothing.

Cassandra 5.0 warns once per connection about keyspaces and prepared statements
(``session._not_the_use_warning`` says why berthing drops it). Seen end to end, the
warning comes only when a node prepares a statement it has not cached for a keyspace,
so a test of the real thing needs a keyspace of its own, whose schema costs a minute of
CI: checked that way once by hand (it failed before the filter, passed after); here the
driver's own logger is fed the driver's own call, so a renamed logger fails too.
"""

from __future__ import annotations

import logging

import pytest
from cassandra import protocol

import berthing.store.cassandra.session  # noqa: F401  (installs the filter)

SERVER_SAYS = (
    "`USE <keyspace>` with prepared statements is considered to be an anti-pattern due "
    "to ambiguity in non-qualified table names. Please consider removing instances of "
    "`Session#setKeyspace(<keyspace>)` ... Keyspace used: null, statement keyspace: "
    "berthing, statement id: 9a427a8f137cb7a7f0ae727b085d32ca"
)


def test_the_use_warning_is_dropped_and_others_are_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        protocol.log.warning("Server warning: %s", SERVER_SAYS)
        protocol.log.warning("Server warning: %s", "Aggregation query used without partition key")
    assert [r.getMessage() for r in caplog.records] == [
        "Server warning: Aggregation query used without partition key"
    ]
    assert protocol.log.name == "cassandra.protocol"
