"""Transcription jobs: StartTranscriptionJob, GetTranscriptionJob, ListTranscriptionJobs and
DeleteTranscriptionJob, from one JobApi declaration (jobs addressed by TranscriptionJobName). The work is
services/transcribe/jobs.py's."""

from __future__ import annotations

from services.gateway.context import RequestContext
from services.gateway.jobs import Job
from services.gateway.kit.jobs import Submission, stored_form
from services.transcribe.arns import transcription_job_arn
from services.transcribe.checks import check_language_request, check_media, check_settings, check_subtitles
from services.transcribe.job_api import STATUS, ended, job_api
from services.transcribe.jobs import TRANSCRIPTION, run_transcription
from services.transcribe.tagging import TAGGING


def accept_transcription_job(ctx: RequestContext, request: dict) -> Submission:
    check_media(request)
    check_language_request(request)
    check_settings(ctx, request)
    check_subtitles(request)
    return Submission(stored_form(request), name=request["TranscriptionJobName"], tags=request.get("Tags"))


def transcription_job(job: Job) -> dict:
    """The TranscriptionJob shape (Start*, Get*)."""
    request, result = job.request, job.result or {}
    status = STATUS[job.status]
    out: dict = {
        **transcription_job_summary(job, with_location=False),
        "MediaSampleRateHertz": request.get("MediaSampleRateHertz") or result.get("rate") or None,
        "MediaFormat": request.get("MediaFormat"),
        "Media": request["Media"],
        "Settings": request.get("Settings"),
        "LanguageOptions": request.get("LanguageOptions"),
        "Tags": TAGGING.listed("GetTranscriptionJob", "TranscriptionJob.Tags", transcription_job_arn(job)) or None,
        "JobExecutionSettings": request.get("JobExecutionSettings"),
        "Transcript": {},
    }
    if status == "COMPLETED":
        out["Transcript"] = {"TranscriptFileUri": result.get("TranscriptFileUri")}
        if result.get("RedactedTranscriptFileUri"):
            out["Transcript"]["RedactedTranscriptFileUri"] = result["RedactedTranscriptFileUri"]
    if request.get("Subtitles"):
        out["Subtitles"] = {"Formats": request["Subtitles"].get("Formats", []),
                            "SubtitleFileUris": result.get("SubtitleFileUris", []),
                            "OutputStartIndex": request["Subtitles"].get("OutputStartIndex", 0)}
    return {key: value for key, value in out.items() if value is not None}


def transcription_job_summary(job: Job, with_location: bool = True) -> dict:
    """The TranscriptionJobSummary shape (List*); its members lead the TranscriptionJob shape too."""
    request, result = job.request, job.result or {}
    status = STATUS[job.status]
    identifies = request.get("IdentifyLanguage") or request.get("IdentifyMultipleLanguages")
    out: dict = {
        "TranscriptionJobName": job.name,
        "TranscriptionJobStatus": status,
        "LanguageCode": request.get("LanguageCode") or result.get("language"),
        "CreationTime": job.time("created_at"),
        "StartTime": job.time("started_at"),
        "CompletionTime": job.time("ended_at") if ended(job) else None,
        "FailureReason": job.message if status == "FAILED" else None,
        "IdentifyLanguage": request.get("IdentifyLanguage"),
        "IdentifyMultipleLanguages": request.get("IdentifyMultipleLanguages"),
        "IdentifiedLanguageScore": result.get("score") if identifies else None,
        "LanguageCodes": result.get("language_codes") or None,
        "ContentRedaction": request.get("ContentRedaction"),
    }
    if with_location:
        out["OutputLocationType"] = "CUSTOMER_BUCKET" if request.get("OutputBucketName") else "SERVICE_BUCKET"
    return {key: value for key, value in out.items() if value is not None}


TRANSCRIPTION_JOBS = job_api(
    kind=TRANSCRIPTION, start="StartTranscriptionJob", describe="GetTranscriptionJob", list="ListTranscriptionJobs",
    delete="DeleteTranscriptionJob", id_member="TranscriptionJobName", describe_member="TranscriptionJob",
    accept=accept_transcription_job, started=lambda ctx, job: {"TranscriptionJob": transcription_job(job)},
    properties=transcription_job, summary=transcription_job_summary, arn=transcription_job_arn)
TRANSCRIPTION_JOBS.runner(run_transcription)
