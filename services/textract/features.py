"""The checks AnalyzeDocument and StartDocumentAnalysis share: FeatureTypes, QueriesConfig and the settings this
gateway cannot honour."""

from __future__ import annotations

from services.textract.errors import INVALID_PARAMETERS, InvalidParameter, NotImplemented_


def check_features(request: dict, max_queries: int) -> None:
    """AnalyzeDocument's FeatureTypes and QueriesConfig agree; at most `max_queries` queries."""
    features = request.get("FeatureTypes") or []
    if not features or len(set(features)) != len(features):
        raise InvalidParameter(INVALID_PARAMETERS)
    queries = (request.get("QueriesConfig") or {}).get("Queries")
    if ("QUERIES" in features) != bool(queries):
        raise InvalidParameter(INVALID_PARAMETERS)
    if queries and len(queries) > max_queries:
        raise InvalidParameter(INVALID_PARAMETERS)
    for query in queries or []:
        if not query.get("Text", "").strip():
            raise InvalidParameter(INVALID_PARAMETERS)
        for spec in query.get("Pages") or []:
            if not _valid_pages(spec):
                raise InvalidParameter(INVALID_PARAMETERS)
    if request.get("AdaptersConfig"):
        # No adapter can exist here (CreateAdapter answers NotImplementedException).
        raise InvalidParameter("The adapter specified in AdaptersConfig does not exist.")
    if request.get("HumanLoopConfig"):
        raise NotImplemented_("HumanLoopConfig needs Amazon Augmented AI human review, which this gateway does not run.")


def _valid_pages(spec: str) -> bool:
    parts = spec.strip().split("-")
    if len(parts) > 2 or not all(part == "*" or (part.isdigit() and int(part) >= 1) for part in parts):
        return False
    return len(parts) == 1 or parts[0] == "*" or parts[1] == "*" or int(parts[0]) <= int(parts[1])
