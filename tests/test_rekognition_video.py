"""Amazon Rekognition Video on stored video through boto3 against the running gateway. The video is rendered here
with PyAV, so its truth is known: 12 s of H.264 at 10 fps, 640x480 — 0-4 s black, 4-8 s the obama photo (on grey),
8-12 s the coffee photo over a white band with "HELLO WORLD" in large type. Every job kind starts at once (module
fixture) and the tests poll their own."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from botocore.exceptions import ClientError
from PIL import Image

from tests.helpers import make_bucket, poll, unique
from tests.photos import photo, photo_bytes

WIDTH, HEIGHT, FPS = 640, 480, 10


def render_video() -> bytes:
    import cv2

    portrait = Image.open(photo("obama")).convert("RGB")
    scale = min(WIDTH / portrait.width, HEIGHT / portrait.height)  # kept in proportion: a squashed face is missed
    portrait = portrait.resize((int(portrait.width * scale), int(portrait.height * scale)))
    canvas = Image.new("RGB", (WIDTH, HEIGHT), (128, 128, 128))
    canvas.paste(portrait, ((WIDTH - portrait.width) // 2, (HEIGHT - portrait.height) // 2))
    obama = np.asarray(canvas)
    coffee = np.asarray(Image.open(photo("coffee")).convert("RGB").resize((WIDTH, HEIGHT - 120)))
    coffee = np.vstack([coffee, np.full((120, WIDTH, 3), 255, np.uint8)])
    cv2.putText(coffee, "HELLO WORLD", (60, HEIGHT - 35), cv2.FONT_HERSHEY_SIMPLEX, 2.4, (0, 0, 0), 6)
    black = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("h264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for index in range(12 * FPS):
            pixels = black if index < 4 * FPS else obama if index < 8 * FPS else coffee
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def rekognition(gateway):
    return gateway.client("rekognition", read_timeout=300)


@pytest.fixture(scope="module")
def video_bucket(s3_server):
    s3 = s3_server.client()
    name = make_bucket(s3, unique("rekognition-video", 12))
    s3.put_object(Bucket=name, Key="clip.mp4", Body=render_video())
    s3.put_object(Bucket=name, Key="photo.mp4", Body=photo_bytes("obama"))  # a JPEG named like a video
    return name


@pytest.fixture(scope="module")
def jobs(rekognition, video_bucket):
    """Every job kind started on the clip (the face search on a collection holding obama)."""
    collection_id = unique("video-faces")
    rekognition.create_collection(CollectionId=collection_id)
    rekognition.index_faces(CollectionId=collection_id, Image={"Bytes": photo_bytes("obama")},
                            ExternalImageId="obama")
    clip = {"S3Object": {"Bucket": video_bucket, "Name": "clip.mp4"}}
    started = {
        "labels": rekognition.start_label_detection(Video=clip, MinConfidence=40, JobTag="labels-1"),
        "faces": rekognition.start_face_detection(Video=clip, FaceAttributes="ALL"),
        "search": rekognition.start_face_search(Video=clip, CollectionId=collection_id),
        "moderation": rekognition.start_content_moderation(Video=clip),
        "text": rekognition.start_text_detection(Video=clip),
        "segments": rekognition.start_segment_detection(Video=clip, SegmentTypes=["TECHNICAL_CUE", "SHOT"]),
    }
    yield {kind: answer["JobId"] for kind, answer in started.items()}
    rekognition.delete_collection(CollectionId=collection_id)


def finished(get, job_id: str, **request) -> dict:
    return poll(lambda: get(JobId=job_id, **request), lambda answer: answer["JobStatus"] != "IN_PROGRESS",
                timeout=300, interval=0.5, what=f"job {job_id}")


def every_page(get, job_id: str, member: str, **request) -> list:
    items, token = [], None
    while True:
        answer = get(JobId=job_id, MaxResults=1, **({"NextToken": token} if token else {}), **request)
        items += answer[member]
        token = answer.get("NextToken")
        if not token:
            return items


def test_label_detection_sort_aggregate_and_paging(rekognition, jobs):
    answer = finished(rekognition.get_label_detection, jobs["labels"])
    assert answer["JobStatus"] == "SUCCEEDED", answer
    assert answer["VideoMetadata"] == {"Codec": "h264", "DurationMillis": 12000, "Format": "QuickTime / MOV",
                                       "FrameRate": 10.0, "FrameHeight": 480, "FrameWidth": 640,
                                       "ColorRange": "LIMITED"}
    assert answer["JobTag"] == "labels-1" and answer["Video"]["S3Object"]["Name"] == "clip.mp4"
    assert answer["LabelModelVersion"] and answer["GetRequestMetadata"] == {"SortBy": "TIMESTAMP",
                                                                            "AggregateBy": "TIMESTAMPS"}
    labels = answer["Labels"]
    stamps = [item["Timestamp"] for item in labels]
    assert stamps == sorted(stamps) and all(item["Label"]["Confidence"] >= 40 for item in labels)
    cups = {item["Timestamp"] for item in labels if item["Label"]["Name"] in {"Coffee Cup", "Cup", "Coffee"}}
    assert cups and min(cups) >= 8000, cups
    persons = {item["Timestamp"] for item in labels if item["Label"]["Name"] == "Person"}
    assert persons and all(4000 <= ms < 8000 for ms in persons), persons

    assert every_page(rekognition.get_label_detection, jobs["labels"], "Labels") == labels
    by_name = rekognition.get_label_detection(JobId=jobs["labels"], SortBy="NAME")["Labels"]
    names = [item["Label"]["Name"] for item in by_name]
    assert names == sorted(names) and len(by_name) == len(labels)

    segments = rekognition.get_label_detection(JobId=jobs["labels"], AggregateBy="SEGMENTS")
    assert segments["GetRequestMetadata"]["AggregateBy"] == "SEGMENTS"
    [person] = [item for item in segments["Labels"] if item["Label"]["Name"] == "Person"]
    assert 4000 <= person["StartTimestampMillis"] < 4600 and 7500 <= person["EndTimestampMillis"] <= 8500
    assert person["DurationMillis"] == person["EndTimestampMillis"] - person["StartTimestampMillis"]


def test_face_detection_and_face_search(rekognition, jobs):
    answer = finished(rekognition.get_face_detection, jobs["faces"])
    assert answer["JobStatus"] == "SUCCEEDED", answer
    stamps = [item["Timestamp"] for item in answer["Faces"]]
    assert stamps and all(4000 <= ms < 8000 for ms in stamps) and len(stamps) >= 6, stamps
    assert {"AgeRange", "Emotions", "Landmarks"} <= set(answer["Faces"][0]["Face"])  # FaceAttributes ALL
    assert every_page(rekognition.get_face_detection, jobs["faces"], "Faces") == answer["Faces"]

    search = finished(rekognition.get_face_search, jobs["search"])
    assert search["JobStatus"] == "SUCCEEDED", search
    persons = search["Persons"]
    assert persons and all(4000 <= item["Timestamp"] < 8000 for item in persons)
    assert {item["Person"]["Index"] for item in persons} == {0}  # one person throughout
    assert all(item["FaceMatches"][0]["Face"]["ExternalImageId"] == "obama" for item in persons)
    assert all(item["FaceMatches"][0]["Similarity"] >= 80 for item in persons)


def test_moderation_text_and_segments(rekognition, jobs):
    moderation = finished(rekognition.get_content_moderation, jobs["moderation"])
    assert moderation["JobStatus"] == "SUCCEEDED" and moderation["ModerationModelVersion"]
    assert not [item for item in moderation["ModerationLabels"]
                if item["ModerationLabel"]["Name"] == "Explicit"], moderation["ModerationLabels"]

    text = finished(rekognition.get_text_detection, jobs["text"])
    assert text["JobStatus"] == "SUCCEEDED", text
    lines = [item for item in text["TextDetections"] if item["TextDetection"]["Type"] == "LINE"]
    hello = [item for item in lines if "HELLO" in item["TextDetection"]["DetectedText"].upper()]
    assert hello and all(item["Timestamp"] >= 8000 for item in hello), lines
    assert all(item["TextDetection"]["Geometry"]["BoundingBox"]["Top"] > 0.7 for item in hello)  # the bottom band

    segments = finished(rekognition.get_segment_detection, jobs["segments"])
    assert segments["JobStatus"] == "SUCCEEDED", segments
    assert segments["SelectedSegmentTypes"] == [{"Type": "TECHNICAL_CUE", "ModelVersion": "1.0"},
                                                {"Type": "SHOT", "ModelVersion": "1.0"}]
    assert segments["VideoMetadata"][0]["DurationMillis"] == 12000 and segments["AudioMetadata"] == []
    cues = [item for item in segments["Segments"] if item["Type"] == "TECHNICAL_CUE"]
    assert [(c["TechnicalCueSegment"]["Type"], c["StartTimestampMillis"], c["EndTimestampMillis"]) for c in cues] \
        == [("BlackFrames", 0, 4000)]
    assert cues[0]["StartTimecodeSMPTE"] == "00:00:00:00" and cues[0]["EndTimecodeSMPTE"] == "00:00:04:00"
    assert cues[0]["DurationFrames"] == 40
    shots = [item for item in segments["Segments"] if item["Type"] == "SHOT"]
    assert [(s["StartTimestampMillis"], s["EndTimestampMillis"]) for s in shots] == \
        [(0, 4000), (4000, 8000), (8000, 12000)]
    assert [s["ShotSegment"]["Index"] for s in shots] == [0, 1, 2]
    assert every_page(rekognition.get_segment_detection, jobs["segments"], "Segments") == segments["Segments"]


def test_the_aws_errors(rekognition, jobs, video_bucket):
    photo_video = {"S3Object": {"Bucket": video_bucket, "Name": "photo.mp4"}}
    failed = finished(rekognition.get_label_detection, rekognition.start_label_detection(Video=photo_video)["JobId"])
    assert failed["JobStatus"] == "FAILED" and failed["StatusMessage"] == "Unsupported codec/format."
    assert "Labels" not in failed

    with pytest.raises(ClientError) as caught:
        rekognition.start_label_detection(Video={"S3Object": {"Bucket": video_bucket, "Name": "missing.mp4"}})
    assert caught.value.response["Error"]["Code"] == "InvalidS3ObjectException"
    with pytest.raises(ClientError) as caught:  # a version would be ignored by the blob store: refused
        rekognition.start_text_detection(Video={"S3Object": {"Bucket": video_bucket, "Name": "clip.mp4",
                                                             "Version": "v1"}})
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as caught:
        rekognition.get_label_detection(JobId="0" * 64)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:  # a job of another kind is not found either
        rekognition.get_face_detection(JobId=jobs["labels"])
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        rekognition.get_label_detection(JobId=jobs["labels"], NextToken="not-a-token")
    assert caught.value.response["Error"]["Code"] == "InvalidPaginationTokenException"
    with pytest.raises(ClientError) as caught:
        rekognition.start_face_search(Video=photo_video, CollectionId=unique("absent"))
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        rekognition.start_person_tracking(Video=photo_video)
    error = caught.value.response["Error"]
    assert error["Code"] == "NotImplementedException" and "object detector" in error["Message"]

    # ClientRequestToken: the same request with the same token is the same job.
    clip = {"S3Object": {"Bucket": video_bucket, "Name": "photo.mp4"}}
    first = rekognition.start_label_detection(Video=clip, ClientRequestToken="token-1")["JobId"]
    assert rekognition.start_label_detection(Video=clip, ClientRequestToken="token-1")["JobId"] == first
