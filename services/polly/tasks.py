"""Long-form synthesis tasks (StartSpeechSynthesisTask): up to 100,000 billed characters, run as a durable job on
queue "polly". Sentences are synthesized in checkpointed steps, each writing its PCM (or speech marks) to a part
file under the data folder; the last step encodes the parts into one object at
`s3://<OutputS3BucketName>/<OutputS3KeyPrefix><TaskId>.<ext>` (the local blob store, or the configured S3)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import orjson

from services.gateway.context import Principal, RequestContext
from services.gateway.jobs import COMPLETED, FAILED, IN_PROGRESS, STOP_REQUESTED, STOPPED, SUBMITTED, Job, JobRun
from services.gateway.kit.jobs import Submission, in_statuses, reverse_statuses, stored_form
from services.gateway.runtime import runtime
from services.gateway.storage import BlobError
from services.polly import lexicons, speech
from services.polly.encode import CONTENT_TYPES, EXTENSIONS, Resampler, StreamEncoder
from services.polly.errors import InvalidS3Bucket, SynthesisTaskNotFound
from services.polly.synth import NATIVE_RATE, render

KIND = "polly.synthesis-task"
QUEUE = "polly"
MAX_BILLED_CHARS = 100_000
MAX_TOTAL_CHARS = 200_000
SENTENCES_PER_STEP = 12

_STATUS = {SUBMITTED: "scheduled", IN_PROGRESS: "inProgress", STOP_REQUESTED: "inProgress", COMPLETED: "completed",
           FAILED: "failed", STOPPED: "failed"}
_BY_STATUS = reverse_statuses(_STATUS)  # Polly status -> the job states it covers


def output_key(request: dict, task_id: str) -> str:
    return f"{request.get('OutputS3KeyPrefix', '')}{task_id}.{EXTENSIONS[request['OutputFormat']]}"


def task_not_found(task_id: str) -> SynthesisTaskNotFound:
    return SynthesisTaskNotFound(f"Synthesis task {task_id} not found.")


def accept(ctx: RequestContext, request: dict) -> Submission:
    """StartSpeechSynthesisTask's checks (SSML and lexicon errors now, not in the task); the details keep what the
    task needs as it was when accepted: the lexicons' contents, billed characters, sample rate and engine."""
    plan_ = speech.plan(request, MAX_BILLED_CHARS, MAX_TOTAL_CHARS)
    speech.prepare(plan_, ctx)
    details = {"lexicons": lexicons.snapshot(ctx, plan_.lexicon_names), "billed": plan_.billed,
               "sample_rate": plan_.sample_rate, "engine": plan_.engine}
    return Submission(request=stored_form(request), details=details)


def task_dict(job: Job) -> dict:
    """The SynthesisTask shape."""
    request, details = job.request, job.details or {}
    task = {
        "Engine": details["engine"], "TaskId": job.job_id, "TaskStatus": _STATUS.get(job.status, "failed"),
        "OutputUri": f"https://s3.{job.region}.amazonaws.com/{request['OutputS3BucketName']}/"
                     f"{output_key(request, job.job_id)}",
        "CreationTime": job.time("created_at"), "RequestCharacters": details["billed"],
        "OutputFormat": request["OutputFormat"], "TextType": request.get("TextType", "text"),
        "VoiceId": request["VoiceId"],
    }
    if job.status in (FAILED, STOPPED) and job.message:
        task["TaskStatusReason"] = job.message
    elif job.status in (IN_PROGRESS, STOP_REQUESTED):
        task["TaskStatusReason"] = f"{round((job.progress or 0) * 100)}% synthesized"
    for key in ("SnsTopicArn", "LexiconNames", "SpeechMarkTypes", "LanguageCode"):
        if request.get(key):
            task[key] = request[key]
    if request["OutputFormat"] != "json":
        task["SampleRate"] = str(details["sample_rate"])
    return task


def started(ctx: RequestContext, job: Job) -> dict:
    return {"SynthesisTask": task_dict(job)}


def list_where(request: dict) -> list:
    """ListSpeechSynthesisTasks' Status filter."""
    status = request.get("Status")
    return in_statuses(_BY_STATUS.get(status, [])) if status else []


def _work_dir(job_id: str) -> Path:
    folder = runtime().settings.data_dir / "polly-tasks" / job_id
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _context(request: dict, details: dict, principal: Principal):
    plan_ = speech.plan(request, MAX_BILLED_CHARS, MAX_TOTAL_CHARS)
    sentences = speech.prepare(plan_, principal, lexicons.entries_of(details.get("lexicons", [])))
    return plan_, sentences


def _count_sentences(request: dict, details: dict, account_id: str, region: str) -> int:
    return len(_context(request, details, Principal(account_id, region))[1])


def _synthesize_part(job_id: str, request: dict, details: dict, account_id: str, region: str, first: int, last: int,
                     start_samples: int) -> int:
    """Sentences [first, last) -> part file; returns the samples (native rate) after this part."""
    plan_, sentences = _context(request, details, Principal(account_id, region))
    backend = speech.backend(plan_)
    folder = _work_dir(job_id)
    elapsed = start_samples
    audio_parts, mark_lines = [], []
    for part in render(backend, sentences[first:last], plan_.mark_types if plan_.output_format == "json" else set(),
                       start_samples=start_samples):
        audio_parts.append((np.clip(part.audio, -1, 1) * 32767).astype(np.int16))
        elapsed += len(part.audio)
        mark_lines.extend(orjson.dumps(mark) for mark in part.marks)
    name = f"part-{first:07d}"
    if plan_.output_format == "json":
        (folder / (name + ".jsonl")).write_bytes(b"".join(line + b"\n" for line in mark_lines))
    else:
        pcm = np.concatenate(audio_parts) if audio_parts else np.zeros(0, np.int16)
        (folder / (name + ".pcm")).write_bytes(pcm.tobytes())
    return elapsed


def _assemble(job_id: str, request: dict, details: dict, account_id: str, region: str, uri: str,
              parts: list[tuple[int, int, int]]) -> int:
    folder = _work_dir(job_id)
    output_format = request["OutputFormat"]
    suffix = ".jsonl" if output_format == "json" else ".pcm"
    for first, last, start_samples in parts:
        # A part file is missing when the task resumed on another machine (or data folder): say it again.
        if not (folder / f"part-{first:07d}{suffix}").exists():
            _synthesize_part(job_id, request, details, account_id, region, first, last, start_samples)
    chunks: list[bytes] = []
    if output_format == "json":
        for path in sorted(folder.glob("part-*.jsonl")):
            chunks.append(path.read_bytes())
    else:
        rate = int(details["sample_rate"])
        resampler, encoder = Resampler(NATIVE_RATE, rate), StreamEncoder(output_format, rate)
        for path in sorted(folder.glob("part-*.pcm")):
            pcm = np.frombuffer(path.read_bytes(), dtype=np.int16).astype(np.float32) / 32767
            chunks.append(encoder.feed(resampler.push(pcm)))
        chunks.append(encoder.feed(resampler.push(None)))
        chunks.append(encoder.finish())
    data = b"".join(chunks)
    try:
        runtime().blobs.write(uri, data, account_id, content_type=CONTENT_TYPES[output_format])
    except BlobError as error:
        raise InvalidS3Bucket(f"Could not write the output to {uri}: {error}") from None
    shutil.rmtree(folder, ignore_errors=True)
    return len(data)


def run_synthesis_task(run: JobRun) -> dict:
    """The task's work: count the sentences, say them in checkpointed parts, encode the parts into the output."""
    request, details = run.request, run.details
    account_id, region = run.principal.account_id, run.principal.region
    total = run.step(_count_sentences, request, details, account_id, region, name="polly.count")
    elapsed = 0
    parts = []  # (first sentence, end sentence, samples before the part)
    for first in range(0, total, SENTENCES_PER_STEP):
        last = min(total, first + SENTENCES_PER_STEP)
        parts.append((first, last, elapsed))
        elapsed = run.step(_synthesize_part, run.job_id, request, details, account_id, region, first, last, elapsed,
                           name="polly.synthesize")
        run.progress(last, total + 1)
    uri = f"s3://{request['OutputS3BucketName']}/{output_key(request, run.job_id)}"
    size = run.step(_assemble, run.job_id, request, details, account_id, region, uri, parts, name="polly.assemble")
    return {"OutputUri": uri, "Bytes": size, "Sentences": total, "Seconds": round(elapsed / 22050, 3)}
