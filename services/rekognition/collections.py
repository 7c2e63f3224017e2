"""Face collections, their faces and users, stored per account and region, and searched by embedding.

A face is stored with its 128-d identity embedding (dlib's ResNet; float32 bytes). A search reads the collection's
embeddings and ranks them by distance with numpy: exact, and about a millisecond per ten thousand faces, which is
the scale a self-hosted gateway serves. Beyond about a million faces per collection an approximate index (FAISS,
pgvector's HNSW) would replace `_nearest` — the only place that ranks — keyed by face id as the table is.
Similarity is `faces.similarity(distance)`, the calibrated mapping published there.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import numpy as np
from sqlalchemy import JSON, DateTime, Float, LargeBinary, String, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.context import Principal, RequestContext
from services.gateway.db import Base
from services.gateway.kit.arns import build_arn, owned, parse_arn
from services.gateway.kit.resources import ResourceTable, Scoped, session
from services.gateway.kit.times import aware, utcnow
from services.rekognition import faces
from services.rekognition.errors import (INVALID_PARAMETERS, Conflict, InvalidParameter, ResourceNotFound,
                                         ServiceQuotaExceeded, collection_exists, collection_not_found)

FACE_MODEL_VERSION = "7.0"  # the API's face-model version slot; the model behind it is dlib's ResNet embedding
MAX_FACES_PER_USER = 100


class RekognitionCollection(Scoped, Base):
    __tablename__ = "rekognition_collections"

    collection_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    @property
    def arn(self) -> str:
        return collection_arn(Principal(self.account_id, self.region), self.collection_id)


class RekognitionFace(Scoped, Base):
    __tablename__ = "rekognition_faces"

    face_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    collection_id: Mapped[str] = mapped_column(String(255), index=True)
    image_id: Mapped[str] = mapped_column(String(36))
    external_image_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    bounding_box: Mapped[dict] = mapped_column(JSON)
    confidence: Mapped[float] = mapped_column(Float)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    user_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    indexed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    def vector(self) -> np.ndarray:
        return np.frombuffer(self.embedding, dtype=np.float32)

    def face(self, with_user: bool = False) -> dict:
        """The wire `Face`."""
        out = {"FaceId": self.face_id, "BoundingBox": self.bounding_box, "ImageId": self.image_id,
               "Confidence": self.confidence, "IndexFacesModelVersion": FACE_MODEL_VERSION}
        if self.external_image_id is not None:
            out["ExternalImageId"] = self.external_image_id
        if with_user and self.user_id is not None:
            out["UserId"] = self.user_id
        return out


class RekognitionUser(Scoped, Base):
    __tablename__ = "rekognition_users"

    collection_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


COLLECTIONS = ResourceTable(RekognitionCollection, key="collection_id", not_found=collection_not_found,
                            conflict=collection_exists)


def collection_arn(scope: Principal | RequestContext, collection_id: str) -> str:
    return build_arn("rekognition", scope.region, scope.account_id, f"collection/{collection_id}")


def tagged_collection_exists(principal: Principal, arn: str) -> bool:
    parsed = parse_arn(arn)
    if not owned(parsed, "rekognition", principal.account_id, principal.region) or parsed.resource_type != "collection":
        return False
    return COLLECTIONS.exists(principal, parsed.resource_id)


def _scoped(model, scope: Principal | RequestContext, collection_id: str, *where):
    principal = scope.principal if isinstance(scope, RequestContext) else scope
    return select(model).where(model.account_id == principal.account_id, model.region == principal.region,
                               model.collection_id == collection_id, *where)


# ------------------------------------------------------------------ collections


def create_collection(ctx: RequestContext, collection_id: str) -> RekognitionCollection:
    return COLLECTIONS.create(ctx, collection_id=collection_id, created_at=utcnow())


def describe_collection(ctx: RequestContext, collection_id: str) -> dict:
    collection = COLLECTIONS.get(ctx, collection_id)
    with session() as db:
        face_count = db.scalar(select(func.count()).select_from(
            _scoped(RekognitionFace, ctx, collection_id).subquery())) or 0
        user_count = db.scalar(select(func.count()).select_from(
            _scoped(RekognitionUser, ctx, collection_id).subquery())) or 0
    return {"FaceCount": face_count, "FaceModelVersion": FACE_MODEL_VERSION, "CollectionARN": collection.arn,
            "CreationTimestamp": aware(collection.created_at), "UserCount": user_count}


def delete_collection(ctx: RequestContext, collection_id: str) -> RekognitionCollection:
    with session() as db:
        collection = COLLECTIONS.get(ctx, collection_id, db)
        for model in (RekognitionFace, RekognitionUser):
            db.execute(delete(model).where(model.account_id == ctx.account_id, model.region == ctx.region,
                                           model.collection_id == collection_id))
        db.delete(collection)
    return collection


# ------------------------------------------------------------------ faces


def add_faces(ctx: RequestContext, collection_id: str, analyzed: list[faces.AnalyzedFace],
              external_image_id: str | None) -> list[tuple[RekognitionFace, faces.AnalyzedFace]]:
    """Store `analyzed` faces (one image: one ImageId); the rows beside the faces they came from."""
    image_id = str(uuid.uuid4())
    now = utcnow()
    stored = []
    with session() as db:
        COLLECTIONS.get(ctx, collection_id, db)  # deleted meanwhile: not found
        for face in analyzed:
            row = RekognitionFace(account_id=ctx.account_id, region=ctx.region, face_id=str(uuid.uuid4()),
                                  collection_id=collection_id, image_id=image_id, external_image_id=external_image_id,
                                  bounding_box=face.detail["BoundingBox"], confidence=face.detail["Confidence"],
                                  embedding=np.asarray(face.embedding, dtype=np.float32).tobytes(), indexed_at=now)
            db.add(row)
            stored.append((row, face))
    return stored


def faces_query(ctx: RequestContext, collection_id: str, user_id: str | None, face_ids: list[str] | None):
    COLLECTIONS.get(ctx, collection_id)
    where = []
    if user_id is not None:
        where.append(RekognitionFace.user_id == user_id)
    if face_ids:
        where.append(RekognitionFace.face_id.in_(face_ids))
    return _scoped(RekognitionFace, ctx, collection_id, *where)


def _faces_by_id(db, ctx: RequestContext, collection_id: str, face_ids: list[str]) -> dict[str, RekognitionFace]:
    """The collection's faces among `face_ids`, by id (ids not in the collection are absent)."""
    return {row.face_id: row for row in db.scalars(
        _scoped(RekognitionFace, ctx, collection_id, RekognitionFace.face_id.in_(face_ids)))}


def delete_faces(ctx: RequestContext, collection_id: str, face_ids: list[str]) -> dict:
    deleted, unsuccessful = [], []
    with session() as db:
        COLLECTIONS.get(ctx, collection_id, db)
        rows = _faces_by_id(db, ctx, collection_id, face_ids)
        for face_id in dict.fromkeys(face_ids):
            row = rows.get(face_id)
            if row is None:
                # AWS answers a face id that is not in the collection as deleted (nothing is left of it).
                deleted.append(face_id)
            elif row.user_id is not None:
                unsuccessful.append({"FaceId": face_id, "UserId": row.user_id,
                                     "Reasons": ["ASSOCIATED_TO_AN_EXISTING_USER"]})
            else:
                db.delete(row)
                deleted.append(face_id)
    return {"DeletedFaces": deleted, "UnsuccessfulFaceDeletions": unsuccessful}


def get_face(ctx: RequestContext, collection_id: str, face_id: str) -> RekognitionFace:
    with session() as db:
        COLLECTIONS.get(ctx, collection_id, db)
        row = db.scalar(_scoped(RekognitionFace, ctx, collection_id, RekognitionFace.face_id == face_id))
    if row is None:
        raise InvalidParameter(INVALID_PARAMETERS)  # AWS: an unknown FaceId is an invalid parameter
    return row


@dataclass
class Match:
    similarity: float
    row: RekognitionFace


def _nearest(rows: list[RekognitionFace], vector: np.ndarray) -> list[Match]:
    """Every row with its similarity to `vector`, most similar first (the one ranking place: see the docstring)."""
    if not rows:
        return []
    matrix = np.stack([row.vector() for row in rows])
    distances = np.linalg.norm(matrix - np.asarray(vector, dtype=np.float32)[None, :], axis=1)
    order = np.argsort(distances, kind="stable")
    return [Match(faces.similarity(float(distances[i])), rows[i]) for i in order]


def search(ctx: RequestContext, collection_id: str, vector: np.ndarray, threshold: float, limit: int,
           exclude: str | None = None) -> list[dict]:
    """SearchFaces / SearchFacesByImage's FaceMatches."""
    with session() as db:
        COLLECTIONS.get(ctx, collection_id, db)
        rows = [row for row in db.scalars(_scoped(RekognitionFace, ctx, collection_id)) if row.face_id != exclude]
    matches = [match for match in _nearest(rows, vector) if match.similarity >= threshold][:limit]
    return [{"Similarity": match.similarity, "Face": match.row.face(with_user=True)} for match in matches]


# ------------------------------------------------------------------ users


USERS_NOT_FOUND = "The user id: {user_id} does not exist"  # AWS's wording of ResourceNotFound for a user


def _user(db, ctx: RequestContext, collection_id: str, user_id: str) -> RekognitionUser:
    row = db.scalar(_scoped(RekognitionUser, ctx, collection_id, RekognitionUser.user_id == user_id))
    if row is None:
        raise ResourceNotFound(USERS_NOT_FOUND.format(user_id=user_id))
    return row


def user_status(db, ctx: RequestContext, collection_id: str, user_id: str) -> str:
    """CREATED until a face is associated, then ACTIVE (associations here complete within the call)."""
    faces_of_user = db.scalar(select(func.count()).select_from(_scoped(
        RekognitionFace, ctx, collection_id, RekognitionFace.user_id == user_id).subquery())) or 0
    return "ACTIVE" if faces_of_user else "CREATED"


def create_user(ctx: RequestContext, collection_id: str, user_id: str) -> None:
    with session() as db:
        COLLECTIONS.get(ctx, collection_id, db)
        if db.scalar(_scoped(RekognitionUser, ctx, collection_id, RekognitionUser.user_id == user_id)) is not None:
            raise Conflict(f"The user id: {user_id} already exists")
        db.add(RekognitionUser(account_id=ctx.account_id, region=ctx.region, collection_id=collection_id,
                               user_id=user_id, created_at=utcnow()))


def delete_user(ctx: RequestContext, collection_id: str, user_id: str) -> None:
    with session() as db:
        COLLECTIONS.get(ctx, collection_id, db)
        db.delete(_user(db, ctx, collection_id, user_id))
        for row in db.scalars(_scoped(RekognitionFace, ctx, collection_id, RekognitionFace.user_id == user_id)):
            row.user_id = None  # the faces stay in the collection, unassociated


def users_query(ctx: RequestContext, collection_id: str):
    COLLECTIONS.get(ctx, collection_id)
    return _scoped(RekognitionUser, ctx, collection_id)


def wire_user(ctx: RequestContext, row: RekognitionUser) -> dict:
    with session() as db:
        return {"UserId": row.user_id, "UserStatus": user_status(db, ctx, row.collection_id, row.user_id)}


def associate_faces(ctx: RequestContext, collection_id: str, user_id: str, face_ids: list[str],
                    threshold: float) -> dict:
    associated, unsuccessful = [], []
    with session() as db:
        COLLECTIONS.get(ctx, collection_id, db)
        _user(db, ctx, collection_id, user_id)
        user_rows = list(db.scalars(_scoped(RekognitionFace, ctx, collection_id, RekognitionFace.user_id == user_id)))
        rows = _faces_by_id(db, ctx, collection_id, face_ids)
        for face_id in dict.fromkeys(face_ids):
            row = rows.get(face_id)
            if row is None:
                unsuccessful.append({"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]})
                continue
            if row.user_id == user_id:
                associated.append({"FaceId": face_id})
                continue
            if row.user_id is not None:
                unsuccessful.append({"FaceId": face_id, "UserId": row.user_id,
                                     "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"]})
                continue
            if len(user_rows) >= MAX_FACES_PER_USER:
                raise ServiceQuotaExceeded(f"A user can have at most {MAX_FACES_PER_USER} faces")
            if user_rows:  # a face joins a user only when it looks like the user's faces
                confidence = _nearest(user_rows, row.vector())[0].similarity
                if confidence < threshold:
                    unsuccessful.append({"FaceId": face_id, "UserId": user_id, "Confidence": confidence,
                                         "Reasons": ["LOW_MATCH_CONFIDENCE"]})
                    continue
            row.user_id = user_id
            user_rows.append(row)
            associated.append({"FaceId": face_id})
        db.flush()
        status = user_status(db, ctx, collection_id, user_id)
    return {"AssociatedFaces": associated, "UnsuccessfulFaceAssociations": unsuccessful, "UserStatus": status}


def disassociate_faces(ctx: RequestContext, collection_id: str, user_id: str, face_ids: list[str]) -> dict:
    disassociated, unsuccessful = [], []
    with session() as db:
        COLLECTIONS.get(ctx, collection_id, db)
        _user(db, ctx, collection_id, user_id)
        rows = _faces_by_id(db, ctx, collection_id, face_ids)
        for face_id in dict.fromkeys(face_ids):
            row = rows.get(face_id)
            if row is None:
                unsuccessful.append({"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]})
            elif row.user_id != user_id:
                unsuccessful.append({"FaceId": face_id, **({"UserId": row.user_id} if row.user_id else {}),
                                     "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"]})
            else:
                row.user_id = None
                disassociated.append({"FaceId": face_id})
        db.flush()
        status = user_status(db, ctx, collection_id, user_id)
    return {"DisassociatedFaces": disassociated, "UnsuccessfulFaceDisassociations": unsuccessful, "UserStatus": status}


def search_users(ctx: RequestContext, collection_id: str, vector: np.ndarray, threshold: float, limit: int,
                 exclude_user: str | None = None) -> list[dict]:
    """UserMatches: each user scored by its most similar face."""
    with session() as db:
        COLLECTIONS.get(ctx, collection_id, db)
        rows = list(db.scalars(_scoped(RekognitionFace, ctx, collection_id, RekognitionFace.user_id.is_not(None))))
        best: dict[str, float] = {}
        for match in _nearest(rows, vector):
            best.setdefault(match.row.user_id, match.similarity)
        matches = [(similarity, user) for user, similarity in best.items()
                   if similarity >= threshold and user != exclude_user]
        matches.sort(key=lambda pair: -pair[0])
        return [{"Similarity": similarity, "User": {"UserId": user, "UserStatus": "ACTIVE"}}
                for similarity, user in matches[:limit]]


def user_vector(ctx: RequestContext, collection_id: str, user_id: str) -> np.ndarray:
    """A user's search vector: the mean of its faces' embeddings (AWS searches with the user's aggregate)."""
    with session() as db:
        COLLECTIONS.get(ctx, collection_id, db)
        _user(db, ctx, collection_id, user_id)
        rows = list(db.scalars(_scoped(RekognitionFace, ctx, collection_id, RekognitionFace.user_id == user_id)))
    if not rows:
        raise InvalidParameter(INVALID_PARAMETERS)
    return np.mean(np.stack([row.vector() for row in rows]), axis=0)
