"""Amazon Translate through unmodified boto3 against a running gateway, on the embedded Apertium engine:
TranslateText (auto-detection, pivots, limits, errors), ListLanguages, custom terminologies (CSV, TSV, TMX,
uni- and multi-directional), TranslateDocument (plain text, HTML, docx), profanity masking and batch jobs."""

from __future__ import annotations

import io
import re
import urllib.request
import uuid
from html.parser import HTMLParser

import pytest

from tests.helpers import TRANSLATE_ROLE as ROLE
from tests.helpers import error_code, poll, wait_for_status


# ------------------------------------------------------------------------------------------ TranslateText


def test_translate_text_en_es(translate):
    result = translate.translate_text(Text="The house is red and the dog is big.", SourceLanguageCode="en",
                                      TargetLanguageCode="es")
    text = result["TranslatedText"].lower()
    assert "casa" in text and "perro" in text and "roja" in text
    assert result["SourceLanguageCode"] == "en" and result["TargetLanguageCode"] == "es"
    assert result["AppliedTerminologies"] == []


def test_translate_text_keeps_paragraphs(translate):
    result = translate.translate_text(Text="Good morning.\n\nThe city is beautiful", SourceLanguageCode="en",
                                      TargetLanguageCode="es")
    first, second = result["TranslatedText"].split("\n\n")
    assert "ciudad" in second.lower()
    assert first.strip() and "ciudad" not in first.lower()


def test_auto_detects_and_reports_source(translate):
    result = translate.translate_text(Text="El ayuntamiento abrirá una nueva biblioteca pública en la ciudad.",
                                      SourceLanguageCode="auto", TargetLanguageCode="en")
    assert result["SourceLanguageCode"] == "es"
    assert "library" in result["TranslatedText"].lower()


def test_auto_low_confidence(translate):
    with pytest.raises(translate.exceptions.DetectedLanguageLowConfidenceException):
        translate.translate_text(Text="ok 123", SourceLanguageCode="auto", TargetLanguageCode="es")


def test_pivot_through_english(translate):
    # Apertium has es->en and en->ca here but no es->ca pair installed: the gateway pivots through English.
    result = translate.translate_text(Text="La casa es grande y el perro es pequeño.", SourceLanguageCode="es",
                                      TargetLanguageCode="ca")
    text = result["TranslatedText"].lower()
    assert "casa" in text and "gos" in text  # Catalan for dog
    assert result["SourceLanguageCode"] == "es" and result["TargetLanguageCode"] == "ca"


def test_other_pairs(translate):
    assert "house" in translate.translate_text(Text="A casa é grande.", SourceLanguageCode="gl",
                                               TargetLanguageCode="en")["TranslatedText"].lower()
    assert "velik" in translate.translate_text(Text="The house is big.", SourceLanguageCode="en",
                                               TargetLanguageCode="hr")["TranslatedText"].lower()


def test_unsupported_pair(translate):
    with pytest.raises(translate.exceptions.UnsupportedLanguagePairException) as excinfo:
        translate.translate_text(Text="Hello world", SourceLanguageCode="en", TargetLanguageCode="ja")
    assert "en to ja" in str(excinfo.value)
    with pytest.raises(translate.exceptions.UnsupportedLanguagePairException):
        translate.translate_text(Text="Hello world", SourceLanguageCode="xx", TargetLanguageCode="es")


def test_same_language_returns_text(translate):
    # AWS returns the text unchanged (and does not charge) when source and target are the same, given or detected.
    result = translate.translate_text(Text="Hello world", SourceLanguageCode="en", TargetLanguageCode="en")
    assert result["TranslatedText"] == "Hello world"
    assert (result["SourceLanguageCode"], result["TargetLanguageCode"]) == ("en", "en")
    german = translate.translate_text(Text="Das Haus ist groß.", SourceLanguageCode="de", TargetLanguageCode="de")
    assert german["TranslatedText"] == "Das Haus ist groß."  # no engine translates German here: none is needed
    detected = translate.translate_text(Text="The weather is very nice today.", SourceLanguageCode="auto",
                                        TargetLanguageCode="en")
    assert detected["TranslatedText"] == "The weather is very nice today." and detected["SourceLanguageCode"] == "en"


def test_unknown_codes_are_unsupported_even_when_equal(translate):
    for source, target, named in (("zz", "zz", "Source language 'zz'"), ("en", "zz", "Target language 'zz'"),
                                  ("zz", "en", "Source language 'zz'")):
        with pytest.raises(translate.exceptions.UnsupportedLanguagePairException) as excinfo:
            translate.translate_text(Text="Hello world", SourceLanguageCode=source, TargetLanguageCode=target)
        assert f"Unsupported language pair: {source} to {target}" in str(excinfo.value)
        assert named in str(excinfo.value) and excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("text,language", [
    ("El perro come pan.", "es"), ("La casa es grande.", "es"), ("Tengo dos hermanos.", "es"),
    ("The dog eats bread.", "en"), ("Le chien mange du pain.", "fr"), ("Der Hund frisst Brot.", "de"),
    ("Il cane mangia il pane.", "it"), ("Tinc dos germans.", "ca"), ("De hond eet brood.", "nl"),
    ("Ik heb twee broers.", "nl"), ("Eu gosto muito da praia.", "pt"),
])
def test_auto_detects_short_sentences(translate, text, language):
    # Auto into the sentence's own language: the detected source is reported and the text comes back unchanged.
    result = translate.translate_text(Text=text, SourceLanguageCode="auto", TargetLanguageCode=language)
    assert result["SourceLanguageCode"] == language and result["TranslatedText"] == text


def test_text_size_limits(translate):
    # 6,000 characters but 12,000 UTF-8 bytes: over Translate's 10,000-byte limit.
    with pytest.raises(translate.exceptions.TextSizeLimitExceededException):
        translate.translate_text(Text="é" * 6000, SourceLanguageCode="es", TargetLanguageCode="en")
    # over the model's 10,000 characters
    assert error_code(lambda: translate.translate_text(Text="a" * 10_001, SourceLanguageCode="en",
                                                       TargetLanguageCode="es")) == "ValidationException"


def test_missing_and_bad_members(translate, gateway):
    import requests

    response = requests.post(gateway.url, data="{\"Text\": \"hi\", \"SourceLanguageCode\": \"en\"}",
                             headers={"X-Amz-Target": "AWSShineFrontendService_20170701.TranslateText",
                                      "Content-Type": "application/x-amz-json-1.1"})
    assert response.status_code == 400
    assert response.json()["__type"].endswith("ValidationException")
    assert error_code(lambda: translate.translate_text(Text="Hello", SourceLanguageCode="en", TargetLanguageCode="es",
                                                       Settings={"Profanity": "HIDE"})) == "ValidationException"
    with pytest.raises(translate.exceptions.ResourceNotFoundException):
        translate.translate_text(Text="Hello", SourceLanguageCode="en", TargetLanguageCode="es",
                                 TerminologyNames=["does-not-exist"])


def test_list_languages(translate):
    languages = translate.list_languages()["Languages"]
    codes = {item["LanguageCode"] for item in languages}
    assert {"en", "es", "ca", "gl", "eu", "hr"} <= codes
    assert "ja" not in codes and "de" not in codes  # no engine here translates them
    names = {item["LanguageCode"]: item["LanguageName"] for item in languages}
    assert names["es"] == "Spanish"
    german = {item["LanguageCode"]: item["LanguageName"] for item in
              translate.list_languages(DisplayLanguageCode="de")["Languages"]}
    assert german["es"] == "Spanisch"
    page = translate.list_languages(MaxResults=2)
    assert len(page["Languages"]) == 2 and page["NextToken"]
    rest = translate.list_languages(MaxResults=500, NextToken=page["NextToken"])["Languages"]
    assert len(rest) == len(languages) - 2


def test_profanity_mask(translate):
    result = translate.translate_text(Text="This shit is damn good.", SourceLanguageCode="en",
                                      TargetLanguageCode="es", Settings={"Profanity": "MASK"})
    assert "?$#@$" in result["TranslatedText"]
    assert "shit" not in result["TranslatedText"].lower() and "damn" not in result["TranslatedText"].lower()
    assert result["AppliedSettings"] == {"Profanity": "MASK"}
    plain = translate.translate_text(Text="This shit is good.", SourceLanguageCode="en", TargetLanguageCode="es")
    assert "?$#@$" not in plain["TranslatedText"] and "AppliedSettings" not in plain


def test_formality_not_applied(translate):
    # No engine here can honour Formality: the translation is made and AppliedSettings does not claim it.
    result = translate.translate_text(Text="How are you?", SourceLanguageCode="en", TargetLanguageCode="es",
                                      Settings={"Formality": "FORMAL"})
    assert result["TranslatedText"] and "AppliedSettings" not in result


# ------------------------------------------------------------------------------------------ terminology

TERMS = [
    ("European Commission", "Comisión Europea", "Comissió Europea"),
    ("smartphone", "teléfono inteligente", "telèfon intel·ligent"),
    ("cloud", "nube privada", "núvol privat"),
    ("gateway", "pasarela", "passarel·la"),
    ("invoice", "factura electrónica", "factura electrònica"),
    ("Acme Corp", "Acme Corp", "Acme Corp"),
    ("machine learning", "aprendizaje automático", "aprenentatge automàtic"),
    ("database", "base de datos", "base de dades"),
    ("customer", "clienta", "clienta"),
    ("server", "servidor", "servidor"),
]
SENTENCES = [
    "The European Commission approved the new budget yesterday.",
    "My smartphone stopped working after the update.",
    "We moved every service to the cloud last year.",
    "The gateway answers requests from many clients.",
    "Please send the invoice before Friday.",
    "Acme Corp hired two hundred engineers.",
    "Machine learning helps doctors read images.",
    "The database holds the records of every customer.",
    "Each server runs a copy of the gateway.",
    "The customer paid the invoice with her smartphone.",
    "The European Commission uses machine learning in the cloud.",
    "A new database server was installed this morning.",
    "The cloud is cheaper than our old server.",
    "She reads the invoice on her smartphone every night.",
    "Acme Corp sells a gateway for the European Commission.",
    "Our customer wants a faster database.",
    "The gateway sends each invoice to the customer.",
    "Machine learning needs a big database and a strong server.",
    "Every customer of Acme Corp gets a smartphone.",
    "The European Commission asked for a report on the cloud.",
    "The server stores the invoice in the database.",
    "Yesterday the gateway failed and the customer called us.",
    "Machine learning runs in the cloud on a single server.",
    "The smartphone shows the invoice of the customer.",
    "Acme Corp moved its database to the cloud.",
    "The European Commission bought a server from Acme Corp.",
    "Our gateway is written in Python.",
    "Machine learning changed the way we handle each invoice.",
    "The customer lost her smartphone at the airport.",
    "The cloud provider replaced the old server.",
    "THE DATABASE IS DOWN AGAIN.",
    "Is the gateway ready for the European Commission?",
]


@pytest.fixture(scope="module")
def terminology(translate):
    csv_text = "en,es,ca\n" + "".join(f"{en},{es},{ca}\n" for en, es, ca in TERMS)
    props = translate.import_terminology(
        Name="it-terms", MergeStrategy="OVERWRITE", Description="IT vocabulary",
        TerminologyData={"File": csv_text.encode(), "Format": "CSV", "Directionality": "MULTI"},
    )["TerminologyProperties"]
    yield props
    translate.delete_terminology(Name="it-terms")


def test_import_terminology_properties(terminology):
    assert terminology["Name"] == "it-terms"
    assert terminology["SourceLanguageCode"] == "en"
    assert terminology["TargetLanguageCodes"] == ["es", "ca"]
    assert terminology["TermCount"] == len(TERMS)
    assert terminology["Directionality"] == "MULTI" and terminology["Format"] == "CSV"
    assert terminology["Arn"].endswith(":terminology/it-terms/LATEST")


def test_terminology_tags(translate):
    arn = translate.import_terminology(
        Name="tagged", MergeStrategy="OVERWRITE", Tags=[{"Key": "team", "Value": "docs"}],
        TerminologyData={"File": b"en,es\nhouse,vivienda\n", "Format": "CSV"})["TerminologyProperties"]["Arn"]
    assert translate.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "docs"}]
    translate.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "prod"}])
    translate.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert translate.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]
    with pytest.raises(translate.exceptions.ResourceNotFoundException):
        translate.list_tags_for_resource(ResourceArn=arn.replace("tagged", "missing"))
    with pytest.raises(translate.exceptions.InvalidParameterValueException):
        translate.list_tags_for_resource(ResourceArn="arn:aws:s3:::bucket")
    translate.delete_terminology(Name="tagged")


def test_terminology_scoped_to_region(gateway, terminology):
    other = gateway.client("translate", region="eu-west-1")
    assert "it-terms" not in [item["Name"] for item in other.list_terminologies()["TerminologyPropertiesList"]]
    with pytest.raises(other.exceptions.ResourceNotFoundException):
        other.translate_text(Text="The server is fast.", SourceLanguageCode="en", TargetLanguageCode="es",
                             TerminologyNames=["it-terms"])


@pytest.mark.parametrize("target", ["es", "ca"])
def test_terminology_applied_to_every_sentence(translate, terminology, target):
    column = 1 if target == "es" else 2
    honoured = total = 0
    for sentence in SENTENCES:
        result = translate.translate_text(Text=sentence, SourceLanguageCode="en", TargetLanguageCode=target,
                                          TerminologyNames=["it-terms"])
        expected = [term for term in TERMS if re.search(rf"(?<!\w){re.escape(term[0])}(?!\w)", sentence, re.I)]
        assert expected, sentence
        applied = {t["SourceText"]: t["TargetText"] for t in result["AppliedTerminologies"][0]["Terms"]}
        for term in expected:
            total += 1
            honoured += term[column] in result["TranslatedText"]
            assert applied[term[0]] == term[column]
    assert len(SENTENCES) >= 30
    assert honoured == total, f"{honoured}/{total} terms honoured"


def test_terminology_multi_directional(translate, terminology):
    # MULTI: the Spanish column can be the source too (es -> en directly, es -> ca through English).
    result = translate.translate_text(Text="La Comisión Europea compró una base de datos.", SourceLanguageCode="es",
                                      TargetLanguageCode="en", TerminologyNames=["it-terms"])
    assert "European Commission" in result["TranslatedText"] and "database" in result["TranslatedText"]
    result = translate.translate_text(Text="La Comisión Europea compró una base de datos.", SourceLanguageCode="es",
                                      TargetLanguageCode="ca", TerminologyNames=["it-terms"])
    assert "Comissió Europea" in result["TranslatedText"] and "base de dades" in result["TranslatedText"]


def test_uni_terminology_tsv_and_tmx(translate):
    tsv = "en\tgl\nsoftware\tsoftware libre\nhouse\tvivenda\n"
    props = translate.import_terminology(Name="uni-tsv", MergeStrategy="OVERWRITE",
                                         TerminologyData={"File": tsv.encode(), "Format": "TSV"})
    assert props["TerminologyProperties"]["Directionality"] == "UNI"
    result = translate.translate_text(Text="The house has software.", SourceLanguageCode="en",
                                      TargetLanguageCode="gl", TerminologyNames=["uni-tsv"])
    assert "vivenda" in result["TranslatedText"] and "software libre" in result["TranslatedText"]
    # UNI: the terminology does not apply in the other direction.
    back = translate.translate_text(Text="A vivenda é grande.", SourceLanguageCode="gl", TargetLanguageCode="en",
                                    TerminologyNames=["uni-tsv"])
    assert back["AppliedTerminologies"] == []

    tmx = ("<?xml version='1.0' encoding='utf-8'?><tmx version='1.4'><header srclang='en' datatype='plaintext' "
           "segtype='phrase' adminlang='en' creationtool='t' creationtoolversion='1' o-tmf='t'/><body>"
           "<tu><tuv xml:lang='en'><seg>river</seg></tuv><tuv xml:lang='es'><seg>río grande</seg></tuv></tu>"
           "<tu><tuv xml:lang='en'><seg>bridge</seg></tuv><tuv xml:lang='es'><seg>puente viejo</seg></tuv></tu>"
           "</body></tmx>")
    props = translate.import_terminology(Name="uni-tmx", MergeStrategy="OVERWRITE",
                                         TerminologyData={"File": tmx.encode(), "Format": "TMX"})
    assert props["TerminologyProperties"]["TermCount"] == 2
    result = translate.translate_text(Text="The bridge crosses the river.", SourceLanguageCode="en",
                                      TargetLanguageCode="es", TerminologyNames=["uni-tmx"])
    assert "puente viejo" in result["TranslatedText"] and "río grande" in result["TranslatedText"]
    got = translate.get_terminology(Name="uni-tmx", TerminologyDataFormat="CSV")
    with urllib.request.urlopen(got["TerminologyDataLocation"]["Location"]) as response:
        assert response.read().decode() == "en,es\nriver,río grande\nbridge,puente viejo\n"
    names = {item["Name"] for item in translate.list_terminologies()["TerminologyPropertiesList"]}
    assert {"uni-tsv", "uni-tmx"} <= names
    for name in ("uni-tsv", "uni-tmx"):
        translate.delete_terminology(Name=name)
    with pytest.raises(translate.exceptions.ResourceNotFoundException):
        translate.get_terminology(Name="uni-tmx")
    with pytest.raises(translate.exceptions.ResourceNotFoundException):
        translate.delete_terminology(Name="uni-tmx")


def test_bad_terminology_files(translate):
    for data, fmt in ((b"just one line", "CSV"), (b"<tmx><body><tu></tu>", "TMX"), (b"\xff\xfe\x00\xd8bad", "CSV"),
                      (b"en,12345\nhouse,casa\n", "CSV")):
        with pytest.raises(translate.exceptions.InvalidParameterValueException):
            translate.import_terminology(Name="bad", MergeStrategy="OVERWRITE",
                                         TerminologyData={"File": data, "Format": fmt})


# ------------------------------------------------------------------------------------------ documents


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(("start", tag, tuple(attrs)))

    def handle_endtag(self, tag):
        self.tags.append(("end", tag))


def tags_of(markup: str) -> list:
    parser = _Tags()
    parser.feed(markup)
    return parser.tags


def test_translate_document_html_keeps_markup(translate):
    page = ("<!DOCTYPE html><html lang=\"en\"><head><title>Annual report</title><style>p {color: red}</style>"
            "</head><body><h1 class=\"big\">The new library</h1><p>The city will open a <b>public</b> library "
            "next week.</p><ul><li>Books &amp; films</li><li><a href=\"https://example.com/x?a=1&amp;b=2\">Opening "
            "hours</a></li></ul><img src=\"a.png\" alt=\"logo\"/><!-- keep me --><script>var house = 1;</script>"
            "</body></html>")
    result = translate.translate_document(Document={"Content": page.encode(), "ContentType": "text/html"},
                                          SourceLanguageCode="en", TargetLanguageCode="es")
    out = result["TranslatedDocument"]["Content"].decode()
    assert tags_of(out) == tags_of(page)
    assert "<!-- keep me -->" in out and "var house = 1;" in out and "p {color: red}" in out
    assert "biblioteca" in out.lower() and "library" not in out.lower()
    assert result["SourceLanguageCode"] == "en"


def test_translate_document_plain_and_auto(translate):
    result = translate.translate_document(
        Document={"Content": "El perro come pan en la cocina.".encode(), "ContentType": "text/plain"},
        SourceLanguageCode="auto", TargetLanguageCode="en")
    assert result["SourceLanguageCode"] == "es"
    assert "dog" in result["TranslatedDocument"]["Content"].decode().lower()


def test_translate_document_docx(translate):
    import docx

    document = docx.Document()
    document.add_heading("The annual report", level=1)
    paragraph = document.add_paragraph("The city will open a new ")
    paragraph.add_run("library").bold = True
    paragraph.add_run(" next week.")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "The house"
    table.cell(0, 1).text = "The dog"
    buffer = io.BytesIO()
    document.save(buffer)
    result = translate.translate_document(
        Document={"Content": buffer.getvalue(),
                  "ContentType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
        SourceLanguageCode="en", TargetLanguageCode="es")
    translated = docx.Document(io.BytesIO(result["TranslatedDocument"]["Content"]))
    texts = [p.text for p in translated.paragraphs]
    assert "informe" in texts[0].lower() and "biblioteca" in texts[1].lower()
    assert translated.tables[0].cell(0, 0).text.lower().startswith("la casa")
    assert translated.tables[0].cell(0, 1).text.lower().startswith("el perro")


def test_translate_document_errors(translate):
    with pytest.raises(translate.exceptions.InvalidRequestException):
        translate.translate_document(Document={"Content": b"%PDF-1.4", "ContentType": "application/pdf"},
                                     SourceLanguageCode="en", TargetLanguageCode="es")
    with pytest.raises(translate.exceptions.InvalidRequestException):
        translate.translate_document(
            Document={"Content": b"not a zip",
                      "ContentType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
            SourceLanguageCode="en", TargetLanguageCode="es")
    with pytest.raises(translate.exceptions.InvalidRequestException):
        translate.translate_document(Document={"Content": b"\xff\xfe\xfa", "ContentType": "text/plain"},
                                     SourceLanguageCode="en", TargetLanguageCode="es")
    # over the 100 KiB document limit
    assert error_code(lambda: translate.translate_document(
        Document={"Content": b"a " * 60_000, "ContentType": "text/plain"}, SourceLanguageCode="en",
        TargetLanguageCode="es")) == "ValidationException"


# ------------------------------------------------------------------------------------------ batch jobs


def job_properties(translate, job_id: str) -> dict:
    return translate.describe_text_translation_job(JobId=job_id)["TextTranslationJobProperties"]


def wait_for_job(translate, job_id: str, timeout: float = 120) -> dict:
    """The TextTranslationJobProperties once the job has ended."""
    return wait_for_status(lambda: job_properties(translate, job_id), "JobStatus",
                           ("COMPLETED", "COMPLETED_WITH_ERROR", "FAILED", "STOPPED"), timeout, 0.3,
                           what=f"translation job {job_id} to end")


def test_batch_job_several_targets(translate, s3, bucket):
    s3.put_object(Bucket=bucket, Key="in/one.txt", Body="The house is red.".encode())
    s3.put_object(Bucket=bucket, Key="in/sub/two.txt", Body="The dog eats bread.".encode())
    s3.put_object(Bucket=bucket, Key="in/bad.txt", Body=b"\xff\xfe\xfa\xfb")
    job = translate.start_text_translation_job(
        JobName="nightly", InputDataConfig={"S3Uri": f"s3://{bucket}/in/", "ContentType": "text/plain"},
        OutputDataConfig={"S3Uri": f"s3://{bucket}/out/"}, DataAccessRoleArn=ROLE, SourceLanguageCode="en",
        TargetLanguageCodes=["es", "ca"], ClientToken=uuid.uuid4().hex)
    assert job["JobStatus"] == "SUBMITTED"
    props = wait_for_job(translate, job["JobId"])
    assert props["JobStatus"] == "COMPLETED_WITH_ERROR", props
    assert props["JobDetails"] == {"TranslatedDocumentsCount": 2, "DocumentsWithErrorsCount": 1,
                                   "InputDocumentsCount": 3}
    folder = f"out/000000000000-TranslateText-{job['JobId']}/"
    assert props["OutputDataConfig"]["S3Uri"] == f"s3://{bucket}/{folder}"
    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=folder)["Contents"])
    assert keys == sorted(folder + key for key in [
        "ca.one.txt", "ca.sub/two.txt", "es.one.txt", "es.sub/two.txt",
        "details/ca.auxiliary-translation-details.json", "details/es.auxiliary-translation-details.json"])
    spanish = s3.get_object(Bucket=bucket, Key=folder + "es.sub/two.txt")["Body"].read().decode()
    assert "perro" in spanish.lower()
    catalan = s3.get_object(Bucket=bucket, Key=folder + "ca.one.txt")["Body"].read().decode()
    assert "casa" in catalan.lower()
    listed = translate.list_text_translation_jobs(Filter={"JobName": "nightly"})["TextTranslationJobPropertiesList"]
    assert [item["JobId"] for item in listed] == [job["JobId"]]


def test_batch_job_html_auto_with_terminology(translate, s3, bucket, terminology):
    s3.put_object(Bucket=bucket, Key="docs/a.html",
                  Body="<p>El <b>servidor</b> guarda la base de datos de cada cliente.</p>".encode())
    job = translate.start_text_translation_job(
        InputDataConfig={"S3Uri": f"s3://{bucket}/docs", "ContentType": "text/html"},
        OutputDataConfig={"S3Uri": f"s3://{bucket}/res"}, DataAccessRoleArn=ROLE, SourceLanguageCode="auto",
        TargetLanguageCodes=["en"], TerminologyNames=["it-terms"], ClientToken=uuid.uuid4().hex)
    props = wait_for_job(translate, job["JobId"])
    assert props["JobStatus"] == "COMPLETED", props
    out = s3.get_object(Bucket=bucket, Key=f"res/000000000000-TranslateText-{job['JobId']}/en.a.html")
    text = out["Body"].read().decode()
    assert tags_of(text) == [("start", "p", ()), ("start", "b", ()), ("end", "b"), ("end", "p")]
    assert "database" in text and "server" in text


def test_batch_job_same_language_target(translate, s3, bucket):
    # A target equal to the source is accepted (TranslateText's rule): the document comes out unchanged, uncharged.
    original = "The house is red and the dog is big."
    s3.put_object(Bucket=bucket, Key="same/doc.txt", Body=original.encode())
    job = translate.start_text_translation_job(
        InputDataConfig={"S3Uri": f"s3://{bucket}/same/", "ContentType": "text/plain"},
        OutputDataConfig={"S3Uri": f"s3://{bucket}/same-out/"}, DataAccessRoleArn=ROLE, SourceLanguageCode="en",
        TargetLanguageCodes=["en", "es"], ClientToken=uuid.uuid4().hex)
    props = wait_for_job(translate, job["JobId"])
    assert props["JobStatus"] == "COMPLETED", props
    folder = f"same-out/000000000000-TranslateText-{job['JobId']}/"
    assert s3.get_object(Bucket=bucket, Key=folder + "en.doc.txt")["Body"].read().decode() == original
    assert "perro" in s3.get_object(Bucket=bucket, Key=folder + "es.doc.txt")["Body"].read().decode().lower()
    details = s3.get_object(Bucket=bucket, Key=folder + "details/en.auxiliary-translation-details.json")
    assert '"charactersTranslated": 0' in details["Body"].read().decode()


def test_batch_job_errors(translate, bucket):
    def start(**overrides):
        args = dict(InputDataConfig={"S3Uri": f"s3://{bucket}/in/", "ContentType": "text/plain"},
                    OutputDataConfig={"S3Uri": f"s3://{bucket}/out/"}, DataAccessRoleArn=ROLE,
                    SourceLanguageCode="en", TargetLanguageCodes=["es"], ClientToken=uuid.uuid4().hex)
        args.update(overrides)
        return translate.start_text_translation_job(**args)

    with pytest.raises(translate.exceptions.UnsupportedLanguagePairException):
        start(TargetLanguageCodes=["es", "ja"])
    for source, targets in (("zz", ["zz"]), ("en", ["es", "zz"]), ("auto", ["zz"])):
        with pytest.raises(translate.exceptions.UnsupportedLanguagePairException):
            start(SourceLanguageCode=source, TargetLanguageCodes=targets)
    with pytest.raises(translate.exceptions.InvalidRequestException):
        start(InputDataConfig={"S3Uri": f"s3://{bucket}/in/", "ContentType": "application/pdf"})
    with pytest.raises(translate.exceptions.ResourceNotFoundException):
        start(TerminologyNames=["nope"])
    with pytest.raises(translate.exceptions.ResourceNotFoundException):
        translate.describe_text_translation_job(JobId="0" * 32)
    # An empty input folder: the job is accepted and fails with a reason.
    job = start()
    props = wait_for_job(translate, job["JobId"])
    assert props["JobStatus"] == "FAILED" and "No documents" in props["Message"]
    stopped = translate.stop_text_translation_job(JobId=job["JobId"])
    assert stopped["JobStatus"] == "FAILED"


def _descendants(pid: int) -> dict[int, str]:
    """pid -> command name of every process below `pid` (from /proc)."""
    import os

    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        parents[int(entry)], names[int(entry)] = ppid, name
    found, frontier = {}, [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parents.items():
            if parent == current and child not in found:
                found[child] = names[child]
                frontier.append(child)
    return found


def test_batch_jobs_keep_engine_loaded(translate, gateway, s3, bucket):
    """Two jobs of many documents run through the same Apertium processes: nothing is reloaded per document."""
    for index in range(12):
        s3.put_object(Bucket=bucket, Key=f"many/doc{index:02d}.txt",
                      Body=f"Document {index}. The house is red and the dog is big.".encode())

    def run_job() -> dict:
        job = translate.start_text_translation_job(
            InputDataConfig={"S3Uri": f"s3://{bucket}/many/", "ContentType": "text/plain"},
            OutputDataConfig={"S3Uri": f"s3://{bucket}/many-out/"}, DataAccessRoleArn=ROLE,
            SourceLanguageCode="en", TargetLanguageCodes=["es", "gl"], ClientToken=uuid.uuid4().hex)
        return wait_for_job(translate, job["JobId"])

    first = run_job()
    assert first["JobStatus"] == "COMPLETED" and first["JobDetails"]["TranslatedDocumentsCount"] == 12
    transducers = {pid for pid, name in _descendants(gateway.process.pid).items() if name == "lt-proc"}
    assert transducers
    second = run_job()
    assert second["JobStatus"] == "COMPLETED"
    after = {pid for pid, name in _descendants(gateway.process.pid).items() if name == "lt-proc"}
    assert transducers <= after  # the same processes served the second job's 24 translations


def test_stop_job(translate, s3, bucket):
    for index in range(60):
        s3.put_object(Bucket=bucket, Key=f"stop/doc{index:02d}.txt", Body=b"The house is red. The dog is big.")
    job = translate.start_text_translation_job(
        InputDataConfig={"S3Uri": f"s3://{bucket}/stop/", "ContentType": "text/plain"},
        OutputDataConfig={"S3Uri": f"s3://{bucket}/stop-out/"}, DataAccessRoleArn=ROLE, SourceLanguageCode="en",
        TargetLanguageCodes=["es", "ca"], ClientToken=uuid.uuid4().hex)
    # Stop it while it runs (a stop before the worker picks the job up is the job framework's business).
    poll(lambda: job_properties(translate, job["JobId"]), lambda props: props["JobStatus"] != "SUBMITTED",
         timeout=60, interval=0.05, raise_on_timeout=False)  # as before, a job still SUBMITTED is stopped too
    stopped = translate.stop_text_translation_job(JobId=job["JobId"])
    assert stopped["JobStatus"] in ("STOP_REQUESTED", "STOPPED")
    props = wait_for_job(translate, job["JobId"])
    assert props["JobStatus"] == "STOPPED"
    listed = translate.list_text_translation_jobs(Filter={"JobStatus": "STOPPED"})["TextTranslationJobPropertiesList"]
    assert job["JobId"] in [item["JobId"] for item in listed]
