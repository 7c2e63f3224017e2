"""Step Functions ARNs, built and read in one place.

    arn:aws:states:<region>:<account>:stateMachine:<name>[:<version or alias>]
    arn:aws:states:<region>:<account>:execution:<state machine name>:<execution name>
    arn:aws:states:<region>:<account>:express:<state machine name>:<execution name>:<run id>
"""

from __future__ import annotations

from orchestrator.errors import InvalidArn
from services.gateway.context import Principal
from services.gateway.kit.arns import Arn, build_arn, parse_arn

SERVICE = "states"
STATE_MACHINE, EXECUTION, EXPRESS = "stateMachine", "execution", "express"


def state_machine_arn(principal: Principal, name: str, partition: str = "aws") -> str:
    return build_arn(SERVICE, principal.region, principal.account_id, f"{STATE_MACHINE}:{name}", partition)


def execution_arn(principal: Principal, machine_name: str, name: str) -> str:
    return build_arn(SERVICE, principal.region, principal.account_id, f"{EXECUTION}:{machine_name}:{name}")


def express_execution_arn(principal: Principal, machine_name: str, name: str, run_id: str) -> str:
    return build_arn(SERVICE, principal.region, principal.account_id, f"{EXPRESS}:{machine_name}:{name}:{run_id}")


def states_arn(text: str) -> Arn | None:
    """A parsed Step Functions ARN whose resource part is `<type>:<id>`, or None."""
    arn = parse_arn(text) if isinstance(text, str) and text.startswith("arn:") else None
    if arn is None or arn.service != SERVICE or not arn.resource.startswith(f"{arn.resource_type}:"):
        return None
    return arn


def checked(text: str, kinds: tuple[str, ...]) -> Arn:
    """The ARN of a resource of one of `kinds`; InvalidArn (in AWS's words) otherwise."""
    arn = states_arn(text)
    if arn is None or arn.resource_type not in kinds:
        raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {text}'")
    return arn


def state_machine_key(text: str) -> str:
    """The ARN a state machine is stored under, from its ARN with or without a version/alias qualifier."""
    arn = checked(text, (STATE_MACHINE,))
    return state_machine_arn(Principal(arn.account, arn.region), arn.resource_id.partition(":")[0], arn.partition)


def state_machine_name(text: str) -> str:
    """The name in a state machine's ARN."""
    return checked(text, (STATE_MACHINE,)).resource_id.partition(":")[0]


def is_express(text: str) -> bool:
    arn = states_arn(text)
    return arn is not None and arn.resource_type == EXPRESS
