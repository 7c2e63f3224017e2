"""The Step Functions API's errors, checked against botocore's model at import.

These are the errors an API call answers (InvalidArn, StateMachineDoesNotExist...). The errors a state raises
inside a running execution (States.Timeout, States.TaskFailed...) are ASL errors: orchestrator/asl/errors.py.
"""

from __future__ import annotations

from services.gateway.kit.errors import ServiceErrors

errors = ServiceErrors("stepfunctions")

ExecutionAlreadyExists = errors.ExecutionAlreadyExists
ExecutionDoesNotExist = errors.ExecutionDoesNotExist
ExecutionNotRedrivable = errors.ExecutionNotRedrivable
InvalidArn = errors.InvalidArn
InvalidDefinition = errors.InvalidDefinition
InvalidExecutionInput = errors.InvalidExecutionInput
InvalidName = errors.InvalidName
InvalidOutput = errors.InvalidOutput
InvalidToken = errors.InvalidToken
MissingRequiredParameter = errors.MissingRequiredParameter
ResourceNotFound = errors.ResourceNotFound
StateMachineAlreadyExists = errors.StateMachineAlreadyExists
StateMachineDoesNotExist = errors.StateMachineDoesNotExist
StateMachineTypeNotSupported = errors.StateMachineTypeNotSupported
TaskTimedOut = errors.TaskTimedOut
TooManyTags = errors.TooManyTags
ValidationException = errors.ValidationException
