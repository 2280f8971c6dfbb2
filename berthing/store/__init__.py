"""Stores: one narrow contract (``Store``), backends chosen by URL."""

from berthing.store.base import Store
from berthing.store.url import default_store_url, open_store, register_backend

__all__ = ["Store", "default_store_url", "open_store", "register_backend"]
