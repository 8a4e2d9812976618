"""A bot split into a package: entry point, handlers, storage, with relative imports."""
