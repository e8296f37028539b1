"""Source listing: URL lists, folders and archives become sorted SourceItems."""
