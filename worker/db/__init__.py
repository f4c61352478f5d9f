"""Database access: engine construction, the embedded default, migrations."""
