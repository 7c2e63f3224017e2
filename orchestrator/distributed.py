"""Distributed Map: ItemReader (a JSON/JSONL/CSV object, or the objects under a prefix, from the blob store: S3
through the configured endpoint or the local store), ItemBatcher and ResultWriter. Reads and writes are effects,
run through the engine (checkpointed steps in durable executions)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

from orchestrator.asl import jsonata_eval
from orchestrator.asl.errors import StatesError
from services.gateway.kit.arns import parse_arn

MAX_ITEMS_DEFAULT = 100_000_000


def _arguments(interp, spec: dict, value: Any, language: str, context: dict) -> dict:
    if language == "JSONata":
        return interp.jsonata(spec.get("Arguments", {}), value, context)
    return interp.template(spec.get("Parameters", {}), value, context)


def _reader_kind(resource: str) -> str:
    arn = parse_arn(resource)
    tail = arn.resource if arn is not None else resource
    if tail in ("s3:getObject", "aws-sdk:s3:getObject"):
        return "get"
    if tail in ("s3:listObjectsV2", "aws-sdk:s3:listObjectsV2"):
        return "list"
    raise StatesError("States.Runtime", f"Unsupported ItemReader resource {resource!r}: use "
                                        f"arn:aws:states:::s3:getObject or arn:aws:states:::s3:listObjectsV2")


def read_items(interp, reader: dict, value: Any, language: str, context: dict) -> list:
    args = _arguments(interp, reader, value, language, context)
    config = reader.get("ReaderConfig", {}) or {}
    if language == "JSONata":
        config = jsonata_eval.resolve(config, interp.jsonata_states(value, context), interp.variables)
    kind = _reader_kind(reader["Resource"])
    bucket = args.get("Bucket")
    if not isinstance(bucket, str) or not bucket:
        raise StatesError("States.Runtime", "The ItemReader needs a 'Bucket'")
    max_items = config.get("MaxItems")
    if "MaxItemsPath" in config:
        max_items = interp.resolver(value, context)(config["MaxItemsPath"])
    principal = interp.engine.principal
    if kind == "list":
        prefix = args.get("Prefix", "")
        items = interp.engine.effect("sfn.itemreader", _list, f"s3://{bucket}/{prefix}", principal.account_id)
    else:
        key = args.get("Key")
        if not isinstance(key, str) or not key:
            raise StatesError("States.Runtime", "The ItemReader needs a 'Key'")
        items = interp.engine.effect("sfn.itemreader", _read, f"s3://{bucket}/{key}", principal.account_id, config)
    if max_items is not None:
        items = items[: int(max_items)]
    return items


def _list(prefix_uri: str, account_id: str) -> list:
    from services.gateway.runtime import runtime
    from services.gateway.storage import BlobError

    try:
        uris = runtime().blobs.list(prefix_uri, account_id)
    except BlobError as error:
        raise StatesError("States.ItemReaderFailed", str(error)) from None
    items = []
    for uri in uris:
        bucket, _, key = uri[len("s3://"):].partition("/")
        items.append({"Key": key, "Bucket": bucket})
    return items


def _read(uri: str, account_id: str, config: dict) -> list:
    from services.gateway.runtime import runtime
    from services.gateway.storage import BlobError

    try:
        data = runtime().blobs.read(uri, account_id)
    except BlobError as error:
        raise StatesError("States.ItemReaderFailed", str(error)) from None
    text = data.decode("utf-8-sig", errors="replace")
    input_type = config.get("InputType", "JSON")
    if input_type == "JSON":
        try:
            items = json.loads(text)
        except ValueError as error:
            raise StatesError("States.ItemReaderFailed", f"{uri} is not valid JSON: {error}") from None
        if not isinstance(items, list):
            raise StatesError("States.ItemReaderFailed", f"{uri} must hold a JSON array")
        return items
    if input_type == "JSONL":
        items = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except ValueError as error:
                    raise StatesError("States.ItemReaderFailed", f"{uri} line {number}: {error}") from None
        return items
    if input_type == "CSV":
        delimiter = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}.get(
            config.get("CSVDelimiter", "COMMA"), ",")
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        if config.get("CSVHeaderLocation", "FIRST_ROW") == "GIVEN":
            headers = config.get("CSVHeaders") or []
        else:
            if not rows:
                return []
            headers, rows = rows[0], rows[1:]
        items = []
        for row in rows:
            if not row:
                continue
            if len(row) > len(headers):
                raise StatesError("States.ItemReaderFailed", f"{uri}: a row has more fields than there are headers")
            items.append({header: (row[index] if index < len(row) else "") for index, header in enumerate(headers)})
        return items
    raise StatesError("States.Runtime", f"Unsupported ReaderConfig InputType {input_type!r}")


def batch(interp, batcher: dict, items: list, value: Any, language: str, context: dict) -> list:
    if language == "JSONata":
        batcher = jsonata_eval.resolve(batcher, interp.jsonata_states(value, context), interp.variables)
    resolve = interp.resolver(value, context)
    max_items = batcher.get("MaxItemsPerBatch")
    if "MaxItemsPerBatchPath" in batcher:
        max_items = resolve(batcher["MaxItemsPerBatchPath"])
    max_bytes = batcher.get("MaxInputBytesPerBatch")
    if "MaxInputBytesPerBatchPath" in batcher:
        max_bytes = resolve(batcher["MaxInputBytesPerBatchPath"])
    if max_items is None and max_bytes is None:
        raise StatesError("States.Runtime", "ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch")
    base = interp.template(batcher["BatchInput"], value, context) if "BatchInput" in batcher else None
    batches, current, size = [], [], 0
    for item in items:
        item_size = len(json.dumps(item, separators=(",", ":")))
        if current and ((max_items and len(current) >= max_items) or (max_bytes and size + item_size > max_bytes)):
            batches.append(current)
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        batches.append(current)
    return [{**({"BatchInput": base} if base is not None else {}), "Items": chunk} for chunk in batches]


def write_results(interp, writer: dict, results: list, value: Any, language: str, context: dict) -> dict:
    args = _arguments(interp, writer, value, language, context)
    bucket, prefix = args.get("Bucket"), args.get("Prefix", "")
    if not isinstance(bucket, str) or not bucket:
        raise StatesError("States.Runtime", "The ResultWriter needs a 'Bucket'")
    run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{context['Execution']['Id']}/{context['State']['Name']}"))
    principal = interp.engine.principal
    return interp.engine.effect("sfn.resultwriter", _write, bucket, prefix, run_id, results, principal.account_id)


def _write(bucket: str, prefix: str, run_id: str, results: list, account_id: str) -> dict:
    from services.gateway.runtime import runtime
    from services.gateway.storage import BlobError

    base = f"{prefix.rstrip('/')}/{run_id}" if prefix else run_id
    succeeded = [r for r in results if not (isinstance(r, dict) and set(r) == {"Error", "Cause"})]
    failed = [r for r in results if isinstance(r, dict) and set(r) == {"Error", "Cause"}]
    files = []
    try:
        for name, entries in (("SUCCEEDED_0.json", succeeded), ("FAILED_0.json", failed)):
            key = f"{base}/{name}"
            runtime().blobs.write(f"s3://{bucket}/{key}", json.dumps(entries).encode(), account_id, "application/json")
            files.append({"Key": key, "Size": len(entries)})
        manifest = {"DestinationBucket": bucket, "MapRunArn": run_id, "ResultFiles": {
            "SUCCEEDED": [files[0]], "FAILED": [files[1]], "PENDING": []}}
        runtime().blobs.write(f"s3://{bucket}/{base}/manifest.json", json.dumps(manifest).encode(), account_id,
                              "application/json")
    except BlobError as error:
        raise StatesError("States.ResultWriterFailed", str(error)) from None
    return {"MapRunArn": run_id, "ResultWriterDetails": {"Bucket": bucket, "Key": f"{base}/manifest.json"}}
