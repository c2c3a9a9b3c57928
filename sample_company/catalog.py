"""Fixed reference data of the sample company: currencies, price book, features, names, texts.

Prices are whole currency units per seat per month for every billing interval, so that every
normalised monthly amount is a whole number of units; FX rates have two decimals. Together they
make every MRR figure exact in cents whatever the rounding order (see ``__init__``).
"""

from __future__ import annotations

from dataclasses import dataclass

SEGMENTS = ("smb", "mid_market", "enterprise")
SEGMENT_SHARE = (0.60, 0.30, 0.10)

CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD")
CURRENCY_SHARE = (0.55, 0.20, 0.13, 0.06, 0.06)
# USD cents per unit at the start of the history; rates then drift by whole cents each month.
FX_START = {"USD": 100, "EUR": 108, "GBP": 127, "CAD": 74, "AUD": 66}
TAX_BASIS_POINTS = {"USD": 0, "EUR": 1900, "GBP": 2000, "CAD": 500, "AUD": 1000}
REGIONS_BY_CURRENCY = {
    "USD": (("NA", 0.88), ("LATAM", 0.12)),
    "EUR": (("EMEA", 1.0),),
    "GBP": (("EMEA", 1.0),),
    "CAD": (("NA", 1.0),),
    "AUD": (("APAC", 1.0),),
}
# Centre of the working day in UTC hours, per region (usage timestamps).
REGION_HOUR_UTC = {"NA": 17.0, "LATAM": 15.0, "EMEA": 10.5, "APAC": 1.5}

TIERS = ("Starter", "Growth", "Enterprise")


@dataclass(frozen=True)
class Interval:
    key: str
    label: str
    billing_interval: str
    interval_count: int
    months: int  # months per billing period (0 for weekly)


INTERVALS = (
    Interval("monthly", "Monthly", "month", 1, 1),
    Interval("quarterly", "Quarterly", "quarter", 1, 3),
    Interval("semiannual", "Semi-annual", "month", 6, 6),
    Interval("annual", "Annual", "year", 1, 12),
    Interval("weekly", "Weekly", "week", 1, 0),
)
IV = {iv.key: i for i, iv in enumerate(INTERVALS)}
MONTHLY, QUARTERLY, SEMIANNUAL, ANNUAL, WEEKLY = range(5)

# Whole currency units per seat per month, by tier and interval (monthly, quarterly,
# semi-annual, annual): longer commitments are cheaper per month.
SEAT_PRICE = {
    "USD": ((20, 19, 18, 17), (45, 43, 41, 38), (80, 76, 72, 68)),
    "EUR": ((19, 18, 17, 16), (42, 40, 38, 36), (75, 71, 68, 64)),
    "GBP": ((16, 15, 15, 14), (36, 34, 33, 31), (64, 61, 58, 54)),
    "CAD": ((27, 26, 25, 23), (61, 58, 55, 52), (108, 103, 97, 92)),
    "AUD": ((30, 29, 27, 26), (68, 65, 61, 58), (120, 114, 108, 102)),
}
# Weekly (Starter only, a legacy pay-as-you-go plan): units per seat per week. A multiple of
# 3 so that the monthly equivalent (weekly * 52 / 12 = weekly * 13 / 3) is whole.
WEEKLY_SEAT_PRICE = {"USD": 6, "EUR": 6, "GBP": 6, "CAD": 9, "AUD": 9}


@dataclass(frozen=True)
class Plan:
    index: int
    plan_id: str
    plan_name: str
    tier: int
    interval: int
    currency: str
    unit_price: int  # whole units per seat per billing period
    seat_monthly: int  # whole units per seat per month (normalised)


def build_plans() -> list[Plan]:
    plans: list[Plan] = []
    for cur in CURRENCIES:
        for tier, tier_name in enumerate(TIERS):
            for iv_i, iv in enumerate(INTERVALS):
                if iv.key == "weekly":
                    if tier != 0:
                        continue
                    weekly = WEEKLY_SEAT_PRICE[cur]
                    unit, monthly = weekly, weekly * 13 // 3
                else:
                    monthly = SEAT_PRICE[cur][tier][iv_i]
                    unit = monthly * iv.months
                plans.append(
                    Plan(
                        index=len(plans),
                        plan_id=f"{tier_name.lower()}-{iv.key}-{cur.lower()}",
                        plan_name=f"{tier_name} {iv.label}",
                        tier=tier,
                        interval=iv_i,
                        currency=cur,
                        unit_price=unit,
                        seat_monthly=monthly,
                    )
                )
    return plans


PLANS = build_plans()
PLAN_INDEX = {(p.tier, p.interval, p.currency): p.index for p in PLANS}

# Initial seats: lognormal median and clip range per segment.
SEATS = {0: (8, 0.55, 2, 40), 1: (45, 0.45, 15, 200), 2: (220, 0.5, 80, 1500)}
# Tier and interval mix per segment.
TIER_MIX = {0: (0.62, 0.38, 0.0), 1: (0.12, 0.68, 0.20), 2: (0.0, 0.22, 0.78)}
INTERVAL_MIX = {  # monthly, quarterly, semi-annual, annual, weekly
    0: (0.60, 0.08, 0.0, 0.27, 0.05),
    1: (0.30, 0.20, 0.10, 0.40, 0.0),
    2: (0.0, 0.10, 0.10, 0.80, 0.0),
}
# Yearly probability that a contract is not renewed, before the account's risk multiplier.
CHURN_PER_YEAR = {0: 0.20, 1: 0.11, 2: 0.06}
REACTIVATION = {0: 0.18, 1: 0.12, 2: 0.05}

# Support SLA policies: first response and resolution targets in minutes.
SLA_POLICIES = (
    ("low", 1440, 7200),
    ("normal", 480, 4320),
    ("high", 240, 1440),
    ("urgent", 60, 480),
)
PRIORITY_SHARE = (0.25, 0.50, 0.20, 0.05)


@dataclass(frozen=True)
class Feature:
    key: str
    name: str
    is_key: bool
    weight: float  # share of events among features the account uses
    released: str  # "pre" (before the history) or an offset tag resolved at run time


FEATURES = (
    Feature("dashboards", "Dashboards", False, 0.24, "pre"),
    Feature("reports", "Reports", True, 0.14, "pre"),
    Feature("alerts", "Alerts", True, 0.10, "pre"),
    Feature("workflows", "Workflow automation", True, 0.09, "pre"),
    Feature("integrations", "Integrations", True, 0.07, "pre"),
    Feature("collaboration", "Comments and sharing", True, 0.08, "pre"),
    Feature("search", "Search", False, 0.10, "pre"),
    Feature("exports", "Exports", False, 0.05, "pre"),
    Feature("api", "API access", False, 0.04, "pre"),
    Feature("admin_sso", "Admin and SSO", False, 0.02, "pre"),
    Feature("mobile_app", "Mobile app", False, 0.04, "early"),
    Feature("ai_assistant", "AI assistant", False, 0.03, "late"),
)

INDUSTRIES = (
    "Software",
    "Financial services",
    "Healthcare",
    "Retail",
    "Manufacturing",
    "Logistics",
    "Education",
    "Media",
    "Professional services",
    "Real estate",
    "Energy",
    "Nonprofit",
)
NAME_FIRST = (
    "Acme",
    "Blue",
    "Bright",
    "Cedar",
    "Cobalt",
    "Crest",
    "Delta",
    "Ember",
    "Falcon",
    "Fern",
    "Granite",
    "Harbor",
    "Helix",
    "Iron",
    "Juniper",
    "Keystone",
    "Lumen",
    "Maple",
    "Meridian",
    "Nimbus",
    "North",
    "Oak",
    "Orbit",
    "Pine",
    "Polar",
    "Quartz",
    "Raven",
    "River",
    "Sable",
    "Silver",
    "Summit",
    "Tidal",
    "Vertex",
    "Willow",
    "Zenith",
    "Atlas",
    "Beacon",
    "Canyon",
    "Drift",
    "Echo",
)
NAME_SECOND = (
    "Analytics",
    "Labs",
    "Logistics",
    "Health",
    "Systems",
    "Foods",
    "Capital",
    "Works",
    "Energy",
    "Media",
    "Retail",
    "Partners",
    "Dynamics",
    "Networks",
    "Studios",
    "Robotics",
    "Learning",
    "Freight",
    "Clinics",
    "Software",
)
NAME_SUFFIX = ("Inc.", "Ltd", "GmbH", "LLC", "Group", "Co.", "SA", "Pty Ltd", "AB", "BV")
FIRST_NAMES = (
    "Ada",
    "Ben",
    "Carla",
    "Dev",
    "Elena",
    "Farah",
    "George",
    "Hana",
    "Ivan",
    "Jade",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Aiko",
    "Bruno",
    "Chloe",
    "Diego",
    "Emil",
    "Freya",
    "Gabriel",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
)
LAST_NAMES = (
    "Adams",
    "Bauer",
    "Chen",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jensen",
    "Khan",
    "Larsen",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Umar",
    "Vargas",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zimmer",
    "Novak",
    "Silva",
    "Kowalski",
    "Murphy",
)

NPS_COMMENTS = {
    "detractor": (
        "Support takes days to answer, and our renewal is coming up.",
        "Too expensive for what we actually use.",
        "The product keeps timing out on large reports.",
        "Our champion left and nobody here knows how to use it.",
        "Missing the integrations we were promised in the sales process.",
        "Onboarding was confusing; we never got value from it.",
        "Too many outages this quarter.",
        'Reporting is slow and the exports break our "finance" workbook.',
    ),
    "passive": (
        "Does the job, but the UI could be simpler.",
        "Fine overall; pricing is a bit high.",
        "Good product, support could be faster.",
        "We use the basics, haven't explored much else.",
    ),
    "promoter": (
        "Saves our team hours every week.",
        "Great support, quick answers.",
        "Workflows and alerts changed how we operate.",
        "Easy to roll out, our users love it.",
        "The best tool in our stack, hands down.",
    ),
}
PULSE_NOTES = {
    "green": (
        "Strong adoption, exec sponsor engaged.",
        "Happy customer, expansion likely.",
        "QBR went well.",
    ),
    "yellow": (
        "Usage flat; need to re-engage users.",
        "New stakeholders, relationship at risk.",
        "Some support frustration.",
    ),
    "red": (
        "Sponsor unresponsive, renewal at risk.",
        ("Budget cuts mentioned, evaluating alternatives."),
        "Escalation open; unhappy with outages.",
    ),
}
INCIDENT_TITLES = (
    "Elevated API error rates",
    "Dashboard loading delays",
    "Degraded report generation",
    "Login failures for SSO users",
    "Delayed alert notifications",
    "Integration sync backlog",
    "Partial outage in EU region",
    "Search indexing delays",
)
