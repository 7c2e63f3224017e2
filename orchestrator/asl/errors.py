"""Errors of the Amazon States Language: a runtime error carries an error name and a cause, as AWS reports them."""

from __future__ import annotations


class StatesError(Exception):
    """A failure an ASL Retry/Catch can match: `error` is its name (States.Runtime, a service's error code...)."""

    def __init__(self, error: str, cause: str = ""):
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause

    def __reduce__(self):  # checkpointed by DBOS (pickled)
        return (StatesError, (self.error, self.cause))


def runtime_error(cause: str) -> StatesError:
    return StatesError("States.Runtime", cause)


def intrinsic_failure(cause: str) -> StatesError:
    return StatesError("States.IntrinsicFailure", cause)


class DefinitionError(Exception):
    """A definition AWS would refuse with InvalidDefinition; `code` is AWS's diagnostic code (SCHEMA_VALIDATION_FAILED...)."""

    def __init__(self, code: str, message: str, location: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.location = location
