"""The domain model: plain frozen values and their arithmetic. No I/O lives here.

Resource providers and their inventories, consumers and claims (Placement's
vocabulary); what a user asks for (``RequestSpec``); and the typed records that
conductor, agents and schedulers keep in the store (build requests, instances,
heartbeats, host stats, server groups, zones). The one exception tree is in
``errors``.
"""

from berthing.model.build import (
    BuildRequest,
    BuildState,
    Destination,
    Event,
    InstanceStep,
    PlannedInstance,
    ServerRef,
)
from berthing.model.candidates import (
    Candidate,
    CandidateRequest,
    CandidateResult,
    Isolation,
    RequestGroup,
)
from berthing.model.claim import (
    AllocationChange,
    ClaimConflict,
    Claimed,
    ClaimResult,
    ConflictKind,
    ConsumerAllocations,
    consumer_conflict,
)
from berthing.model.consumer import (
    Allocations,
    Consumer,
    TypeUsage,
    totals,
    validate_allocations,
)
from berthing.model.errors import (
    BerthingError,
    Conflict,
    ConsumerNotFound,
    DuplicateName,
    GenerationConflict,
    InUse,
    InvalidInput,
    NotFound,
    ProviderHasChildren,
    ProviderInUse,
    ProviderNotFound,
    ResourceClassNotFound,
    StoreCorrupt,
    StoreError,
    StoreUnavailable,
    TraitNotFound,
)
from berthing.model.group import GroupPolicy, ServerGroup, Zone
from berthing.model.host import Heartbeat, HostAdmin, HostStats
from berthing.model.instance import FailureCause, Instance, InstanceState, instance_key
from berthing.model.inventory import (
    MAX_AMOUNT,
    Inventory,
    refuse_shrink_below_use,
    validate_amount,
)
from berthing.model.names import (
    DISABLED_TRAIT,
    SHARING_TRAIT,
    STANDARD_RESOURCE_CLASSES,
    STANDARD_TRAITS,
    is_custom,
    validate_resource_class,
    validate_trait,
    validate_trait_sets,
)
from berthing.model.provider import Provider, ProviderState, StoreShape, new_uuid, validate_uuid
from berthing.model.query import ProviderQuery
from berthing.model.record import (
    JSONDoc,
    Record,
    RecordValue,
    decode_value,
    encode_value,
    validate_record_name,
)
from berthing.model.request import RequestSpec

__all__ = [
    "DISABLED_TRAIT",
    "MAX_AMOUNT",
    "SHARING_TRAIT",
    "STANDARD_RESOURCE_CLASSES",
    "STANDARD_TRAITS",
    "AllocationChange",
    "Allocations",
    "BerthingError",
    "BuildRequest",
    "BuildState",
    "Candidate",
    "CandidateRequest",
    "CandidateResult",
    "ClaimConflict",
    "ClaimResult",
    "Claimed",
    "Conflict",
    "ConflictKind",
    "Consumer",
    "ConsumerAllocations",
    "ConsumerNotFound",
    "Destination",
    "DuplicateName",
    "Event",
    "FailureCause",
    "GenerationConflict",
    "GroupPolicy",
    "Heartbeat",
    "HostAdmin",
    "HostStats",
    "InUse",
    "Instance",
    "InstanceState",
    "InstanceStep",
    "InvalidInput",
    "Inventory",
    "Isolation",
    "JSONDoc",
    "NotFound",
    "PlannedInstance",
    "Provider",
    "ProviderHasChildren",
    "ProviderInUse",
    "ProviderNotFound",
    "ProviderQuery",
    "ProviderState",
    "Record",
    "RecordValue",
    "RequestGroup",
    "RequestSpec",
    "ResourceClassNotFound",
    "ServerGroup",
    "ServerRef",
    "StoreCorrupt",
    "StoreError",
    "StoreShape",
    "StoreUnavailable",
    "TraitNotFound",
    "TypeUsage",
    "Zone",
    "consumer_conflict",
    "decode_value",
    "encode_value",
    "instance_key",
    "is_custom",
    "new_uuid",
    "refuse_shrink_below_use",
    "totals",
    "validate_allocations",
    "validate_amount",
    "validate_record_name",
    "validate_resource_class",
    "validate_trait",
    "validate_trait_sets",
    "validate_uuid",
]
