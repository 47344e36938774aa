"""The import page: CSV/JSON bulk upsert and host facts, with a dry-run preview."""
