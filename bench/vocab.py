"""Word lists for the benchmark data set: varied enough that a search term matches a realistic
share of a million leads (a common surname ~1 %, a rare one ~0.2 %), not one row or all of them."""

from __future__ import annotations

FIRST_NAMES = """
Liam Olivia Noah Emma Ava Lucas Mia Elijah Zoe Hugo Ines Omar Priya Sven Yuki Amelia Oliver Isla
Leo Freya Arthur Grace Theo Lily Oscar Chloe Jack Ella Harry Sophie George Ruby Charlie Evie Jacob
Alice Alfie Florence Freddie Daisy Henry Poppy Thomas Rosie William Maya Joshua Ivy James Willow
Daniel Layla Samuel Hannah Max Sienna Ethan Matilda Adam Clara Ben Nora Felix Paula Anton Marta
Jonas Lena Paul Hanna Finn Emilia Elias Lea Luis Lina Felipe Sofia Mateo Valentina Diego Camila
Santiago Lucia Andres Carmen Javier Elena Pablo Marta Sergio Julia Nikolai Anya Dmitri Olga Ivan
Katya Tomasz Zofia Piotr Agata Jan Petra Lars Ingrid Nils Astrid Mikko Aino Kenji Aiko Hiro Sakura
Wei Mei Jun Lan Arjun Ananya Rohan Kavya Vikram Diya Kwame Ama Kofi Abena Chidi Ngozi Tunde Amara
Youssef Leila Karim Nadia Samir Yasmin Mehmet Elif Emre Zeynep Giorgos Eleni Nikos Sofia Marco
Giulia Luca Chiara Matteo Francesca Rafael Beatriz Tiago Mariana Joao Ana Pierre Camille Louis Chloe
""".split()

LAST_NAMES = """
Smith Garcia Muller Rossi Dubois Kowalski Novak Silva Tanaka Okafor Larsen Haddad Johnson Williams
Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Martin Jackson Thompson White Harris
Clark Lewis Robinson Walker Young Allen King Wright Scott Green Baker Adams Nelson Hill Campbell
Mitchell Roberts Carter Phillips Evans Turner Torres Parker Collins Edwards Stewart Flores Morris
Nguyen Murphy Rivera Cook Rogers Morgan Peterson Cooper Reed Bailey Bell Gomez Kelly Howard Ward
Cox Diaz Richardson Wood Watson Brooks Bennett Gray James Reyes Cruz Hughes Price Myers Long Foster
Sanders Ross Morales Powell Sullivan Russell Ortiz Jenkins Gutierrez Perry Butler Barnes Fisher
Henderson Coleman Simmons Patterson Jordan Reynolds Hamilton Graham Kim Gonzales Alexander Ramos
Wallace Griffin West Cole Hayes Chavez Gibson Bryant Ellis Stevens Murray Ford Marshall Owens
McDonald Harrison Ruiz Kennedy Wells Alvarez Woods Mendoza Castillo Olson Webb Washington Tucker
Freeman Burns Henry Vasquez Snyder Simpson Crawford Jimenez Porter Mason Shaw Gordon Wagner Hunter
Romero Hicks Dixon Hunt Palmer Robertson Black Holmes Stone Meyer Boyd Mills Warren Fox Rose Rice
Moreno Schmidt Patel Ferguson Nichols Herrera Medina Ryan Fernandez Weaver Daniels Stephens Gardner
Payne Kelley Dunn Pierce Arnold Tran Spencer Peters Hawkins Grant Hansen Castro Hoffman Hart Elliott
Cunningham Knight Bradley Schneider Fischer Weber Becker Schulz Koch Richter Klein Wolf Neumann
Schwarz Zimmermann Braun Hofmann Hartmann Lange Werner Krause Lehmann Kohler Bianchi Romano Colombo
Ricci Marino Greco Bruno Gallo Conti Esposito Leroy Moreau Laurent Simon Michel Lefebvre Bernard
Petit Durand Fontaine Rousseau Vincent Jansen Visser Smit Bakker Mulder Bos Vos Peeters Maes Nowak
Wisniewski Wojcik Kaminski Lewandowski Zielinski Szymanski Horvat Kovac Popescu Ionescu Papadopoulos
Yilmaz Kaya Demir Sahin Celik Cohen Levi Mizrahi Suzuki Takahashi Watanabe Ito Yamamoto Nakamura
Kobayashi Sato Chen Wang Li Zhang Liu Yang Huang Zhao Wu Zhou Singh Kumar Sharma Gupta Reddy Iyer
Mensah Boateng Adeyemi Okonkwo Eze Abubakar Diallo Traore Keita Ndiaye Haile Tesfaye Mwangi Otieno
Ferreira Santos Oliveira Pereira Costa Rodrigues Almeida Sousa Carvalho Lopes Martins Ribeiro
Andersson Johansson Karlsson Nilsson Eriksson Lindberg Virtanen Korhonen Nieminen Hansen Jensen
""".split()

COMPANY_WORDS = """
Acme Blue Fern Northwind Kite Orbit Pine Quanta Riverbend Summit Tidewater Harbor Granite Cedar
Maple Silver Golden Iron Copper Falcon Eagle Lantern Beacon Meadow Prairie Canyon Delta Vertex
Apex Nimbus Cobalt Crimson Emerald Sapphire Willow Birch Aspen Juniper Coral Lighthouse Compass
Anchor Bridge Keystone Pioneer Frontier Horizon Atlas Zenith Polaris Vector Matrix Pixel Quartz
""".split()

COMPANY_TRADES = """
Robotics Dental Bikes Logistics Bakery Labs Clinic Legal Farms Analytics Builders Consulting
Design Foods Health Insurance Media Motors Outdoors Pharma Realty Software Studios Systems
Textiles Travel Ventures Water Wines Works Accounting Architects Cleaning Coffee Electric
Energy Fitness Florists Freight Gardens Hotels Interiors Marketing Plumbing Printing Security
""".split()

COMPANY_SUFFIXES = ["", "", "", "Ltd", "Inc", "GmbH", "& Co", "LLC", "Group", "Partners"]

FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "gmx.de", "proton.me"]

TITLES = [
    "Owner",
    "Founder",
    "CEO",
    "COO",
    "Operations lead",
    "Office manager",
    "Head of IT",
    "Purchasing manager",
    "Practice manager",
    "Marketing director",
    "Finance director",
    "",
    "",
]

SOURCES = [
    # (name, share of intake)
    ("Website form", 30),
    ("Google Ads", 12),
    ("Referral", 12),
    ("Partner list", 10),
    ("Cold outreach", 10),
    ("Webinar", 8),
    ("LinkedIn", 7),
    ("Trade show", 6),
    ("Newsletter", 3),
    ("Directory listing", 2),
]

DISQUALIFY_REASONS = [
    "No budget this year; pointed them to our free templates.",
    "Needs a feature we do not offer; referred to a specialist vendor.",
    "Student project, not a business.",
    "Spam submission.",
    "Duplicate of an existing lead.",
    "Too small for us: the DIY route is cheaper for them.",
    "Outside our service area.",
]
LOST_REASONS = [
    "Went with a competitor on price.",
    "Project cancelled after a re-org.",
    "No decision after three follow-ups.",
    "Chose to build it in-house.",
]
NURTURE_REASONS = ["Not ready before next quarter.", "Budget review in the autumn.", "Call back after the move.", ""]

CALL_OUTCOMES = [
    "Spoke for 10 min, keen to hear more",
    "Voicemail left",
    "No answer, will retry tomorrow",
    "Booked a discovery call",
    "Asked for a quote by email",
    "Gatekeeper, call back after 3pm",
]
EMAIL_OUTCOMES = ["Sent the intro deck", "Replied with pricing", "Sent a case study", "Follow-up email, no reply yet"]
MEETING_OUTCOMES = ["Demo with the owner", "On-site visit", "Video call with the team", "Proposal walkthrough"]
NOTE_OUTCOMES = [
    "Prefers email over calls",
    "Decision maker is the co-founder",
    "Budget cycle ends in March",
    "Met at the trade show stand",
]
LEAD_NOTES = [
    "Asked about the premium plan on the form.",
    "Wants a call in the morning.",
    "Came via the spring campaign.",
    "Existing customer's colleague.",
]
