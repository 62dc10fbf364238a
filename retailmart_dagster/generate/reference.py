"""Static reference data for the sample generator: geography, names, catalogue, channels.

Everything here is a plain constant (tuples, so ordering is fixed and generation stays deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass

COUNTRY = "India"
REGIONS: tuple[str, ...] = ("North", "South", "East", "West", "Central")

# state -> region
STATE_REGION: dict[str, str] = {
    "Delhi": "North",
    "Punjab": "North",
    "Haryana": "North",
    "Uttar Pradesh": "North",
    "Uttarakhand": "North",
    "Himachal Pradesh": "North",
    "Jammu and Kashmir": "North",
    "Rajasthan": "North",
    "Karnataka": "South",
    "Tamil Nadu": "South",
    "Kerala": "South",
    "Telangana": "South",
    "Andhra Pradesh": "South",
    "West Bengal": "East",
    "Odisha": "East",
    "Bihar": "East",
    "Jharkhand": "East",
    "Assam": "East",
    "Maharashtra": "West",
    "Gujarat": "West",
    "Goa": "West",
    "Madhya Pradesh": "Central",
    "Chhattisgarh": "Central",
}


@dataclass(frozen=True)
class City:
    """A city with its state, a relative population weight and a 3-digit PIN prefix."""

    name: str
    state: str
    weight: float
    pin: str

    @property
    def region(self) -> str:
        """The region of the city's state."""
        return STATE_REGION[self.state]


CITIES: tuple[City, ...] = (
    City("Mumbai", "Maharashtra", 20.0, "400"),
    City("Delhi", "Delhi", 19.0, "110"),
    City("Bengaluru", "Karnataka", 12.0, "560"),
    City("Hyderabad", "Telangana", 10.0, "500"),
    City("Chennai", "Tamil Nadu", 10.0, "600"),
    City("Kolkata", "West Bengal", 14.0, "700"),
    City("Ahmedabad", "Gujarat", 8.0, "380"),
    City("Pune", "Maharashtra", 7.0, "411"),
    City("Surat", "Gujarat", 6.0, "395"),
    City("Jaipur", "Rajasthan", 4.0, "302"),
    City("Lucknow", "Uttar Pradesh", 3.6, "226"),
    City("Kanpur", "Uttar Pradesh", 3.0, "208"),
    City("Nagpur", "Maharashtra", 2.6, "440"),
    City("Indore", "Madhya Pradesh", 2.4, "452"),
    City("Bhopal", "Madhya Pradesh", 2.0, "462"),
    City("Patna", "Bihar", 2.2, "800"),
    City("Vadodara", "Gujarat", 2.2, "390"),
    City("Ludhiana", "Punjab", 1.8, "141"),
    City("Chandigarh", "Punjab", 1.2, "160"),
    City("Gurugram", "Haryana", 1.9, "122"),
    City("Faridabad", "Haryana", 1.6, "121"),
    City("Noida", "Uttar Pradesh", 1.7, "201"),
    City("Agra", "Uttar Pradesh", 1.8, "282"),
    City("Varanasi", "Uttar Pradesh", 1.5, "221"),
    City("Dehradun", "Uttarakhand", 0.9, "248"),
    City("Shimla", "Himachal Pradesh", 0.3, "171"),
    City("Jammu", "Jammu and Kashmir", 0.7, "180"),
    City("Kochi", "Kerala", 2.1, "682"),
    City("Thiruvananthapuram", "Kerala", 1.7, "695"),
    City("Coimbatore", "Tamil Nadu", 2.2, "641"),
    City("Madurai", "Tamil Nadu", 1.5, "625"),
    City("Mysuru", "Karnataka", 1.0, "570"),
    City("Visakhapatnam", "Andhra Pradesh", 2.0, "530"),
    City("Vijayawada", "Andhra Pradesh", 1.5, "520"),
    City("Bhubaneswar", "Odisha", 1.0, "751"),
    City("Ranchi", "Jharkhand", 1.1, "834"),
    City("Guwahati", "Assam", 1.1, "781"),
    City("Raipur", "Chhattisgarh", 1.1, "492"),
    City("Panaji", "Goa", 0.4, "403"),
    City("Nashik", "Maharashtra", 1.6, "422"),
)

MALE_FIRST = (
    "Aarav", "Vivaan", "Aditya", "Vihaan", "Arjun", "Sai", "Reyansh", "Ayaan", "Krishna", "Ishaan",
    "Rohan", "Rahul", "Amit", "Suresh", "Ramesh", "Vikram", "Anil", "Sanjay", "Rajesh", "Manoj",
    "Deepak", "Karthik", "Pranav", "Nikhil", "Siddharth", "Harsh", "Yash", "Kunal", "Varun", "Abhishek",
    "Gaurav", "Mohit", "Tarun", "Naveen", "Prakash", "Ravi", "Sunil", "Ajay", "Vijay", "Imran",
    "Farhan", "Arif", "Joseph", "Thomas", "Gurpreet", "Harpreet", "Manish", "Dinesh", "Ashok", "Kiran",
    "Mahesh", "Ganesh", "Srinivas", "Venkat", "Arun", "Bala", "Debashis", "Subhash", "Anirban", "Tushar",
)  # fmt: skip
FEMALE_FIRST = (
    "Aadhya", "Ananya", "Diya", "Saanvi", "Pari", "Anika", "Navya", "Myra", "Sara", "Ira",
    "Priya", "Pooja", "Neha", "Sneha", "Kavya", "Divya", "Shreya", "Aishwarya", "Lakshmi", "Meera",
    "Anjali", "Sunita", "Kavita", "Rekha", "Geeta", "Nisha", "Ritu", "Swati", "Payal", "Komal",
    "Deepika", "Priyanka", "Shalini", "Madhuri", "Radhika", "Tanvi", "Isha", "Riya", "Sanya", "Zoya",
    "Fatima", "Ayesha", "Mary", "Grace", "Simran", "Harleen", "Manpreet", "Bhavana", "Revathi", "Keerthi",
    "Lavanya", "Padma", "Sarita", "Rupa", "Moumita", "Sharmila", "Pallavi", "Aparna", "Jyoti", "Alka",
)  # fmt: skip
SURNAMES = (
    "Sharma", "Verma", "Gupta", "Singh", "Kumar", "Patel", "Shah", "Mehta", "Joshi", "Desai",
    "Reddy", "Rao", "Naidu", "Iyer", "Iyengar", "Nair", "Menon", "Pillai", "Krishnan", "Subramanian",
    "Das", "Banerjee", "Chatterjee", "Mukherjee", "Ghosh", "Bose", "Sen", "Roy", "Dutta", "Chakraborty",
    "Agarwal", "Jain", "Bansal", "Mittal", "Goyal", "Khanna", "Kapoor", "Malhotra", "Chopra", "Arora",
    "Yadav", "Mishra", "Pandey", "Tiwari", "Dubey", "Srivastava", "Saxena", "Chauhan", "Rathore", "Thakur",
    "Kulkarni", "Deshpande", "Patil", "Pawar", "Jadhav", "Shinde", "Gill", "Sandhu", "Dhillon", "Grewal",
    "Khan", "Ahmed", "Sheikh", "Qureshi", "Fernandes", "D'Souza", "Mathew", "George", "Varghese", "Hegde",
    "Shetty", "Kamath", "Bhat", "Prasad", "Sinha", "Choudhary", "Mahajan", "Bhatia", "Sethi", "Tandon",
)  # fmt: skip

STREET_NAMES = (
    "MG Road", "Station Road", "Gandhi Nagar", "Nehru Street", "Park Street", "Main Road", "Ring Road",
    "Church Street", "Market Road", "Temple Street", "Lake View Road", "Civil Lines", "Model Town",
    "Sector 14", "Sector 21", "Rajaji Nagar", "Anna Salai", "Linking Road", "Hill Road", "Brigade Road",
    "Residency Road", "Ashok Vihar", "Shanti Nagar", "Indira Colony", "Patel Nagar", "Subhash Marg",
)  # fmt: skip
LOCALITIES = (
    "Andheri", "Bandra", "Koramangala", "Indiranagar", "Whitefield", "Salt Lake", "Banjara Hills",
    "Gachibowli", "T Nagar", "Adyar", "Velachery", "Rohini", "Dwarka", "Saket", "Lajpat Nagar",
    "Navrangpura", "Satellite", "Kothrud", "Hinjewadi", "Malviya Nagar", "Gomti Nagar", "Civil Lines",
    "Camp", "City Centre", "Central Mall", "High Street", "Station Area", "Old Town", "New Town",
)  # fmt: skip

ADDRESS_TYPES = ("Home", "Work", "Other")


@dataclass(frozen=True)
class Category:
    """A product category with a typical price (rupees), price spread and demand multiplier."""

    name: str
    median_price: float
    sigma: float
    demand: float
    max_qty: int  # quantities above this are rare (big-ticket items are bought one at a time)
    apparel: bool
    brands: tuple[str, ...]
    item_types: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category("Electronics", 22000, 0.7, 0.7, 2, False,
             ("Samsung", "LG", "Sony", "Panasonic", "Philips", "boAt", "JBL", "Mi"),
             ("LED TV", "Soundbar", "Bluetooth Speaker", "Headphones", "Earbuds", "Camera",
              "Home Theatre")),
    Category("Mobiles & Tablets", 16000, 0.6, 0.9, 2, False,
             ("Apple", "OnePlus", "Realme", "Vivo", "Oppo", "Motorola", "Nokia", "Redmi"),
             ("Smartphone", "Tablet", "Feature Phone", "Power Bank", "Charger", "Phone Case")),
    Category("Computers & Laptops", 48000, 0.6, 0.4, 1, False,
             ("Dell", "HP", "Lenovo", "Asus", "Acer", "MSI", "Logitech"),
             ("Laptop", "Desktop", "Monitor", "Keyboard", "Mouse", "Printer", "Router")),
    Category("Home Appliances", 14000, 0.7, 0.5, 1, False,
             ("Whirlpool", "Godrej", "Voltas", "Blue Star", "IFB", "Haier", "Hitachi"),
             ("Refrigerator", "Washing Machine", "Air Conditioner", "Water Purifier", "Air Cooler",
              "Geyser")),
    Category("Kitchen Appliances", 3200, 0.6, 0.8, 2, False,
             ("Prestige", "Bajaj", "Pigeon", "Butterfly", "Preethi", "Morphy Richards", "Havells",
              "Usha"),
             ("Mixer Grinder", "Induction Cooktop", "Pressure Cooker", "Electric Kettle", "Toaster",
              "Microwave Oven", "Air Fryer")),
    Category("Furniture", 11000, 0.7, 0.35, 1, False,
             ("Nilkamal", "Durian", "Godrej Interio", "Urban Ladder", "Wakefit", "Sleepwell",
              "HomeTown"),
             ("Sofa", "Dining Table", "Office Chair", "Bookshelf", "Bed", "Mattress", "Wardrobe")),
    Category("Home Decor", 1100, 0.6, 0.9, 3, False,
             ("Home Centre", "Swayam", "Bombay Dyeing", "Spaces", "Portico", "D'Decor", "Solimo"),
             ("Bedsheet", "Curtains", "Wall Clock", "Cushion Cover", "Table Lamp", "Photo Frame",
              "Rug")),
    Category("Men's Clothing", 1100, 0.55, 1.3, 3, True,
             ("Peter England", "Allen Solly", "Van Heusen", "Louis Philippe", "Raymond",
              "Levi's", "Roadster", "Jockey"),
             ("Shirt", "T-Shirt", "Jeans", "Trousers", "Kurta", "Jacket", "Shorts")),
    Category("Women's Clothing", 1300, 0.6, 1.4, 3, True,
             ("Biba", "W", "Fabindia", "Global Desi", "Aurelia", "Libas", "Vero Moda", "Only"),
             ("Kurti", "Saree", "Salwar Suit", "Dress", "Top", "Leggings", "Lehenga")),
    Category("Footwear", 1800, 0.55, 0.9, 2, True,
             ("Bata", "Liberty", "Woodland", "Red Tape", "Campus", "Sparx", "Metro"),
             ("Sneakers", "Sandals", "Formal Shoes", "Slippers", "Running Shoes", "Boots")),
    Category("Beauty & Personal Care", 420, 0.6, 1.6, 4, False,
             ("Lakme", "Himalaya", "Nivea", "Dove", "Mamaearth", "Biotique", "Lotus", "Plum"),
             ("Face Wash", "Moisturiser", "Shampoo", "Lipstick", "Sunscreen", "Hair Oil",
              "Body Lotion")),
    Category("Health & Wellness", 550, 0.6, 0.9, 3, False,
             ("Dabur", "Patanjali", "Baidyanath", "HealthKart", "Dr Morepen", "Omron", "Zandu"),
             ("Protein Powder", "Multivitamin", "Chyawanprash", "BP Monitor", "Thermometer",
              "Herbal Juice")),
    Category("Groceries & Staples", 170, 0.6, 2.6, 5, False,
             ("Tata Sampann", "Aashirvaad", "Fortune", "India Gate", "Daawat", "Saffola", "MDH",
              "Everest"),
             ("Basmati Rice", "Atta", "Toor Dal", "Sunflower Oil", "Masala", "Sugar", "Salt",
              "Ghee")),
    Category("Beverages", 150, 0.5, 1.8, 5, False,
             ("Tata Tea", "Red Label", "Bru", "Nescafe", "Tropicana", "Real", "Paper Boat"),
             ("Tea", "Coffee", "Fruit Juice", "Green Tea", "Soft Drink", "Energy Drink")),
    Category("Snacks & Packaged Food", 110, 0.5, 2.2, 5, False,
             ("Haldiram's", "Britannia", "Parle", "Lay's", "Bingo", "Kurkure", "Maggi", "MTR"),
             ("Namkeen", "Biscuits", "Chips", "Instant Noodles", "Cookies", "Ready to Eat Meal")),
    Category("Toys & Games", 850, 0.6, 0.6, 3, False,
             ("Funskool", "Hasbro", "Mattel", "Lego", "Hot Wheels", "Toiing", "Smartivity"),
             ("Board Game", "Puzzle", "Soft Toy", "Remote Control Car", "Building Blocks",
              "Action Figure")),
    Category("Books & Stationery", 320, 0.6, 0.9, 4, False,
             ("Classmate", "Camlin", "Faber-Castell", "Penguin", "Navneet", "Reynolds", "Doms"),
             ("Notebook", "Pen Set", "Novel", "Colour Pencils", "Diary", "Geometry Box")),
    Category("Sports & Fitness", 2000, 0.7, 0.6, 2, False,
             ("Nivia", "Cosco", "Yonex", "SG", "Decathlon", "Boldfit", "Vector X"),
             ("Cricket Bat", "Football", "Badminton Racquet", "Yoga Mat", "Dumbbells",
              "Cycle", "Treadmill")),
    Category("Jewellery & Accessories", 2600, 0.8, 0.5, 2, False,
             ("Tanishq", "Titan", "Fastrack", "Giva", "Sonata", "Caratlane", "Voylla"),
             ("Watch", "Earrings", "Necklace", "Bracelet", "Sunglasses", "Wallet", "Handbag")),
    Category("Baby Care", 650, 0.55, 0.8, 4, False,
             ("Johnson's", "Himalaya Baby", "Pampers", "Huggies", "Mee Mee", "Chicco", "Cerelac"),
             ("Diapers", "Baby Lotion", "Baby Wipes", "Feeding Bottle", "Baby Food", "Baby Soap")),
)  # fmt: skip

SUPPLIER_PREFIXES = (
    "Shree Ganesh", "Sai Krupa", "Bharat", "National", "Apex", "Sunrise", "Om Sai", "Metro", "Kaveri",
    "Ganga", "Himalaya", "Deccan", "Eastern", "Western", "Royal", "Star", "Prime", "Jai Hind",
    "Lakshmi", "Balaji", "Mahalaxmi", "Shakti", "Vishal", "Continental", "Universal", "Galaxy",
)  # fmt: skip
SUPPLIER_SUFFIXES = (
    "Traders",
    "Distributors",
    "Enterprises",
    "Wholesale",
    "Agencies",
    "Suppliers Pvt Ltd",
    "Trading Co",
    "Logistics",
    "Marketing",
    "Industries",
)

DEPARTMENTS: tuple[str, ...] = (
    "Store Operations",
    "Sales",
    "Billing",
    "Inventory",
    "Customer Service",
    "Security",
    "Housekeeping",
    "Logistics",
    "Administration",
    "Visual Merchandising",
)


@dataclass(frozen=True)
class Role:
    """An employee role: department, share of a store's staff and monthly salary range (rupees)."""

    name: str
    department: str
    share: float
    salary_low: int
    salary_high: int


ROLES: tuple[Role, ...] = (
    Role("Assistant Store Manager", "Store Operations", 0.05, 38000, 60000),
    Role("Department Supervisor", "Store Operations", 0.07, 28000, 42000),
    Role("Sales Associate", "Sales", 0.30, 14000, 22000),
    Role("Cashier", "Billing", 0.12, 15000, 21000),
    Role("Inventory Clerk", "Inventory", 0.09, 15000, 23000),
    Role("Customer Service Executive", "Customer Service", 0.08, 16000, 25000),
    Role("Security Guard", "Security", 0.08, 12000, 16000),
    Role("Housekeeping Staff", "Housekeeping", 0.07, 11000, 14500),
    Role("Delivery Executive", "Logistics", 0.07, 13000, 19000),
    Role("Store Accountant", "Administration", 0.03, 25000, 38000),
    Role("Visual Merchandiser", "Visual Merchandising", 0.04, 20000, 32000),
)
STORE_MANAGER = Role("Store Manager", "Store Operations", 0.0, 65000, 110000)

STORE_EXPENSE_TYPES = ("Rent", "Utilities", "Maintenance", "Marketing", "Security", "Misc")
FINANCE_EXPENSE_CATEGORIES: tuple[tuple[str, float], ...] = (
    # (category, share of a store's monthly sales spent on it, summed over that category's rows)
    ("Inventory Purchase", 0.55),
    ("Salaries", 0.09),
    ("Logistics", 0.04),
    ("IT & Software", 0.012),
    ("Insurance", 0.008),
    ("Training", 0.004),
    ("Travel", 0.004),
    ("Office Supplies", 0.003),
    ("Legal & Compliance", 0.003),
    ("Bank Charges", 0.005),
)

ORDER_STATUSES = ("Delivered", "Shipped", "Processing", "Pending", "Cancelled", "Returned")
PAYMENT_MODES: tuple[tuple[str, float], ...] = (
    ("UPI", 0.41),
    ("Credit Card", 0.18),
    ("Debit Card", 0.16),
    ("Cash", 0.13),
    ("Net Banking", 0.12),
)


@dataclass(frozen=True)
class Courier:
    """A courier with a market share and a transit-time range in days."""

    name: str
    share: float
    min_days: int
    max_days: int


COURIERS: tuple[Courier, ...] = (
    Courier("Delhivery", 0.27, 2, 5),
    Courier("BlueDart", 0.20, 1, 3),
    Courier("Ecom Express", 0.16, 2, 6),
    Courier("XpressBees", 0.14, 2, 6),
    Courier("DTDC", 0.13, 3, 8),
    Courier("Shadowfax", 0.10, 1, 4),
)

RETURN_REASONS = (
    "Damaged",
    "Wrong Item",
    "Quality Issue",
    "Late Delivery",
    "Size Issue",
    "Changed Mind",
)
# weights per reason for non-apparel / apparel lines
RETURN_REASON_WEIGHTS = (
    (0.30, 0.16, 0.26, 0.10, 0.00, 0.18),
    (0.08, 0.10, 0.17, 0.05, 0.45, 0.15),
)

REVIEW_TEXTS: dict[int, tuple[str, ...]] = {
    5: (
        "Excellent product, totally worth the price.",
        "Loved it! Exactly as described.",
        "Superb quality and fast delivery.",
        "Best purchase this year, highly recommended.",
        "Very happy with this, will buy again.",
    ),
    4: (
        "Good product, value for money.",
        "Nice quality, delivery could be faster.",
        "Works well, minor issues with packaging.",
        "Pretty good overall.",
    ),
    3: (
        "Average product, does the job.",
        "Okay for the price, nothing special.",
        "Quality is decent but expected better.",
    ),
    2: (
        "Not satisfied, quality is below expectations.",
        "Product stopped working properly after a few days.",
        "Packaging was damaged, product is mediocre.",
    ),
    1: (
        "Very poor quality, waste of money.",
        "Received a defective item.",
        "Terrible experience, would not recommend.",
    ),
}

AD_CHANNELS: tuple[tuple[str, float, float, float], ...] = (
    # (channel, cost per click low, cost per click high, conversion rate)
    ("Email", 1.0, 3.0, 0.030),
    ("Google", 8.0, 22.0, 0.040),
    ("YouTube", 10.0, 30.0, 0.018),
    ("OOH", 250.0, 600.0, 0.010),
    ("Meta", 6.0, 16.0, 0.030),
    ("Print", 200.0, 500.0, 0.012),
    ("TV", 300.0, 800.0, 0.010),
    ("Affiliate", 10.0, 25.0, 0.055),
)

CAMPAIGN_THEMES = (
    "Diwali Dhamaka", "Festive Bonanza", "Republic Day Sale", "Independence Day Sale", "Holi Colours",
    "Summer Splash", "Monsoon Madness", "Back to School", "New Year Blast", "Weekend Bonanza",
    "Big Savings Days", "Navratri Special", "Durga Puja Offers", "Pongal Utsav", "Onam Celebrations",
    "Eid Specials", "Christmas Cheer", "Clearance Sale", "Mega Electronics Fest", "Fashion Week",
    "Grocery Saver", "Wedding Season", "Loyalty Rewards", "Brand Days", "Flash Friday",
)  # fmt: skip
CAMPAIGN_AUDIENCES = (
    "All Customers", "New Customers", "Loyal Members", "Metro Cities", "Tier 2 Cities", "Youth",
    "Families", "Women Shoppers", "Students", "Lapsed Customers",
)  # fmt: skip

PROMO_NAMES = (
    "Diwali Sale", "Festive Offer", "Flat Discount", "Weekend Deal", "Clearance", "Buy More Save More",
    "Monsoon Sale", "Summer Sale", "Republic Day Offer", "Independence Day Offer", "Holi Offer",
    "New Year Offer", "Combo Deal", "Member Special", "Mega Saver", "Brand Week", "Flash Sale",
    "Back to School", "Wedding Special", "Navratri Offer",
)  # fmt: skip

# Diwali (Lakshmi Puja) dates; years outside the table fall back to the average position (Nov 1).
DIWALI: dict[int, tuple[int, int]] = {
    2018: (11, 7), 2019: (10, 27), 2020: (11, 14), 2021: (11, 4), 2022: (10, 24), 2023: (11, 12),
    2024: (11, 1), 2025: (10, 20), 2026: (11, 8), 2027: (10, 29), 2028: (10, 17), 2029: (11, 5),
    2030: (10, 26), 2031: (11, 14), 2032: (11, 2), 2033: (10, 22), 2034: (11, 10), 2035: (10, 30),
}  # fmt: skip

# Relative order volume by calendar month (Jan..Dec) before festival bumps.
MONTH_FACTOR = (0.92, 0.86, 0.95, 0.98, 1.10, 1.06, 0.93, 1.00, 1.02, 1.18, 1.12, 1.12)
# Relative order volume by weekday (Mon..Sun).
WEEKDAY_FACTOR = (0.90, 0.87, 0.89, 0.93, 1.04, 1.30, 1.25)
