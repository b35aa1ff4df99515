"""Errors meant for users.

Every error a user can cause (a missing file, a bad config, an unknown dataset) is an
:class:`AutocnnError` whose message says what went wrong, where, and how to fix it. The CLI
prints these without a traceback and exits with status 2; any other exception is a bug.
"""


class AutocnnError(Exception):
    """Base class of all user-facing errors."""


class DataError(AutocnnError):
    """A dataset file is missing, corrupt, of the wrong shape, or fails its md5 check."""


class ConfigError(AutocnnError):
    """A configuration does not fit its search space, or a JSON file is not a config."""


class CheckpointError(AutocnnError):
    """A checkpoint file cannot be read or does not match the configuration."""


class RunError(AutocnnError):
    """A run folder is missing, incompatible, or in a state that forbids the action."""


class DataWarning(UserWarning):
    """A dataset loads, but something was assumed about it (e.g. classes without images)."""


class EnvironmentFault(RunError):
    """The machine cannot go on (disk full, repeated I/O errors); the run stopped intact and
    resumes with ``--resume`` once the cause is fixed. Never blamed on a configuration."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler, ``timeout``, ``docker stop``), raised like Ctrl-C so that every
    cleanup a Ctrl-C runs (stop workers, leave running evaluations pending) runs for it too."""
