"""engine/backends."""
