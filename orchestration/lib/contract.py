"""The export contract: the canonical layout of every source file the pipeline reads.

One ``TableSpec`` per entity. Each export lives at ``data/raw/<system>/<entity>.<ext>`` with
``ext`` one of ``csv``, ``parquet`` or ``json`` (newline-delimited or array JSON). Every column
has a declared type; nothing is inferred from the data. The reader (``orchestration.lib.loader``)
reads every column as text, checks it against this contract in DuckDB, loads the rows that
conform into ``raw.<system>_<entity>`` and sends the rest to ``raw.quarantine`` with the reason.

Dates are ISO ``YYYY-MM-DD`` and timestamps ISO ``YYYY-MM-DD HH:MM:SS`` (UTC) unless a column
declares a ``fmt`` (strptime format), which is also how a vendor mapping declares its formats.

``docs/exports.md`` is generated from this module (``python -m orchestration.lib.contract``);
a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["varchar", "integer", "bigint", "double", "decimal", "date", "timestamp", "boolean"]

# DuckDB type each contract type is loaded as. Money is DECIMAL(18,2): exact to the cent.
DUCKDB_TYPES: dict[str, str] = {
    "varchar": "VARCHAR",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "decimal": "DECIMAL(18,2)",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
}

SYSTEMS = ("crm", "billing", "support", "product", "surveys")
FILE_EXTENSIONS = ("csv", "parquet", "json")


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    description: str
    required: bool = False  # a value must be present (empty string counts as missing)
    enum: tuple[str, ...] | None = None  # allowed values (checked by the raw quality gate)
    min_value: float | None = None  # inclusive lower bound (checked by the raw quality gate)
    max_value: float | None = None  # inclusive upper bound (checked by the raw quality gate)
    references: str | None = None  # "<system>_<entity>.<column>" this column must resolve to
    fmt: str | None = None  # strptime format for date/timestamp columns (default: ISO)
    not_future: bool = False  # an event that has happened: not after tomorrow (UTC) when checked
    # Personal data of a customer's people (names, emails): loaded into the build database, but
    # left out of the published file unless configured in (orchestration/lib/publish.py).
    personal: bool = False

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class TableSpec:
    system: str
    entity: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    optional: bool = False  # a missing file loads as an empty table instead of failing
    large: bool = False  # quality checks run in SQL, not on a DataFrame
    date_range_columns: tuple[str, ...] = field(default=())  # checked to lie in a sane range
    # (earlier, later) column pairs: where both are present, later >= earlier (quality gate).
    ordered_columns: tuple[tuple[str, str], ...] = field(default=())

    @property
    def name(self) -> str:
        """Table name in the raw schema and in dbt sources, e.g. ``crm_accounts``."""
        return f"{self.system}_{self.entity}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")


def _c(name: str, type_: ColumnType, description: str, **kw) -> Column:
    if type_ == "decimal":  # every decimal column is an amount of money
        kw.setdefault("max_value", MONEY_MAX)
    return Column(name=name, type=type_, description=description, **kw)


SEGMENTS = ("smb", "mid_market", "enterprise")
CONTACT_ROLES = ("sponsor", "decision_maker", "technical", "champion", "end_user")
OPPORTUNITY_TYPES = ("new", "renewal", "expansion", "cross_sell")
OPPORTUNITY_STAGES = ("open", "closed_won", "closed_lost")
ACTIVITY_TYPES = ("email", "call", "meeting", "business_review")
SENTIMENTS = ("positive", "neutral", "negative")
LIFECYCLE_STAGES = ("onboarding", "training", "adopting", "extending", "renewal", "churned")
PULSES = ("green", "yellow", "red")
QUOTA_TYPES = ("renewal", "expansion")
BILLING_INTERVALS = ("week", "month", "quarter", "year")
SUBSCRIPTION_STATUSES = ("trialing", "active", "past_due", "paused", "canceled")
INVOICE_STATUSES = ("draft", "open", "paid", "void", "uncollectible")
LINE_TYPES = ("recurring", "one_time", "usage", "credit")
PAYMENT_STATUSES = ("succeeded", "failed", "refunded")
PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_STATUSES = ("new", "open", "pending", "solved", "closed")
SEVERITIES = ("minor", "major", "critical")
CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD", "JPY", "CHF", "SEK")
# No single amount (contract, quota, invoice, line, payment, price) reaches ten billion in any
# currency: a value that large is a unit, decimal-separator or column mix-up, not a sale.
MONEY_MAX = 1e10

ACC = "crm_accounts.account_id"

TABLES: tuple[TableSpec, ...] = (
    # ------------------------------------------------------------------ CRM
    TableSpec(
        "crm", "accounts", "One row per customer account (the CRM's company record).",
        (
            _c("account_id", "varchar", "CRM account id.", required=True),
            _c("account_name", "varchar", "Company name.", required=True),
            _c("segment", "varchar", "Customer segment.", required=True, enum=SEGMENTS),
            _c("industry", "varchar", "Industry."),
            _c("region", "varchar", "Sales region (for example NA, EMEA, APAC, LATAM)."),
            _c("owner_csm_id", "varchar", "CSM who owns the account.",
               references="crm_csm_roster.csm_id"),
            _c("created_date", "date", "Date the account was created in the CRM.", required=True, not_future=True),
        ),
        ("account_id",), date_range_columns=("created_date",),
    ),
    TableSpec(
        "crm", "contacts", "One row per contact person at a customer account.",
        (
            _c("contact_id", "varchar", "CRM contact id.", required=True),
            _c("account_id", "varchar", "Account the contact works for.", required=True,
               references=ACC),
            _c("full_name", "varchar", "Name (personal data).", personal=True),
            _c("email", "varchar", "Email address (personal data).", personal=True),
            _c("role", "varchar", "Role in the relationship.", required=True, enum=CONTACT_ROLES),
            _c("active_from", "date", "Date the contact became active.", required=True, not_future=True),
            _c("left_date", "date", "Date the contact left or was deactivated; empty if active."),
        ),
        ("contact_id",), date_range_columns=("active_from", "left_date"),
        ordered_columns=(("active_from", "left_date"),),
    ),
    TableSpec(
        "crm", "opportunities",
        "One row per opportunity (new business, renewal, expansion or cross-sell); a closed-won "
        "opportunity with contract dates is a contract.",
        (
            _c("opportunity_id", "varchar", "CRM opportunity id.", required=True),
            _c("account_id", "varchar", "Account.", required=True, references=ACC),
            _c("opportunity_type", "varchar", "Kind of deal.", required=True, enum=OPPORTUNITY_TYPES),
            _c("stage", "varchar", "Pipeline stage.", required=True, enum=OPPORTUNITY_STAGES),
            _c("amount", "decimal", "Total contract value without one-time fees, in `currency`.",
               required=True, min_value=0),
            _c("currency", "varchar", "ISO 4217 currency code.", required=True, enum=CURRENCIES),
            _c("created_date", "date", "Date the opportunity was created.", required=True, not_future=True),
            _c("close_date", "date", "Date it was closed (won or lost); empty while open.", not_future=True),
            _c("contract_start_date", "date", "First day of the contract."),
            _c("contract_end_date", "date", "Last day of the contract (inclusive)."),
            _c("owner_id", "varchar", "Rep or CSM who owns the opportunity."),
            _c("delivery_signoff_date", "date",
               "Date the customer signed off delivery (delivery approval); new business only.",
               not_future=True),
            _c("renewed_opportunity_id", "varchar",
               "For a renewal: the opportunity (contract) it renews."),
        ),
        ("opportunity_id",),
        date_range_columns=("created_date", "close_date", "contract_start_date",
                            "contract_end_date", "delivery_signoff_date"),
        ordered_columns=(("created_date", "close_date"), ("contract_start_date", "contract_end_date")),
    ),
    TableSpec(
        "crm", "activities", "One row per logged customer touch.",
        (
            _c("activity_id", "varchar", "CRM activity id.", required=True),
            _c("account_id", "varchar", "Account.", required=True, references=ACC),
            _c("contact_id", "varchar", "Contact touched, if any.",
               references="crm_contacts.contact_id"),
            _c("activity_type", "varchar", "Kind of touch.", required=True, enum=ACTIVITY_TYPES),
            _c("activity_date", "date", "Date of the touch.", required=True, not_future=True),
            _c("sentiment", "varchar", "Sentiment the owner recorded.", enum=SENTIMENTS),
            _c("owner_id", "varchar", "Who logged it."),
        ),
        ("activity_id",), date_range_columns=("activity_date",),
    ),
    TableSpec(
        "crm", "lifecycle_stages",
        "One row per account per lifecycle stage entry (the CRM's stage history). Optional: "
        "stages are derived when it is absent.",
        (
            _c("account_id", "varchar", "Account.", required=True, references=ACC),
            _c("stage", "varchar", "Stage entered.", required=True, enum=LIFECYCLE_STAGES),
            _c("entered_date", "date", "Date the account entered the stage.", required=True, not_future=True),
        ),
        ("account_id", "entered_date"), optional=True, date_range_columns=("entered_date",),
    ),
    TableSpec(
        "crm", "csm_roster", "One row per customer success manager.",
        (
            _c("csm_id", "varchar", "CSM id (CRM user id).", required=True),
            _c("csm_name", "varchar", "Name.", required=True),
            _c("email", "varchar", "Email."),
            _c("team", "varchar", "Team or pod."),
            _c("start_date", "date", "First day on the team."),
            _c("end_date", "date", "Last day on the team; empty if current."),
        ),
        ("csm_id",), date_range_columns=("start_date", "end_date"),
        ordered_columns=(("start_date", "end_date"),),
    ),
    TableSpec(
        "crm", "csm_pulse", "One row per pulse (gut-feel health) a CSM recorded for an account.",
        (
            _c("pulse_id", "varchar", "Pulse entry id.", required=True),
            _c("account_id", "varchar", "Account.", required=True, references=ACC),
            _c("csm_id", "varchar", "CSM who recorded it.", references="crm_csm_roster.csm_id"),
            _c("pulse_date", "date", "Date recorded.", required=True, not_future=True),
            _c("pulse", "varchar", "The CSM's call.", required=True, enum=PULSES),
            _c("note", "varchar", "Free text."),
        ),
        ("pulse_id",), optional=True, date_range_columns=("pulse_date",),
    ),
    TableSpec(
        "crm", "quotas", "One row per owner per quarter per quota type. Optional.",
        (
            _c("owner_id", "varchar", "Rep or CSM.", required=True),
            _c("quarter_start", "date", "First day of the quarter.", required=True),
            _c("quota_type", "varchar", "Renewal or expansion quota.", required=True,
               enum=QUOTA_TYPES),
            _c("amount", "decimal", "Quota in `currency`.", required=True, min_value=0),
            _c("currency", "varchar", "ISO 4217 currency code.", required=True, enum=CURRENCIES),
        ),
        ("owner_id", "quarter_start", "quota_type"), optional=True,
        date_range_columns=("quarter_start",),
    ),
    # -------------------------------------------------------------- billing
    TableSpec(
        "billing", "customers", "One row per billing customer, linked to its CRM account.",
        (
            _c("customer_id", "varchar", "Billing system customer id.", required=True),
            _c("account_id", "varchar", "CRM account the customer belongs to.", required=True,
               references=ACC),
            _c("customer_name", "varchar", "Billing name."),
            _c("currency", "varchar", "Default billing currency.", enum=CURRENCIES),
            _c("created_date", "date", "Date created in billing.", required=True, not_future=True),
        ),
        ("customer_id",), date_range_columns=("created_date",),
    ),
    TableSpec(
        "billing", "plans", "One row per plan (price).",
        (
            _c("plan_id", "varchar", "Plan id.", required=True),
            _c("plan_name", "varchar", "Plan name shown to analysts (for example Growth).",
               required=True),
            _c("billing_interval", "varchar", "Unit of the billing interval.", required=True,
               enum=BILLING_INTERVALS),
            _c("interval_count", "integer", "Number of units per billing period (for example 6 "
               "with month for semi-annual).", required=True, min_value=1),
            _c("unit_price", "decimal", "List price per seat per billing period, in `currency`.",
               min_value=0),
            _c("currency", "varchar", "ISO 4217 currency code.", enum=CURRENCIES),
        ),
        ("plan_id",),
    ),
    TableSpec(
        "billing", "subscriptions", "One row per subscription.",
        (
            _c("subscription_id", "varchar", "Subscription id.", required=True),
            _c("customer_id", "varchar", "Billing customer.", required=True,
               references="billing_customers.customer_id"),
            _c("plan_id", "varchar", "Current plan.", required=True,
               references="billing_plans.plan_id"),
            _c("status", "varchar", "Current status.", required=True, enum=SUBSCRIPTION_STATUSES),
            _c("seats", "integer", "Seats (licences) purchased.", required=True, min_value=0),
            _c("start_date", "date", "First day of the subscription.", required=True),
            _c("trial_end_date", "date", "Last day of the trial, if any."),
            _c("canceled_date", "date", "Date it was canceled, if it was."),
        ),
        ("subscription_id",), date_range_columns=("start_date", "trial_end_date", "canceled_date"),
    ),
    TableSpec(
        "billing", "invoices", "One row per invoice.",
        (
            _c("invoice_id", "varchar", "Invoice id.", required=True),
            _c("customer_id", "varchar", "Billing customer.", required=True,
               references="billing_customers.customer_id"),
            _c("invoice_date", "date", "Issue date.", required=True, not_future=True),
            _c("due_date", "date", "Payment due date.", required=True),
            _c("status", "varchar", "Invoice status.", required=True, enum=INVOICE_STATUSES),
            _c("currency", "varchar", "ISO 4217 currency code.", required=True, enum=CURRENCIES),
            _c("total_amount", "decimal", "Amount due after discounts and credits, before tax.",
               required=True, min_value=0),
            _c("tax_amount", "decimal", "Tax on the invoice (never revenue).", min_value=0),
        ),
        ("invoice_id",), date_range_columns=("invoice_date", "due_date"),
        ordered_columns=(("invoice_date", "due_date"),),
    ),
    TableSpec(
        "billing", "invoice_lines",
        "One row per invoice line. `service_period_end` is exclusive: a monthly line for "
        "November runs from 2024-11-01 to 2024-12-01.",
        (
            _c("invoice_line_id", "varchar", "Line id.", required=True),
            _c("invoice_id", "varchar", "Invoice.", required=True,
               references="billing_invoices.invoice_id"),
            _c("customer_id", "varchar", "Billing customer.", required=True,
               references="billing_customers.customer_id"),
            _c("subscription_id", "varchar", "Subscription billed, for recurring lines.",
               references="billing_subscriptions.subscription_id"),
            _c("plan_id", "varchar", "Plan billed, for recurring lines.",
               references="billing_plans.plan_id"),
            _c("line_type", "varchar", "recurring (subscription fee, counts towards MRR), "
               "one_time (setup and services fees), usage (overages) or credit.",
               required=True, enum=LINE_TYPES),
            _c("quantity", "integer", "Seats or units billed.", min_value=0),
            _c("amount", "decimal", "Line amount before discount and tax, in `currency`.",
               required=True, min_value=0),
            _c("discount_amount", "decimal", "Discount applied to the line (0 if none).",
               min_value=0),
            _c("currency", "varchar", "ISO 4217 currency code.", required=True, enum=CURRENCIES),
            _c("service_period_start", "date", "First day the line pays for.", required=True),
            _c("service_period_end", "date", "Day after the last day the line pays for.",
               required=True),
        ),
        ("invoice_line_id",), date_range_columns=("service_period_start", "service_period_end"),
        ordered_columns=(("service_period_start", "service_period_end"),),
    ),
    TableSpec(
        "billing", "payments", "One row per payment attempt against an invoice.",
        (
            _c("payment_id", "varchar", "Payment id.", required=True),
            _c("invoice_id", "varchar", "Invoice paid.", required=True,
               references="billing_invoices.invoice_id"),
            _c("payment_date", "date", "Date of the payment attempt.", required=True, not_future=True),
            _c("amount", "decimal", "Amount, in `currency`.", required=True, min_value=0),
            _c("currency", "varchar", "ISO 4217 currency code.", required=True, enum=CURRENCIES),
            _c("status", "varchar", "Outcome.", required=True, enum=PAYMENT_STATUSES),
        ),
        ("payment_id",), date_range_columns=("payment_date",),
    ),
    TableSpec(
        "billing", "fx_rates",
        "One row per currency per month: units of the reporting currency for one unit of "
        "`currency`. Optional: a built-in table of fixed rates is used when absent.",
        (
            _c("currency", "varchar", "ISO 4217 currency code.", required=True, enum=CURRENCIES),
            _c("rate_month", "date", "First day of the month the rate applies to.", required=True),
            _c("rate_to_reporting", "double", "Reporting-currency units per unit of currency.",
               required=True, min_value=0),
        ),
        ("currency", "rate_month"), optional=True, date_range_columns=("rate_month",),
    ),
    # -------------------------------------------------------------- support
    TableSpec(
        "support", "tickets", "One row per support ticket.",
        (
            _c("ticket_id", "varchar", "Ticket id.", required=True),
            _c("account_id", "varchar", "Account that raised it.", required=True, references=ACC),
            _c("requester_contact_id", "varchar", "Contact who raised it."),
            _c("priority", "varchar", "Priority (selects the SLA policy).", required=True,
               enum=PRIORITIES),
            _c("status", "varchar", "Current status.", required=True, enum=TICKET_STATUSES),
            _c("created_at", "timestamp", "Opened at (UTC).", required=True, not_future=True),
            _c("first_response_at", "timestamp", "First agent response (UTC).", not_future=True),
            _c("solved_at", "timestamp", "Solved at (UTC).", not_future=True),
            _c("csat_score", "integer", "Satisfaction rating 1-5 (good = 5, bad = 1 when the "
               "tool rates good/bad); empty when unrated.", min_value=1, max_value=5),
        ),
        ("ticket_id",), date_range_columns=("created_at", "first_response_at", "solved_at"),
        ordered_columns=(("created_at", "first_response_at"), ("created_at", "solved_at")),
    ),
    TableSpec(
        "support", "sla_policies", "One row per ticket priority: its SLA targets.",
        (
            _c("priority", "varchar", "Priority.", required=True, enum=PRIORITIES),
            _c("first_response_target_minutes", "integer", "First-response target.",
               required=True, min_value=0),
            _c("resolution_target_minutes", "integer", "Resolution target.", required=True,
               min_value=0),
        ),
        ("priority",),
    ),
    TableSpec(
        "support", "incidents", "One row per service incident (from the status page).",
        (
            _c("incident_id", "varchar", "Incident id.", required=True),
            _c("title", "varchar", "Title."),
            _c("severity", "varchar", "Severity.", required=True, enum=SEVERITIES),
            _c("started_at", "timestamp", "Start of the outage (UTC).", required=True, not_future=True),
            _c("resolved_at", "timestamp", "End of the outage (UTC); empty while ongoing.",
               not_future=True),
        ),
        ("incident_id",), date_range_columns=("started_at", "resolved_at"),
        ordered_columns=(("started_at", "resolved_at"),),
    ),
    # -------------------------------------------------------------- product
    TableSpec(
        "product", "users", "One row per provisioned product user.",
        (
            _c("user_id", "varchar", "Product user id.", required=True),
            _c("account_id", "varchar", "Account the user belongs to.", required=True,
               references=ACC),
            _c("email", "varchar", "Email (personal data).", personal=True),
            _c("provisioned_date", "date", "Date the user was provisioned.", required=True, not_future=True),
            _c("deactivated_date", "date", "Date the user was deactivated; empty if active."),
        ),
        ("user_id",), date_range_columns=("provisioned_date", "deactivated_date"),
        ordered_columns=(("provisioned_date", "deactivated_date"),),
    ),
    TableSpec(
        "product", "usage_events", "One row per product usage event. The large table: "
        "export it as Parquet.",
        (
            _c("event_id", "varchar", "Event id.", required=True),
            _c("user_id", "varchar", "User.", required=True, references="product_users.user_id"),
            _c("account_id", "varchar", "Account.", required=True, references=ACC),
            _c("event_at", "timestamp", "When (UTC).", required=True, not_future=True),
            _c("feature_key", "varchar", "Feature used.", required=True,
               references="product_features.feature_key"),
            _c("duration_seconds", "integer", "Time spent, in seconds.", min_value=0),
        ),
        ("event_id",), large=True, date_range_columns=("event_at",),
    ),
    TableSpec(
        "product", "features", "One row per product feature (the feature catalogue).",
        (
            _c("feature_key", "varchar", "Feature key as it appears in usage events.",
               required=True),
            _c("feature_name", "varchar", "Name.", required=True),
            _c("is_key_feature", "boolean", "True for the features that define adoption.",
               required=True),
            _c("released_date", "date", "Release date."),
        ),
        ("feature_key",),
    ),
    # -------------------------------------------------------------- surveys
    TableSpec(
        "surveys", "nps_responses", "One row per NPS survey response.",
        (
            _c("response_id", "varchar", "Response id.", required=True),
            _c("account_id", "varchar", "Account.", required=True, references=ACC),
            _c("contact_id", "varchar", "Respondent contact, if known."),
            _c("responded_date", "date", "Date of the response.", required=True, not_future=True),
            _c("score", "integer", "Likelihood to recommend, 0-10.", required=True, min_value=0,
               max_value=10),
            _c("comment", "varchar", "Reason for the score, as written."),
        ),
        ("response_id",), date_range_columns=("responded_date",),
    ),
)

TABLES_BY_NAME: dict[str, TableSpec] = {t.name: t for t in TABLES}


def get_table(name: str) -> TableSpec:
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"no table {name!r} in the export contract") from None


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1e6 else f"{value:g}"


def render_markdown() -> str:
    """The export contract as Markdown (docs/exports.md)."""
    out = [
        "# Export contract",
        "",
        "<!-- Generated by `python -m orchestration.lib.contract`; edit "
        "orchestration/lib/contract.py, not this file. -->",
        "",
        "Drop one file per entity at `data/raw/<system>/<entity>.<ext>`, where `<ext>` is `csv` "
        "(UTF-8, comma-separated, `\"` quotes, a header row, every line ending with a line "
        "break, the last one too), `parquet`, or `json` (an array of objects or one object per "
        "line). Column names are matched exactly; a missing required column fails the load with "
        "an error naming the file and the column; an extra column, or a missing optional one, "
        "loads with a warning.",
        "",
        "Nothing else under `data/raw/` is read: another file (a second copy such as "
        "`tickets (1).csv`, notes, a file in another folder) is reported as a warning and left "
        "alone, and an export that is a link to a file outside `data/raw/` is refused. Folders and "
        "files whose names start with `.` or `_` are ignored silently.",
        "",
        "Every column's type is declared here and nothing is inferred. Dates are `YYYY-MM-DD`, "
        "timestamps `YYYY-MM-DD HH:MM:SS` in UTC. Amounts are plain decimals (`1234.50`) in the "
        "row's currency. An empty cell is a missing value.",
        "",
        "Rows that break the contract (more or fewer fields than the header, a malformed quote, "
        "a required value missing, a value that does not parse as its type, the last record of a "
        "file that ends without a line break) are not loaded: they go to `raw.quarantine` with "
        "the file, line, column, rule and reason, and every load reports `rows read = rows loaded"
        " + rows quarantined`. A file that cannot be loaded at all (empty, not UTF-8, unreadable, "
        "a required column missing) stops the run with an error naming it. Enumerations, ranges "
        f"(amounts from 0 to {MONEY_MAX:,.0f} in any currency), unique keys, references, plausible "
        "dates (events not after tomorrow, UTC) and the order of date pairs are checked after "
        "loading by the blocking quality gate (`expectations/`). `docs/reliability.md` lists what "
        "each kind of broken export does.",
        "",
        "Tables marked *optional* may be left out; they load empty.",
        "",
    ]
    for system in SYSTEMS:
        out += [f"## {system}", ""]
        for t in (t for t in TABLES if t.system == system):
            flags = []
            if t.optional:
                flags.append("optional")
            flag = f" ({', '.join(flags)})" if flags else ""
            out += [
                f"### `{t.system}/{t.entity}`{flag}",
                "",
                t.description,
                f"Key: `{', '.join(t.primary_key)}`. Loaded as `raw.{t.name}`."
                + "".join(f" `{a}` <= `{b}` where both are given." for a, b in t.ordered_columns),
                "",
                "| column | type | required | rule | description |",
                "|---|---|---|---|---|",
            ]
            for c in t.columns:
                rules = []
                if c.enum:
                    rules.append("one of " + ", ".join(f"`{v}`" for v in c.enum))
                if c.min_value is not None:
                    rules.append(f">= {_number(c.min_value)}")
                if c.max_value is not None:
                    rules.append(f"<= {_number(c.max_value)}")
                if c.not_future:
                    rules.append("not after tomorrow (UTC)")
                if c.references:
                    rules.append(f"references `{c.references}`")
                if c.fmt:
                    rules.append(f"format `{c.fmt}`")
                out.append(
                    f"| `{c.name}` | {c.type} | {'yes' if c.required else ''} | "
                    f"{'; '.join(rules)} | {c.description} |"
                )
            out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[2] / "docs" / "exports.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(render_markdown())
    print(f"wrote {path}")
