"""Stores: two narrow contracts (``ResourceStore``, ``RecordStore``) that every backend
implements on its engine, chosen by URL (``open_store``)."""

from berthing.store.base import Store
from berthing.store.capabilities import Capability
from berthing.store.records import RecordStore
from berthing.store.resources import NewParent, ResourceStore
from berthing.store.url import default_store_url, open_store, register_backend

__all__ = [
    "Capability",
    "NewParent",
    "RecordStore",
    "ResourceStore",
    "Store",
    "default_store_url",
    "open_store",
    "register_backend",
]
