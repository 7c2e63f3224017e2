"""Textract on the Tesseract engine (AIGATE_TEXTRACT_OCR_ENGINE=tesseract): a gateway of its own reads real
Textract's reference scan through boto3, and the answer is scored against the real service's."""

from __future__ import annotations

import pytest

from bench import textract_scoring as scoring
from tests.conftest import GatewayProcess
from tests.test_textract import reference, reference_answer


@pytest.fixture(scope="module")
def tesseract_gateway(tmp_path_factory):
    process = GatewayProcess(tmp_path_factory.mktemp("tesseract") / "data",
                             env={"AIGATE_TEXTRACT_OCR_ENGINE": "tesseract"}).start()
    yield process
    process.stop()


def test_the_tesseract_engine_reads_a_scan_as_real_textract_does(tesseract_gateway):
    textract = tesseract_gateway.client("textract", read_timeout=300)
    response = textract.detect_document_text(Document={"Bytes": reference("single-page-1.png")})
    truth = reference_answer("single-page-1.png.detect.json")
    words = scoring.word_f1(response, truth)
    # Text equal and box IoU >= 0.5 with the real service's words (measured 0.971 words, 0.958 lines).
    assert words["f1"] >= 0.9, words
    assert scoring.line_f1(response, truth)["f1"] >= 0.9
    lines = [block["Text"] for block in response["Blocks"] if block["BlockType"] == "LINE"]
    assert "Textractor Test" in lines
    # The engine that read it is Tesseract's (engines load in the model worker processes, which log it).
    log = tesseract_gateway.log()
    assert "loaded engine tesseract" in log and "loaded engine rapidocr" not in log
