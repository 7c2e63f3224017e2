"""What Transcribe's two job kinds (transcription, call analytics) share in their JobApi declarations: jobs
addressed by name, the job status in Transcribe's words, the List*Jobs filters (Status, JobNameContains) and the
Status echo, the not-found and name-taken errors, paging and tagging."""

from __future__ import annotations

from typing import Any

from services.gateway.jobs import Job
from services.gateway.kit.jobs import JobApi, in_statuses, name_contains, reverse_statuses
from services.transcribe.errors import Conflict, NotFound
from services.transcribe.jobs import QUEUE
from services.transcribe.resources import PAGING
from services.transcribe.tagging import TAGGING

# The gateway's job status -> Transcribe's.
STATUS = {"SUBMITTED": "QUEUED", "IN_PROGRESS": "IN_PROGRESS", "STOP_REQUESTED": "IN_PROGRESS",
          "COMPLETED": "COMPLETED", "FAILED": "FAILED", "STOPPED": "FAILED"}
STATUS_BACK = reverse_statuses(STATUS)


def job_not_found(name: str) -> NotFound:
    return NotFound("The requested job couldn't be found. Check the job name and try your request again.")


def job_name_taken(name: str) -> Conflict:
    return Conflict("The requested job name already exists. Use a different job name.")


def list_conditions(request: dict) -> list:
    """List*Jobs' Status and JobNameContains (case-insensitive) as conditions on the job table."""
    status = request.get("Status")
    return [*in_statuses(STATUS_BACK[status] if status else None), *name_contains(request.get("JobNameContains"))]


def status_echo(request: dict) -> dict:
    """List*Jobs answers repeat the Status filter they were given."""
    return {"Status": request["Status"]} if request.get("Status") else {}


def ended(job: Job) -> bool:
    return STATUS[job.status] in ("COMPLETED", "FAILED")


def job_api(**declaration: Any) -> JobApi:
    """A Transcribe JobApi: `declaration` names the kind, its operations, members, shapes, ARN and accept."""
    return JobApi(service="transcribe", queue=QUEUE, by_name=True, not_found=job_not_found,
                  name_taken=job_name_taken, list_where=list_conditions, list_extra=status_echo, paging=PAGING,
                  tagging=TAGGING, **declaration)
