"""The CMDB's pages: ``cis`` (CI list, detail, edit, relationships, graph, impact), ``catalogue``
(CI classes, relationship types, tags: managers) and ``imports`` (bulk import with dry run)."""
