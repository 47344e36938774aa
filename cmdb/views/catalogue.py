"""CI classes (with their attribute schemas), relationship types and tags: managed by managers."""
