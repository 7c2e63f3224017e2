"""Textract speed, one run, side by side:

1. scanned pages per second through the gateway (boto3 DetectDocumentText against a running `aigate serve`) vs the
   OCR engine called directly in this process on the same pages (goal: gateway overhead <= 10%);
2. born-digital PDF pages per second (DetectDocumentText on a rendered text PDF);
3. a 50-page async job's wall time (StartDocumentTextDetection on a scanned PDF) with 1 model worker process vs
   all of them (AIGATE_MODEL_WORKERS).

    .venv/bin/python bench/textract_speed.py [--pages 50]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import requests  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from services.gateway.config import Settings  # noqa: E402
from tests.conftest import GatewayProcess  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "textract-reference"
SCANS = ["single-page-1.png", "paystub_header.png", "paystub_single_table.png", "paystub_tables.png",
         "patient_intake_form_sample.png"]


def scanned_page(number: int) -> Image.Image:
    font = ImageFont.load_default(size=28)
    image = Image.new("RGB", (1275, 1650), "white")  # a letter page at 150 dpi
    draw = ImageDraw.Draw(image)
    for line in range(24):
        draw.text((90, 90 + 60 * line), f"Page {number} line {line + 1}: invoice {1000 + line} total {line * 7}.50 USD",
                  fill="black", font=font)
    return image


def scanned_pdf(pages: int) -> bytes:
    images = [scanned_page(n + 1) for n in range(pages)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:], resolution=150)
    return buffer.getvalue()


def digital_pdf() -> bytes:
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter)
    pdf.setFont("Helvetica", 11)
    for line in range(45):
        pdf.drawString(72, 740 - 15 * line, f"Line {line + 1}: the quick brown fox jumps over the lazy dog {line}")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def direct_ocr_rate(images: list[np.ndarray]) -> float:
    from models.registry import ModelRegistry

    with ModelRegistry(Settings()) as registry:
        engine = registry.get("rapidocr")
        orientation = registry.get("page-orientation")
        engine.recognize(images[0])  # warm
        started = time.perf_counter()
        for image in images:
            orientation.rotation(image)
            engine.recognize(image)
        return len(images) / (time.perf_counter() - started)


def gateway_rate(textract, documents: list[bytes], rounds: int = 1) -> float:
    textract.detect_document_text(Document={"Bytes": documents[0]})  # warm
    started = time.perf_counter()
    for _ in range(rounds):
        for document in documents:
            textract.detect_document_text(Document={"Bytes": document})
    return rounds * len(documents) / (time.perf_counter() - started)


def job_seconds(gateway: GatewayProcess, pdf: bytes) -> float:
    requests.put(f"{gateway.url}/v1/blobs/speed/scan.pdf", data=pdf, timeout=30).raise_for_status()
    textract = gateway.client("textract", read_timeout=120)
    textract.detect_document_text(Document={"Bytes": digital_pdf()})  # engines loaded before the clock starts
    started = time.perf_counter()
    job_id = textract.start_document_text_detection(
        DocumentLocation={"S3Object": {"Bucket": "speed", "Name": "scan.pdf"}})["JobId"]
    while True:
        status = textract.get_document_text_detection(JobId=job_id, MaxResults=1)["JobStatus"]
        if status != "IN_PROGRESS":
            break
        time.sleep(0.2)
    if status != "SUCCEEDED":
        raise RuntimeError(f"job {job_id} ended {status}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=50, help="pages of the async job")
    args = parser.parse_args()
    documents = [(REFERENCE / name).read_bytes() for name in SCANS]
    images = [np.asarray(Image.open(io.BytesIO(data)).convert("RGB")) for data in documents]
    direct = direct_ocr_rate(images)
    workers = Settings().model_worker_count or 1
    with tempfile.TemporaryDirectory() as folder:
        gateway = GatewayProcess(Path(folder) / "all").start()
        try:
            textract = gateway.client("textract", read_timeout=120)
            through = gateway_rate(textract, documents)
            digital = gateway_rate(textract, [digital_pdf()], rounds=20)
            pdf = scanned_pdf(args.pages)
            all_workers = job_seconds(gateway, pdf)
        finally:
            gateway.stop()
        single = GatewayProcess(Path(folder) / "one", env={"AIGATE_MODEL_WORKERS": "1"}).start()
        try:
            one_worker = job_seconds(single, pdf)
        finally:
            single.stop()
    overhead = direct / through - 1
    print(f"{'measure':48s} {'value':>10s}")
    print(f"{'scanned pages/s, OCR engine called directly':48s} {direct:10.3f}")
    print(f"{'scanned pages/s, through the gateway':48s} {through:10.3f}   ratio {through / direct:.2f}")
    print(f"{'digital PDF pages/s, through the gateway':48s} {digital:10.2f}")
    print(f"{f'{args.pages}-page async job, 1 model worker (s)':48s} {one_worker:10.1f}")
    print(f"{f'{args.pages}-page async job, {workers} model workers (s)':48s} {all_workers:10.1f}"
          f"   speed-up {one_worker / all_workers:.2f}x")
    print(f"textract_speed: gateway overhead {overhead * 100:.1f}% (goal <= 10%)")


if __name__ == "__main__":
    main()
