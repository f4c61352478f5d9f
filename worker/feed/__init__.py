"""The change feed's reading side: events read back, signed and delivered to subscribers."""
