"""Endpoints: a trained custom model served for real-time calls (ClassifyDocument, DetectEntities with an
EndpointArn). An endpoint is IN_SERVICE as soon as it is created (the model is loaded on first use)."""

from __future__ import annotations

from sqlalchemy import Select

from services.comprehend.analysis import check_size
from services.comprehend.custom import (
    CLASSIFIER,
    ENDPOINT_KINDS,
    ENDPOINTS,
    MODELS,
    RECOGNIZER,
    Endpoint,
    check_name,
    fitted,
)
from services.comprehend.errors import InvalidRequest, ResourceUnavailable
from services.gateway.context import RequestContext
from services.gateway.kit.arns import parse_arn
from services.gateway.kit.tags import drop_tags
from services.gateway.kit.times import aware, utcnow

# Newest first; the ARN makes the order total (keyset paging).
ENDPOINT_ORDER = [(Endpoint.created_at, True), (Endpoint.arn, False)]


def endpoint_arn(ctx: RequestContext, model_kind: str, name: str) -> str:
    return ctx.arn("comprehend", f"{ENDPOINT_KINDS[model_kind]}/{name}")


def model_kind(model_arn: str) -> str | None:
    """CLASSIFIER or RECOGNIZER for a custom model's ARN, else None."""
    arn = parse_arn(model_arn)
    return arn.resource_type if arn is not None and arn.resource_type in MODELS else None


def endpoint_properties(row: Endpoint) -> dict:
    return {"EndpointArn": row.arn, "Status": row.status, "ModelArn": row.model_arn, "DesiredModelArn": row.model_arn,
            "DesiredInferenceUnits": row.inference_units, "CurrentInferenceUnits": row.inference_units,
            "CreationTime": aware(row.created_at), "LastModifiedTime": aware(row.modified_at),
            **({"DataAccessRoleArn": row.role_arn} if row.role_arn else {})}


def create_endpoint(ctx: RequestContext, request: dict) -> Endpoint:
    model_arn = request.get("ModelArn")
    if not model_arn:
        raise InvalidRequest("ModelArn is required.")
    kind = model_kind(model_arn)
    if kind is None:
        raise InvalidRequest(f"{model_arn} is not a custom model ARN.")
    model = MODELS[kind].get(ctx, model_arn)
    if model.status != "TRAINED":
        raise ResourceUnavailable(f"{model_arn} is not trained (status {model.status}).")
    check_name(request["EndpointName"])
    now = utcnow()
    return ENDPOINTS.create(ctx, arn=endpoint_arn(ctx, kind, request["EndpointName"]), model_arn=model_arn,
                            status="IN_SERVICE", inference_units=request["DesiredInferenceUnits"],
                            role_arn=request.get("DataAccessRoleArn"), created_at=now, modified_at=now)


def endpoint_query(ctx: RequestContext, request: dict) -> Select:
    """ListEndpoints' Filter (ModelArn, Status, CreationTimeBefore / CreationTimeAfter) on the caller's endpoints."""
    found = request.get("Filter", {})
    conditions = []
    if found.get("ModelArn"):
        conditions.append(Endpoint.model_arn == found["ModelArn"])
    if found.get("Status"):
        conditions.append(Endpoint.status == found["Status"])
    if found.get("CreationTimeBefore"):
        conditions.append(Endpoint.created_at < found["CreationTimeBefore"])
    if found.get("CreationTimeAfter"):
        conditions.append(Endpoint.created_at > found["CreationTimeAfter"])
    return ENDPOINTS.query(ctx, *conditions)


def update_endpoint(ctx: RequestContext, request: dict) -> Endpoint:
    """A new model (of the same kind, trained) and/or inference units for the endpoint."""
    arn = request["EndpointArn"]
    row = ENDPOINTS.get(ctx, arn)
    fields: dict = {"modified_at": utcnow()}
    if request.get("DesiredModelArn"):
        model = MODELS[model_kind(row.model_arn)].get(ctx, request["DesiredModelArn"])
        if model.status != "TRAINED":
            raise ResourceUnavailable(f"{model.arn} is not trained.")
        fields["model_arn"] = model.arn
    if request.get("DesiredInferenceUnits"):
        fields["inference_units"] = request["DesiredInferenceUnits"]
    return ENDPOINTS.update(ctx, arn, **fields)


def delete_endpoint(ctx: RequestContext, arn: str) -> None:
    ENDPOINTS.delete(ctx, arn)
    drop_tags(arn)


# ---------------------------------------------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------------------------------------------


def served_model(ctx: RequestContext, endpoint_arn: str, kind: str):
    """The fitted model behind the caller's endpoint, which must serve a model of `kind` and be IN_SERVICE."""
    endpoint = ENDPOINTS.get(ctx, endpoint_arn)
    if parse_arn(endpoint_arn).resource_type != ENDPOINT_KINDS[kind]:
        raise InvalidRequest(f"Endpoint {endpoint_arn} does not serve a {kind}.")
    if endpoint.status != "IN_SERVICE":
        raise ResourceUnavailable(f"Endpoint {endpoint_arn} is {endpoint.status}.")
    return fitted(MODELS[kind].get(ctx, endpoint.model_arn))


def _text(request: dict, bytes_refused: str) -> str:
    if request.get("Bytes") is not None:
        raise InvalidRequest(bytes_refused)
    text = request.get("Text")
    if not text:
        raise InvalidRequest("Text is required.")
    return text


def classify(ctx: RequestContext, request: dict) -> dict:
    """ClassifyDocument: the endpoint's classifier on the request's Text."""
    text = _text(request, "Bytes input (semi-structured documents) is not supported here; send Text.")
    check_size("ClassifyDocument", text)
    return served_model(ctx, request["EndpointArn"], CLASSIFIER).classify([text])[0]


def recognize(ctx: RequestContext, request: dict) -> dict:
    """DetectEntities with an EndpointArn: the endpoint's recognizer on the request's Text."""
    text = _text(request, "Bytes input (semi-structured documents) is not supported here.")
    check_size("DetectEntities", text)
    return {"Entities": served_model(ctx, request["EndpointArn"], RECOGNIZER).recognize([text])[0]}
