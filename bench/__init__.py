"""rei-sync's benchmark harness (`python -m bench`); not part of the installed package."""
