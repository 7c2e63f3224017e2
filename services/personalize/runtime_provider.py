"""personalize-runtime: recommendations and rankings from campaigns, keyed by AWS operation name (serving.py does
the work)."""

from __future__ import annotations

from services.gateway.context import RequestContext
from services.gateway.errors import ServiceError
from services.gateway.kit.arns import owned, parse_arn
from services.gateway.registry import ServiceProvider
from services.personalize import serving
from services.personalize.errors import RuntimeInvalidInput, RuntimeNotFound, runtime_errors
from services.personalize.store import ACTIVE, CAMPAIGN, RECOMMENDER, SERVICE, TABLES

provider = ServiceProvider("personalize-runtime")


def _served(ctx: RequestContext, request: dict) -> serving.Served:
    """The ACTIVE campaign or recommender the request names."""
    arn = request.get("campaignArn") or request.get("recommenderArn")
    if not arn:
        raise RuntimeInvalidInput("campaignArn or recommenderArn is required.")
    if request.get("campaignArn") and request.get("recommenderArn"):
        raise RuntimeInvalidInput("Give campaignArn or recommenderArn, not both.")
    kind = CAMPAIGN if request.get("campaignArn") else RECOMMENDER
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != SERVICE:
        raise RuntimeInvalidInput(f"The ARN {arn} is not a valid Amazon Personalize ARN.")
    row = TABLES[kind].find(ctx, arn) if owned(parsed, SERVICE, ctx.account_id, ctx.region) else None
    if row is None:
        raise RuntimeNotFound(f"Resource {arn} does not exist.")
    status = row.state()[0]
    if status != ACTIVE:
        raise RuntimeInvalidInput(f"The {kind} {arn} is not ACTIVE; its status is {status}.")
    return serving.served_by(ctx.principal, row)


def _no_context(request: dict) -> None:
    if request.get("context"):
        raise runtime_errors.NotImplementedException(
            "context is not implemented by this gateway: its algorithms are trained without contextual metadata, "
            "so a context would change nothing.")


def _answer(work) -> dict:
    try:
        return work()
    except ServiceError as error:
        if error.code in runtime_errors:
            raise
        raise RuntimeInvalidInput(error.message) from None  # a control-plane error met while serving


@provider.operation("GetRecommendations")
def get_recommendations(ctx: RequestContext, request: dict) -> dict:
    _no_context(request)
    served = _served(ctx, request)
    return _answer(lambda: serving.recommendations(ctx.principal, served, request))


@provider.operation("GetPersonalizedRanking")
def get_personalized_ranking(ctx: RequestContext, request: dict) -> dict:
    _no_context(request)
    served = _served(ctx, request)
    return _answer(lambda: serving.ranking(ctx.principal, served, request))


@provider.operation("GetActionRecommendations")
def get_action_recommendations(ctx: RequestContext, request: dict) -> dict:
    served = _served(ctx, request)
    return _answer(lambda: serving.action_recommendations(ctx.principal, served, request))
