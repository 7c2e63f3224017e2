"""Amazon Rekognition's label taxonomy over the 1000 ImageNet-1k classes of the `imagenet-labels` engine.

Two tables, written as data:

- `_LABEL_TABLE`: every label this gateway can return, one per line — `Name | direct parents | category | aliases`.
  An empty category is inherited from the first parent that has one. Names, parents, aliases and categories
  follow Rekognition's v3 label model as its responses show them (e.g. Dog → Canine, Pet → Mammal → Animal;
  Person aliased Human; Face under Head and Person; categories such as "Animals and Pets",
  "Vehicles and Automotive", "Food and Beverage"); `LABELS` gives each label its full ancestor list, sorted by
  name as DetectLabels returns `Parents`.
- `_CLASS_TABLE`: `index` or `first-last` ImageNet indices → the most specific labels for those classes. Lines
  add up: a class gets every label of every line that covers it (151-268 are all Dog, and 207 adds Golden
  Retriever). The ancestors are not repeated here; they come from `LABELS`.

AWS publishes its own label list as a download this project does not ship; this table is written to it from
AWS's documented examples and responses, so a label name here can still differ from AWS's for rare classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

# The label categories of Rekognition's v3 label model (the values LabelCategoryInclusionFilters takes).
CATEGORIES: frozenset[str] = frozenset({
    "Actions", "Animals and Pets", "Apparel and Accessories", "Beauty and Personal Care",
    "Buildings and Architecture", "Colors and Visual Composition", "Damage Detection", "Education",
    "Events and Attractions", "Everyday Objects", "Expressions and Emotions", "Food and Beverage",
    "Furniture and Furnishings", "Health and Fitness", "Hobbies and Interests", "Home and Indoors",
    "Home Appliances", "Kitchen and Dining", "Materials", "Medical", "Nature and Outdoors",
    "Offices and Workspaces", "Patterns and Shapes", "Performing Arts", "Person Description",
    "Plants and Flowers", "Popular Landmarks", "Profession", "Public Safety", "Religion", "Sports",
    "Symbols and Flags", "Technology and Computing", "Text and Documents", "Tools and Machinery",
    "Toys and Gaming", "Transport and Logistics", "Travel and Adventure", "Vehicles and Automotive",
    "Weapons and Military",
})

# Name | direct parents | category (empty: the first parent's) | aliases
_LABEL_TABLE = """
# ---- animals: roots and groups
Animal | | Animals and Pets |
Mammal | Animal | |
Pet | Animal | |
Wildlife | Animal | |
Sea Life | Animal | |
Invertebrate | Animal | |
Insect | Invertebrate | |
Livestock | Animal | |
Bird | Animal | |
Poultry | Bird | |
Fish | Sea Life | |
Amphibian | Animal | |
Reptile | Animal | |
Rodent | Mammal | |
Canine | Mammal | |
Dog | Canine, Pet | |
Cat | Mammal, Pet | |
# fish
Goldfish | Fish, Pet | |
Shark | Fish | |
Stingray | Fish | |
Eel | Fish | |
# birds
Chicken | Poultry | |
Rooster | Chicken | |
Hen | Chicken | |
Ostrich | Bird | |
Finch | Bird | |
Sparrow | Bird | |
Robin | Bird | |
Jay | Bird | |
Hawk | Bird | |
Eagle | Bird | |
Bald Eagle | Eagle | |
Vulture | Bird | |
Owl | Bird | |
Grouse | Bird | |
Peacock | Bird | |
Quail | Bird | |
Partridge | Bird | |
Parrot | Bird | |
Macaw | Parrot | |
Cockatoo | Parrot | |
Hummingbird | Bird | |
Toucan | Bird | |
Duck | Bird | |
Goose | Bird | |
Swan | Bird | |
Stork | Bird | |
Flamingo | Bird | |
Heron | Bird | |
Egret | Heron | |
Pelican | Bird | |
Penguin | Bird | |
Albatross | Bird | |
# amphibians, reptiles
Salamander | Amphibian | |
Newt | Amphibian | |
Frog | Amphibian, Wildlife | |
Turtle | Reptile | |
Sea Turtle | Turtle, Sea Life | |
Lizard | Reptile | |
Gecko | Lizard | |
Iguana | Lizard | |
Chameleon | Lizard | |
Crocodile | Reptile | |
Alligator | Reptile | |
Dinosaur | Animal | |
Snake | Reptile | |
Cobra | Snake | |
Rattlesnake | Snake | |
Fossil | | Nature and Outdoors |
# invertebrates
Spider | Invertebrate | |
Black Widow | Spider | |
Tarantula | Spider | |
Scorpion | Invertebrate | |
Tick | Invertebrate | |
Centipede | Invertebrate | |
Jellyfish | Invertebrate, Sea Life | |
Sea Anemone | Invertebrate, Sea Life | |
Worm | Invertebrate | |
Seashell | Invertebrate, Sea Life | | Shell
Snail | Invertebrate | |
Slug | Invertebrate | |
Seafood | Food | |
Crab | Invertebrate, Sea Life, Seafood | Animals and Pets |
Lobster | Invertebrate, Sea Life, Seafood | Animals and Pets |
Crayfish | Invertebrate, Seafood | Animals and Pets |
Beetle | Insect | |
Ladybug | Insect | |
Fly | Insect | |
Bee | Insect | |
Ant | Insect | |
Grasshopper | Insect | |
Cockroach | Insect | |
Mantis | Insect | |
Dragonfly | Insect | |
Butterfly | Insect | |
Starfish | Invertebrate, Sea Life | |
Coral Reef | Sea Life | Nature and Outdoors | Reef
# sea mammals
Whale | Mammal, Sea Life | |
Orca | Whale | | Killer Whale
Sea Lion | Mammal, Sea Life | |
# dogs (Rekognition returns the breed with Dog, Canine, Mammal, Pet, Animal)
Chihuahua | Dog | |
Pekingese | Dog | |
Shih Tzu | Dog | |
Spaniel | Dog | |
Cocker Spaniel | Spaniel | |
Papillon | Dog | |
Terrier | Dog | |
Pit Bull | Terrier | |
Yorkshire Terrier | Terrier | |
Boston Terrier | Terrier | |
Scottish Terrier | Terrier | |
West Highland White Terrier | Terrier | |
Hound | Dog | |
Basset Hound | Hound | |
Beagle | Hound | |
Bloodhound | Hound | |
Greyhound | Hound | |
Whippet | Hound | |
Weimaraner | Dog | |
Schnauzer | Dog | |
Lhasa Apso | Dog | |
Golden Retriever | Dog | |
Labrador Retriever | Dog | |
Pointer | Dog | |
Vizsla | Dog | |
Old English Sheepdog | Dog | |
Collie | Dog | |
Border Collie | Collie | |
Rottweiler | Dog | |
German Shepherd | Dog | |
Doberman | Dog | |
Bernese Mountain Dog | Dog | |
Boxer | Dog | |
Mastiff | Dog | |
Bulldog | Dog | |
Great Dane | Dog | |
Saint Bernard | Dog | |
Husky | Dog | |
Malamute | Dog | |
Dalmatian | Dog | |
Pug | Dog | |
Newfoundland | Dog | |
Samoyed | Dog | |
Pomeranian | Dog | |
Chow | Dog | |
Corgi | Dog | |
Poodle | Dog | |
# wild canines, cats, bears
Wolf | Canine, Wildlife | |
Coyote | Canine, Wildlife | |
Fox | Canine, Wildlife | |
Hyena | Mammal, Wildlife | |
Persian | Cat | |
Siamese | Cat | |
Cougar | Mammal, Wildlife | | Puma
Lynx | Mammal, Wildlife | |
Leopard | Mammal, Wildlife | |
Jaguar | Mammal, Wildlife | |
Lion | Mammal, Wildlife | |
Tiger | Mammal, Wildlife | |
Cheetah | Mammal, Wildlife | |
Bear | Mammal, Wildlife | |
Black Bear | Bear | |
Polar Bear | Bear | |
Giant Panda | Bear | |
Red Panda | Mammal, Wildlife | |
Meerkat | Mammal, Wildlife | |
# other mammals
Elephant | Mammal, Wildlife | |
Kangaroo | Mammal, Wildlife | | Wallaby
Koala | Mammal, Wildlife | |
Rabbit | Mammal | |
Hamster | Rodent, Pet | |
Guinea Pig | Rodent, Pet | |
Porcupine | Rodent, Wildlife | |
Squirrel | Rodent, Wildlife | |
Marmot | Rodent, Wildlife | |
Beaver | Rodent, Wildlife | |
Horse | Mammal | |
Zebra | Mammal, Wildlife | |
Pig | Mammal | |
Boar | Pig, Wildlife | |
Warthog | Pig, Wildlife | |
Hippo | Mammal, Wildlife | | Hippopotamus
Cattle | Livestock, Mammal | |
Ox | Cattle | |
Buffalo | Cattle, Wildlife | |
Bison | Cattle, Wildlife | |
Sheep | Livestock, Mammal | |
Bighorn | Mammal, Wildlife | |
Antelope | Mammal, Wildlife | |
Impala | Antelope | |
Gazelle | Antelope | |
Camel | Mammal | |
Llama | Mammal | |
Weasel | Mammal, Wildlife | |
Otter | Mammal, Wildlife | |
Skunk | Mammal, Wildlife | |
Badger | Mammal, Wildlife | |
Armadillo | Mammal, Wildlife | |
Sloth | Mammal, Wildlife | |
Ape | Mammal, Wildlife | |
Orangutan | Ape | |
Gorilla | Ape | |
Chimpanzee | Ape | |
Monkey | Mammal, Wildlife | |
Baboon | Monkey | |
Lemur | Mammal, Wildlife | |
# ---- people
Person | | Person Description | Human
Head | Person | |
Face | Head, Person | |
Adult | Person | |
Male | Person | |
Man | Adult, Male, Person | |
Groom | Adult, Male, Man, Person | Person Description |
Baseball Player | Person | Sports |
Scuba Diving | Person, Sport | Sports |
# ---- clothing and accessories
Clothing | | Apparel and Accessories | Apparel
Accessories | | Apparel and Accessories |
Footwear | Clothing | |
Shoe | Footwear | |
Boot | Footwear | |
Cowboy Boot | Boot | |
Running Shoe | Shoe | | Sneaker
Loafer | Shoe | |
Sandal | Footwear | |
Clog | Footwear | |
Hat | Clothing | |
Cap | Hat | |
Cowboy Hat | Hat | |
Sombrero | Hat | |
Bonnet | Hat | |
Graduation Cap | Hat | | Mortarboard
Shower Cap | Cap | |
Helmet | Clothing | |
Crash Helmet | Helmet | |
Football Helmet | Helmet | |
Coat | Clothing | |
Fur Coat | Coat | |
Trench Coat | Coat | |
Lab Coat | Coat | |
Cloak | Clothing | |
Poncho | Clothing | |
Vest | Clothing | |
Dress | Clothing | |
Gown | Dress, Fashion | | Evening Dress
Fashion | Clothing | |
Kimono | Robe | |
Robe | Clothing | |
Sarong | Clothing | |
Skirt | Clothing | |
Miniskirt | Skirt | |
Hoop Skirt | Skirt | |
Pants | Clothing | |
Jeans | Pants | | Denim
Tights | Clothing | |
Shirt | Clothing | |
T-Shirt | Shirt | |
Sweatshirt | Sweater | | Hoodie
Sweater | Clothing | |
Cardigan | Sweater | |
Suit | Formal Wear | |
Formal Wear | Clothing | |
Military Uniform | Clothing, Military | |
Uniform | Clothing | |
Apron | Clothing | |
Bib | Clothing | |
Pajamas | Clothing | |
Swimwear | Clothing | | Swimsuit
Bikini | Swimwear | |
Bra | Lingerie | |
Lingerie | Underwear | |
Underwear | Clothing | |
Sock | Clothing | |
Glove | Clothing | |
Mitten | Glove | |
Diaper | Clothing | |
Vestment | Clothing | Religion |
Balaclava | Clothing | |
Knee Pad | Clothing | |
Scarf | Accessories | |
Feather Boa | Accessories | |
Tie | Accessories | | Necktie
Bow Tie | Accessories | |
Jewelry | Accessories | |
Necklace | Jewelry | |
Bag | Accessories | |
Backpack | Bag | |
Handbag | Bag | | Purse
Purse | Handbag | |
Wallet | Accessories | |
Glasses | Accessories | |
Sunglasses | Glasses | |
Buckle | Accessories | |
Wig | Hair | Beauty and Personal Care |
Hair | Person | Beauty and Personal Care |
Hair Slide | Accessories | |
Mask | Accessories | |
Gas Mask | Mask | Public Safety |
Oxygen Mask | Mask | Medical |
Armor | | Weapons and Military |
Chain Mail | Armor | |
Handkerchief | Accessories | |
Christmas Stocking | Christmas Decorations | |
Christmas Decorations | | Events and Attractions |
Velvet | Textile | |
Wool | Textile | |
Textile | | Materials |
# ---- beauty
Cosmetics | | Beauty and Personal Care | Makeup
Lipstick | Cosmetics | |
Face Powder | Cosmetics | |
Perfume | Bottle, Cosmetics | Beauty and Personal Care |
Lotion | Bottle, Cosmetics | Beauty and Personal Care |
Sunscreen | Bottle, Cosmetics | Beauty and Personal Care |
Hairspray | Bottle, Cosmetics | Beauty and Personal Care |
Hair Dryer | Appliance | Beauty and Personal Care | Blow Dryer
Brush | Tool | |
Soap Dispenser | Bottle | Home and Indoors |
Toilet Paper | Paper | Home and Indoors |
Paper Towel | Paper | Home and Indoors |
Paper | | Everyday Objects |
Towel | | Home and Indoors |
# ---- vehicles and transport
Transportation | | Vehicles and Automotive |
Vehicle | Transportation | |
Car | Vehicle | | Automobile
Sports Car | Car | |
Race Car | Car | |
Convertible | Car | |
Station Wagon | Car | |
Taxi | Car | | Cab
Limo | Car | | Limousine
Jeep | Car | |
Model T | Antique Car | |
Antique Car | Car | |
Van | Vehicle | |
Minivan | Van | |
Moving Van | Van | |
Ambulance | Van | |
Bus | Vehicle | |
Minibus | Bus | |
School Bus | Bus | |
Trolley Bus | Bus | |
Truck | Vehicle | |
Pickup Truck | Truck | |
Fire Truck | Truck | |
Garbage Truck | Truck | |
Tow Truck | Truck | |
Trailer Truck | Truck | |
RV | Vehicle | | Motorhome
Mobile Home | Building | Buildings and Architecture |
Motorcycle | Vehicle | | Motorbike
Moped | Motorcycle | |
Scooter | Motorcycle | |
Bicycle | Vehicle | | Bike
Mountain Bike | Bicycle | |
Tricycle | Vehicle | |
Unicycle | Vehicle | |
Wheel | Machine | Vehicles and Automotive |
Disc Brake | Machine | Vehicles and Automotive |
Car Mirror | Vehicle | |
Grille | Vehicle | |
Odometer | Vehicle | |
Seat Belt | Vehicle | |
Oil Filter | Machine | Vehicles and Automotive |
Go-Kart | Vehicle | |
Golf Cart | Vehicle | |
Snowmobile | Vehicle | |
Tractor | Vehicle | |
Forklift | Vehicle | |
Harvester | Vehicle | |
Snowplow | Vehicle | |
Tank | Vehicle, Military | |
Half Track | Vehicle, Military | |
Cart | Vehicle | |
Carriage | Vehicle | |
Rickshaw | Vehicle | |
Sled | | Sports |
Bobsled | Sled | |
Wheelbarrow | Vehicle | Tools and Machinery |
Shopping Cart | Cart | |
Railway | Transportation | |
Train | Railway, Vehicle | |
Locomotive | Train | |
Electric Locomotive | Locomotive | |
Steam Engine | Locomotive | |
High-Speed Train | Train | |
Freight Car | Train | |
Tram | Vehicle | | Streetcar
Watercraft | Vehicle | |
Boat | Watercraft | |
Canoe | Boat | |
Gondola | Boat | |
Lifeboat | Boat | |
Fireboat | Boat | |
Speedboat | Boat | |
Sailboat | Boat | |
Catamaran | Sailboat | |
Trimaran | Sailboat | |
Schooner | Sailboat | |
Pirate Ship | Ship | |
Ship | Watercraft | |
Cruise Ship | Ship | |
Container Ship | Ship | |
Aircraft Carrier | Ship, Military | |
Submarine | Watercraft, Military | |
Shipwreck | Ship | |
Paddle Wheel | Boat | |
Paddle | Oars | Sports |
Oars | | Sports |
Aircraft | Vehicle | |
Airplane | Aircraft | | Aeroplane
Airliner | Airplane | |
Military Aircraft | Airplane, Military | |
Airplane Wing | Airplane | |
Blimp | Aircraft | |
Space Shuttle | Spaceship | |
Spaceship | Aircraft | |
Rocket | | Vehicles and Automotive |
Missile | Rocket, Weapon | Weapons and Military |
Parachute | | Sports |
Traffic Light | Light | Public Safety |
Road Sign | Sign | Transport and Logistics |
Sign | Symbol | Symbols and Flags |
Symbol | | Symbols and Flags |
Gas Pump | Machine | Vehicles and Automotive |
Parking Meter | | Transport and Logistics |
Manhole | | Transport and Logistics |
Turnstile | | Transport and Logistics |
# ---- military and weapons
Military | | Weapons and Military |
Weapon | | Weapons and Military |
Gun | Weapon | | Firearm
Rifle | Gun | |
Revolver | Gun | | Handgun
Cannon | Weapon | |
Shield | Armor | |
Scabbard | Weapon | |
Holster | Weapon | |
# ---- buildings and places
Building | | Buildings and Architecture |
Architecture | | Buildings and Architecture |
Tower | Architecture, Building | |
Lighthouse | Tower | |
Bell Tower | Tower | |
Water Tower | Tower | |
Church | Architecture, Building | Religion |
Mosque | Architecture, Building | Religion |
Monastery | Architecture, Building | Religion |
Stupa | Architecture, Building | Religion |
Altar | Church | Religion |
Castle | Architecture, Building | |
Palace | Architecture, Building | |
Dome | Architecture | |
Arch | Architecture | |
Obelisk | Monument | |
Monument | Architecture | |
Megalith | Monument | |
Totem Pole | Monument | |
Planetarium | Architecture, Building | |
Prison | Building | |
Greenhouse | Building | |
Barn | Building | |
Boathouse | Building | |
Yurt | Tent | |
Tent | | Travel and Adventure |
Cliff Dwelling | Architecture, Building | |
Thatched Roof | Roof | |
Roof | Architecture | |
Roof Tile | Roof | |
Bridge | | Buildings and Architecture |
Arch Bridge | Bridge | |
Suspension Bridge | Bridge | |
Viaduct | Bridge | |
Dam | | Buildings and Architecture |
Pier | | Travel and Adventure |
Dock | Pier | |
Breakwater | | Nature and Outdoors |
Fountain | Architecture | |
Stone Wall | Wall | |
Wall | Architecture | |
Fence | | Buildings and Architecture |
Picket Fence | Fence | |
Railing | | Buildings and Architecture | Handrail
Patio | | Home and Indoors |
Shop | Building | Buildings and Architecture | Store
Bakery | Shop | |
Barbershop | Shop | |
Bookstore | Shop | |
Butcher Shop | Shop | |
Candy Store | Shop | |
Grocery Store | Shop | | Supermarket
Shoe Shop | Shop | |
Tobacco Shop | Shop | |
Toy Store | Shop | |
Restaurant | Building | Food and Beverage |
Library | Building | Education |
Cinema | Building | Performing Arts | Movie Theater
Stage | | Performing Arts |
Carousel | Amusement Park | |
Amusement Park | | Events and Attractions |
Maypole | | Events and Attractions |
Maze | | Events and Attractions |
Sawmill | Building | Tools and Machinery |
Oil Rig | | Tools and Machinery |
Construction Crane | Construction | |
Construction | | Tools and Machinery |
Solar Panels | Electrical Device | | Solar Panel
Radio Telescope | Electrical Device | |
Beehive | | Animals and Pets |
Birdhouse | | Animals and Pets |
Honeycomb | | Food and Beverage |
Spider Web | | Animals and Pets | Cobweb
Flagpole | | Symbols and Flags |
Pole | | Everyday Objects |
Sundial | | Everyday Objects |
Scoreboard | | Sports |
Vault | Safe | |
Sliding Door | Door | |
Door | | Home and Indoors |
Window Screen | Window | |
Window Shade | Window | |
Window | | Home and Indoors |
Shoji | Door | |
Curtain | | Home and Indoors |
Shower Curtain | Curtain | |
# ---- furniture and home
Furniture | | Furniture and Furnishings |
Chair | Furniture | |
Folding Chair | Chair | |
Rocking Chair | Chair | |
Barber Chair | Chair | |
Throne | Chair | |
Bench | Furniture | |
Table | Furniture | |
Desk | Table | |
Dining Table | Table | |
Billiard Table | Table | Sports |
Bed | Furniture | |
Canopy Bed | Bed | |
Crib | Bed | |
Cradle | Crib | |
Couch | Furniture | | Sofa
Cabinet | Furniture | | Cupboard
China Cabinet | Cabinet | |
Medicine Cabinet | Cabinet | |
Filing Cabinet | Cabinet | |
Chest of Drawers | Furniture | | Dresser
Wardrobe | Furniture | | Closet
Bookcase | Shelf | |
Shelf | Furniture | |
Entertainment Center | Furniture | |
Home Theater | Entertainment Center, Electronics | |
Treasure Chest | Box | |
Box | | Everyday Objects |
Crate | Box | |
Carton | Box | |
Safe | | Everyday Objects |
Pillow | Cushion | Home and Indoors |
Cushion | | Home and Indoors |
Quilt | Blanket | |
Blanket | | Home and Indoors |
Prayer Rug | Rug | Religion |
Rug | | Home and Indoors |
Doormat | Rug | |
Sleeping Bag | | Travel and Adventure |
Lamp | | Home and Indoors |
Table Lamp | Lamp | |
Lampshade | Lamp | |
Light | | Home and Indoors |
Spotlight | Light | |
Torch | Light | |
Candle | | Home and Indoors |
Fireplace | | Home and Indoors | Hearth
Bathtub | Tub | |
Tub | | Home and Indoors |
Sink | | Home and Indoors |
Toilet | | Home and Indoors |
Vase | Pottery | |
Pottery | | Home and Indoors |
Radiator | | Home and Indoors |
Space Heater | Appliance | |
Switch | Electrical Device | |
Mosquito Net | | Home and Indoors |
Hamper | Basket | |
Basket | | Everyday Objects |
Bucket | | Everyday Objects |
Rain Barrel | Barrel | |
Barrel | | Everyday Objects |
Broom | Cleaning | |
Mop | Cleaning | |
Plunger | Cleaning | |
Cleaning | | Home and Indoors |
Vacuum Cleaner | Appliance, Cleaning | Home Appliances |
Umbrella | | Everyday Objects |
Teddy Bear | Toy | |
Toy | | Toys and Gaming |
Piggy Bank | Toy | |
Jigsaw Puzzle | Game | |
Game | | Toys and Gaming |
Crossword Puzzle | Game | |
Balloon | | Events and Attractions |
Pinwheel | Toy | |
Swing | Toy | |
Joystick | Electronics | Toys and Gaming |
Slot Machine | Game | |
Jack-o'-lantern | Halloween | |
Halloween | | Events and Attractions |
Wind Chime | | Home and Indoors |
# ---- appliances
Appliance | | Home Appliances |
Refrigerator | Appliance | | Fridge
Dishwasher | Appliance | |
Washing Machine | Appliance | | Washer
Microwave | Appliance | |
Toaster | Appliance | |
Stove | Appliance | | Oven
Electric Fan | Appliance | |
Iron | Appliance | |
Sewing Machine | Appliance | |
Coffee Maker | Appliance | |
Espresso Machine | Coffee Maker | |
Slow Cooker | Appliance | | Crock Pot
Waffle Iron | Appliance | |
Rotisserie | Appliance | |
Vending Machine | Machine | |
ATM | Machine | | Cash Machine
Machine | | Tools and Machinery |
# ---- kitchen
Cup | | Kitchen and Dining |
Coffee Cup | Cup | |
Measuring Cup | Cup | |
Beer Glass | Glass | |
Glass | | Kitchen and Dining |
Goblet | Glass | |
Bottle | | Everyday Objects |
Beer Bottle | Bottle | |
Wine Bottle | Bottle | |
Soda Bottle | Bottle | |
Water Bottle | Bottle | |
Pill Bottle | Bottle | Medical |
Baby Bottle | Bottle | |
Bottle Cap | Bottle | |
Jug | | Kitchen and Dining |
Pitcher | Jug | |
Milk Can | Jug | |
Teapot | Pottery | Kitchen and Dining |
Cocktail Shaker | | Kitchen and Dining |
Corkscrew | | Kitchen and Dining |
Can Opener | | Kitchen and Dining |
Bowl | | Kitchen and Dining |
Mixing Bowl | Bowl | |
Soup Bowl | Bowl | |
Plate | | Kitchen and Dining |
Tray | | Kitchen and Dining |
Dish Rack | | Kitchen and Dining |
Cookware | | Kitchen and Dining |
Pot | Cookware | |
Dutch Oven | Pot | |
Cauldron | Pot | |
Frying Pan | Cookware | |
Wok | Cookware | |
Cutlery | | Kitchen and Dining |
Spoon | Cutlery | |
Wooden Spoon | Spoon | |
Ladle | Cutlery | |
Spatula | Cutlery | |
Strainer | | Kitchen and Dining |
Cleaver | Knife | |
Knife | Weapon, Cutlery | Kitchen and Dining |
Salt Shaker | | Kitchen and Dining |
Menu | Text | |
Hot Pot | Food | |
# ---- technology
Electronics | | Technology and Computing |
Electrical Device | | Technology and Computing |
Computer | Electronics | |
Pc | Computer | |
Laptop | Computer, Pc | |
Desktop | Computer, Pc | |
Computer Hardware | Hardware, Electronics | |
Hardware | | Technology and Computing |
Computer Keyboard | Computer Hardware | |
Mouse | Computer Hardware | |
Monitor | Computer Hardware, Screen | |
Hard Disk | Computer Hardware | |
Modem | Computer Hardware | |
Screen | Electronics | |
TV | Screen | | Television
Webpage | Screen | Text and Documents |
Phone | Electronics | |
Mobile Phone | Phone | | Cell Phone
Rotary Phone | Phone | |
Payphone | Phone | |
Camera | Electronics | |
Polaroid | Camera | |
Projector | Electronics | |
Printer | Electronics | |
Photocopier | Electronics | |
Speaker | Electronics | |
Microphone | Electronics | |
Radio | Electronics | |
Remote Control | Electronics | |
Cassette Player | Electronics | |
Tape Player | Electronics | |
CD Player | Electronics | |
Cassette | Electronics | |
Oscilloscope | Electronics | |
Typewriter | Machine | Offices and Workspaces |
Clock | | Everyday Objects |
Analog Clock | Clock | |
Digital Clock | Clock | |
Wall Clock | Clock | |
Digital Watch | Wristwatch | |
Wristwatch | Accessories | |
Stopwatch | Clock | |
Hourglass | | Everyday Objects |
Barometer | | Tools and Machinery |
Scale | | Tools and Machinery |
Compass | | Travel and Adventure |
Binoculars | | Travel and Adventure |
Magnifying Glass | | Tools and Machinery |
Lens Cap | Camera | |
Tripod | Camera | |
# ---- office, education, text
Text | | Text and Documents |
Book | Publication | |
Publication | | Text and Documents |
Comics | Book | |
Envelope | Mail | |
Mail | | Text and Documents |
Mailbox | Mail | |
Mailbag | Mail, Bag | Apparel and Accessories |
Binder | | Offices and Workspaces |
Pen | | Offices and Workspaces |
Fountain Pen | Pen | |
Quill | Pen | |
Pencil Case | | Offices and Workspaces |
Pencil Sharpener | | Offices and Workspaces |
Eraser | | Offices and Workspaces |
Ruler | | Offices and Workspaces |
Letter Opener | | Offices and Workspaces |
Safety Pin | | Everyday Objects |
Abacus | | Education |
Slide Rule | | Education |
Graduation | | Education |
Beaker | | Education |
Petri Dish | | Medical |
Packet | | Everyday Objects |
Plastic Bag | Bag | Everyday Objects |
Match | | Everyday Objects |
Lighter | | Everyday Objects |
# ---- tools
Tool | | Tools and Machinery |
Hammer | Tool | |
Hatchet | Axe | |
Axe | Tool | |
Screwdriver | Tool | |
Screw | | Tools and Machinery |
Nail | | Tools and Machinery |
Hook | | Tools and Machinery |
Hand Plane | Tool | |
Power Drill | Tool | |
Chainsaw | Tool | |
Shovel | Tool | |
Plow | | Tools and Machinery |
Thresher | Machine | |
Lawn Mower | Machine | |
Toolbox | | Tools and Machinery |
Chain | | Tools and Machinery |
Coil | Spiral | |
Spiral | | Patterns and Shapes |
Knot | | Patterns and Shapes |
Padlock | Lock | |
Combination Lock | Lock | |
Lock | | Everyday Objects |
Mousetrap | | Everyday Objects |
Spindle | | Tools and Machinery |
Guillotine | | Weapons and Military |
Muzzle | | Animals and Pets |
Mortar | | Kitchen and Dining |
# ---- medical
Medical | | Medical |
Bandage | Medical | | First Aid
Syringe | Medical | |
Stethoscope | Medical | |
Stretcher | Medical | |
Crutch | Medical | |
Neck Brace | Medical | |
# ---- music
Musical Instrument | | Performing Arts |
Guitar | Musical Instrument | |
Electric Guitar | Guitar | |
Banjo | Musical Instrument | |
Cello | Musical Instrument | |
Violin | Musical Instrument | |
Harp | Musical Instrument | |
Piano | Musical Instrument | |
Grand Piano | Piano | |
Upright Piano | Piano | |
Pipe Organ | Musical Instrument | |
Accordion | Musical Instrument | |
Harmonica | Musical Instrument | |
Brass | Musical Instrument | | Brass Section
French Horn | Brass | |
Trombone | Brass | |
Cornet | Brass | |
Bassoon | Musical Instrument | |
Oboe | Musical Instrument | |
Saxophone | Musical Instrument | |
Flute | Musical Instrument | |
Pan Flute | Flute | |
Ocarina | Musical Instrument | |
Whistle | | Everyday Objects |
Drum | Musical Instrument | |
Steel Drum | Drum | |
Drumstick | Drum | |
Gong | Musical Instrument | |
Maraca | Musical Instrument | |
Marimba | Musical Instrument | |
Guitar Pick | Guitar | |
Fishing Reel | Fishing | |
Fishing | | Hobbies and Interests |
# ---- sports
Sport | | Sports |
Ball | Sport | |
Baseball | Ball | |
Basketball | Ball | |
Soccer Ball | Ball | |
Rugby Ball | Ball | |
Volleyball | Ball | |
Tennis Ball | Ball | |
Golf Ball | Ball | |
Ping Pong Ball | Ball | |
Hockey Puck | Sport | |
Croquet | Sport | |
Racket | Sport | |
Ski | Sport | |
Snorkel | Scuba Diving | |
Gymnastics | Sport | |
Fitness | | Health and Fitness |
Dumbbell | Fitness | |
Punching Bag | Fitness | |
# ---- food and drink
Food | | Food and Beverage |
Beverage | | Food and Beverage | Drink
Coffee | Beverage | |
Espresso | Coffee | |
Alcohol | Beverage | |
Wine | Alcohol | |
Red Wine | Wine | |
Eggnog | Beverage | |
Meal | Food | |
Dish | Food, Meal | |
Soup | Dish | |
Guacamole | Dish | |
Mashed Potato | Dish | |
Carbonara | Pasta | |
Pasta | Dish | |
Meatloaf | Dish | |
Burrito | Dish | |
Pizza | Dish | |
Pie | Dessert | |
Burger | Food | | Hamburger
Hot Dog | Food | |
Bread | Food | |
Baguette | Bread | |
Bagel | Bread | |
Pretzel | Bread | |
Dough | Food | |
Dessert | Food | |
Trifle | Dessert | |
Ice Cream | Dessert | |
Popsicle | Dessert | |
Chocolate | Dessert | |
Plant | | Plants and Flowers |
Produce | Food | |
Vegetable | Food, Plant, Produce | |
Cabbage | Vegetable | |
Broccoli | Vegetable | |
Cauliflower | Vegetable | |
Zucchini | Squash | |
Squash | Vegetable | |
Cucumber | Vegetable | |
Artichoke | Vegetable | |
Bell Pepper | Vegetable | |
Corn | Vegetable, Grain | |
Grain | Food | |
Mushroom | Fungus, Food | |
Fungus | Plant | |
Agaric | Mushroom | |
Stinkhorn | Fungus | |
Bolete | Mushroom | |
Fruit | Food, Plant, Produce | |
Apple | Fruit | |
Strawberry | Fruit, Berry | |
Berry | Fruit | |
Orange | Citrus Fruit | |
Lemon | Citrus Fruit | |
Citrus Fruit | Fruit | |
Fig | Fruit | |
Pineapple | Fruit | |
Banana | Fruit | |
Jackfruit | Fruit | |
Custard Apple | Fruit | |
Pomegranate | Fruit | |
Hay | Plant | Nature and Outdoors |
# ---- plants and flowers
Flower | Plant | |
Daisy | Flower | |
Orchid | Flower | |
Rapeseed | Flower, Field | |
Field | Nature, Outdoors | Nature and Outdoors |
Rose Hip | Fruit, Plant | |
Acorn | Plant, Seed | |
Conker | Plant, Seed | | Horse Chestnut
Seed | Plant | |
# ---- nature and scenes
Nature | | Nature and Outdoors |
Outdoors | | Nature and Outdoors |
Water | Nature | |
Sea | Water, Nature, Outdoors | |
Land | Nature, Outdoors | |
Mountain | Land, Nature, Outdoors | |
Valley | Land, Nature, Outdoors | |
Cliff | Land, Nature, Outdoors | |
Volcano | Mountain | |
Geyser | Nature, Outdoors, Water | |
Lake | Water, Nature, Outdoors | |
Shoreline | Sea, Water, Nature, Outdoors | | Coast
Promontory | Land, Shoreline | |
Shoal | Sea, Water | |
Bubble | | Patterns and Shapes |
# ---- odds and ends
Bow | Weapon | Sports |
Pedestal | Architecture | |
Thimble | | Hobbies and Interests |
Trash Can | | Everyday Objects | Garbage Can
# ---- objects only a COCO detector names (no ImageNet class maps to them)
Giraffe | Mammal, Wildlife | |
Fire Hydrant | | Public Safety | Hydrant
Stop Sign | Road Sign | |
Suitcase | Bag | | Luggage
Frisbee | Toy | |
Snowboard | Sport | |
Kite | Toy | |
Baseball Bat | Sport | |
Baseball Glove | Glove | |
Skateboard | Sport | |
Surfboard | Sport | |
Tennis Racket | Racket | |
Wine Glass | Glass | |
Fork | Cutlery | |
Sandwich | Food | |
Carrot | Vegetable | |
Donut | Dessert | |
Cake | Dessert | |
Potted Plant | Plant | |
Keyboard | Electronics | |
Oven | Appliance | |
Scissors | | Everyday Objects |
Toothbrush | | Beauty and Personal Care |
"""

# ImageNet index or first-last range: labels (most specific first; ancestors come from LABELS)
_CLASS_TABLE = """
# --- fish, sharks, rays (0-6)
0-6: Fish
1: Goldfish
2-4: Shark
6: Stingray
# --- birds (7-24)
7-24: Bird
7: Rooster
8: Hen
9: Ostrich
10-12: Finch
13: Sparrow
15: Robin
17: Jay
21: Hawk
22: Bald Eagle
23: Vulture
24: Owl
# --- amphibians and reptiles (25-68)
25: Salamander
26-27: Newt
28-29: Salamander
30-32: Frog
33-34: Sea Turtle
35-37: Turtle
38: Gecko
39: Iguana
40-48: Lizard
47: Chameleon
49: Crocodile
50: Alligator
51: Dinosaur
52-68: Snake
63: Cobra
67-68: Rattlesnake
# --- arthropods (69-79)
69: Fossil
70: Spider
71: Scorpion
72-77: Spider
75: Black Widow
76: Tarantula
78: Tick
79: Centipede
# --- birds (80-100)
80-100: Bird
80-83: Grouse
84: Peacock
85: Quail
86: Partridge
87-90: Parrot
88: Macaw
89: Cockatoo
94: Hummingbird
96: Toucan
97-98: Duck
99: Goose
100: Swan
# --- mammals, sea life (101-150)
101: Elephant
102-103: Mammal, Wildlife
104: Kangaroo
105: Koala
106: Mammal, Wildlife
107: Jellyfish
108: Sea Anemone
109: Coral Reef
110-111: Worm
112: Seashell
113: Snail
114: Slug
115-116: Sea Life, Invertebrate
117: Seashell
118-121: Crab
122-123: Lobster
124: Crayfish
125: Crab
126: Invertebrate
127-146: Bird
127-128: Stork
130: Flamingo
131-133: Heron
132: Egret
144: Pelican
145: Penguin
146: Albatross
147: Whale
148: Orca
149: Mammal, Sea Life
150: Sea Lion
# --- dogs (151-268)
151-268: Dog
151: Chihuahua
154: Pekingese
155: Shih Tzu
156: Spaniel
157: Papillon
158: Terrier
160-177: Hound
161: Basset Hound
162: Beagle
163: Bloodhound
171: Greyhound
172: Whippet
178: Weimaraner
179-203: Terrier
179-180: Pit Bull
187: Yorkshire Terrier
195: Boston Terrier
196-198: Schnauzer
199: Scottish Terrier
203: West Highland White Terrier
204: Lhasa Apso
207: Golden Retriever
208: Labrador Retriever
210: Pointer
211: Vizsla
215-221: Spaniel
219: Cocker Spaniel
229: Old English Sheepdog
230-231: Collie
232: Border Collie
234: Rottweiler
235: German Shepherd
236: Doberman
239: Bernese Mountain Dog
242: Boxer
243-244: Mastiff
245: Bulldog
246: Great Dane
247: Saint Bernard
248: Husky
249: Malamute
250: Husky
251: Dalmatian
254: Pug
256: Newfoundland
258: Samoyed
259: Pomeranian
260: Chow
263-264: Corgi
265-267: Poodle
# --- wild canines, cats, bears (269-299)
269-271: Wolf
272: Coyote
273-275: Canine, Wildlife
276: Hyena
277-280: Fox
281-285: Cat
283: Persian
284: Siamese
286: Cougar
287: Lynx
288-289: Leopard
290: Jaguar
291: Lion
292: Tiger
293: Cheetah
294-297: Bear
295: Black Bear
296: Polar Bear
298: Mammal, Wildlife
299: Meerkat
# --- insects and other invertebrates (300-329)
300-307: Beetle
301: Ladybug
308: Fly
309: Bee
310: Ant
311-312: Grasshopper
313: Insect
314: Cockroach
315: Mantis
316-318: Insect
319-320: Dragonfly
321-326: Butterfly
327: Starfish
328-329: Sea Life, Invertebrate
# --- mammals (330-388)
330-332: Rabbit
333: Hamster
334: Porcupine
335: Squirrel
336: Marmot
337: Beaver
338: Guinea Pig
339: Horse
340: Zebra
341: Pig
342: Boar
343: Warthog
344: Hippo
345: Ox
346: Buffalo
347: Bison
348: Sheep
349: Bighorn
350: Mammal, Wildlife
351-353: Antelope
352: Impala
353: Gazelle
354: Camel
355: Llama
356-359: Weasel
360: Otter
361: Skunk
362: Badger
363: Armadillo
364: Sloth
365: Orangutan
366: Gorilla
367: Chimpanzee
368-369: Ape
370-382: Monkey
372: Baboon
383-384: Lemur
385-386: Elephant
387: Red Panda
388: Giant Panda
389-397: Fish
390: Eel
# --- objects (398-969)
398: Abacus
399: Clothing
400: Graduation
401: Accordion
402: Guitar
403: Aircraft Carrier
404: Airliner
405: Blimp
406: Altar
407: Ambulance
408: Vehicle
409: Analog Clock
410: Beehive
411: Apron
412: Trash Can
413: Gun
414: Backpack
415: Bakery
416: Gymnastics
417: Balloon
418: Pen
419: Bandage
420: Banjo
421: Railing
422: Fitness
423: Barber Chair
424: Barbershop
425: Barn
426: Barometer
427: Barrel
428: Wheelbarrow
429: Baseball
430: Basketball
431: Crib
432: Bassoon
433: Cap
434: Towel
435: Bathtub
436: Station Wagon
437: Lighthouse
438: Beaker
439: Military
440: Beer Bottle
441: Beer Glass
442: Bell Tower
443: Bib
444: Bicycle
445: Bikini
446: Binder
447: Binoculars
448: Birdhouse
449: Boathouse
450: Bobsled
451: Tie
452: Bonnet
453: Bookcase
454: Bookstore
455: Bottle Cap
456: Bow
457: Bow Tie
458: Brass
459: Bra
460: Breakwater
461: Armor
462: Broom
463: Bucket
464: Buckle
465: Vest
466: High-Speed Train
467: Butcher Shop
468: Taxi
469: Cauldron
470: Candle
471: Cannon
472: Canoe
473: Can Opener
474: Cardigan
475: Car Mirror
476: Carousel
477: Toolbox
478: Carton
479: Wheel
480: ATM
481: Cassette
482: Cassette Player
483: Castle
484: Catamaran
485: CD Player
486: Cello
487: Mobile Phone
488: Chain
489: Fence
490: Chain Mail
491: Chainsaw
492: Treasure Chest
493: Chest of Drawers
494: Wind Chime
495: China Cabinet
496: Christmas Stocking
497: Church
498: Cinema
499: Cleaver
500: Cliff Dwelling
501: Cloak
502: Clog
503: Cocktail Shaker
504: Coffee Cup
505: Coffee Maker
506: Coil
507: Combination Lock
508: Computer Keyboard
509: Candy Store
510: Container Ship
511: Convertible
512: Corkscrew
513: Cornet
514: Cowboy Boot
515: Cowboy Hat
516: Cradle
517: Construction Crane
518: Crash Helmet
519: Crate
520: Crib
521: Slow Cooker
522: Croquet
523: Crutch
524: Armor
525: Dam
526: Desk
527: Desktop
528: Rotary Phone
529: Diaper
530: Digital Clock
531: Digital Watch
532: Dining Table
533: Towel
534: Dishwasher
535: Disc Brake
536: Dock
537: Sled
538: Dome
539: Doormat
540: Oil Rig
541: Drum
542: Drumstick
543: Dumbbell
544: Dutch Oven
545: Electric Fan
546: Electric Guitar
547: Electric Locomotive
548: Entertainment Center
549: Envelope
550: Espresso Machine
551: Face Powder
552: Feather Boa
553: Filing Cabinet
554: Fireboat
555: Fire Truck
556: Fireplace
557: Flagpole
558: Flute
559: Folding Chair
560: Football Helmet
561: Forklift
562: Fountain
563: Fountain Pen
564: Canopy Bed
565: Freight Car
566: French Horn
567: Frying Pan
568: Fur Coat
569: Garbage Truck
570: Gas Mask
571: Gas Pump
572: Goblet
573: Go-Kart
574: Golf Ball
575: Golf Cart
576: Gondola
577: Gong
578: Gown
579: Grand Piano
580: Greenhouse
581: Grille
582: Grocery Store
583: Guillotine
584: Hair Slide
585: Hairspray
586: Half Track
587: Hammer
588: Hamper
589: Hair Dryer
590: Computer
591: Handkerchief
592: Hard Disk
593: Harmonica
594: Harp
595: Harvester
596: Hatchet
597: Holster
598: Home Theater
599: Honeycomb
600: Hook
601: Hoop Skirt
602: Gymnastics
603: Carriage
604: Hourglass
605: Electronics
606: Iron
607: Jack-o'-lantern
608: Jeans
609: Jeep
610: T-Shirt
611: Jigsaw Puzzle
612: Rickshaw
613: Joystick
614: Kimono
615: Knee Pad
616: Knot
617: Lab Coat
618: Ladle
619: Lampshade
620: Laptop
621: Lawn Mower
622: Lens Cap
623: Letter Opener
624: Library
625: Lifeboat
626: Lighter
627: Limo
628: Cruise Ship
629: Lipstick
630: Loafer
631: Lotion
632: Speaker
633: Magnifying Glass
634: Sawmill
635: Compass
636: Mailbag
637: Mailbox
638: Tights
639: Swimwear
640: Manhole
641: Maraca
642: Marimba
643: Mask
644: Match
645: Maypole
646: Maze
647: Measuring Cup
648: Medicine Cabinet
649: Megalith
650: Microphone
651: Microwave
652: Military Uniform
653: Milk Can
654: Minibus
655: Miniskirt
656: Minivan
657: Missile
658: Mitten
659: Mixing Bowl
660: Mobile Home
661: Model T
662: Modem
663: Monastery
664: Monitor
665: Moped
666: Mortar
667: Graduation Cap
668: Mosque
669: Mosquito Net
670: Scooter
671: Mountain Bike
672: Tent
673: Mouse
674: Mousetrap
675: Moving Van
676: Muzzle
677: Nail
678: Neck Brace
679: Necklace
680: Baby Bottle
681: Laptop
682: Obelisk
683: Oboe
684: Ocarina
685: Odometer
686: Oil Filter
687: Pipe Organ
688: Oscilloscope
689: Skirt
690: Cart
691: Oxygen Mask
692: Packet
693: Paddle
694: Paddle Wheel
695: Padlock
696: Brush
697: Pajamas
698: Palace
699: Pan Flute
700: Paper Towel
701: Parachute
702: Gymnastics
703: Bench
704: Parking Meter
705: Train
706: Patio
707: Payphone
708: Pedestal
709: Pencil Case
710: Pencil Sharpener
711: Perfume
712: Petri Dish
713: Photocopier
714: Guitar Pick
715: Helmet
716: Picket Fence
717: Pickup Truck
718: Pier
719: Piggy Bank
720: Pill Bottle
721: Pillow
722: Ping Pong Ball
723: Pinwheel
724: Pirate Ship
725: Pitcher
726: Hand Plane
727: Planetarium
728: Plastic Bag
729: Dish Rack
730: Plow
731: Plunger
732: Polaroid
733: Pole
734: Van
735: Poncho
736: Billiard Table
737: Soda Bottle
738: Pot
739: Pottery
740: Power Drill
741: Prayer Rug
742: Printer
743: Prison
744: Missile
745: Projector
746: Hockey Puck
747: Punching Bag
748: Purse
749: Quill
750: Quilt
751: Race Car
752: Racket
753: Radiator
754: Radio
755: Radio Telescope
756: Rain Barrel
757: RV
758: Fishing Reel
759: Camera
760: Refrigerator
761: Remote Control
762: Restaurant
763: Revolver
764: Rifle
765: Rocking Chair
766: Rotisserie
767: Eraser
768: Rugby Ball
769: Ruler
770: Running Shoe
771: Safe
772: Safety Pin
773: Salt Shaker
774: Sandal
775: Sarong
776: Saxophone
777: Scabbard
778: Scale
779: School Bus
780: Schooner
781: Scoreboard
782: Screen
783: Screw
784: Screwdriver
785: Seat Belt
786: Sewing Machine
787: Shield
788: Shoe Shop
789: Shoji
790: Basket
791: Shopping Cart
792: Shovel
793: Shower Cap
794: Shower Curtain
795: Ski
796: Balaclava
797: Sleeping Bag
798: Slide Rule
799: Sliding Door
800: Slot Machine
801: Snorkel
802: Snowmobile
803: Snowplow
804: Soap Dispenser
805: Soccer Ball
806: Sock
807: Solar Panels
808: Sombrero
809: Soup Bowl
810: Computer Keyboard
811: Space Heater
812: Space Shuttle
813: Spatula
814: Speedboat
815: Spider Web
816: Spindle
817: Sports Car
818: Spotlight
819: Stage
820: Steam Engine
821: Arch Bridge
822: Steel Drum
823: Stethoscope
824: Scarf
825: Stone Wall
826: Stopwatch
827: Stove
828: Strainer
829: Tram
830: Stretcher
831: Couch
832: Stupa
833: Submarine
834: Suit
835: Sundial
836-837: Sunglasses
838: Sunscreen
839: Suspension Bridge
840: Mop
841: Sweatshirt
842: Swimwear
843: Swing
844: Switch
845: Syringe
846: Table Lamp
847: Tank
848: Tape Player
849: Teapot
850: Teddy Bear
851: TV
852: Tennis Ball
853: Thatched Roof
854: Curtain
855: Thimble
856: Thresher
857: Throne
858: Roof Tile
859: Toaster
860: Tobacco Shop
861: Toilet
862: Torch
863: Totem Pole
864: Tow Truck
865: Toy Store
866: Tractor
867: Trailer Truck
868: Tray
869: Trench Coat
870: Tricycle
871: Trimaran
872: Tripod
873: Arch
874: Trolley Bus
875: Trombone
876: Tub
877: Turnstile
878: Typewriter
879: Umbrella
880: Unicycle
881: Upright Piano
882: Vacuum Cleaner
883: Vase
884: Vault
885: Velvet
886: Vending Machine
887: Vestment
888: Viaduct
889: Violin
890: Volleyball
891: Waffle Iron
892: Wall Clock
893: Wallet
894: Wardrobe
895: Military Aircraft
896: Sink
897: Washing Machine
898: Water Bottle
899: Jug
900: Water Tower
901: Jug
902: Whistle
903: Wig
904: Window Screen
905: Window Shade
906: Tie
907: Wine Bottle
908: Airplane Wing
909: Wok
910: Wooden Spoon
911: Wool
912: Fence
913: Shipwreck
914: Sailboat
915: Yurt
916: Webpage
917: Comics
918: Crossword Puzzle
919: Road Sign
920: Traffic Light
921: Book
922: Menu
923: Plate
# --- food (924-969)
924: Guacamole
925: Soup
926: Hot Pot
927: Trifle
928: Ice Cream
929: Popsicle
930: Baguette
931: Bagel
932: Pretzel
933: Burger
934: Hot Dog
935: Mashed Potato
936: Cabbage
937: Broccoli
938: Cauliflower
939: Zucchini
940-942: Squash
943: Cucumber
944: Artichoke
945: Bell Pepper
946: Vegetable
947: Mushroom
948: Apple
949: Strawberry
950: Orange
951: Lemon
952: Fig
953: Pineapple
954: Banana
955: Jackfruit
956: Custard Apple
957: Pomegranate
958: Hay
959: Carbonara
960: Chocolate
961: Dough
962: Meatloaf
963: Pizza
964: Pie
965: Burrito
966: Red Wine
967: Espresso, Coffee Cup
968: Cup
969: Eggnog
# --- scenes (970-980)
970: Mountain
971: Bubble
972: Cliff
973: Coral Reef
974: Geyser
975: Lake
976: Promontory
977: Shoal
978: Shoreline
979: Valley
980: Volcano
# --- people (981-983)
981: Baseball Player
982: Groom
983: Scuba Diving
# --- plants and fungi (984-999)
984: Rapeseed
985: Daisy
986: Orchid
987: Corn
988: Acorn
989: Rose Hip
990: Conker
991-997: Fungus
992: Agaric
994: Stinkhorn
997: Bolete
998: Corn
999: Toilet Paper
"""

# The labels a detected face proves (DetectFaces' detector, not the classifier): Person, and its Face and Head.
FACE_LABELS: tuple[str, ...] = ("Person", "Face", "Head")


@dataclass(frozen=True)
class Label:
    name: str
    parents: tuple[str, ...]  # every ancestor, sorted by name (DetectLabels' Parents)
    aliases: tuple[str, ...]
    categories: tuple[str, ...]


def _rows(table: str) -> list[str]:
    return [line.strip() for line in table.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _names(cell: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in cell.split(",") if name.strip())


def _parse_labels(table: str) -> dict[str, Label]:
    direct: dict[str, tuple[str, ...]] = {}
    own_category: dict[str, str] = {}
    aliases: dict[str, tuple[str, ...]] = {}
    for row in _rows(table):
        name, parents, category, alias = (cell.strip() for cell in row.split("|"))
        if name in direct:
            raise ValueError(f"label {name!r} is listed twice")
        direct[name], aliases[name] = _names(parents), _names(alias)
        if category:
            own_category[name] = category

    @cache
    def ancestors(name: str, path: tuple[str, ...] = ()) -> frozenset[str]:
        if name in path:
            raise ValueError(f"label cycle: {' -> '.join(path + (name,))}")
        found: set[str] = set()
        for parent in direct[name]:
            if parent not in direct:
                raise ValueError(f"label {name!r} names unknown parent {parent!r}")
            found |= {parent} | ancestors(parent, path + (name,))
        return frozenset(found)

    @cache
    def category(name: str) -> str | None:
        if name in own_category:
            return own_category[name]
        return next((c for c in map(category, direct[name]) if c), None)

    labels = {}
    for name in direct:
        found = category(name)
        if found is None or found not in CATEGORIES:
            raise ValueError(f"label {name!r} has no known category ({found!r})")
        labels[name] = Label(name, tuple(sorted(ancestors(name))), aliases[name], (found,))
    return labels


def _parse_classes(table: str, labels: dict[str, Label]) -> tuple[tuple[str, ...], ...]:
    per_class: list[list[str]] = [[] for _ in range(1000)]
    for row in _rows(table):
        span, _, names = row.partition(":")
        first, _, last = span.partition("-")
        for name in _names(names):
            if name not in labels:
                raise ValueError(f"class table names unknown label {name!r}")
            for index in range(int(first), int(last or first) + 1):
                if name not in per_class[index]:
                    per_class[index].append(name)
    missing = [index for index, names in enumerate(per_class) if not names]
    if missing:
        raise ValueError(f"ImageNet classes without a label: {missing}")
    return tuple(tuple(names) for names in per_class)


LABELS: dict[str, Label] = _parse_labels(_LABEL_TABLE)
CLASS_LABELS: tuple[tuple[str, ...], ...] = _parse_classes(_CLASS_TABLE, LABELS)  # index → labels


def labels_of_class(index: int) -> frozenset[str]:
    """Every label an ImageNet class stands for: its own labels and all their ancestors."""
    return _CLASS_CLOSURE[index]


_CLASS_CLOSURE: tuple[frozenset[str], ...] = tuple(
    frozenset(name for own in names for name in (own, *LABELS[own].parents)) for names in CLASS_LABELS
)


# A COCO-80 detector's class names (Ultralytics' spelling) -> the Rekognition label its boxes become Instances of.
COCO_LABELS: dict[str, str] = {
    "person": "Person", "bicycle": "Bicycle", "car": "Car", "motorcycle": "Motorcycle", "airplane": "Airplane",
    "bus": "Bus", "train": "Train", "truck": "Truck", "boat": "Boat", "traffic light": "Traffic Light",
    "fire hydrant": "Fire Hydrant", "stop sign": "Stop Sign", "parking meter": "Parking Meter", "bench": "Bench",
    "bird": "Bird", "cat": "Cat", "dog": "Dog", "horse": "Horse", "sheep": "Sheep", "cow": "Cattle",
    "elephant": "Elephant", "bear": "Bear", "zebra": "Zebra", "giraffe": "Giraffe", "backpack": "Backpack",
    "umbrella": "Umbrella", "handbag": "Handbag", "tie": "Tie", "suitcase": "Suitcase", "frisbee": "Frisbee",
    "skis": "Ski", "snowboard": "Snowboard", "sports ball": "Ball", "kite": "Kite", "baseball bat": "Baseball Bat",
    "baseball glove": "Baseball Glove", "skateboard": "Skateboard", "surfboard": "Surfboard",
    "tennis racket": "Tennis Racket", "bottle": "Bottle", "wine glass": "Wine Glass", "cup": "Cup", "fork": "Fork",
    "knife": "Knife", "spoon": "Spoon", "bowl": "Bowl", "banana": "Banana", "apple": "Apple",
    "sandwich": "Sandwich", "orange": "Orange", "broccoli": "Broccoli", "carrot": "Carrot", "hot dog": "Hot Dog",
    "pizza": "Pizza", "donut": "Donut", "cake": "Cake", "chair": "Chair", "couch": "Couch",
    "potted plant": "Potted Plant", "bed": "Bed", "dining table": "Dining Table", "toilet": "Toilet", "tv": "TV",
    "laptop": "Laptop", "mouse": "Mouse", "remote": "Remote Control", "keyboard": "Keyboard",
    "cell phone": "Mobile Phone", "microwave": "Microwave", "oven": "Oven", "toaster": "Toaster", "sink": "Sink",
    "refrigerator": "Refrigerator", "book": "Book", "clock": "Clock", "vase": "Vase", "scissors": "Scissors",
    "teddy bear": "Teddy Bear", "hair drier": "Hair Dryer", "toothbrush": "Toothbrush",
}
