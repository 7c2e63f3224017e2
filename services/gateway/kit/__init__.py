"""The service kit: what every service declares instead of writing.

- errors.py     error classes generated from the service's botocore error shapes (an unknown code fails at import)
- arns.py       ARNs built and parsed in one place (botocore's ArnParser)
- times.py      UTC timestamps as stored and as answered
- resources.py  tables scoped to account + region: get-or-raise, list, create-if-absent, update, delete
- paging.py     List* pagination from botocore's paginator model: one opaque token codec (offset or keyset)
- tags.py       one tag store keyed by ARN; Tag/Untag/ListTags registered from the model's shapes
- jobs.py       Start/Describe/List/Stop/Delete of a job kind from one declaration, on the durable job runner
- inputs.py     the objects under an input prefix, for jobs that read many documents
"""
