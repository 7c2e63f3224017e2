"""Amazon Rekognition operations, keyed by AWS operation name."""

from __future__ import annotations

from services.gateway.context import RequestContext
from services.gateway.kit.paging import Paging
from services.gateway.kit.tags import Tagging, drop_tags
from services.gateway.registry import ServiceProvider
from services.rekognition import analysis, collections, faces
from services.rekognition.collections import COLLECTIONS, FACE_MODEL_VERSION, RekognitionFace, RekognitionUser
from services.rekognition.errors import (INVALID_PARAMETERS, NO_FACES, InvalidPaginationToken, InvalidParameter,
                                         NotImplemented_, ResourceNotFound, ServiceQuotaExceeded)
from services.rekognition.images import read_image
from services.rekognition.labels import LABEL_MODEL_VERSION
from services.rekognition.moderation import MODERATION_MODEL_VERSION
from services.rekognition.text import TEXT_MODEL_VERSION

provider = ServiceProvider("rekognition")

MAX_FACES = 100  # the largest faces an image operation answers, as AWS
FACE_MATCH_THRESHOLD = 80.0
USER_MATCH_THRESHOLD = 80.0
ASSOCIATE_THRESHOLD = 75.0

_PAGING = Paging("rekognition", invalid_token=lambda token: InvalidPaginationToken("Invalid pagination token"),
                 default_limit=1000, limits={"ListUsers": 500})

def _taggable(principal, arn: str) -> bool:
    """Collections, Custom Labels projects and their model versions take tags."""
    from services.rekognition import custom_labels, projects

    return collections.tagged_collection_exists(principal, arn) or projects.is_project_resource(principal, arn) \
        or custom_labels.is_version_resource(principal, arn)


TAGGING = Tagging("rekognition", exists=_taggable,
                  not_found=lambda arn: ResourceNotFound(f"The resource {arn} does not exist."),
                  too_many=lambda limit: ServiceQuotaExceeded(f"A resource can have at most {limit} tags."),
                  max_tags=50)
TAGGING.register(provider)


def _image(ctx: RequestContext, request: dict, member: str = "Image") -> bytes:
    return read_image(ctx.principal, request.get(member)).data


def _kept(found: list[faces.AnalyzedFace], quality_filter: str) -> list[faces.AnalyzedFace]:
    return [face for face in found if not faces.unindexed_reasons(face, quality_filter)]


def _compared(detail: dict) -> dict:
    """A FaceDetail cut to the `ComparedFace` shape."""
    return {key: detail[key] for key in ("BoundingBox", "Confidence", "Landmarks", "Pose", "Quality", "Emotions",
                                         "Smile") if key in detail}


# ------------------------------------------------------------------ image analysis


@provider.operation("DetectLabels")
def detect_labels(ctx: RequestContext, request: dict) -> dict:
    data = _image(ctx, request)
    found = analysis.on_worker(analysis.image_labels, data, request)
    return {**found, "LabelModelVersion": LABEL_MODEL_VERSION}


@provider.operation("DetectFaces")
def detect_faces(ctx: RequestContext, request: dict) -> dict:
    data = _image(ctx, request)
    found = analysis.on_worker(analysis.image_faces, data, list(request.get("Attributes") or ["DEFAULT"]))
    return {"FaceDetails": [face.detail for face in found]}


@provider.operation("CompareFaces")
def compare_faces(ctx: RequestContext, request: dict) -> dict:
    source, target = _image(ctx, request, "SourceImage"), _image(ctx, request, "TargetImage")
    quality_filter = request.get("QualityFilter") or "NONE"
    threshold = request.get("SimilarityThreshold", FACE_MATCH_THRESHOLD)
    source_faces = _kept(analysis.on_worker(analysis.image_faces, source, ["DEFAULT"], True, 1), quality_filter)
    if not source_faces:
        raise InvalidParameter(INVALID_PARAMETERS)  # AWS: a source image without a face is an invalid parameter
    [source_face] = source_faces
    target_faces = _kept(analysis.on_worker(analysis.image_faces, target, ["DEFAULT"], True, MAX_FACES),
                         quality_filter)
    matches, unmatched = [], []
    for face in target_faces:
        similarity = faces.similarity(faces.embedding_distance(source_face.embedding, face.embedding))
        if similarity >= threshold:
            matches.append({"Similarity": similarity, "Face": _compared(face.detail)})
        else:
            unmatched.append(_compared(face.detail))
    matches.sort(key=lambda match: -match["Similarity"])
    detail = source_face.detail
    return {"SourceImageFace": {"BoundingBox": detail["BoundingBox"], "Confidence": detail["Confidence"]},
            "FaceMatches": matches, "UnmatchedFaces": unmatched}


@provider.operation("DetectModerationLabels")
def detect_moderation_labels(ctx: RequestContext, request: dict) -> dict:
    if request.get("HumanLoopConfig"):
        raise NotImplemented_("HumanLoopConfig needs Amazon Augmented AI (human review loops), which this gateway "
                              "does not run")
    if request.get("ProjectVersion"):
        raise NotImplemented_("Custom moderation adapters (ProjectVersion) are not supported by this gateway")
    data = _image(ctx, request)
    labels = analysis.on_worker(analysis.image_moderation, data, request.get("MinConfidence", 50.0))
    return {"ModerationLabels": labels, "ModerationModelVersion": MODERATION_MODEL_VERSION}


@provider.operation("DetectText")
def detect_text(ctx: RequestContext, request: dict) -> dict:
    data = _image(ctx, request)
    detections = analysis.on_worker(analysis.image_text, data, request.get("Filters"))
    return {"TextDetections": detections, "TextModelVersion": TEXT_MODEL_VERSION}


@provider.operation("RecognizeCelebrities")
def recognize_celebrities(ctx: RequestContext, request: dict) -> dict:
    # No celebrity gallery ships with any open model here: every face is answered as unrecognized.
    data = _image(ctx, request)
    found = analysis.on_worker(analysis.image_faces, data, ["DEFAULT", "EMOTIONS", "SMILE"], False, 64)
    return {"CelebrityFaces": [], "UnrecognizedFaces": [_compared(face.detail) for face in found]}


@provider.operation("GetCelebrityInfo")
def get_celebrity_info(ctx: RequestContext, request: dict) -> dict:
    raise ResourceNotFound(f"The celebrity id: {request['Id']} does not exist (this gateway has no celebrity "
                           f"gallery)")


# ------------------------------------------------------------------ collections


@provider.operation("CreateCollection")
def create_collection(ctx: RequestContext, request: dict) -> dict:
    tags = TAGGING.check_new(request.get("Tags"))
    collection = collections.create_collection(ctx, request["CollectionId"])
    TAGGING.tag(ctx, collection.arn, tags)
    return {"StatusCode": 200, "CollectionArn": collection.arn, "FaceModelVersion": FACE_MODEL_VERSION}


@provider.operation("DescribeCollection")
def describe_collection(ctx: RequestContext, request: dict) -> dict:
    return collections.describe_collection(ctx, request["CollectionId"])


@provider.operation("ListCollections")
def list_collections(ctx: RequestContext, request: dict) -> dict:
    ids = [row.collection_id for row in COLLECTIONS.list(ctx)]
    page = _PAGING.page(ctx, request, ids)
    return {**page, "FaceModelVersions": [FACE_MODEL_VERSION] * len(page["CollectionIds"])}


@provider.operation("DeleteCollection")
def delete_collection(ctx: RequestContext, request: dict) -> dict:
    collection = collections.delete_collection(ctx, request["CollectionId"])
    drop_tags(collection.arn)
    return {"StatusCode": 200}


@provider.operation("IndexFaces")
def index_faces(ctx: RequestContext, request: dict) -> dict:
    collection_id = request["CollectionId"]
    COLLECTIONS.get(ctx, collection_id)  # before any work on the image
    data = _image(ctx, request)
    attributes = list(request.get("DetectionAttributes") or ["DEFAULT"])
    found = analysis.on_worker(analysis.image_faces, data, attributes, True, MAX_FACES)
    quality_filter = request.get("QualityFilter") or "AUTO"
    max_faces = request.get("MaxFaces", MAX_FACES)
    indexed, unindexed = [], []
    for face in found:  # largest first: MaxFaces keeps the largest faces that pass the quality filter
        reasons = faces.unindexed_reasons(face, quality_filter)
        if not reasons and len(indexed) >= max_faces:
            reasons = ["EXCEEDS_MAX_FACES"]
        if reasons:
            unindexed.append({"Reasons": reasons, "FaceDetail": face.detail})
        else:
            indexed.append(face)
    stored = collections.add_faces(ctx, collection_id, indexed, request.get("ExternalImageId"))
    return {"FaceRecords": [{"Face": row.face(), "FaceDetail": face.detail} for row, face in stored],
            "FaceModelVersion": FACE_MODEL_VERSION, "UnindexedFaces": unindexed}


@provider.operation("ListFaces")
def list_faces(ctx: RequestContext, request: dict) -> dict:
    query = collections.faces_query(ctx, request["CollectionId"], request.get("UserId"), request.get("FaceIds"))
    return _PAGING.page_query(ctx, request, query, [(RekognitionFace.face_id, False)],
                              lambda row: row.face(with_user=True), FaceModelVersion=FACE_MODEL_VERSION)


@provider.operation("DeleteFaces")
def delete_faces(ctx: RequestContext, request: dict) -> dict:
    return collections.delete_faces(ctx, request["CollectionId"], request["FaceIds"])


@provider.operation("SearchFaces")
def search_faces(ctx: RequestContext, request: dict) -> dict:
    collection_id, face_id = request["CollectionId"], request["FaceId"]
    face = collections.get_face(ctx, collection_id, face_id)
    matches = collections.search(ctx, collection_id, face.vector(),
                                 request.get("FaceMatchThreshold", FACE_MATCH_THRESHOLD),
                                 request.get("MaxFaces", 4096), exclude=face_id)
    return {"SearchedFaceId": face_id, "FaceMatches": matches, "FaceModelVersion": FACE_MODEL_VERSION}


@provider.operation("SearchFacesByImage")
def search_faces_by_image(ctx: RequestContext, request: dict) -> dict:
    collection_id = request["CollectionId"]
    COLLECTIONS.get(ctx, collection_id)
    data = _image(ctx, request)
    found = _kept(analysis.on_worker(analysis.image_faces, data, ["DEFAULT"], True, MAX_FACES),
                  request.get("QualityFilter") or "NONE")
    if not found:
        raise InvalidParameter(NO_FACES)
    face = found[0]  # the largest face is the one searched
    matches = collections.search(ctx, collection_id, face.embedding,
                                 request.get("FaceMatchThreshold", FACE_MATCH_THRESHOLD), request.get("MaxFaces", 4096))
    return {"SearchedFaceBoundingBox": face.detail["BoundingBox"], "SearchedFaceConfidence": face.detail["Confidence"],
            "FaceMatches": matches, "FaceModelVersion": FACE_MODEL_VERSION}


# ------------------------------------------------------------------ users


@provider.operation("CreateUser")
def create_user(ctx: RequestContext, request: dict) -> dict:
    collections.create_user(ctx, request["CollectionId"], request["UserId"])
    return {}


@provider.operation("DeleteUser")
def delete_user(ctx: RequestContext, request: dict) -> dict:
    collections.delete_user(ctx, request["CollectionId"], request["UserId"])
    return {}


@provider.operation("ListUsers")
def list_users(ctx: RequestContext, request: dict) -> dict:
    query = collections.users_query(ctx, request["CollectionId"])
    return _PAGING.page_query(ctx, request, query, [(RekognitionUser.user_id, False)],
                              lambda row: collections.wire_user(ctx, row))


@provider.operation("AssociateFaces")
def associate_faces(ctx: RequestContext, request: dict) -> dict:
    return collections.associate_faces(ctx, request["CollectionId"], request["UserId"], request["FaceIds"],
                                       request.get("UserMatchThreshold", ASSOCIATE_THRESHOLD))


@provider.operation("DisassociateFaces")
def disassociate_faces(ctx: RequestContext, request: dict) -> dict:
    return collections.disassociate_faces(ctx, request["CollectionId"], request["UserId"], request["FaceIds"])


@provider.operation("SearchUsers")
def search_users(ctx: RequestContext, request: dict) -> dict:
    collection_id = request["CollectionId"]
    user_id, face_id = request.get("UserId"), request.get("FaceId")
    if (user_id is None) == (face_id is None):
        raise InvalidParameter(INVALID_PARAMETERS)  # exactly one of UserId and FaceId
    threshold = request.get("UserMatchThreshold", USER_MATCH_THRESHOLD)
    limit = request.get("MaxUsers", 500)
    out: dict = {"FaceModelVersion": FACE_MODEL_VERSION}
    if face_id is not None:
        vector = collections.get_face(ctx, collection_id, face_id).vector()
        out["SearchedFace"] = {"FaceId": face_id}
        out["UserMatches"] = collections.search_users(ctx, collection_id, vector, threshold, limit)
    else:
        vector = collections.user_vector(ctx, collection_id, user_id)
        out["SearchedUser"] = {"UserId": user_id}
        out["UserMatches"] = collections.search_users(ctx, collection_id, vector, threshold, limit,
                                                      exclude_user=user_id)
    return out


@provider.operation("SearchUsersByImage")
def search_users_by_image(ctx: RequestContext, request: dict) -> dict:
    collection_id = request["CollectionId"]
    COLLECTIONS.get(ctx, collection_id)
    data = _image(ctx, request)
    found = analysis.on_worker(analysis.image_faces, data, ["DEFAULT"], True, MAX_FACES)
    quality_filter = request.get("QualityFilter") or "NONE"
    searched, unsearched = None, []
    for face in found:  # largest first
        reasons = faces.unindexed_reasons(face, quality_filter)
        if not reasons and searched is not None:
            reasons = ["FACE_NOT_LARGEST"]
        if reasons:
            unsearched.append({"FaceDetails": face.detail, "Reasons": reasons})
        else:
            searched = face
    if searched is None:
        raise InvalidParameter(NO_FACES)
    matches = collections.search_users(ctx, collection_id, searched.embedding,
                                       request.get("UserMatchThreshold", USER_MATCH_THRESHOLD),
                                       request.get("MaxUsers", 500))
    return {"UserMatches": matches, "FaceModelVersion": FACE_MODEL_VERSION,
            "SearchedFace": {"FaceDetail": searched.detail}, "UnsearchedFaces": unsearched}


# ------------------------------------------------------------------ what cannot be real here


def _not_here(reason: str):
    def handler(ctx: RequestContext, request: dict) -> dict:
        raise NotImplemented_(reason)
    return handler


_NO_KINESIS = ("Streaming video analysis needs Amazon Kinesis Video Streams, which this gateway does not connect to")
_NO_LIVENESS = ("Face Liveness needs the AWS Amplify FaceLivenessDetector video session and its liveness model, "
                "which do not run in this gateway")
_NO_PPE = "No protective-equipment detector ships with the open models this gateway runs"
for _operation, _reason in {
    "CreateStreamProcessor": _NO_KINESIS, "DeleteStreamProcessor": _NO_KINESIS,
    "DescribeStreamProcessor": _NO_KINESIS, "ListStreamProcessors": _NO_KINESIS,
    "StartStreamProcessor": _NO_KINESIS, "StopStreamProcessor": _NO_KINESIS, "UpdateStreamProcessor": _NO_KINESIS,
    "CreateFaceLivenessSession": _NO_LIVENESS, "GetFaceLivenessSessionResults": _NO_LIVENESS,
    "DetectProtectiveEquipment": _NO_PPE,
}.items():
    provider.operation(_operation)(_not_here(_reason))

# The stored-video, Custom Labels and bulk-analysis operations; those modules do not import this one.
from services.rekognition import custom_labels, media_analysis, video_jobs  # noqa: E402
video_jobs.register(provider)
custom_labels.register(provider, TAGGING)
media_analysis.register(provider)
