"""Configuration files: one table of keys per section, and the loader that checks files against it.

A checked section is a frozen `Values` object (`settings.port`); rules across keys are part of
the table (`Table(section, settings, rules=[at_most("minSpare", "maxSpare")])`).
"""

from nagare.config.rules import Rule, RuleError, at_most
from nagare.config.settings import Setting, Table, boolean, choice, integer, number, octal, string, string_list
from nagare.config.values import Values
from nagare.config.loader import ConfigFile, check, read

__all__ = [
    "ConfigFile", "Rule", "RuleError", "Setting", "Table", "Values", "at_most", "boolean", "check", "choice",
    "integer", "number", "octal", "read", "string", "string_list",
]
