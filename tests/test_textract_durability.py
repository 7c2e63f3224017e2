"""An async Textract job killed with its gateway mid-way resumes after the restart and reads every page once:
a scanned (image-only) multi-page PDF, so that each page goes through OCR (local blob store, SQLite)."""

from __future__ import annotations

import io

import pytest
import requests
from PIL import Image, ImageDraw, ImageFont

from tests.conftest import GatewayProcess
from tests.helpers import poll

pytestmark = pytest.mark.slow

PAGES = 16


def scanned_pdf(pages: int) -> bytes:
    font = ImageFont.load_default(size=40)
    images = []
    for number in range(1, pages + 1):
        image = Image.new("RGB", (1100, 500), "white")
        draw = ImageDraw.Draw(image)
        draw.text((80, 120), f"Scanned page number {number}", fill="black", font=font)
        draw.text((80, 260), f"Invoice {1000 + number} total {number * 7} dollars", fill="black", font=font)
        images.append(image)
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:], resolution=150)
    return buffer.getvalue()


def test_killed_textract_job_resumes_and_reads_every_page(tmp_path):
    gateway = GatewayProcess(tmp_path / "data").start()
    try:
        response = requests.put(f"{gateway.url}/v1/blobs/scans/in/batch.pdf", data=scanned_pdf(PAGES), timeout=10)
        assert response.status_code == 200
        textract = gateway.client("textract")
        job_id = textract.start_document_text_detection(
            DocumentLocation={"S3Object": {"Bucket": "scans", "Name": "in/batch.pdf"}})["JobId"]
        record = poll(lambda: requests.get(f"{gateway.url}/v1/jobs/{job_id}", timeout=10).json(),
                      lambda record: record["Status"] == "IN_PROGRESS" and record["Progress"] >= 0.2,
                      timeout=180, interval=0.05, raise_on_timeout=False)
        assert 0.2 <= record["Progress"] < 0.9, f"job too fast to interrupt: {record}"
        gateway.kill()

        gateway.start()
        textract = gateway.client("textract", read_timeout=120)
        result = poll(lambda: textract.get_document_text_detection(JobId=job_id),
                      lambda result: result["JobStatus"] != "IN_PROGRESS", timeout=300, interval=0.5,
                      what=f"textract job {job_id} to end after the restart")
        assert result["JobStatus"] == "SUCCEEDED", result.get("StatusMessage")
        assert result["DocumentMetadata"] == {"Pages": PAGES}
        blocks = result["Blocks"]
        assert [block["Page"] for block in blocks if block["BlockType"] == "PAGE"] == list(range(1, PAGES + 1))
        for number in range(1, PAGES + 1):
            lines = [b["Text"] for b in blocks if b["BlockType"] == "LINE" and b["Page"] == number]
            assert lines == [f"Scanned page number {number}", f"Invoice {1000 + number} total {number * 7} dollars"]
    finally:
        gateway.stop()
