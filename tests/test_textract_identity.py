"""AnalyzeID through boto3 against the running gateway, on a driver's licence and passports rendered here with known
truth (no real identity documents ship in any package); the machine-readable zone's parser on ICAO 9303's own
specimen; the errors of bad documents."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from services.textract.identity import FIELDS, read_mrz
from tests.test_textract import error_of, rendered_pdf

FONTS = Path("/usr/share/fonts/truetype/dejavu")


def font(size: int, mono: bool = False, bold: bool = False) -> ImageFont.ImageFont:
    name = "DejaVuSansMono.ttf" if mono else ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    if (FONTS / name).exists():
        return ImageFont.truetype(str(FONTS / name), size)
    return ImageFont.load_default(size=size)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def icao_digit(field: str) -> str:
    """ICAO 9303 part 3, 4.9: values 0-9, A=10 ... Z=35, '<'=0; weights 7, 3, 1 repeating; the sum modulo 10."""
    values = [int(c) if c.isdigit() else (0 if c == "<" else "ABCDEFGHIJKLMNOPQRSTUVWXYZ".index(c) + 10)
              for c in field]
    return str(sum(value * (7, 3, 1)[i % 3] for i, value in enumerate(values)) % 10)


def td3(surname: str, given: list[str], number: str, birth: str, sex: str, expiry: str) -> tuple[str, str]:
    first = ("P<USA" + surname + "<<" + "<".join(given)).ljust(44, "<")
    personal = "<" * 14
    second = (number + icao_digit(number) + "USA" + birth + icao_digit(birth) + sex + expiry + icao_digit(expiry)
              + personal + icao_digit(personal))
    composite = second[0:10] + second[13:20] + second[21:43]
    return first, second + icao_digit(composite)


def licence_image() -> bytes:
    image = Image.new("RGB", (1011, 638), (225, 236, 245))
    draw = ImageDraw.Draw(image)
    draw.text((30, 20), "ARIZONA", font=font(34, bold=True), fill=(20, 40, 120))
    draw.text((330, 28), "DRIVER LICENSE", font=font(24), fill=(20, 40, 120))
    draw.rectangle((30, 120, 290, 460), fill=(180, 180, 190))  # where the portrait goes
    rows = ["4d DLN D12345678", "1 GREAT", "2 FAKEID JAMES", "8 123 MAIN STREET", "PHOENIX, AZ 85007",
            "3 DOB 02/01/1957", "4b EXP 02/01/2026", "4a ISS 02/01/2018", "9 CLASS D", "9a END NONE", "12 REST NONE"]
    for n, text in enumerate(rows):
        draw.text((320, 110 + 40 * n + (10 if n > 2 else 0)), text, font=font(24), fill="black")
    return png(image)


def passport_image(zone: tuple[str, str]) -> bytes:
    image = Image.new("RGB", (1250, 880), (245, 242, 230))
    draw = ImageDraw.Draw(image)
    draw.text((40, 30), "PASSPORT   UNITED STATES OF AMERICA", font=font(24), fill="black")
    draw.rectangle((40, 90, 340, 480), fill=(200, 200, 200))
    printed = [("Type / Code / Passport No.", "P   USA   A12345678"), ("Surname", "HAPPY"),
               ("Given Names", "JANE MARIE"), ("Nationality", "UNITED STATES OF AMERICA"),
               ("Date of birth", "03 May 1990"), ("Place of birth", "OHIO, U.S.A."),
               ("Date of issue", "15 Jan 2022"), ("Date of expiration", "14 Jan 2032")]
    for n, (label, value) in enumerate(printed):
        draw.text((380, 90 + 62 * n), label, font=font(18), fill=(60, 60, 60))
        draw.text((380, 112 + 62 * n), value, font=font(24), fill="black")
    draw.text((40, 700), zone[0], font=font(38, mono=True), fill="black")
    draw.text((40, 770), zone[1], font=font(38, mono=True), fill="black")
    return png(image)


def fields_of(document: dict) -> dict[str, dict]:
    return {field["Type"]["Text"]: field["ValueDetection"] for field in document["IdentityDocumentFields"]}


@pytest.fixture(scope="module")
def textract(gateway):
    return gateway.client("textract", read_timeout=300)


def test_a_driver_licence_is_read_into_textracts_fields(textract):
    response = textract.analyze_id(DocumentPages=[{"Bytes": licence_image()}])
    assert response["DocumentMetadata"] == {"Pages": 1} and response["AnalyzeIDModelVersion"] == "1.0"
    [document] = response["IdentityDocuments"]
    assert document["DocumentIndex"] == 1
    # Every field AWS answers for a licence, in its order; no MRZ_CODE on a licence.
    assert [field["Type"]["Text"] for field in document["IdentityDocumentFields"]] == list(FIELDS)
    fields = fields_of(document)
    texts = {name: detection["Text"] for name, detection in fields.items()}
    assert texts == {
        "FIRST_NAME": "FAKEID", "LAST_NAME": "GREAT", "MIDDLE_NAME": "JAMES", "SUFFIX": "",
        "CITY_IN_ADDRESS": "PHOENIX", "ZIP_CODE_IN_ADDRESS": "85007", "STATE_IN_ADDRESS": "AZ",
        "STATE_NAME": "ARIZONA", "DOCUMENT_NUMBER": "D12345678", "EXPIRATION_DATE": "02/01/2026",
        "DATE_OF_BIRTH": "02/01/1957", "DATE_OF_ISSUE": "02/01/2018", "ID_TYPE": "DRIVER LICENSE FRONT",
        "ENDORSEMENTS": "NONE", "VETERAN": "", "RESTRICTIONS": "NONE", "CLASS": "D", "ADDRESS": "123 MAIN STREET",
        "COUNTY": "", "PLACE_OF_BIRTH": ""}
    assert fields["DATE_OF_BIRTH"]["NormalizedValue"] == {"Value": "1957-02-01T00:00:00", "ValueType": "Date"}
    assert fields["EXPIRATION_DATE"]["NormalizedValue"]["Value"] == "2026-02-01T00:00:00"
    assert "NormalizedValue" not in fields["FIRST_NAME"]
    assert all(0 <= detection["Confidence"] <= 100 for detection in fields.values())
    lines = [block["Text"] for block in document["Blocks"] if block["BlockType"] == "LINE"]
    assert "4d DLN D12345678" in lines and "Geometry" in document["Blocks"][0]


def test_a_passport_is_read_from_its_machine_readable_zone_and_printed_dates(textract):
    zone = td3("HAPPY", ["JANE", "MARIE"], "A12345678", "900503", "F", "320114")
    front, back = passport_image(zone), licence_image()
    response = textract.analyze_id(DocumentPages=[{"Bytes": front}, {"Bytes": back}])
    assert response["DocumentMetadata"] == {"Pages": 2}
    assert [document["DocumentIndex"] for document in response["IdentityDocuments"]] == [1, 2]
    passport = response["IdentityDocuments"][0]
    assert [field["Type"]["Text"] for field in passport["IdentityDocumentFields"]] == [*FIELDS, "MRZ_CODE"]
    fields = fields_of(passport)
    assert fields["ID_TYPE"]["Text"] == "PASSPORT"
    assert (fields["LAST_NAME"]["Text"], fields["FIRST_NAME"]["Text"], fields["MIDDLE_NAME"]["Text"]) == \
        ("HAPPY", "JANE", "MARIE")
    assert fields["DOCUMENT_NUMBER"]["Text"] == "A12345678"
    assert fields["MRZ_CODE"]["Text"] == "\n".join(zone)
    # Dates as printed on the page, meaning the day the zone gives.
    assert (fields["DATE_OF_BIRTH"]["Text"], fields["DATE_OF_BIRTH"]["NormalizedValue"]["Value"]) == \
        ("03 May 1990", "1990-05-03T00:00:00")
    assert fields["EXPIRATION_DATE"]["NormalizedValue"]["Value"] == "2032-01-14T00:00:00"
    assert fields["DATE_OF_ISSUE"]["NormalizedValue"]["Value"] == "2022-01-15T00:00:00"
    assert fields["PLACE_OF_BIRTH"]["Text"] == "OHIO, U.S.A."
    assert fields["STATE_NAME"]["Text"] == ""  # a passport has no issuing state
    assert fields_of(response["IdentityDocuments"][1])["DOCUMENT_NUMBER"]["Text"] == "D12345678"


def test_the_zone_parser_checks_digits_and_mends_ocr_confusions():
    # ICAO 9303 part 4's specimen passport.
    zone = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"]
    fields = read_mrz([(zone[0], 99.0), (zone[1], 99.0)])
    assert (fields["LAST_NAME"].text, fields["FIRST_NAME"].text, fields["MIDDLE_NAME"].text) == \
        ("ERIKSSON", "ANNA", "MARIA")
    assert fields["DOCUMENT_NUMBER"].text == "L898902C3" and fields["DOCUMENT_NUMBER"].confidence == 99.0
    assert (str(fields["DATE_OF_BIRTH"].day), str(fields["EXPIRATION_DATE"].day)) == ("1974-08-12", "2012-04-15")
    # An O read for a 0 in a date and in the document number: the check digits say which was meant.
    misread = read_mrz([(zone[0], 99.0), ("L8989O2C36UTO74O8122F1204159ZE184226B<<<<<10", 99.0)])
    assert misread["DOCUMENT_NUMBER"].text == "L898902C3" and misread["DOCUMENT_NUMBER"].confidence == 99.0
    assert str(misread["DATE_OF_BIRTH"].day) == "1974-08-12"
    # A digit that no single confusion explains: the value stands, at a low confidence.
    wrong = read_mrz([(zone[0], 99.0), ("L898912C36UTO7408122F1204159ZE184226B<<<<<10", 99.0)])
    assert wrong["DOCUMENT_NUMBER"].confidence < 70
    assert read_mrz([("NOT A ZONE", 99.0), ("JUST TEXT", 99.0)]) == {}


def test_bad_identity_documents_get_textracts_errors(textract):
    code, _, status = error_of(textract.analyze_id, DocumentPages=[{"Bytes": b"\x89PNG\r\n\x1a\nbroken"}])
    assert (code, status) == ("BadDocumentException", 400)
    two_pages = rendered_pdf([["page one"], ["page two"]])
    code, _, status = error_of(textract.analyze_id, DocumentPages=[{"Bytes": two_pages}])
    assert (code, status) == ("UnsupportedDocumentException", 400)
    # At most two pages (front and back): the model's limit, answered by AWS's front end.
    code, message, status = error_of(textract.analyze_id, DocumentPages=[{"Bytes": licence_image()}] * 3)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("1 validation error detected: ") and "Member must have length less than or equal to 2" \
        in message
