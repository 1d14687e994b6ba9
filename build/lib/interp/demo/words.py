"""Word lists for the demo corpus, written for this project (no text is taken from anywhere).

Tuples, never sets: iteration order must not depend on string hashing, so that a seed gives
the same corpus in every process.
"""

from __future__ import annotations

# ---------------------------------------------------------------- everyday English

FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
    "Kemi", "Liam", "Maya", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sami", "Tara",
    "Umar", "Vera", "Wei", "Xavier", "Yara", "Zoe", "Amir", "Bella", "Chen", "Dara",
    "Emil", "Fatima", "Gabriel", "Hana", "Ivan", "Julia", "Kofi", "Lena", "Marco", "Nadia",
    "Oscar", "Priya", "Rafael", "Sofia", "Tomas", "Uma", "Victor", "Wanda", "Yusuf", "Zara",
    "Alice", "Bruno", "Carmen", "Diego", "Erin", "Felix", "Greta", "Henry", "Iris", "Jack",
)
TOWNS = (
    "Ashford", "Bellmoor", "Carrow", "Dunmere", "Eastwick", "Fernhill", "Glenford", "Harwick",
    "Ivybridge", "Juniper Bay", "Kingsmere", "Larkfield", "Millbrook", "Northgate", "Oakridge",
    "Pebblecombe", "Queensford", "Redwater", "Stonehaven", "Thornbury", "Upton Vale", "Westmoor",
    "Yarrow", "Amberley", "Brightwell", "Coldstream", "Deepdale", "Elmsworth", "Foxley", "Greywell",
)
PLACES = (
    "the park", "the market", "the library", "the station", "the beach", "the museum", "the harbour",
    "the old bridge", "the bakery", "the school", "the hospital", "the river", "the forest",
    "the village hall", "the swimming pool", "the football ground", "the garden centre",
    "the post office", "the cinema", "the town square", "the airport", "the lake", "the hills",
    "the farm", "the zoo", "the castle", "the theatre", "the playground", "the café", "the beach hut",
)
FAMILY = (
    "mother", "father", "sister", "brother", "grandmother", "grandfather", "aunt", "uncle", "cousin",
    "daughter", "son", "niece", "nephew", "wife", "husband", "parents", "grandparents", "twins",
    "stepfather", "stepmother", "baby", "godmother", "family", "neighbour", "best friend",
)
JOBS = (
    "teacher", "nurse", "doctor", "farmer", "baker", "pilot", "driver", "carpenter", "plumber",
    "engineer", "painter", "gardener", "chef", "waiter", "librarian", "scientist", "musician",
    "writer", "photographer", "mechanic", "electrician", "dentist", "vet", "pharmacist", "cashier",
    "firefighter", "postman", "tailor", "architect", "sailor", "fisherman", "shopkeeper", "builder",
    "programmer", "designer", "journalist", "coach", "cleaner", "florist", "butcher",
)
FOODS = (
    "bread", "soup", "rice", "pasta", "cheese", "apples", "pears", "bananas", "oranges", "lemons",
    "tomatoes", "potatoes", "carrots", "onions", "garlic", "mushrooms", "beans", "lentils", "peas",
    "spinach", "cabbage", "peppers", "cucumbers", "strawberries", "cherries", "grapes", "plums",
    "eggs", "butter", "milk", "yoghurt", "honey", "jam", "porridge", "pancakes", "noodles",
    "chicken", "fish", "salmon", "sausages", "curry", "stew", "salad", "pie", "cake", "biscuits",
    "chocolate", "ice cream", "tea", "coffee", "orange juice", "lemonade", "sandwiches", "pizza",
    "dumplings", "flatbread", "olives", "walnuts", "almonds", "cinnamon", "ginger", "basil",
)
DISHES = (
    "a vegetable soup", "a lemon cake", "a mushroom risotto", "a bean stew", "a fish pie",
    "an apple crumble", "a tomato sauce", "a chicken curry", "a potato salad", "a loaf of bread",
    "a pot of porridge", "a plate of pancakes", "a spinach omelette", "a lentil soup",
    "a plum tart", "a cheese sandwich", "a bowl of noodles", "a carrot cake", "a pea risotto",
)
COOK_VERBS = (
    "chop", "slice", "stir", "boil", "bake", "fry", "roast", "grill", "mix", "whisk", "peel",
    "grate", "simmer", "season", "pour", "knead", "melt", "drain", "toast", "steam", "mash",
)
KITCHEN = (
    "pan", "pot", "oven", "bowl", "spoon", "knife", "board", "jug", "tray", "sieve", "whisk",
    "kettle", "fridge", "plate", "cup", "glass", "lid", "apron", "scales", "grater",
)
WEATHER_NOUNS = (
    "rain", "snow", "fog", "wind", "sunshine", "hail", "frost", "thunder", "drizzle", "storms",
    "clouds", "showers", "sleet", "mist", "heat", "breeze", "gales", "lightning",
)
WEATHER_ADJECTIVES = (
    "sunny", "cloudy", "rainy", "windy", "foggy", "cold", "warm", "hot", "chilly", "mild",
    "stormy", "frosty", "humid", "dry", "bright", "grey", "wet", "freezing", "pleasant", "damp",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)
TIMES = (
    "in the morning", "in the afternoon", "in the evening", "at night", "at noon", "at dawn",
    "after lunch", "before breakfast", "at the weekend", "later today", "tomorrow", "last week",
    "next month", "every summer", "in the spring", "in the autumn", "during the winter",
)
ANIMALS = (
    "dog", "cat", "horse", "cow", "sheep", "goat", "pig", "rabbit", "fox", "deer", "owl", "eagle",
    "swan", "duck", "goose", "hen", "robin", "sparrow", "crow", "badger", "hedgehog", "squirrel",
    "otter", "frog", "toad", "snake", "lizard", "turtle", "whale", "dolphin", "seal", "shark",
    "salmon", "trout", "bee", "butterfly", "ant", "spider", "beetle", "moth", "bat", "mouse",
    "rat", "wolf", "bear", "lion", "tiger", "elephant", "giraffe", "zebra", "monkey", "parrot",
    "penguin", "camel", "kangaroo", "koala", "panda", "donkey",
)
ANIMAL_VERBS = (
    "sleeps", "runs", "swims", "hunts", "sings", "hides", "digs", "climbs", "eats", "flies",
    "jumps", "waits", "rests", "wanders", "plays", "grazes", "calls", "builds a nest",
)
SPORTS = (
    "football", "tennis", "cricket", "rugby", "basketball", "swimming", "cycling", "running",
    "rowing", "golf", "hockey", "volleyball", "badminton", "table tennis", "sailing", "skiing",
    "climbing", "boxing", "judo", "archery", "netball", "baseball", "squash", "skating",
)
TEAMS = (
    "the Rovers", "the Wanderers", "the Harriers", "the Eagles", "the Falcons", "the Tigers",
    "the Otters", "the Comets", "the Pilots", "the Foxes", "the Mariners", "the Hornets",
)
SPORT_VERBS = (
    "won", "lost", "drew", "trained", "played", "scored", "practised", "competed", "raced",
)
TRANSPORT = (
    "the train", "the bus", "a bicycle", "the ferry", "a taxi", "the tram", "a plane", "the car",
    "the underground", "a boat", "the coach", "a scooter",
)
VEHICLES = ("train", "bus", "car", "boat", "bicycle", "coach", "ferry", "tram")
TRAVEL_THINGS = (
    "a ticket", "a map", "a suitcase", "a passport", "a guidebook", "a backpack", "an umbrella",
    "a camera", "sunglasses", "a phrasebook", "a timetable", "a room key", "a water bottle",
)
OBJECTS = (
    "book", "lamp", "chair", "table", "window", "door", "clock", "mirror", "bag", "coat", "hat",
    "shoe", "key", "phone", "letter", "pencil", "pen", "notebook", "ball", "kite", "box",
    "basket", "blanket", "pillow", "cup", "candle", "bottle", "ladder", "bucket", "rope",
    "bicycle", "radio", "computer", "piano", "guitar", "violin", "drum", "painting", "photo",
    "parcel", "wallet", "scarf", "glove", "jacket", "ring", "watch", "brush", "hammer", "spade",
)
ADJECTIVES = (
    "big", "small", "old", "new", "long", "short", "tall", "quiet", "loud", "bright", "dark",
    "heavy", "light", "soft", "hard", "clean", "dirty", "cheap", "expensive", "busy", "empty",
    "full", "fresh", "strange", "famous", "friendly", "careful", "happy", "sad", "tired",
    "hungry", "early", "late", "fast", "slow", "simple", "difficult", "useful", "beautiful",
    "narrow", "wide", "deep", "shallow", "smooth", "rough", "warm", "cool", "colourful", "round",
    "square", "gentle", "proud", "brave", "calm", "curious", "clever", "lucky", "patient",
)
COLOURS = (
    "red", "blue", "green", "yellow", "white", "black", "brown", "orange", "purple", "pink",
    "grey", "golden", "silver",
)
FEELINGS = (
    "happy", "tired", "excited", "nervous", "pleased", "surprised", "relieved", "proud",
    "worried", "bored", "grateful", "cheerful", "sleepy", "curious",
)
HOBBIES = (
    "reading", "painting", "gardening", "knitting", "fishing", "singing", "dancing", "baking",
    "drawing", "hiking", "camping", "sewing", "writing poems", "playing chess", "bird watching",
    "learning French", "playing the piano", "taking photographs", "building model trains",
)
SCHOOL_SUBJECTS = (
    "mathematics", "history", "geography", "biology", "chemistry", "physics", "music", "art",
    "English", "Spanish", "drama", "computing", "economics", "astronomy",
)
SCIENCE_FACTS = (
    "Water boils at one hundred degrees Celsius at sea level.",
    "Light travels faster than sound.",
    "Plants use sunlight to turn water and carbon dioxide into sugar.",
    "The Earth goes around the Sun once a year.",
    "The Moon goes around the Earth about once a month.",
    "Ice is less dense than liquid water, so it floats.",
    "Sound needs air, water or another material to travel through.",
    "The heart pumps blood around the body.",
    "Bees carry pollen from one flower to another.",
    "Magnets attract iron and steel.",
    "Most of the air we breathe is nitrogen.",
    "A rainbow appears when sunlight is bent by drops of rain.",
    "Bats find their way in the dark by listening to echoes.",
    "Salt water freezes at a lower temperature than fresh water.",
    "The tides are caused mainly by the pull of the Moon.",
    "Seeds need water and warmth to start growing.",
    "Copper is a good conductor of electricity.",
    "Whales are mammals and breathe air.",
    "Volcanoes form where melted rock rises to the surface.",
    "Leaves change colour in the autumn as the days grow shorter.",
    "A spider has eight legs and an insect has six.",
    "Thunder is the sound made by lightning heating the air.",
    "Stars are huge balls of hot gas.",
    "Wood floats because it is lighter than the water it pushes aside.",
    "The human body has more than two hundred bones.",
    "Frogs begin their lives as tadpoles in ponds.",
    "Clouds are made of tiny drops of water or crystals of ice.",
    "Rust forms when iron meets water and air.",
    "Mountains are colder at the top than at the bottom.",
    "A compass needle points towards the north.",
)
SCIENCE_TOPICS = (
    "the stars", "volcanoes", "the ocean", "insects", "the weather", "electricity", "magnets",
    "the planets", "dinosaurs", "rivers", "the human body", "plants", "rocks", "the Moon",
    "birds", "the rainforest", "glaciers", "earthquakes", "bacteria", "light",
)
VERBS_PAST = (
    "visited", "painted", "cleaned", "repaired", "found", "bought", "sold", "borrowed", "lent",
    "opened", "closed", "carried", "wrapped", "moved", "washed", "checked", "ordered", "packed",
    "lost", "mended", "watched", "noticed", "photographed", "collected", "delivered",
)
VERBS_BASE = (
    "visit", "paint", "clean", "repair", "find", "buy", "sell", "borrow", "open", "close",
    "carry", "wrap", "move", "wash", "check", "order", "pack", "mend", "watch", "collect",
)
CONNECTIVES = (
    "Afterwards", "Later", "Then", "In the end", "Meanwhile", "Luckily", "Sadly", "Soon",
    "After a while", "At first", "By the evening", "Before long",
)

# ---------------------------------------------------------------- statute-style English

ACT_SUBJECTS = (
    "Harbour Moorings", "Street Trading", "Shared Courtyards", "Beekeeping Licences",
    "Community Orchards", "Inland Waterways", "Market Stalls", "Allotment Gardens",
    "Public Footpaths", "Village Greens", "River Fisheries", "Ferry Services", "Dog Kennels",
    "Bicycle Hire", "Boarding Houses", "Bakery Hygiene", "Noise Abatement", "Lighthouse Duties",
    "Pavement Seating", "Chimney Safety", "Tree Preservation", "Wells and Springs",
    "Cemetery Management", "Town Criers", "Horse Riding Schools", "Bell Towers",
    "Mobile Food Vans", "Library Lending", "Festival Licensing", "Coastal Huts",
    "Weights and Measures", "Canal Locks", "Rural Bus Services", "Heritage Mills",
    "Holiday Lettings", "Seaside Piers", "Firewood Sales", "Goat Keeping", "Quarry Safety",
    "Water Meadows", "Orchard Tenancies", "Shared Workshops", "Ice Rinks", "Boat Repair Yards",
)
ACT_KINDS = ("Act", "Ordinance", "Regulations", "Code", "Order", "Rules")
PART_TITLES = (
    "Interpretation", "Licences", "Duties of keepers", "Inspections", "Offences", "Appeals",
    "Fees", "Registration", "Enforcement", "Notices", "Transfer of licences", "Records",
    "Exemptions", "Review of decisions", "Proceedings", "Penalties", "Consents", "Complaints",
    "Revocation", "Renewal", "Restrictions on use", "Proof of ownership", "Compensation",
    "Powers of entry", "Closing orders", "Temporary permits", "Obligations of operators",
)
ROLES = (
    "the licence holder", "the harbour master", "the tenant", "the landlord", "the registrar",
    "the inspector", "an authorised officer", "the applicant", "the tribunal", "the council",
    "the operator", "the keeper", "the trustee", "the guardian", "the employer", "the contractor",
    "the occupier", "the owner", "the lessee", "the lessor", "the court", "the magistrate",
    "the secretary of the board", "the chief officer", "the licensing authority",
    "the market superintendent", "the clerk of the court", "the claimant", "the defendant",
    "the respondent", "the appellant", "the mortgagee", "the borrower", "the lender",
    "the purchaser", "the vendor", "the executor", "the beneficiary", "the agent",
    "the principal", "the steward", "the warden", "the ferry master", "the lock keeper",
    "the river bailiff", "the licensing officer", "the environmental health officer",
    "the managing agent", "the tenant of the holding", "the proprietor", "the master of the vessel",
    "the head teacher", "the district surveyor", "the pier master", "the registered keeper",
    "the outgoing holder", "the incoming holder", "the relevant authority", "the Minister",
    "the commissioner", "the ombudsman", "the auditor", "the liquidator", "the insurer",
)
DEFINED_TERMS = (
    "qualifying tenant", "relevant premises", "market trader", "approved scheme",
    "licensed vessel", "common parts", "relevant date", "registered keeper", "authorised officer",
    "qualifying resident", "street trading", "consent street", "prohibited article",
    "closing order", "holding", "beekeeper", "apiary", "mooring", "berth", "landing stage",
    "food van", "pitch", "trading day", "permitted hours", "working animal", "dwelling",
    "boarding house", "responsible person", "relevant period", "appropriate fee",
    "enforcement notice", "public footpath", "village green", "fishing season", "close season",
    "allotment", "allotment garden", "community orchard", "heritage mill", "lettable unit",
    "holiday letting", "short stay", "noise nuisance", "quiet hours", "kennel",
    "riding establishment", "tree preservation order", "protected tree", "canal lock",
    "lock keeper", "coastal hut", "pier", "bell tower", "firewood", "quarry", "water meadow",
)
DEFINITION_FORMS = (
    "the person appointed under {ref} to supervise {activity}",
    "any land or building used for {activity}",
    "a person who holds a licence granted under {ref} for {activity}",
    "any scheme approved by the council under {ref} for {activity}",
    "a person who, for reward, carries on {activity}",
    "any structure used wholly or mainly for {activity}",
    "any place set aside by the council for {activity}",
    "an order made by the licensing authority under {ref} to restrict {activity}",
    "a notice served under {ref} that concerns {activity}",
    "the period of twelve months during which {activity} is permitted",
)
DEFINITION_ACTIVITIES = (
    "the care of the common parts on behalf of the residents",
    "the sale of goods from a stall or vehicle",
    "the keeping of bees for profit",
    "the mooring of boats overnight",
    "the storage of firewood for sale",
    "the letting of rooms to visitors for periods of less than thirty days",
    "the training or exercise of horses",
    "the repair of boats and other small vessels",
    "the provision of food and drink to members of the public",
    "the cultivation of fruit trees by members of the community",
    "the grazing of goats or sheep",
    "the landing of passengers from a ferry",
    "the holding of a festival or fair",
    "the care of dogs on behalf of their owners",
    "the playing of amplified music in the open air",
    "the hire of bicycles to the public",
)
PERMITTED_ACTIONS = (
    "apply to the tribunal for a review of the decision",
    "enter the premises at any reasonable hour",
    "inspect the register free of charge",
    "renew the licence for a further period of twelve months",
    "sell goods from a stall on a trading day",
    "keep not more than six hives on the land",
    "moor the vessel at the landing stage for up to four hours",
    "appeal to the magistrates within twenty-eight days",
    "require the keeper to produce the licence",
    "grant a temporary permit for a single event",
    "take samples of any food offered for sale",
    "continue to trade from the same pitch",
    "object to the grant of the licence in writing",
    "serve an enforcement notice on the occupier",
    "recover the cost of the works from the owner",
    "transfer the licence to another person",
    "place tables and chairs on the pavement during permitted hours",
    "charge a reasonable fee for a copy of the register",
    "suspend the licence pending an investigation",
    "remove any vessel left at a berth without consent",
    "cut back branches that overhang the footpath",
    "use the common parts for the purposes of the courtyard",
    "ask for a hearing before the decision is made",
    "extend the period for a further fourteen days",
    "let the unit to visitors for short stays",
    "sell firewood from the roadside during the winter months",
    "graze goats on the water meadow between May and October",
    "ring the bells for not more than one hour on a Sunday",
    "fish in the river during the fishing season",
    "open the lock outside the usual hours in an emergency",
)
PROHIBITED_ACTIONS = (
    "sell alcohol from a food van",
    "trade in a prohibited street",
    "place any obstruction on a public footpath",
    "keep more than six hives within fifty metres of a dwelling",
    "moor a vessel at a berth reserved for the ferry",
    "fell or lop a protected tree",
    "play amplified music during quiet hours",
    "let a unit to more than ten persons at one time",
    "remove fish from the river during the close season",
    "operate the lock while a vessel is moored in the chamber",
    "light a fire on a village green",
    "allow a dog to enter the allotment garden",
    "carry on a riding establishment without a licence",
    "transfer the licence without the consent of the council",
    "display goods beyond the boundary of the pitch",
    "store firewood within two metres of a chimney",
    "charge a fee for access to the common parts",
    "use the pier for the landing of goods after dark",
    "sell any article that is unfit for human consumption",
    "obstruct an authorised officer in the exercise of a power under this Act",
    "give false information in an application for a licence",
    "destroy or conceal any record kept under section 12",
    "graze animals on the water meadow during the nesting season",
    "leave a coastal hut unlocked when it is not in use",
    "hire out a bicycle that has not been inspected",
)
DUTIES = (
    "notify the harbour master in writing within fourteen days",
    "keep a register of all licences granted",
    "display the licence in a prominent place",
    "give reasons for the decision in writing",
    "maintain the common parts in good repair",
    "pay the appropriate fee before the licence is issued",
    "inspect the premises at least once in every year",
    "keep the record for a period of six years",
    "send a copy of the notice to every qualifying resident",
    "publish the decision on the council’s notice board",
    "insure the vessel against third-party claims",
    "remove any litter left on the pitch at the end of the trading day",
    "inform the registrar of any change of address",
    "provide a certificate of insurance on request",
    "hold a hearing before revoking the licence",
    "repair any damage caused to the footpath",
    "keep the lock gates closed when the lock is not in use",
    "carry the permit at all times while trading",
    "report any outbreak of disease among the bees",
    "return the licence to the council within seven days of its revocation",
)
CONDITIONS = (
    "if the licence has been revoked",
    "where the premises are used for trade",
    "unless the council has given written consent",
    "if the fee has not been paid",
    "where the vessel is left unattended for more than seven days",
    "unless the keeper holds a current certificate of insurance",
    "if the applicant has been convicted of an offence under this Act",
    "where a berth licence is transferred",
    "if the tribunal is satisfied that the refusal was unreasonable",
    "where an objection is received after the closing date",
    "unless the tree is dead or dangerous",
    "if the occupier fails to comply with an enforcement notice",
    "where the land adjoins a school or hospital",
    "if the works are not completed within three months",
    "unless the music is played at a licensed event",
    "where the owner cannot be found after reasonable enquiry",
    "if a qualifying resident so requests in writing",
    "where the trading day falls on a public holiday",
    "unless the inspector has certified that the premises are safe",
    "if the river level rises above the warning mark",
    "where two or more persons hold the licence jointly",
    "if the licence holder dies or becomes bankrupt",
    "unless the application was made before the relevant date",
    "where the footpath has been closed by order",
    "if the goods are offered for sale on a consent street",
)
EVIDENCE_OBJECTS = (
    "a certified copy of the register",
    "a statutory declaration made by the owner",
    "a certificate signed by the registrar",
    "a receipt for the appropriate fee",
    "a plan of the premises drawn to scale",
    "a current certificate of insurance",
    "the bill of sale for the vessel",
    "a copy of the enforcement notice",
    "a written statement from the inspector",
    "the log book kept under section 9",
    "a photograph of the pitch taken on the trading day",
    "a certified extract from the minutes of the council",
    "the original licence or a certified copy of it",
    "a letter from the harbour master",
    "a report of the district surveyor",
    "a sworn affidavit of the claimant",
    "the tenancy agreement signed by both parties",
    "an invoice for the works",
    "a veterinary certificate for each animal",
    "the record of inspections for the previous year",
)
OFFENCE_PENALTIES = (
    "commits an offence and is liable on summary conviction to a fine not exceeding level 3 on the standard scale",
    "commits an offence and is liable to a fine not exceeding £500",
    "is guilty of an offence and liable to a fine of up to £1,000",
    "commits an offence and may be ordered to pay compensation to the owner",
    "is liable to have the licence suspended for up to six months",
)
SUBJECT_MATTERS = (
    "a berth licence", "a street-trading consent", "a licence to keep bees", "a permit to moor",
    "a licence for a riding establishment", "a consent to fell a tree", "a food van licence",
    "a licence for a boarding house", "a holiday letting permit", "a festival licence",
    "a kennel licence", "a fishing permit", "a licence to sell firewood", "a pier landing permit",
)
STREETS = (
    "Mill Street", "Quay Lane", "Church Row", "Market Place", "Orchard Road", "Station Hill",
    "Harbour Walk", "Bridge Street", "Abbey Close", "Tanner’s Yard", "Rope Walk", "Castle Mews",
    "Canal Side", "Well Lane", "Fair Green", "Ferry Road", "Kiln Street", "Chapel Lane",
)
FACT_EVENTS = (
    "applied for {matter} to trade from a pitch on {street}",
    "moored a narrowboat at the public landing stage on {street}",
    "kept {count} hives in a garden adjoining the school on {street}",
    "placed six tables on the pavement outside a café on {street}",
    "took a two-year lease of a ground-floor shop on {street}",
    "cut down an oak tree in the garden of a house on {street}",
    "played amplified music at a party held in a yard on {street}",
    "sold firewood from a trailer parked on {street}",
    "let a flat on {street} to a group of visitors for three nights",
    "received a notice requiring repairs to a chimney at a house on {street}",
    "bought a rowing boat that had been left at a berth on {street}",
    "opened a kennel for {count} dogs in a barn off {street}",
)
FACT_OUTCOMES = (
    "The council refused the application on {date}",
    "An authorised officer inspected the premises on {date}",
    "A neighbour complained to the council on {date}",
    "The licence was revoked on {date}",
    "The harbour master served a notice on {date}",
    "The inspector found that the work had not been done by {date}",
    "The tribunal heard the appeal on {date}",
    "No fee had been paid by {date}",
)
FACT_PERSONS = (
    "Ms Okafor", "Mr Lindqvist", "Mrs Patel", "Mr Duarte", "Ms Novak", "Dr Haddad", "Mr O’Brien",
    "Ms Tanaka", "Mrs Achterberg", "Mr Mensah", "Ms Kowalczyk", "Mr Ferreira", "Ms Eriksen",
    "Mr Abara", "Mrs Castellano", "Ms Delacroix", "Mr Volkov", "Ms Sørensen",
)
NUMBER_WORDS = (
    "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "fourteen", "twenty", "thirty",
)
