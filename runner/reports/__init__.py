"""Reports rendered from the store, never from a live run."""
