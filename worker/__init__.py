"""rei-sync: mirrors the REI API CCA into Postgres, holding a valid token per brand."""

__version__ = "0.1.0"
