"""Stored video for Amazon Rekognition Video's jobs: probing (VideoMetadata, AudioMetadata), frames decoded with PyAV
(FFmpeg) and what runs on them in the model worker processes.

Sampling. Labels, faces, face search, moderation and text analyse SAMPLE_FPS frames a second (the first decoded
frame at or after each multiple of 500 ms), as Rekognition Video analyses a sampled subset of frames; segment
detection measures every frame (a cut or a black frame lasts one frame).

Formats, as AWS documents them: H.264 in MP4/MOV (or AVI). Anything else (a photo, a text file, another codec)
is "Unsupported codec/format."; the job fails with that message.

Every `*_window` function is top level with plain arguments and plain (JSON-ready) results: it runs in a model
worker process and decodes its own window of the file the job copied to the data folder.
"""

from __future__ import annotations

import math

import numpy as np

SAMPLE_FPS = 2
SAMPLE_MS = 1000 // SAMPLE_FPS
PERSON_MIN_SCORE = 0.5  # a detector's person below this is not tracked
UNSUPPORTED = "Unsupported codec/format."
CODECS = ("h264",)
FORMATS = ("mov,mp4,m4a,3gp,3g2,mj2", "avi")
FORMAT_NAMES = {"mov,mp4,m4a,3gp,3g2,mj2": "QuickTime / MOV", "avi": "AVI (Audio Video Interleaved)"}
THUMB_SIZE = (112, 64)  # width, height of the frame that shot changes and colour bars are measured on


class NotAVideo(Exception):
    pass


def probe(path: str) -> dict:
    """{"VideoMetadata": ..., "AudioMetadata": [...]} of the file; NotAVideo when it is not H.264 in MP4/MOV/AVI
    or its first frame does not decode."""
    import av

    try:
        with av.open(path) as container:
            if container.format.name not in FORMATS or not container.streams.video:
                raise NotAVideo(UNSUPPORTED)
            stream = container.streams.video[0]
            context = stream.codec_context
            if context.name not in CODECS:
                raise NotAVideo(UNSUPPORTED)
            rate = float(stream.average_rate or stream.guessed_rate or 0)
            if container.duration:
                duration_ms = int(container.duration / 1000)  # microseconds
            elif stream.duration:
                duration_ms = int(stream.duration * stream.time_base * 1000)
            else:
                duration_ms = 0
            first = next(iter(container.decode(stream)), None)  # proves the stream decodes
            if first is None or rate <= 0:
                raise NotAVideo(UNSUPPORTED)
            full = getattr(first, "color_range", 0) == 2  # AVCOL_RANGE_JPEG; unspecified is video (limited) range
            video = {"Codec": context.name, "DurationMillis": duration_ms,
                     "Format": FORMAT_NAMES[container.format.name], "FrameRate": rate,
                     "FrameHeight": first.height, "FrameWidth": first.width,
                     "ColorRange": "FULL" if full else "LIMITED"}
            audio = [{"Codec": a.codec_context.name, "DurationMillis": duration_ms,
                      "SampleRate": int(a.codec_context.sample_rate or 0),
                      "NumberOfChannels": int(a.codec_context.channels or 0)} for a in container.streams.audio]
    except (av.FFmpegError, OSError, ValueError):
        raise NotAVideo(UNSUPPORTED) from None
    return {"VideoMetadata": video, "AudioMetadata": audio}


def frames(path: str, start_ms: int, end_ms: int, every_ms: int | None):
    """(timestamp in ms from the first frame, frame number, av.VideoFrame) for the frames in [start_ms, end_ms);
    with `every_ms`, only the first frame at or after each multiple of it."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        base = stream.start_time or 0
        rate = float(stream.average_rate or stream.guessed_rate)
        if start_ms > 0:  # to the keyframe before the window, then decode forward
            container.seek(base + int(start_ms / 1000 / stream.time_base), stream=stream, backward=True)
        wanted = start_ms if every_ms is None else math.ceil(start_ms / every_ms) * every_ms
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                ms = int(round(float((frame.pts - base) * stream.time_base) * 1000))
                if ms >= end_ms:
                    break
                if ms < start_ms or (every_ms is not None and ms < wanted):
                    continue
                if every_ms is not None:
                    wanted = (ms // every_ms + 1) * every_ms
                yield ms, int(round(ms * rate / 1000)), frame
        except av.FFmpegError:
            return  # a damaged tail: the frames before it were analysed


def _sampled(path: str, start_ms: int, end_ms: int):
    for ms, _number, frame in frames(path, start_ms, end_ms, SAMPLE_MS):
        yield ms, frame.to_ndarray(format="rgb24")


# ------------------------------------------------------------------ sampled-frame analyses (model workers)


def labels_window(path: str, start_ms: int, end_ms: int, request: dict) -> list[dict]:
    """[{Timestamp, Label}] of the sampled frames: DetectLabels' engine on each (faces add Person/Face/Head)."""
    from services.gateway.runtime import runtime
    from services.rekognition import faces, labels

    engine = runtime().models.get("imagenet-labels")
    found = []
    for ms, pixels in _sampled(path, start_ms, end_ms):
        face_count = len(faces.analyze_faces(pixels, ["DEFAULT"]))
        for label in labels.detect_labels(pixels, request, face_count=face_count, engine=engine)["Labels"]:
            found.append({"Timestamp": ms, "Label": label})
    return found


def faces_window(path: str, start_ms: int, end_ms: int, attributes: list[str],
                 with_embeddings: bool = False) -> list[dict]:
    """[{Timestamp, Face: FaceDetail}] of the sampled frames (with "Embedding" when asked, for face search)."""
    from services.rekognition import faces

    found = []
    for ms, pixels in _sampled(path, start_ms, end_ms):
        for face in faces.analyze_faces(pixels, attributes, with_embeddings=with_embeddings):
            item = {"Timestamp": ms, "Face": face.detail}
            if with_embeddings:
                item["Embedding"] = [float(x) for x in face.embedding]
            found.append(item)
    return found


def moderation_window(path: str, start_ms: int, end_ms: int, min_confidence: float) -> list[dict]:
    from services.rekognition import moderation

    return [{"Timestamp": ms, "ModerationLabel": label} for ms, pixels in _sampled(path, start_ms, end_ms)
            for label in moderation.moderation_labels(pixels, min_confidence)]


def text_window(path: str, start_ms: int, end_ms: int, filters: dict | None) -> list[dict]:
    from services.rekognition import text

    return [{"Timestamp": ms, "TextDetection": detection} for ms, pixels in _sampled(path, start_ms, end_ms)
            for detection in text.detect_text(pixels, filters)]


def persons_window(path: str, start_ms: int, end_ms: int) -> list[dict]:
    """[{Timestamp, BoundingBox, Confidence}] of the people the switched-on object detector finds in the sampled
    frames (its "person" class; tracking across frames is video_jobs.tracks)."""
    from services.rekognition import analysis

    detector = analysis.object_detector()
    found = []
    for ms, pixels in _sampled(path, start_ms, end_ms):
        height, width = pixels.shape[:2]
        for detection in detector.detect(pixels):
            if detection.name.lower() != "person" or detection.score < PERSON_MIN_SCORE:
                continue
            left, top, right, bottom = detection.box
            found.append({"Timestamp": ms, "Confidence": detection.score * 100,
                          "BoundingBox": {"Width": (right - left) / width, "Height": (bottom - top) / height,
                                          "Left": left / width, "Top": top / height}})
    return found


# ------------------------------------------------------------------ every-frame statistics (segments)

# SMPTE colour bars' top band, left to right: which of R, G, B is lit (grey, yellow, cyan, green, magenta, red,
# blue).
COLOR_BARS = ((1, 1, 1), (1, 1, 0), (0, 1, 1), (0, 1, 0), (1, 0, 1), (1, 0, 0), (0, 0, 1))


def color_bar_score(rgb: np.ndarray) -> float:
    """The share (0..1) of the seven top-band strips that are uniform and lit as SMPTE bars are."""
    height, width = rgb.shape[:2]
    band = rgb[int(0.1 * height):int(0.6 * height)].astype(np.float32)
    matched = 0
    for index, lit in enumerate(COLOR_BARS):
        left, right = index * width / 7, (index + 1) * width / 7
        strip = band[:, int(left + 0.2 * (right - left)):int(right - 0.2 * (right - left))].reshape(-1, 3)
        colour, spread = np.median(strip, axis=0), strip.std(axis=0).max()
        on = colour >= 100
        off = colour <= 60
        if spread < 20 and all(on[c] if lit[c] else off[c] for c in range(3)):
            matched += 1
    return matched / len(COLOR_BARS)


def _luma(frame) -> np.ndarray:
    """The stored luma plane (video or full range as coded), never rescaled."""
    if frame.format.name in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12"):
        plane = frame.planes[0]
        return np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)[:, :frame.width]
    return frame.to_ndarray(format="gray")


def segment_window(path: str, start_ms: int, end_ms: int, black_level: float) -> dict:
    """Every frame's statistics: [[ms, frame number, share of pixels at or under `black_level` (luma), colour-bar
    score, change from the previous frame (0..1, None for the window's first)]], and the window's first and last
    thumbnails (so that the change across windows is measured when the windows are joined)."""
    rows, previous, first = [], None, None
    for ms, number, frame in frames(path, start_ms, end_ms, None):
        luma = _luma(frame)
        black = float(np.mean(luma <= black_level))
        rgb = frame.reformat(width=THUMB_SIZE[0], height=THUMB_SIZE[1], format="rgb24").to_ndarray()
        thumb = rgb.mean(axis=2)
        change = None if previous is None else frame_change(previous, thumb)
        rows.append([ms, number, black, color_bar_score(rgb), change])
        if first is None:
            first = thumb
        previous = thumb
    return {"frames": rows, "first": None if first is None else first.round(1).tolist(),
            "last": None if previous is None else previous.round(1).tolist()}


def frame_change(before: np.ndarray, after: np.ndarray) -> float:
    """How much the picture changed (0..1): the larger of the grey histograms' total variation distance and the
    mean absolute pixel difference scaled so that 64 grey levels count as a full change."""
    before, after = np.asarray(before, np.float32), np.asarray(after, np.float32)
    bins = np.linspace(0, 256, 33)
    h0 = np.histogram(before, bins)[0] / before.size
    h1 = np.histogram(after, bins)[0] / after.size
    histogram = 0.5 * float(np.abs(h0 - h1).sum())
    pixels = min(1.0, float(np.abs(before - after).mean()) / 64.0)
    return max(histogram, pixels)
