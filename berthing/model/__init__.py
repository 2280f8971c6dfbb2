"""The domain model: plain frozen values and their arithmetic. No I/O lives here."""

from berthing.model.claim import (
    ClaimConflict,
    Claimed,
    ClaimResult,
    ConflictKind,
    consumer_conflict,
)
from berthing.model.consumer import Allocations, Consumer, validate_allocations
from berthing.model.errors import (
    BerthingError,
    Conflict,
    ConsumerNotFound,
    DuplicateName,
    GenerationConflict,
    InUse,
    InvalidInput,
    NotFound,
    ProviderNotFound,
    ResourceClassNotFound,
    StoreCorrupt,
    StoreError,
    StoreUnavailable,
    TraitNotFound,
)
from berthing.model.inventory import MAX_AMOUNT, Inventory, refuse_shrink_below_use
from berthing.model.names import (
    STANDARD_RESOURCE_CLASSES,
    STANDARD_TRAITS,
    is_custom,
    normalize_custom_name,
    validate_resource_class,
    validate_trait,
)
from berthing.model.provider import (
    Provider,
    ProviderState,
    ProviderUUID,
    new_uuid,
    validate_uuid,
)
from berthing.model.query import ProviderQuery
from berthing.model.record import Record, validate_record_name

__all__ = [
    "MAX_AMOUNT",
    "STANDARD_RESOURCE_CLASSES",
    "STANDARD_TRAITS",
    "Allocations",
    "BerthingError",
    "ClaimConflict",
    "ClaimResult",
    "Claimed",
    "Conflict",
    "ConflictKind",
    "Consumer",
    "ConsumerNotFound",
    "DuplicateName",
    "GenerationConflict",
    "InUse",
    "InvalidInput",
    "Inventory",
    "NotFound",
    "Provider",
    "ProviderNotFound",
    "ProviderQuery",
    "ProviderState",
    "ProviderUUID",
    "Record",
    "ResourceClassNotFound",
    "StoreCorrupt",
    "StoreError",
    "StoreUnavailable",
    "TraitNotFound",
    "consumer_conflict",
    "is_custom",
    "new_uuid",
    "normalize_custom_name",
    "refuse_shrink_below_use",
    "validate_allocations",
    "validate_record_name",
    "validate_resource_class",
    "validate_trait",
    "validate_uuid",
]
