"""The project's exception hierarchy.

Every error a user can cause derives from :class:`OpskeeperError`. Its message states the
rule, quotes the bad value and says what to do; the CLI prints it on one line and exits
non-zero without a traceback.
"""


class OpskeeperError(Exception):
    """Root of all errors that the CLI reports as a single line."""


class ConfigError(OpskeeperError):
    """A setting, an inventory or a variable is missing or malformed."""


class LabError(OpskeeperError):
    """The built-in lab cannot be started, stopped or reached."""


class StoreError(OpskeeperError):
    """The store cannot be opened, migrated or written."""


class RunError(OpskeeperError):
    """A job could not be started or its results could not be recorded."""


class ReportError(OpskeeperError):
    """A report cannot be rendered from the store."""


class CmdbError(ConfigError):
    """The CMDB is malformed, or a change to it was refused; the message lists every problem."""
