#!/usr/bin/env python3
"""gen_transactions.py - writes examples/transactions.jsonl, the event stream for fraud.yaml.

    python3 examples/gen_transactions.py > examples/transactions.jsonl

Four hours of a card issuer's authorisation stream from 2026-01-01T00:00:00Z (ts 1767225600):
approved payments, declines, refunds and app logins of about two hundred ordinary customers, plus
one injected case for each rule of fraud.yaml (see SCENARIOS and SEQUENCE CASES below, and
examples/README.md), the sequence cases with the app's account events (password_reset, payout,
transfer, confirm).
Background traffic is kept clear of every rule, so the alerts come from the scenarios only.

Deterministic: a fixed seed, Python 3 standard library only, output on stdout.
Arrival order is event-time order, except that a few events arrive 2 or 3 seconds behind the
next one (inside fraud.yaml's `lateness: 5s`, so only reordered) and one is sent 40 seconds
late, 25 seconds behind the stream (counted as late and dropped).
"""

import json
import math
import random
import sys

SEED = 20260101
T0 = 1767225600          # 2026-01-01T00:00:00Z
SPAN = 4 * 3600          # background traffic covers four hours

rng = random.Random(SEED)

# --- reference data -------------------------------------------------------------------------

# country: (currency, weight of customers living there)
COUNTRIES = {
    "GB": ("GBP", 30), "DE": ("EUR", 14), "FR": ("EUR", 10), "ES": ("EUR", 7),
    "IT": ("EUR", 6), "NL": ("EUR", 6), "IE": ("EUR", 5), "US": ("USD", 6),
    "PL": ("PLN", 4), "SE": ("SEK", 3), "PT": ("EUR", 3), "BE": ("EUR", 3),
    "CA": ("CAD", 2), "NG": ("NGN", 2), "IN": ("INR", 2),
}
EXTRA_CURRENCY = {"RU": "RUB", "BR": "BRL", "LT": "EUR"}

# Merchant categories: mcc -> (median EUR, lognormal sigma, cap EUR).
CATEGORY = {
    "5411": (28, 0.7, 260),     # grocery
    "5814": (6, 0.5, 40),       # fast food, coffee
    "5812": (38, 0.6, 300),     # restaurants
    "4111": (4, 0.5, 25),       # local transport
    "4112": (45, 0.6, 260),     # rail
    "4121": (18, 0.6, 120),     # taxi, ride hailing
    "5541": (62, 0.35, 150),    # fuel
    "5912": (16, 0.6, 120),     # pharmacy
    "5311": (55, 0.8, 600),     # department store, marketplace
    "5651": (70, 0.6, 450),     # clothing
    "5732": (240, 0.9, 2600),   # electronics
    "5815": (11, 0.4, 40),      # digital media, app stores
    "5816": (25, 0.6, 120),     # games
    "4899": (12, 0.2, 25),      # streaming
    "4814": (20, 0.4, 80),      # telecom top-up
    "4511": (160, 0.7, 1400),   # airlines
    "7011": (190, 0.6, 1500),   # hotels
    "5921": (24, 0.5, 120),     # off-licence
    "5200": (75, 0.8, 900),     # DIY, home
    "7995": (20, 0.6, 100),     # betting (kept small: see cash-out)
}
STREAMING_PRICES = [10.99, 11.99, 13.99, 6.99, 17.99]

# Merchants by country: (name, mcc). Online brands bill through a local entity.
MERCHANTS = {
    "GB": [("Tesco Stores 2841", "5411"), ("Sainsbury's", "5411"), ("Pret A Manger", "5814"),
           ("Greggs", "5814"), ("TfL Travel Ch", "4111"), ("Boots", "5912"),
           ("Shell Oxford Road", "5541"), ("Argos", "5311"), ("Amazon.co.uk", "5311"),
           ("Currys", "5732"), ("Deliveroo", "5812"), ("Netflix.com", "4899"),
           ("Trainline", "4112"), ("Uber Trip", "4121"), ("Wagamama", "5812"),
           ("Waitrose", "5411"), ("Costa Coffee", "5814"), ("Next Retail", "5651"),
           ("B&Q", "5200"), ("easyJet", "4511"), ("Sky Betting", "7995")],
    "DE": [("REWE Markt", "5411"), ("Lidl", "5411"), ("dm-drogerie markt", "5912"),
           ("Deutsche Bahn", "4112"), ("MediaMarkt", "5732"), ("Aral Station", "5541"),
           ("Edeka", "5411"), ("Amazon.de", "5311"), ("Zalando", "5651"),
           ("Lieferando", "5812"), ("BVG Ticket", "4111"), ("Spotify", "4899"),
           ("Backwerk", "5814"), ("OBI Baumarkt", "5200"), ("Lufthansa", "4511")],
    "FR": [("Carrefour City", "5411"), ("Monoprix", "5411"), ("Fnac", "5732"),
           ("SNCF Connect", "4112"), ("Franprix", "5411"), ("Boulangerie Paul", "5814"),
           ("TotalEnergies", "5541"), ("Amazon.fr", "5311"), ("RATP", "4111"),
           ("Pharmacie Centrale", "5912"), ("Le Relais Bistro", "5812"), ("Decathlon", "5651"),
           ("Air France", "4511")],
    "ES": [("Mercadona", "5411"), ("El Corte Ingles", "5311"), ("Renfe", "4112"),
           ("Zara", "5651"), ("Repsol", "5541"), ("Cabify", "4121"), ("Telepizza", "5814"),
           ("Farmacia Lopez", "5912"), ("Taberna del Puerto", "5812"), ("Vueling", "4511")],
    "IT": [("Esselunga", "5411"), ("Coop Italia", "5411"), ("Trenitalia", "4112"),
           ("Eni Station", "5541"), ("Autogrill", "5814"), ("Trattoria da Mario", "5812"),
           ("Farmacia Comunale", "5912"), ("Amazon.it", "5311")],
    "NL": [("Albert Heijn", "5411"), ("Jumbo", "5411"), ("NS Reizen", "4112"),
           ("HEMA", "5311"), ("Bol.com", "5311"), ("Coolblue", "5732"), ("Thuisbezorgd", "5812"),
           ("Etos", "5912"), ("GVB Amsterdam", "4111"), ("KLM", "4511")],
    "IE": [("Dunnes Stores", "5411"), ("Tesco Ireland", "5411"), ("Centra", "5411"),
           ("Circle K", "5541"), ("Irish Rail", "4112"), ("Boots Ireland", "5912"),
           ("Ryanair", "4511"), ("Insomnia Coffee", "5814")],
    "US": [("Walmart Supercenter", "5411"), ("Target", "5311"), ("Whole Foods Market", "5411"),
           ("CVS Pharmacy", "5912"), ("Starbucks", "5814"), ("Shell Oil", "5541"),
           ("Best Buy", "5732"), ("Uber Trip", "4121"), ("Amazon.com", "5311"),
           ("Chipotle", "5814"), ("Delta Air Lines", "4511"), ("Marriott", "7011")],
    "PL": [("Biedronka", "5411"), ("Zabka", "5411"), ("Orlen", "5541"), ("Allegro", "5311"),
           ("PKP Intercity", "4112"), ("Rossmann", "5912"), ("Pyszne.pl", "5812")],
    "SE": [("ICA Supermarket", "5411"), ("Systembolaget", "5921"), ("SJ", "4112"),
           ("Pressbyran", "5814"), ("Apotek Hjartat", "5912"), ("Elgiganten", "5732")],
    "PT": [("Continente", "5411"), ("Pingo Doce", "5411"), ("Galp", "5541"),
           ("CP Comboios", "4112"), ("Pastelaria Lisboa", "5814"), ("Worten", "5732")],
    "BE": [("Delhaize", "5411"), ("Colruyt", "5411"), ("SNCB", "4112"), ("Q8", "5541"),
           ("Exki", "5814")],
    "CA": [("Loblaws", "5411"), ("Tim Hortons", "5814"), ("Petro-Canada", "5541"),
           ("Shoppers Drug Mart", "5912"), ("Air Canada", "4511")],
    "NG": [("Shoprite Lekki", "5411"), ("Jumia", "5311"), ("Chicken Republic", "5814"),
           ("MTN Airtime", "4814"), ("Bolt NG", "4121")],
    "IN": [("BigBasket", "5411"), ("Swiggy", "5812"), ("Flipkart", "5311"),
           ("Jio Recharge", "4814"), ("Ola Cabs", "4121")],
}
EVERYWHERE = [("Apple.com/bill", "5815"), ("Google Play", "5815"), ("Steam Purchase", "5816")]
TRAVEL_TO = ["ES", "FR", "IT", "PT", "NL", "GB", "DE", "US", "IE"]

FIRST = ["oliver", "amelia", "jack", "isla", "harry", "ava", "noah", "mia", "leon", "emma",
         "lukas", "hannah", "lucas", "chloe", "hugo", "ines", "mateo", "lucia", "marco", "giulia",
         "daan", "sanne", "sean", "aoife", "james", "olivia", "jakub", "zuzanna", "erik", "elsa",
         "joao", "beatriz", "tom", "lotte", "liam", "sophie", "chinedu", "ngozi", "arjun", "priya",
         "sam", "nina", "david", "sara", "paul", "anna", "ali", "fatima", "ben", "laura"]
LAST = ["smith", "jones", "taylor", "brown", "muller", "schmidt", "martin", "bernard", "garcia",
        "lopez", "rossi", "bianchi", "devries", "jansen", "murphy", "kelly", "johnson", "kowalski",
        "nowak", "andersson", "silva", "santos", "peeters", "tremblay", "okafor", "adeyemi",
        "sharma", "patel", "walker", "wright", "khan", "weber", "moreau", "romero", "byrne"]
MAIL = {"GB": ["gmail.com", "outlook.com", "btinternet.com", "icloud.com", "yahoo.co.uk"],
        "DE": ["gmx.de", "web.de", "gmail.com", "t-online.de"],
        "FR": ["orange.fr", "free.fr", "gmail.com", "laposte.net"],
        "IT": ["libero.it", "gmail.com"], "PL": ["wp.pl", "onet.pl", "gmail.com"]}
MAIL_DEFAULT = ["gmail.com", "outlook.com", "icloud.com", "proton.me", "yahoo.com"]

# First octets of ordinary consumer address space (never 10/8, 100.64/10, 127/8, 172.16/12,
# 192.168/16, nor the documentation ranges used as the blocklist in fraud.yaml).
PUBLIC_OCTET = [2, 5, 24, 31, 37, 46, 62, 67, 71, 73, 77, 78, 79, 80, 81, 82, 84, 86, 87, 88,
                89, 90, 92, 93, 94, 95, 98, 102, 105, 109, 117, 122, 151, 176, 178, 188, 212,
                213, 217]

# --- helpers --------------------------------------------------------------------------------

used_ids = set()


def new_id(prefix, digits):
    while True:
        s = prefix + str(rng.randrange(10 ** (digits - 1), 10 ** digits))
        if s not in used_ids:
            used_ids.add(s)
            return s


def new_device():
    return "dev-%08x" % rng.getrandbits(32)


def new_ip():
    return "%d.%d.%d.%d" % (rng.choice(PUBLIC_OCTET), rng.randrange(0, 256),
                            rng.randrange(0, 256), rng.randrange(1, 255))


def money(x):
    """EUR amount with cents; a whole amount is written as an integer."""
    x = round(x, 2)
    return int(x) if x == int(x) else x


def price(mcc):
    if mcc == "4899":
        return rng.choice(STREAMING_PRICES)
    median, sigma, cap = CATEGORY[mcc]
    x = min(cap, rng.lognormvariate(math.log(median), sigma))
    if x > 100 and rng.random() < 0.5:
        x = math.floor(x) + rng.choice([0, 0.99, 0.49])   # shelf prices
    return max(0.5, x)


def pick_merchant(country):
    if rng.random() < 0.08:
        return rng.choice(EVERYWHERE)
    return rng.choice(MERCHANTS[country])


def new_user(home):
    first, last = rng.choice(FIRST), rng.choice(LAST)
    sep = rng.choice([".", "", "_", "."])
    num = str(rng.randrange(1, 99)) if rng.random() < 0.4 else ""
    domain = rng.choice(MAIL.get(home, MAIL_DEFAULT))
    return {
        "user": new_id("u", 5),
        "email": "%s%s%s%s@%s" % (first, sep, last, num, domain),
        "home": home,
        "devices": [new_device() for _ in range(rng.choice([1, 1, 2]))],
        "ips": [new_ip(), rng.choice(CARRIER_NAT)],
        "cards": [],
    }


def payment(ts, kind, card, u, country, merchant, mcc, amount, device, ip):
    cur = COUNTRIES[country][0] if country in COUNTRIES else EXTRA_CURRENCY[country]
    return {"ts": ts, "type": kind, "card": card, "user": u["user"], "amount": money(amount),
            "currency": cur, "country": country, "merchant": merchant, "mcc": mcc,
            "device": device, "ip": ip, "email": u["email"]}


def login(ts, u, device, ip, country, new_device=False):
    """An app login; new_device: the device has never been used on the account before."""
    return {"ts": ts, "type": "login", "user": u["user"], "email": u["email"],
            "device": device, "new_device": new_device, "ip": ip, "country": country}


def password_reset(ts, u, device, ip, country):
    return {"ts": ts, "type": "password_reset", "user": u["user"], "email": u["email"],
            "channel": "email", "device": device, "ip": ip, "country": country}


def payout(ts, u, amount, beneficiary, device, ip):
    """The account's balance sent to an outside bank account."""
    return {"ts": ts, "type": "payout", "user": u["user"], "email": u["email"],
            "amount": money(amount), "currency": "EUR", "beneficiary": beneficiary,
            "device": device, "ip": ip}


def transfer(ts, u, ref, amount, beneficiary, device, ip):
    return {"ts": ts, "type": "transfer", "user": u["user"], "email": u["email"], "ref": ref,
            "amount": money(amount), "currency": "EUR", "beneficiary": beneficiary,
            "device": device, "ip": ip}


def confirm(ts, u, ref, device):
    """The holder approves a transfer in the app (strong customer authentication)."""
    return {"ts": ts, "type": "confirm", "user": u["user"], "ref": ref, "method": "app",
            "device": device}


def refund(ts, card, u, country, merchant, mcc, amount):
    cur = COUNTRIES[country][0]
    return {"ts": ts, "type": "refund", "card": card, "user": u["user"], "amount": money(amount),
            "currency": cur, "country": country, "merchant": merchant, "mcc": mcc}


# Carrier-grade NAT addresses: many mobile customers share each of them.
CARRIER_NAT = [new_ip() for _ in range(40)]

# --- background: ordinary customers ---------------------------------------------------------

events = []   # (event, arrival delay in seconds)

homes = list(COUNTRIES)
weights = [COUNTRIES[c][1] for c in homes]
users = [new_user(rng.choices(homes, weights)[0]) for _ in range(170)]
cards = []    # (card, user, second country or None)
for u in users:
    for _ in range(1 if rng.random() < 0.8 else 2):
        away = None
        if u["home"] != "NG" and rng.random() < 0.12:
            away = rng.choice([c for c in TRAVEL_TO if c != u["home"]])
        c = new_id("c", 5)
        u["cards"].append(c)
        cards.append((c, u, away))


def background_card(card, u, away):
    """A few hours of one ordinary card: at most five payments, at most two countries, a
    modest total, and nothing bigger than a few hundred euros in a high-risk country."""
    n = rng.choices([1, 2, 3, 4, 5], [45, 30, 15, 8, 2])[0]
    while True:
        out = []
        for _ in range(n):
            ts = T0 + rng.randrange(0, SPAN)
            country = away if away and rng.random() < 0.35 else u["home"]
            merchant, mcc = pick_merchant(country)
            amount = price(mcc)
            r = rng.random()
            if r < 0.04:
                kind = "decline"
            elif r < 0.07:
                shops = [m for m in MERCHANTS[country] if m[1] in ("5311", "5651", "5732")]
                if shops:
                    merchant, mcc = rng.choice(shops)
                    out.append(refund(ts, card, u, country, merchant, mcc, price(mcc)))
                    continue
                kind = "txn"
            else:
                kind = "txn"
            mobile = rng.random() < 0.45
            out.append(payment(ts, kind, card, u, country, merchant, mcc, amount,
                               rng.choice(u["devices"]), u["ips"][1 if mobile else 0]))
        spent = sum(e["amount"] for e in out if e["type"] == "txn")
        if spent < 3000:
            return out


for card, u, away in cards:
    for e in background_card(card, u, away):
        events.append((e, 0))

# App logins: about a third of the customers open the app once or twice.
for u in users:
    for _ in range(rng.choices([0, 1, 2], [65, 28, 7])[0]):
        mobile = rng.random() < 0.6
        events.append((login(T0 + rng.randrange(0, SPAN), u, rng.choice(u["devices"]),
                             u["ips"][1 if mobile else 0], u["home"]), 0))

n_background = len(events)

# --- SCENARIOS: one or more injected cases per rule -----------------------------------------
#
# Every case uses cards, devices and addresses of its own (or, where the story wants it,
# victims' cards drawn from the customers above), so that cases never add up by accident.


def at(h, m, s=0):
    return T0 + h * 3600 + m * 60 + s


def customer(home, email=None):
    u = new_user(home)
    if email:
        u["email"] = email
    c = new_id("c", 5)
    u["cards"].append(c)
    return u, c


taken = set()


def victims(n, avoid_home):
    """n customers' cards, none used in another case, that only ever pay in their home country."""
    pool = [(c, u) for c, u, away in cards if c not in taken and away is None
            and u["home"] not in avoid_home and u["home"] != "NG"]
    picked = rng.sample(pool, n)
    taken.update(c for c, _ in picked)
    return picked


def add(e, delay=0):
    events.append((e, delay))


# velocity: a bot buys game and gift credit on a stolen card, 21 approvals in 52 seconds.
# Fires at the 10th; the 20th would fire again but is suppressed (suppress: 10m).
u, card = customer("GB")
add(payment(at(0, 12, 5), "txn", card, u, "GB", "Tesco Stores 2841", "5411", 34.60,
            u["devices"][0], u["ips"][0]))
bot_dev, bot_ip = new_device(), "185.107.56.221"
for i in range(21):
    m, mcc = rng.choice([("Steam Purchase", "5816"), ("PlayStation Store", "5816"),
                         ("Google Play", "5815")])
    add(payment(at(0, 42, 10) + i * 52 // 20, "txn", card, u, "GB", m, mcc,
                rng.choice([20, 25, 40, 50]), bot_dev, bot_ip),
        delay=4 if i == 6 else 0)          # the 7th arrives just after the 8th

# country-hopping: a French card, then a cloned copy used in the US and in Brazil within 40 min.
u, card = customer("FR")
add(payment(at(0, 10), "txn", card, u, "FR", "Boulangerie Paul", "5814", 7.80,
            u["devices"][0], u["ips"][0]))
add(payment(at(1, 12, 30), "txn", card, u, "FR", "Monoprix", "5411", 23.45,
            u["devices"][0], u["ips"][0]))
clone_dev = new_device()
add(payment(at(1, 31, 44), "txn", card, u, "US", "Best Buy", "5732", 412.50, clone_dev,
            "67.205.140.19"))
add(payment(at(1, 52, 8), "txn", card, u, "BR", "Magazine Luiza", "5732", 289.90, clone_dev,
            "177.70.12.84"))

# risky-country-big-ticket: a German card buys electronics in Lagos, a British one in Moscow.
# A small taxi ride in Moscow on a third card stays quiet.
u, card = customer("DE")
add(payment(at(2, 5, 17), "txn", card, u, "NG", "Slot Systems Ikeja", "5732", 2350,
            new_device(), "105.112.44.9"))
u, card = customer("GB")
add(payment(at(0, 48, 2), "txn", card, u, "GB", "Pret A Manger", "5814", 8.95,
            u["devices"][0], u["ips"][1]))
add(payment(at(3, 12, 40), "txn", card, u, "RU", "M.Video Moscow", "5732", 1280,
            new_device(), "95.165.28.131"))
u, card = customer("GB")
add(payment(at(2, 40, 3), "txn", card, u, "RU", "Yandex Go", "4121", 14.20,
            u["devices"][0], "95.165.28.131"))

# shared-device: one emulator tries six customers' cards in seven minutes (one retried after a
# decline). Fires at the 5th distinct card with evidence; the 6th card finds the window empty.
farm_dev, farm_ip = "dev-e11a0b7c", "31.13.191.66"
v = victims(6, avoid_home=["NL"])
shop = [("Bol.com", "5311", 249), ("Coolblue", "5732", 349), ("Coolblue", "5732", 179),
        ("Bol.com", "5311", 129.99), ("HEMA", "5311", 89.5), ("Coolblue", "5732", 399)]
steps = [(0, 0, "txn"), (75, 1, "decline"), (104, 1, "txn"), (170, 2, "txn"),
         (238, 3, "decline"), (301, 4, "txn"), (423, 5, "txn")]
for i, (dt, k, kind) in enumerate(steps):
    c, vu = v[k]
    m, mcc, amt = shop[i % len(shop)]
    add(payment(at(0, 55, 20) + dt, kind, c, vu, "NL", m, mcc, amt, farm_dev, farm_ip))

# ip-many-cards: nine customers' cards from one address in 22 minutes, a fresh device
# fingerprint each time. Fires at the 8th distinct card.
proxy_ip = "91.243.44.17"
for i, (c, vu) in enumerate(victims(9, avoid_home=["DE"])):
    kind = "decline" if i in (2, 5) else "txn"
    m, mcc = [("Amazon.de", "5311"), ("MediaMarkt", "5732"), ("Zalando", "5651")][i % 3]
    add(payment(at(2, 20, 11) + i * 165, kind, c, vu, "DE", m, mcc,
                [119, 289, 75, 449, 199, 65, 329, 89, 159][i], new_device(), proxy_ip))

# daily-spend-limit: a British card buys a laptop, a ring and a flight: 5502.50 EUR by 03:20.
# Another card spends 4180.99 EUR in big tickets and stays under the limit.
u, card = customer("GB")
dev, ip = u["devices"][0], u["ips"][0]
add(payment(at(0, 20, 41), "txn", card, u, "GB", "Costa Coffee", "5814", 3.50, dev, u["ips"][1]))
add(payment(at(0, 35, 9), "txn", card, u, "GB", "Currys", "5732", 1899, dev, ip))
add(payment(at(1, 48, 30), "txn", card, u, "GB", "Goldsmiths", "5944", 2350, dev, ip))
add(payment(at(3, 20, 2), "txn", card, u, "GB", "British Airways", "4511", 1250, dev, ip))
u, card = customer("DE")
dev, ip = u["devices"][0], u["ips"][0]
add(payment(at(1, 2, 55), "txn", card, u, "DE", "MediaMarkt", "5732", 1799, dev, ip))
add(payment(at(2, 31, 20), "txn", card, u, "DE", "Lufthansa", "4511", 2381.99, dev, ip))

# disposable-email: one mailinator account pays three times (alerts once, then suppressed
# for an hour); a YopMail account in mixed case pays once.
u, card = customer("GB", email="kx7.deals@mailinator.com")
dev, ip = new_device(), new_ip()
for t, (m, mcc, amt) in zip([at(1, 5, 12), at(1, 20, 48), at(1, 41, 3)],
                            [("Argos", "5311", 84.99), ("Amazon.co.uk", "5311", 129.99),
                             ("Currys", "5732", 219)]):
    add(payment(t, "txn", card, u, "GB", m, mcc, amt, dev, ip))
u, card = customer("FR", email="Promo.Hunter@YopMail.com")
add(payment(at(3, 2, 37), "txn", card, u, "FR", "Fnac", "5732", 159.99, new_device(), new_ip()))

# blocklisted-network: two cards from 203.0.113.77 23 minutes apart (the second is suppressed),
# one from 203.0.113.140, and a login from 198.51.100.23.
u, card = customer("IE")
add(payment(at(0, 28, 36), "txn", card, u, "IE", "Tesco Ireland", "5411", 42.17,
            u["devices"][0], "203.0.113.77"))
u, card = customer("IE")
add(payment(at(0, 51, 50), "txn", card, u, "IE", "Circle K", "5541", 55.0,
            u["devices"][0], "203.0.113.77"))
u, card = customer("ES")
add(payment(at(2, 33, 9), "txn", card, u, "ES", "El Corte Ingles", "5311", 64.95,
            u["devices"][0], "203.0.113.140"))
u, card = customer("GB")
add(login(at(3, 40, 26), u, new_device(), "198.51.100.23", "GB", new_device=True))

# decline-burst: six declines on a Spanish card in four and a half minutes at a ticket site
# (someone guessing the CVV), then one approval. Fires at the 5th decline.
u, card = customer("ES")
dev, ip = new_device(), new_ip()
for dt in (0, 38, 77, 131, 188, 262):
    add(payment(at(1, 58, 4) + dt, "decline", card, u, "ES", "Ticketmaster ES", "7922", 180,
                dev, ip))
add(payment(at(1, 58, 4) + 301, "txn", card, u, "ES", "Ticketmaster ES", "7922", 45, dev, ip))

# credential-stuffing: one address logs in to fourteen customers' accounts in 2.5 minutes.
# Fires at the 10th distinct user; the remaining four find the window empty.
stuffer = "185.156.73.54"
for i, vu in enumerate(rng.sample(users, 14)):
    add(login(at(3, 5, 0) + i * 11, vu, new_device(), stuffer, "NL", new_device=True))

# cash-out: a Polish card buys crypto three times in 37 minutes, 1750 EUR in all.
# A betting customer with three small stakes stays under the 1500 EUR bar.
u, card = customer("PL")
dev, ip = u["devices"][0], u["ips"][0]
add(payment(at(0, 30, 15), "txn", card, u, "PL", "Biedronka", "5411", 18.60, dev, ip))
for t, m, amt in [(at(2, 10, 2), "Zonda Crypto", 400), (at(2, 24, 45), "Kanga Exchange", 650),
                  (at(2, 47, 10), "Zonda Crypto", 700)]:
    add(payment(t, "txn", card, u, "PL", m, "6051", amt, dev, ip))
u, card = customer("GB")
dev, ip = u["devices"][0], u["ips"][1]
for t, amt in [(at(1, 30, 0), 10), (at(1, 44, 30), 25), (at(1, 59, 12), 20)]:
    add(payment(t, "txn", card, u, "GB", "Sky Betting", "7995", amt, dev, ip))

# --- SEQUENCE CASES: card testing, account takeover, impossible travel, unconfirmed transfer --
#
# Added with the sequence rules. Their events go to a list of their own, merged into the stream
# by time at the end, and the random generator is put back afterwards: everything drawn above
# and below (the late event, the reordered pairs) stays as it was, so the rest of the stream is
# byte for byte what it was before these cases existed.

rng_state = rng.getstate()
seq_events = []


def add_seq(e):
    seq_events.append(e)


# card-testing: an Italian card is checked with four charity donations of 0.50 to 2 EUR from
# 01:10, then cashed out at an electronics shop for 1199 EUR at 01:33:47. A commuter's three
# coffees and a laptop 46 minutes after the first coffee stay quiet (the window is 30 minutes).
u, card = customer("IT")
add_seq(payment(at(0, 15, 40), "txn", card, u, "IT", "Esselunga", "5411", 31.20,
                u["devices"][0], u["ips"][0]))
tester_dev, tester_ip = new_device(), new_ip()
for t, amt in [(at(1, 10, 5), 1), (at(1, 12, 51), 0.50), (at(1, 16, 30), 2), (at(1, 19, 2), 1)]:
    add_seq(payment(t, "txn", card, u, "IT", "Croce Rossa Donazioni", "8398", amt,
                    tester_dev, tester_ip))
add_seq(payment(at(1, 33, 47), "txn", card, u, "IT", "Unieuro", "5732", 1199,
                tester_dev, tester_ip))
u, card = customer("GB")
dev, ip = u["devices"][0], u["ips"][1]
for t, m, amt in [(at(0, 50, 0), "Costa Coffee", 2.80), (at(1, 5, 0), "Greggs", 3.20),
                  (at(1, 20, 0), "Pret A Manger", 4.10)]:
    add_seq(payment(t, "txn", card, u, "GB", m, "5814", amt, dev, ip))
add_seq(payment(at(1, 36, 10), "txn", card, u, "GB", "Currys", "5732", 749, dev, u["ips"][0]))

# account-takeover: a British customer logs in as usual at 00:38; at 02:12:31 someone resets
# the password, logs in from a device the account has never used and pays the balance out
# (1840 EUR) at 02:31:48. Two customers stay quiet: one resets a forgotten password and pays
# out from the usual phone, one resets it on a new phone and pays out nothing.
u, card = customer("GB")
add_seq(login(at(0, 38, 12), u, u["devices"][0], u["ips"][0], "GB"))
ato_dev, ato_ip = new_device(), new_ip()
add_seq(password_reset(at(2, 12, 31), u, ato_dev, ato_ip, "GB"))
add_seq(login(at(2, 14, 5), u, ato_dev, ato_ip, "GB", new_device=True))
add_seq(payout(at(2, 31, 48), u, 1840, "LT**4471", ato_dev, ato_ip))
u, card = customer("FR")
dev, ip = u["devices"][0], u["ips"][1]
add_seq(password_reset(at(1, 45, 10), u, dev, ip, "FR"))
add_seq(login(at(1, 46, 30), u, dev, ip, "FR"))
add_seq(payout(at(1, 58, 0), u, 300, "FR**2208", dev, ip))
u, card = customer("ES")
phone = new_device()
add_seq(password_reset(at(2, 40, 0), u, phone, u["ips"][1], "ES"))
add_seq(login(at(2, 41, 15), u, phone, u["ips"][1], "ES", new_device=True))

# impossible-travel: an Irish customer logs in from home at 01:40:12 and, 25 minutes later,
# from Brazil on a new device. A customer who logs in from Britain, flies, and logs in from
# Spain 2 h 15 min later stays quiet.
u, card = customer("IE")
add_seq(login(at(1, 40, 12), u, u["devices"][0], u["ips"][0], "IE"))
add_seq(login(at(2, 5, 40), u, new_device(), "177.37.210.4", "BR", new_device=True))
u, card = customer("GB")
add_seq(login(at(0, 20, 30), u, u["devices"][0], u["ips"][0], "GB"))
add_seq(login(at(2, 35, 15), u, u["devices"][0], new_ip(), "ES"))

# unconfirmed-transfer: a German customer's account sends 7500 EUR at 03:10:05 and nobody
# confirms it; the 120 EUR transfer made and confirmed two minutes later is another one (its
# own ref), so the alert comes at the deadline, 03:25:05. A Dutch customer's 6200 EUR
# transfer, confirmed within a minute, stays quiet.
u, card = customer("DE")
dev, ip = u["devices"][0], u["ips"][0]
big, small = new_id("tr", 6), new_id("tr", 6)
add_seq(transfer(at(3, 10, 5), u, big, 7500, "CY**0932", dev, ip))
add_seq(transfer(at(3, 11, 30), u, small, 120, "DE**5521", dev, ip))
add_seq(confirm(at(3, 12, 2), u, small, dev))
u, card = customer("NL")
dev, ip = u["devices"][0], u["ips"][0]
ref = new_id("tr", 6)
add_seq(transfer(at(2, 50, 10), u, ref, 6200, "NL**7310", dev, ip))
add_seq(confirm(at(2, 51, 2), u, ref, dev))

rng.setstate(rng_state)

# --- output ---------------------------------------------------------------------------------

# The late one: an ordinary approval sent 40 s behind, well past the 5 s lateness; the engine
# counts it as late, writes it to --rejects and does not process it.
quiet = [i for i, (e, d) in enumerate(events[:n_background]) if d == 0
         and e["type"] == "txn" and T0 + 3600 < e["ts"] < T0 + 2 * 3600]
late = rng.choice(quiet)
events[late] = (events[late][0], 40)

order = sorted(range(len(events)), key=lambda i: (events[i][0]["ts"] + events[i][1], i))
stream = [events[i][0] for i in order]

# A few more reach us a second or few behind the event that follows them, as when two
# gateways forward at slightly different speeds: inside the lateness, so only reordered.
pairs = [i for i in range(len(stream) - 1) if 0 < stream[i + 1]["ts"] - stream[i]["ts"] <= 4]
for i in sorted(rng.sample(pairs, 6)):
    if stream[i]["ts"] < stream[i + 1]["ts"]:    # not already swapped with a neighbour
        stream[i], stream[i + 1] = stream[i + 1], stream[i]

# The sequence cases go in by time, each after the events of the same second.
seq_events.sort(key=lambda e: e["ts"])
merged, j = [], 0
for e in stream:
    while j < len(seq_events) and seq_events[j]["ts"] < e["ts"]:
        merged.append(seq_events[j])
        j += 1
    merged.append(e)
merged.extend(seq_events[j:])

for e in merged:
    sys.stdout.write(json.dumps(e, separators=(",", ":")) + "\n")
