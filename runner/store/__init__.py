"""The store: SQLite by default, PostgreSQL by URL. The truth that reports are views of."""

from runner.store.db import Store, open_store

__all__ = ["Store", "open_store"]
