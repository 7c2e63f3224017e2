"""Rekognition quality through the gateway (boto3 against a running `aigate serve`), on photos that ship in packages
(tests/photos.py), with the truth written by hand here:

1. face verification: CompareFaces on every pair of single-face photos; same person must reach the default
   SimilarityThreshold (80), different people must not (goal: no error) — similarities reported per pair;
2. identification: IndexFaces of one photo per person, SearchFacesByImage with the others: top-1 right, and no
   match for people not in the collection;
3. gender and age of the labelled faces (the group photo's six, left to right: F F M M M F);
4. DetectLabels: the labels expected for each photo are present (Debian `darknet`'s photos too, when installed:
   `apt-get install darknet`);
5. with an object detector switched on (AIGATE_REKOGNITION_OBJECT_DETECTOR, or the opt-in AGPL
   AIGATE_REKOGNITION_AGPL_YOLO11N_SEG, in the environment): the objects expected on each photo are found as
   Instances, as many as there are (at MinConfidence 25).

    .venv/bin/python bench/rekognition_quality.py
    AIGATE_REKOGNITION_AGPL_YOLO11N_SEG=true .venv/bin/python bench/rekognition_quality.py
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import GatewayProcess  # noqa: E402
from tests.photos import photo_bytes  # noqa: E402

# Single-face photos and who is on them.
IDENTITY = {"obama": "obama", "obama2": "obama", "obama3": "obama", "obama_partial": "obama",
            "obama_partial2": "obama", "biden": "biden", "tom_hanks": "hanks", "astronaut": "collins"}
GALLERY = {"obama": "obama", "biden": "biden", "tom_hanks": "hanks"}  # indexed; the rest are probes
GENDER = {"obama": "Male", "biden": "Male", "tom_hanks": "Male", "astronaut": "Female"}
GROUP_GENDERS = ["Female", "Female", "Male", "Male", "Male", "Female"]  # t1.jpg's faces from left to right
# Approximate ages at the time of the photo (public figures), for the AgeRange check.
AGE = {"obama": 47, "biden": 66, "astronaut": 42}
# Any one of the names must be among the labels.
LABELS = {"coffee": {"Coffee Cup", "Cup", "Coffee", "Beverage"}, "chelsea": {"Cat"}, "astronaut": {"Person"},
          "rocket": {"Rocket", "Spaceship", "Missile"}, "motorcycle": {"Motorcycle"}, "bus": {"Bus"},
          "zidane": {"Person"}, "group": {"Person"},
          "dog": {"Dog"}, "horses": {"Horse"}, "eagle": {"Bird", "Eagle"}, "giraffe": {"Giraffe"},
          "kite": {"Kite", "Person"}, "person": {"Person", "Dog", "Horse"}}

# Objects on the photos and how many of each (counted by hand): section 5.
OBJECTS = {"dog": {"Dog": 1, "Bicycle": 1, "Car": 1}, "horses": {"Horse": 5}, "bus": {"Bus": 1, "Person": 4},
           "zidane": {"Person": 2}, "kite": {"Person": 6, "Kite": 6}, "person": {"Person": 1, "Horse": 1, "Dog": 1},
           "giraffe": {"Giraffe": 1}, "eagle": {"Bird": 1}}


def image(name: str) -> dict:
    return {"Bytes": photo_bytes(name)}


def verification(rekognition) -> tuple[int, int]:
    print("\n1. face verification, CompareFaces (threshold 80)")
    print(f"{'source':16} {'target':16} {'same':5} {'similarity':>10}  verdict")
    errors = pairs = 0
    for source, target in itertools.combinations(IDENTITY, 2):
        answer = rekognition.compare_faces(SourceImage=image(source), TargetImage=image(target),
                                           SimilarityThreshold=0)
        similarity = max((match["Similarity"] for match in answer["FaceMatches"]), default=0.0)
        same = IDENTITY[source] == IDENTITY[target]
        right = (similarity >= 80) == same
        errors += not right
        pairs += 1
        print(f"{source:16} {target:16} {str(same):5} {similarity:10.1f}  {'ok' if right else 'ERROR'}")
    return errors, pairs


def identification(rekognition) -> tuple[int, int]:
    print("\n2. identification: IndexFaces + SearchFacesByImage (FaceMatchThreshold 80)")
    collection = "bench-quality"
    try:
        rekognition.delete_collection(CollectionId=collection)
    except rekognition.exceptions.ResourceNotFoundException:
        pass
    rekognition.create_collection(CollectionId=collection)
    for name, person in GALLERY.items():
        rekognition.index_faces(CollectionId=collection, Image=image(name), ExternalImageId=person)
    right = total = 0
    for name, person in IDENTITY.items():
        if name in GALLERY:
            continue
        matches = rekognition.search_faces_by_image(CollectionId=collection, Image=image(name))["FaceMatches"]
        found = matches[0]["Face"]["ExternalImageId"] if matches else None
        expected = person if person in GALLERY.values() else None
        total += 1
        right += found == expected
        print(f"{name:16} expected {str(expected):8} found {str(found):8} "
              f"{matches[0]['Similarity'] if matches else 0:6.1f}")
    rekognition.delete_collection(CollectionId=collection)
    return right, total


def attributes(rekognition) -> tuple[int, int]:
    print("\n3. gender and age (DetectFaces Attributes=ALL)")
    right = total = 0
    for name, gender in GENDER.items():
        [face] = rekognition.detect_faces(Image=image(name), Attributes=["ALL"])["FaceDetails"]
        age = face["AgeRange"]
        total += 1
        right += face["Gender"]["Value"] == gender
        within = "" if name not in AGE else (" age ok" if age["Low"] <= AGE[name] <= age["High"] else
                                              f" age {AGE[name]} outside")
        print(f"{name:16} gender {face['Gender']['Value']:6} (truth {gender}) age {age['Low']}-{age['High']}{within}")
    faces = rekognition.detect_faces(Image=image("group"), Attributes=["ALL"])["FaceDetails"]
    faces.sort(key=lambda face: face["BoundingBox"]["Left"])
    found = [face["Gender"]["Value"] for face in faces]
    print(f"group photo      genders {found} (truth {GROUP_GENDERS})")
    if len(found) == len(GROUP_GENDERS):
        right += sum(a == b for a, b in zip(found, GROUP_GENDERS))
    total += len(GROUP_GENDERS)
    return right, total


def labels(rekognition) -> tuple[int, int]:
    print("\n4. DetectLabels: expected labels present")
    right = total = 0
    for name, expected in LABELS.items():
        try:
            data = photo_bytes(name)
        except FileNotFoundError:
            print(f"{name:12} (not installed)")
            continue
        found = [label["Name"] for label in rekognition.detect_labels(Image={"Bytes": data})["Labels"]]
        ok = bool(expected & set(found))
        total += 1
        right += ok
        print(f"{name:12} {'ok ' if ok else 'MISS'} expected one of {sorted(expected)}; got {found[:8]}")
    return right, total


def objects(rekognition) -> tuple[int, int]:
    print("\n5. DetectLabels Instances from the object detector (MinConfidence 25)")
    right = total = 0
    for name, expected in OBJECTS.items():
        try:
            data = photo_bytes(name)
        except FileNotFoundError:
            print(f"{name:12} (not installed)")
            continue
        answer = rekognition.detect_labels(Image={"Bytes": data}, MinConfidence=25)["Labels"]
        counts = {label["Name"]: len(label.get("Instances") or []) for label in answer}
        for label, count in expected.items():
            total += count
            found = min(count, counts.get(label, 0))
            right += found
            print(f"{name:12} {label:10} {found}/{count} found ({counts.get(label, 0)} answered)")
    return right, total


def main() -> None:
    detector = any(os.environ.get(name, "").lower() in ("1", "true") for name in
                   ("AIGATE_REKOGNITION_OBJECT_DETECTOR", "AIGATE_REKOGNITION_AGPL_YOLO11N_SEG"))
    with tempfile.TemporaryDirectory() as folder:
        gateway = GatewayProcess(Path(folder) / "data").start(timeout=120)
        try:
            rekognition = gateway.client("rekognition", read_timeout=300)
            errors, pairs = verification(rekognition)
            identified, probes = identification(rekognition)
            genders, faces = attributes(rekognition)
            labelled, photos = labels(rekognition)
            found, present = objects(rekognition) if detector else (0, 0)
        finally:
            gateway.stop()
    print(f"\nverification errors {errors}/{pairs}; identification {identified}/{probes}; "
          f"genders {genders}/{faces}; labels {labelled}/{photos}"
          + (f"; objects {found}/{present}" if detector else "; objects not measured (no detector switched on)"))
    print(f"rekognition_quality: {errors} verification errors in {pairs} pairs (goal 0)")


if __name__ == "__main__":
    main()
