"""Configuration files: one table of keys per section, and the loader that checks files against it."""

from nagare.config.settings import Setting, Table, boolean, choice, integer, number, octal, string, string_list
from nagare.config.loader import ConfigFile, read

__all__ = [
    "ConfigFile", "Setting", "Table", "boolean", "choice", "integer", "number", "octal", "read",
    "string", "string_list",
]
