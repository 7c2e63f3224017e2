"""Amazon Transcribe operations (botocore service `transcribe`, JSON 1.1), by resource:

- transcription_jobs.py   Start/Get/List/DeleteTranscriptionJob (JobApi TRANSCRIPTION_JOBS)
- call_analytics.py       Start/Get/List/DeleteCallAnalyticsJob (JobApi CALL_ANALYTICS_JOBS) and
                          Create/Get/List/Update/DeleteCallAnalyticsCategory
- vocabularies.py         Create/Update/Get/List/DeleteVocabulary
- vocabulary_filters.py   Create/Update/Get/List/DeleteVocabularyFilter
- tagging.py              TagResource, UntagResource, ListTagsForResource (Tagging TAGGING)
- streaming.py            StartStreamTranscription's WebSocket
"""

from __future__ import annotations

from services.gateway.registry import ServiceProvider
from services.transcribe import call_analytics, vocabularies, vocabulary_filters
from services.transcribe.call_analytics import CALL_ANALYTICS_JOBS
from services.transcribe.streaming import serve_websocket
from services.transcribe.tagging import TAGGING
from services.transcribe.transcription_jobs import TRANSCRIPTION_JOBS

provider = ServiceProvider("transcribe")
provider.websocket("/stream-transcription-websocket")(serve_websocket)

TRANSCRIPTION_JOBS.register(provider)
CALL_ANALYTICS_JOBS.register(provider)
TAGGING.register(provider)
for module in (vocabularies, vocabulary_filters, call_analytics):
    for operation, handler in module.OPERATIONS.items():
        provider.operation(operation)(handler)
