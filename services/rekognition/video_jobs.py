"""Amazon Rekognition Video on stored video: StartLabelDetection, StartFaceDetection, StartFaceSearch,
StartContentModeration, StartTextDetection, StartSegmentDetection and StartPersonTracking as durable jobs, and their
Get* with paging, SortBy and AggregateBy. Person tracking needs an object detector switched on (the people it finds,
tracked across samples by overlap); without one StartPersonTracking answers NotImplementedException.

A job (queue "rekognition") is checkpointed steps: `fetch-video` copies the S3 object to
`<data_dir>/rekognition/<account>/video-jobs/<job id>/video` and probes it (VideoMetadata); then one step per batch of
10-second windows (one window per model worker process, in parallel), each window's results to `window-<n>.json`;
`collect` joins the windows into `results.json` (shots and cues, persons and their collection matches are found
here, across windows); `drop-video` removes the copy. A job restarted after a kill resumes at the first unfinished
step. Get* reads `results.json` and sorts, aggregates and pages it per call.

NotificationChannel is stored with the request but nothing is published: this gateway does not talk to Amazon SNS;
callers poll Get*.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import orjson

from services.gateway.context import Principal, RequestContext
from services.gateway.jobs import COMPLETED, FAILED, Job, JobRun
from services.gateway.kit.jobs import JobApi, Submission, stored_form
from services.gateway.kit.paging import Paging
from services.gateway.kit.tokens import decode_token, encode_token
from services.gateway.runtime import runtime
from services.gateway.storage import BlobError, BlobTooLarge
from services.rekognition import analysis, collections, faces, images, job_files, video
from services.rekognition.collections import COLLECTIONS
from services.rekognition.errors import (S3_UNREADABLE, InvalidPaginationToken, InvalidParameter, InvalidS3Object,
                                         NotImplemented_, errors, job_not_found)
from services.rekognition.labels import LABEL_MODEL_VERSION
from services.rekognition.moderation import MODERATION_MODEL_VERSION
from services.rekognition.text import TEXT_MODEL_VERSION

VideoTooLarge = errors.VideoTooLargeException

QUEUE = "rekognition"
LABELS, FACES, FACE_SEARCH = "rekognition.label-detection", "rekognition.face-detection", "rekognition.face-search"
MODERATION, TEXT, SEGMENTS = "rekognition.content-moderation", "rekognition.text-detection", \
    "rekognition.segment-detection"
PERSONS = "rekognition.person-tracking"
TRACK_IOU = 0.3  # a person in the next sample overlapping a tracked one this much is that person
TRACK_GAP_MS = 2000  # a track not seen for longer ends (a person coming back later is a new Index)
# AWS takes up to 10 GB and 6 hours; the whole file is read into memory and copied here, so the size is capped lower.
MAX_VIDEO_BYTES = 2 * 1024 ** 3
MAX_DURATION_MS = 6 * 3600 * 1000
TOO_LARGE = "The file size or duration of the supplied media is too large."
WINDOW_MS = 10_000  # one model worker's share of a step (a multiple of the sampling interval)
MAX_RESULTS = 1000  # AWS's default and largest MaxResults
DEFAULT_MIN_CONFIDENCE = 50.0  # StartLabelDetection / StartContentModeration without MinConfidence
FACE_MATCH_THRESHOLD = 80.0
SAME_PERSON_DISTANCE = 0.6  # dlib's embedding distance below which two faces are one person
SEGMENT_MODEL_VERSION = "1.0"
DEFAULT_SEGMENT_CONFIDENCE = 50.0  # MinSegmentConfidence when not given (AWS: 50)
BLACK_MAX_PIXEL, BLACK_MIN_COVERAGE = 0.2, 99.0  # BlackFrame filter defaults (AWS)
COLOR_BARS_SCORE = 6 / 7  # a frame shows colour bars when six of the seven strips match
CUT = 0.3  # frame change (video.frame_change) at which a new shot starts; confidence 50 there, 100 at 0.6
STATUSES = {"SUBMITTED": "IN_PROGRESS", "IN_PROGRESS": "IN_PROGRESS", "STOP_REQUESTED": "IN_PROGRESS",
            COMPLETED: "SUCCEEDED", FAILED: "FAILED", "STOPPED": "FAILED"}

_PAGING = Paging("rekognition", invalid_token=lambda token: InvalidPaginationToken("Invalid pagination token"))


# ------------------------------------------------------------------ Start*


def _video_uri(request: dict) -> str:
    return images.s3_object_uri((request.get("Video") or {}).get("S3Object") or {})


def _accept(ctx: RequestContext, request: dict) -> Submission:
    # The object must be there at Start (AWS answers InvalidS3ObjectException then); its size and content are
    # checked by the job, which has to read it anyway (a bad file fails the job with the reason).
    uri = _video_uri(request)
    try:
        found = runtime().blobs.exists(uri, ctx.account_id)
    except BlobError:
        found = False
    if not found:
        raise InvalidS3Object(S3_UNREADABLE)
    return Submission(request=stored_form(request, "ClientRequestToken"),
                      client_token=request.get("ClientRequestToken"))


def _accept_face_search(ctx: RequestContext, request: dict) -> Submission:
    COLLECTIONS.get(ctx, request["CollectionId"])  # ResourceNotFoundException before any work is queued
    return _accept(ctx, request)


def _started(ctx: RequestContext, job: Job) -> dict:
    return {"JobId": job.job_id}


# ------------------------------------------------------------------ the runner


def _job_dir(principal: Principal, job_id: str) -> Path:
    return job_files.job_folder(principal, "video-jobs", job_id)


def _fetch(principal: Principal, job_id: str, request: dict) -> dict:
    """Copy the video beside the job's results and probe it: {"VideoMetadata", "AudioMetadata"}."""
    try:
        data = runtime().blobs.read(_video_uri(request), principal.account_id, max_bytes=MAX_VIDEO_BYTES)
    except BlobTooLarge:
        raise VideoTooLarge(TOO_LARGE) from None
    except BlobError:
        raise InvalidS3Object(S3_UNREADABLE) from None
    folder = _job_dir(principal, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "video"
    (folder / "video.tmp").write_bytes(data)
    os.replace(folder / "video.tmp", path)
    try:
        metadata = video.probe(str(path))
    except video.NotAVideo as error:
        raise InvalidParameter(str(error)) from None
    if metadata["VideoMetadata"]["DurationMillis"] > MAX_DURATION_MS:
        raise VideoTooLarge(TOO_LARGE)
    return metadata


def _analysis(kind: str, request: dict, metadata: dict) -> tuple:
    """(the worker function, its arguments after path, start and end) for a job kind."""
    if kind == LABELS:
        return video.labels_window, ({"MinConfidence": request.get("MinConfidence", DEFAULT_MIN_CONFIDENCE),
                                      "Features": ["GENERAL_LABELS"], "Settings": request.get("Settings") or {}},)
    if kind == FACES:
        return video.faces_window, (["ALL"] if request.get("FaceAttributes") == "ALL" else ["DEFAULT"],)
    if kind == FACE_SEARCH:
        return video.faces_window, (["DEFAULT"], True)
    if kind == MODERATION:
        return video.moderation_window, (request.get("MinConfidence", DEFAULT_MIN_CONFIDENCE),)
    if kind == TEXT:
        return video.text_window, (request.get("Filters"),)
    if kind == PERSONS:
        return video.persons_window, ()
    threshold = (((request.get("Filters") or {}).get("TechnicalCueFilter") or {}).get("BlackFrame") or {}).get(
        "MaxPixelThreshold", BLACK_MAX_PIXEL)
    # A pixel is black at or under MaxPixelThreshold of the luma range: 16..235 in video range, 0..255 in full.
    full = metadata["VideoMetadata"]["ColorRange"] == "FULL"
    black_level = threshold * 255 if full else 16 + threshold * (235 - 16)
    return video.segment_window, (black_level,)


def _analyse_windows(principal: Principal, job_id: str, kind: str, request: dict, metadata: dict,
                     windows: list[list[int]], indexes: list[int]) -> int:
    folder = _job_dir(principal, job_id)
    path = str(folder / "video")
    function, arguments = _analysis(kind, request, metadata)
    with ThreadPoolExecutor(len(windows)) as pool:  # one window per model worker
        results = list(pool.map(lambda window: analysis.on_worker(function, path, *window, *arguments), windows))
    for index, result in zip(indexes, results):
        job_files.write_json(folder / f"window-{index}.json", result)
    return len(results)


def _windows(duration_ms: int) -> list[list[int]]:
    starts = list(range(0, max(duration_ms, 1), WINDOW_MS))
    # The last window is open-ended: a last frame stamped at or after the container's duration is still read.
    return [[start, start + WINDOW_MS if i < len(starts) - 1 else 2 ** 62] for i, start in enumerate(starts)]


def _collect(principal: Principal, job_id: str, kind: str, request: dict, metadata: dict, count: int) -> int:
    folder = _job_dir(principal, job_id)
    windows = [orjson.loads((folder / f"window-{i}.json").read_bytes()) for i in range(count)]
    if kind == SEGMENTS:
        items = segments(request, metadata, windows)
    elif kind == PERSONS:
        items = tracks([item for window in windows for item in window])
    elif kind == FACE_SEARCH:
        items = persons(principal, request, [item for window in windows for item in window])
    else:
        items = [item for window in windows for item in window]
    job_files.write_json(folder / "results.json", items)
    return len(items)


def _drop_video(principal: Principal, job_id: str) -> None:
    (_job_dir(principal, job_id) / "video").unlink(missing_ok=True)


def _run(run: JobRun, kind: str) -> dict:
    metadata = run.step(_fetch, run.principal, run.job_id, run.request, name="fetch-video")
    windows = _windows(metadata["VideoMetadata"]["DurationMillis"])
    batch = max(1, runtime().settings.model_worker_count)
    for first in range(0, len(windows), batch):
        indexes = list(range(first, min(first + batch, len(windows))))
        run.step(_analyse_windows, run.principal, run.job_id, kind, run.request, metadata,
                 [windows[i] for i in indexes], indexes, name=f"windows-{indexes[0]}-{indexes[-1]}")
        run.progress(indexes[-1] + 1, len(windows))
    count = run.step(_collect, run.principal, run.job_id, kind, run.request, metadata, len(windows), name="collect")
    run.step(_drop_video, run.principal, run.job_id, name="drop-video")
    return {**metadata, "Items": count}


# ------------------------------------------------------------------ face search: persons across frames


def persons(principal: Principal, request: dict, found: list[dict]) -> list[dict]:
    """PersonMatch items: each face (time order) joins the nearest person seen so far when its embedding is within
    SAME_PERSON_DISTANCE of that person's mean, else starts a new person (Index from 0); only faces that match
    the collection are answered (AWS: "persons ... whose face(s) match the face(s) in" the collection)."""
    centroids: list[list] = []  # [sum of embeddings, count]
    threshold = request.get("FaceMatchThreshold", FACE_MATCH_THRESHOLD)
    out = []
    for item in found:
        vector = np.asarray(item["Embedding"], dtype=np.float32)
        distances = [faces.embedding_distance(total / n, vector) for total, n in centroids]
        if distances and min(distances) < SAME_PERSON_DISTANCE:
            index = int(np.argmin(distances))
            centroids[index][0] = centroids[index][0] + vector
            centroids[index][1] += 1
        else:
            index = len(centroids)
            centroids.append([vector.copy(), 1])
        matches = collections.search(principal, request["CollectionId"], vector, threshold, 100)
        if matches:
            out.append({"Timestamp": item["Timestamp"], "Person": {"Index": index, "Face": item["Face"]},
                        "FaceMatches": matches})
    return out


# ------------------------------------------------------------------ person tracking


def tracks(found: list[dict]) -> list[dict]:
    """PersonDetection items: the people of each sample (time order) join the tracked person they overlap most
    (IoU >= TRACK_IOU, each person once a sample), else start a new one (Index from 0)."""
    from services.rekognition.custom_detection import iou

    live: dict[int, tuple[int, dict]] = {}  # index -> (last timestamp, last box)
    out: list[dict] = []
    next_index = 0
    by_time: dict[int, list[dict]] = {}
    for item in found:
        by_time.setdefault(item["Timestamp"], []).append(item)
    for ms in sorted(by_time):
        live = {index: seen for index, seen in live.items() if ms - seen[0] <= TRACK_GAP_MS}
        pairs = sorted(((iou(item["BoundingBox"], box), index, n) for n, item in enumerate(by_time[ms])
                        for index, (_, box) in live.items()), reverse=True)
        chosen: dict[int, int] = {}
        for overlap, index, n in pairs:
            if overlap >= TRACK_IOU and n not in chosen and index not in chosen.values():
                chosen[n] = index
        for n, item in enumerate(by_time[ms]):
            index = chosen.get(n)
            if index is None:
                index, next_index = next_index, next_index + 1
            live[index] = (ms, item["BoundingBox"])
            out.append({"Timestamp": ms, "Person": {"Index": index, "BoundingBox": item["BoundingBox"]}})
    return out


# ------------------------------------------------------------------ segments: shots and technical cues


def timecode(frames: int, rate: float) -> str:
    """SMPTE HH:MM:SS:FF at `rate`; drop-frame (HH:MM:SS;FF) at 29.97 and 59.94 frames a second."""
    nominal = max(1, round(rate))
    drop = abs(rate - 30000 / 1001) < 0.01 or abs(rate - 60000 / 1001) < 0.01
    if drop:  # frame labels 0 and 1 (0-3 at 59.94) are skipped each minute, except every tenth minute
        skipped = 2 if nominal == 30 else 4
        per_minute, per_ten = nominal * 60 - skipped, nominal * 600 - skipped * 9
        tens, rest = divmod(frames, per_ten)
        frames += skipped * 9 * tens + (skipped * ((rest - skipped) // per_minute) if rest > skipped else 0)
    seconds, frame = divmod(frames, nominal)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{';' if drop else ':'}{frame:02d}"


def _segment(kind: str, first: list, last: list, rate: float, **member) -> dict:
    start_frame, end_frame = int(first[1]), int(last[1])
    start_ms, end_ms = round(start_frame * 1000 / rate), round((end_frame + 1) * 1000 / rate)
    frames = end_frame - start_frame + 1
    return {"Type": kind, "StartTimestampMillis": start_ms, "EndTimestampMillis": end_ms,
            "DurationMillis": end_ms - start_ms, "StartTimecodeSMPTE": timecode(start_frame, rate),
            "EndTimecodeSMPTE": timecode(end_frame + 1, rate), "DurationSMPTE": timecode(frames, rate),
            **member, "StartFrameNumber": start_frame, "EndFrameNumber": end_frame, "DurationFrames": frames}


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """(first, last) index of each run of true flags."""
    runs, start = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - 1))
            start = None
    return runs


def _cut_confidence(change: float) -> float:
    return min(100.0, 50.0 + 50.0 * (change - CUT) / CUT)


def segments(request: dict, metadata: dict, windows: list[dict]) -> list[dict]:
    """Segments from every frame's statistics (video.segment_window), in time order."""
    rows: list[list] = []
    last = None
    for window in windows:
        if window["frames"] and last is not None:  # the change across the windows' seam
            window["frames"][0][4] = video.frame_change(np.asarray(last), np.asarray(window["first"]))
        rows += window["frames"]
        last = window["last"] if window["last"] is not None else last
    rate = metadata["VideoMetadata"]["FrameRate"]
    types = set(request["SegmentTypes"])
    filters = request.get("Filters") or {}
    out = []
    if rows and "TECHNICAL_CUE" in types:
        cue_filter = filters.get("TechnicalCueFilter") or {}
        min_confidence = cue_filter.get("MinSegmentConfidence", DEFAULT_SEGMENT_CONFIDENCE)
        coverage = (cue_filter.get("BlackFrame") or {}).get("MinCoveragePercentage", BLACK_MIN_COVERAGE) / 100
        for cue, column, passes in (("BlackFrames", 2, lambda value: value >= coverage),
                                    ("ColorBars", 3, lambda value: value >= COLOR_BARS_SCORE)):
            for first, final in _runs([passes(row[column]) for row in rows]):
                confidence = 100.0 * float(np.mean([row[column] for row in rows[first:final + 1]]))
                if confidence >= min_confidence:
                    out.append(_segment("TECHNICAL_CUE", rows[first], rows[final], rate,
                                        TechnicalCueSegment={"Type": cue, "Confidence": confidence}))
    if rows and "SHOT" in types:
        min_confidence = (filters.get("ShotFilter") or {}).get("MinSegmentConfidence", DEFAULT_SEGMENT_CONFIDENCE)
        cuts = [i for i in range(1, len(rows)) if rows[i][4] is not None and rows[i][4] >= CUT]
        starts = [0, *cuts]
        edges = [100.0, *(_cut_confidence(rows[i][4]) for i in cuts), 100.0]  # the video's ends are certain
        for index, first in enumerate(starts):
            final = (starts[index + 1] if index + 1 < len(starts) else len(rows)) - 1
            confidence = min(edges[index], edges[index + 1])
            if confidence >= min_confidence:
                out.append(_segment("SHOT", rows[first], rows[final], rate,
                                    ShotSegment={"Index": index, "Confidence": confidence}))
    out.sort(key=lambda segment: (segment["StartTimestampMillis"], segment["Type"] != "TECHNICAL_CUE"))
    return out


# ------------------------------------------------------------------ Get*


def aggregated(items: list[dict], member: str, duration_ms: int) -> list[dict]:
    """AggregateBy SEGMENTS: one item per run of a label in consecutive samples, with the run's start, end and
    duration and the label as most confidently seen in it."""
    open_runs: dict[str, dict] = {}
    done = []
    for item in items:
        name, ms = item[member]["Name"], item["Timestamp"]
        current = open_runs.get(name)
        if current is not None and ms - current["last"] <= 1.5 * video.SAMPLE_MS:
            current["last"] = ms
            if item[member]["Confidence"] > current["item"][member]["Confidence"]:
                current["item"] = item
            continue
        if current is not None:
            done.append(current)
        open_runs[name] = {"first": ms, "last": ms, "item": item}
    done += open_runs.values()
    out = []
    for run in done:
        end = min(run["last"] + video.SAMPLE_MS, max(duration_ms, run["last"]))
        out.append({"Timestamp": run["first"], member: run["item"][member], "StartTimestampMillis": run["first"],
                    "EndTimestampMillis": end, "DurationMillis": end - run["first"]})
    out.sort(key=lambda item: (item["Timestamp"], -item[member]["Confidence"]))
    return out


def _arrange(items: list[dict], request: dict, job: Job, member: str | None) -> list[dict]:
    if member is not None and request.get("AggregateBy") == "SEGMENTS":
        items = aggregated(items, member, job.result["VideoMetadata"]["DurationMillis"])
    sort_by = request.get("SortBy")
    if sort_by == "NAME":
        items = sorted(items, key=lambda item: item[member]["Name"])  # stable: time order within a name
    elif sort_by == "INDEX":
        items = sorted(items, key=lambda item: item["Person"]["Index"])
    return items


def _results(ctx: RequestContext, api: JobApi, request: dict, items_member: str, sort_member: str | None = None,
             extra: dict | None = None, segments_answer: bool = False) -> dict:
    job = api.get(ctx, request["JobId"])
    status = STATUSES.get(job.status, "IN_PROGRESS")
    response: dict = {"JobStatus": status}
    if status == "FAILED":
        response["StatusMessage"] = job.message or "The job failed."
    if status == "SUCCEEDED":
        result = job.result
        if segments_answer:
            response["VideoMetadata"] = [result["VideoMetadata"]]
            response["AudioMetadata"] = result["AudioMetadata"]
        else:
            response["VideoMetadata"] = result["VideoMetadata"]
        items = orjson.loads((_job_dir(ctx.principal, job.job_id) / "results.json").read_bytes())
        items = _arrange(items, request, job, sort_member)
        limit = min(request.get("MaxResults") or MAX_RESULTS, MAX_RESULTS)
        scope = f"rekognition/{job.job_id}/{request.get('SortBy')}/{request.get('AggregateBy')}"
        offset = 0
        if request.get("NextToken"):
            try:
                [offset] = decode_token(scope, request["NextToken"])
            except ValueError:
                raise InvalidPaginationToken("Invalid pagination token") from None
        response[items_member] = items[offset:offset + limit]
        if offset + limit < len(items):
            response["NextToken"] = encode_token(scope, [offset + limit])
    response["JobId"] = job.job_id
    response["Video"] = job.request["Video"]
    if job.request.get("JobTag"):
        response["JobTag"] = job.request["JobTag"]
    response.update(extra or {})
    return response


def _sort_metadata(request: dict, default_sort: str = "TIMESTAMP") -> dict:
    return {"GetRequestMetadata": {"SortBy": request.get("SortBy") or default_sort,
                                   "AggregateBy": request.get("AggregateBy") or "TIMESTAMPS"}}


def _job_api(kind: str, start: str, accept=_accept) -> JobApi:
    # Rekognition's Get* answer results, not properties: JobApi gives Start*, the Get* handlers are written here.
    return JobApi(service="rekognition", kind=kind, queue=QUEUE, start=start, describe="", id_member="JobId",
                  describe_member="", not_found=job_not_found, properties=lambda job: {}, accept=accept,
                  started=_started, paging=_PAGING)


LABEL_JOBS = _job_api(LABELS, "StartLabelDetection")
FACE_JOBS = _job_api(FACES, "StartFaceDetection")
FACE_SEARCH_JOBS = _job_api(FACE_SEARCH, "StartFaceSearch", _accept_face_search)
MODERATION_JOBS = _job_api(MODERATION, "StartContentModeration")
TEXT_JOBS = _job_api(TEXT, "StartTextDetection")
SEGMENT_JOBS = _job_api(SEGMENTS, "StartSegmentDetection")


def _accept_person_tracking(ctx: RequestContext, request: dict) -> Submission:
    from services.rekognition.custom_detection import enabled

    if not enabled():
        raise NotImplemented_(_NO_PERSON_DETECTOR)
    return _accept(ctx, request)


PERSON_JOBS = _job_api(PERSONS, "StartPersonTracking", _accept_person_tracking)
for _api in (LABEL_JOBS, FACE_JOBS, FACE_SEARCH_JOBS, MODERATION_JOBS, TEXT_JOBS, SEGMENT_JOBS, PERSON_JOBS):
    _api.runner(lambda run, kind=_api.kind: _run(run, kind))


def get_label_detection(ctx: RequestContext, request: dict) -> dict:
    return _results(ctx, LABEL_JOBS, request, "Labels", "Label",
                    {"LabelModelVersion": LABEL_MODEL_VERSION, **_sort_metadata(request)})


def get_face_detection(ctx: RequestContext, request: dict) -> dict:
    return _results(ctx, FACE_JOBS, request, "Faces")


def get_face_search(ctx: RequestContext, request: dict) -> dict:
    return _results(ctx, FACE_SEARCH_JOBS, request, "Persons")


def get_content_moderation(ctx: RequestContext, request: dict) -> dict:
    return _results(ctx, MODERATION_JOBS, request, "ModerationLabels", "ModerationLabel",
                    {"ModerationModelVersion": MODERATION_MODEL_VERSION, **_sort_metadata(request)})


def get_text_detection(ctx: RequestContext, request: dict) -> dict:
    return _results(ctx, TEXT_JOBS, request, "TextDetections", extra={"TextModelVersion": TEXT_MODEL_VERSION})


def get_segment_detection(ctx: RequestContext, request: dict) -> dict:
    job = SEGMENT_JOBS.get(ctx, request["JobId"])
    selected = [{"Type": kind, "ModelVersion": SEGMENT_MODEL_VERSION} for kind in job.request["SegmentTypes"]]
    return _results(ctx, SEGMENT_JOBS, request, "Segments", extra={"SelectedSegmentTypes": selected},
                    segments_answer=True)


def get_person_tracking(ctx: RequestContext, request: dict) -> dict:
    return _results(ctx, PERSON_JOBS, request, "Persons")


_NO_PERSON_DETECTOR = ("StartPersonTracking needs an object detector to find people, and none is switched on "
                       "(AIGATE_REKOGNITION_OBJECT_DETECTOR with a detector in the models folder, or the opt-in "
                       "AIGATE_REKOGNITION_AGPL_YOLO11N_SEG)")


def register(provider) -> None:
    """The stored-video operations on Rekognition's provider (called by provider.py, which this module does not
    import: the import would close a cycle)."""
    for api in (LABEL_JOBS, FACE_JOBS, FACE_SEARCH_JOBS, MODERATION_JOBS, TEXT_JOBS, SEGMENT_JOBS, PERSON_JOBS):
        api.register(provider)
    for operation, handler in (("GetLabelDetection", get_label_detection), ("GetFaceDetection", get_face_detection),
                               ("GetFaceSearch", get_face_search), ("GetContentModeration", get_content_moderation),
                               ("GetTextDetection", get_text_detection),
                               ("GetSegmentDetection", get_segment_detection),
                               ("GetPersonTracking", get_person_tracking)):
        provider.operation(operation)(handler)
