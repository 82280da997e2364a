"""Typed, validated models of source configs and field mappings.

A *source config* (``include/sources/<id>.yaml``) says where one merchant system is, which Stock2Shop source
it feeds and how it is scheduled. A *mapping* (``include/mappings/<preset>.yaml``) says how that system's
rows become Stock2Shop's canonical columns. Both are validated here, and every problem is reported as a
:class:`ConfigError` that names the file, the key and what is wrong.

Nothing in this module touches a database or the network: the DAG factory calls it at parse time.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from stock2shop_sync.connectors.read_only import driver_dialect


def _project_root() -> Path:
    """The folder holding ``include/`` (sources, mappings, order DDL), against which a config's relative paths
    resolve: ``S2S_PROJECT_ROOT`` if set; else the checkout the package is installed from in editable mode
    (``<root>/src/stock2shop_sync``); else ``AIRFLOW_HOME``, where the image keeps ``include/``."""
    if os.environ.get("S2S_PROJECT_ROOT"):
        return Path(os.environ["S2S_PROJECT_ROOT"])
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "include" / "mappings").is_dir():
        return checkout
    return Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")


PROJECT_ROOT = _project_root()

#: Entities a source can sync into Stock2Shop.
Entity = Literal["products", "customers"]

#: Canonical product columns (one row per variant), named as Stock2Shop fields.
PRODUCT_FIELDS: frozenset[str] = frozenset(
    {
        "source_product_code",
        "source_variant_code",
        "sku",
        "title",
        "body_html",
        "collection",
        "product_type",
        "vendor",
        "tags",
        "product_active",
        "barcode",
        "grams",
        "qty",
        "price",
        "inventory_management",
        "sync_token",
        "option1_name",
        "option2_name",
        "option3_name",
        "option1_value",
        "option2_value",
        "option3_value",
        *("group_title", "item_active", "item_blocked", "service_item", "stock_item"),  # PRODUCT_RULE_FIELDS
    }
)
#: Product columns that only feed a preset's site rules (model/rules.py) and are never sent: the source of a
#: product title (``title_rule: field``) and the ERP's own status flags.
PRODUCT_RULE_FIELDS = ("group_title", "item_active", "item_blocked", "service_item", "stock_item")
#: Canonical customer columns.
CUSTOMER_FIELDS: frozenset[str] = frozenset(
    {"source_customer_code", "customer_active", "first_name", "last_name", "full_name", "email", "accepts_marketing"}
)
#: Console CSV conventions: any number of price tiers, warehouses, meta keys and images.
PRODUCT_PATTERNS = (
    re.compile(r"^price_[A-Za-z0-9][A-Za-z0-9 _.-]*$"),
    re.compile(r"^qty_[A-Za-z0-9][A-Za-z0-9 _.-]*$"),
    re.compile(r"^meta_[A-Za-z0-9][A-Za-z0-9_.-]*$"),
    re.compile(r"^variant_meta_[A-Za-z0-9][A-Za-z0-9_.-]*$"),  # the variant's own meta (Stock2Shop's variant DTO)
    re.compile(r"^image[1-9][0-9]*$"),
)
CUSTOMER_PATTERNS = (re.compile(r"^meta_[A-Za-z0-9][A-Za-z0-9_.-]*$"),)

#: How a product's title is chosen when its variants have their own descriptions (see SiteSettings.title_rule).
TITLE_RULES = ("agree", "common_prefix", "first_variant", "field")
QTY_FORMULAS = (
    "on_hand",
    "on_hand_minus_on_sales_order",
    "on_hand_minus_reserved",
    "on_hand_minus_on_sales_order_minus_reserved",
)
#: The name inside a quoted identifier of a column setting: letters, digits, spaces and ``_ - . # $`` (never a
#: quote character, ``;``, ``/``, ``*`` or a line break; ``--`` is refused by :data:`_COLUMN_REF`), neither
#: starting nor ending with a space, at most 128 characters.
_QUOTED_NAME = r"[A-Za-z0-9_.#$-](?:[A-Za-z0-9 _.#$-]{0,126}[A-Za-z0-9_.#$-])?"
#: One part of a column setting (the table alias, the column): a plain identifier, or a quoted one written in
#: any dialect's form: ``[Name]``, ``"Name"`` or in backticks.
_REF_PART = rf"[A-Za-z_][A-Za-z0-9_]*|\[{_QUOTED_NAME}\]|\"{_QUOTED_NAME}\"|`{_QUOTED_NAME}`"
_REF_PARTS = re.compile(rf"({_REF_PART})(?:\.({_REF_PART}))?")
#: A column setting, matched whole (``fullmatch``): NULL, a short quoted literal, or a column reference.
_COLUMN_REF = re.compile(rf"NULL|'[A-Za-z0-9 _.-]*'|(?!.*--)(?:{_REF_PARTS.pattern})")
#: How each dialect (:func:`stock2shop_sync.connectors.read_only.driver_dialect`) quotes an identifier; any other
#: known dialect takes ANSI SQL's double quotes, and a quoted name for a driver not known is refused. Never
#: ``"Name"`` on MySQL/MariaDB, where it is a string (unless ANSI_QUOTES is set), so ``{{active_field}}`` would
#: silently be a constant.
IDENTIFIER_QUOTES = {"sqlserver": ("[", "]"), "sybase": ("[", "]"), "mysql": ("`", "`")}
_SETTING_FORMS = (
    "must be a column reference: a column, optionally after its table alias (s.ucIIS2SActive), each part a plain "
    'name or quoted as [Name], "Name" or `Name` (the quoted name: up to 128 letters, digits, spaces and _ - . # $, '
    "not starting or ending with a space; never a quote character, ';', '--', '/*' or a line break); or a short "
    "quoted literal like '001'; or NULL"
)


def column_setting_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a column setting (what is allowed, and what in it is not), or None if it can."""
    if isinstance(value, str) and _COLUMN_REF.fullmatch(value.strip()):
        return None
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    found = []
    if isinstance(value, str):
        allowed = " _.#$-[]\"`'"
        found = [repr(c) for c in dict.fromkeys(value.strip()) if not ((c.isascii() and c.isalnum()) or c in allowed)]
        found += ["'--'"] if "--" in value else []
    return f"{_SETTING_FORMS}; not {shown}" + (f" (it holds {', '.join(found)})" if found else "")


def render_column_setting(value: str, dialect: str | None) -> str:
    """A valid column setting as the SQL of ``dialect``: each quoted part (``[Name]``, ``"Name"`` or in backticks,
    whichever the user wrote) quoted the dialect's way (:data:`IDENTIFIER_QUOTES`); plain parts, literals and
    NULL exactly as written."""
    value = value.strip()
    if not _COLUMN_REF.fullmatch(value):  # validated before; never let anything else reach the SQL
        raise ValueError(f"not a column setting: {value!r}")
    parts = _REF_PARTS.fullmatch(value)
    if parts is None:  # a 'literal'
        return value
    opening, closing = IDENTIFIER_QUOTES.get(dialect or "", ('"', '"'))
    return ".".join(
        part if part[0] not in '["`' else f"{opening}{part[1:-1]}{closing}" for part in parts.groups() if part
    )


#: Placeholders a query may use that are not settings: ``{{since}}`` is the start of the run's window of changes.
RUN_PLACEHOLDERS = frozenset({"since"})
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def sources_dir() -> Path:
    """Folder of the deployment's source configs (``S2S_SOURCES_DIR`` or ``include/sources``)."""
    return Path(os.environ.get("S2S_SOURCES_DIR") or PROJECT_ROOT / "include" / "sources")


def mappings_dir() -> Path:
    """Folder of the mapping presets (``S2S_MAPPINGS_DIR`` or ``include/mappings``)."""
    return Path(os.environ.get("S2S_MAPPINGS_DIR") or PROJECT_ROOT / "include" / "mappings")


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class ConfigError(Exception):
    """A config or mapping problem, naming the file, the key and what is wrong."""

    file: str
    key: str
    problem: str
    source_id: str | None = None
    #: For a linked source's config: the primary it names, so the primary can hold its products back.
    primary: str | None = None
    #: A file that may be a linked config but whose primary cannot be told (see :func:`load_source`).
    holds_every_primary: bool = False

    def holds_back(self, source_id: str) -> bool:
        """Whether this error must stop the products of primary source ``source_id`` from being uploaded.

        True for an error in a config linked to it, and for a file whose primary cannot be told: uploading
        without the linked source would overwrite the fields it owns, while holding back is loud and undone by
        fixing the file.
        """
        return self.primary == source_id or self.holds_every_primary

    def __str__(self) -> str:
        return f"{self.file}: {self.key or '(file)'}: {self.problem}"


def known_encoding(value: str | None) -> str | None:
    """A text encoding Python knows (``cp1252``, ``utf-8``...), or None."""
    if value is not None:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}") from None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Query(_Strict):
    #: Checked once the source's driver is known (:func:`_check_queries`).
    query: str


class PriceListQuery(_Query):
    """Prices in long form (one row per item and price list), or wide (one column per list) with ``columns``.

    The rows become ``price_<tier>`` columns joined to the main query on ``key``.
    """

    key: str
    name: str | None = None
    value: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _long_or_wide(self) -> PriceListQuery:
        if bool(self.columns) == bool(self.name and self.value):
            raise ValueError("give either name and value (one row per price list) or columns (one column per list)")
        return self


class WarehouseQuery(_Query):
    """Stock per item and warehouse; becomes ``qty_<warehouse>`` columns by the source's qty formula."""

    key: str
    name: str
    on_hand: str
    on_sales_order: str | None = None
    reserved: str | None = None


def known_field(entity: str, name: str) -> bool:
    """Whether ``name`` is a canonical field (or console pattern) of ``entity``."""
    known, patterns = (
        (PRODUCT_FIELDS, PRODUCT_PATTERNS) if entity == "products" else (CUSTOMER_FIELDS, CUSTOMER_PATTERNS)
    )
    return name in known or any(p.match(name) for p in patterns)


class EntityMapping(_Strict):
    """How one entity (products or customers) is read from a source and renamed to canonical columns.

    With ``auto_fields`` every column already named as a Stock2Shop field (``title``, ``price_Wholesale``,
    ``meta_colour``, ``image1``...) maps to itself; ``fields`` adds or overrides names for other layouts. A source's
    ``mapping_overrides`` may set a preset's field to ``null`` to unmap it (:func:`resolve_mapping`).
    """

    auto_fields: bool = False
    #: Per field, source values translated to canonical ones (matched case-insensitively), e.g.
    #: ``product_active: {"true": Active, "false": Delete}`` for an API's boolean.
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    #: Extra, connector-specific options (an API's endpoint, paging and filter names; a SOQL query).
    options: dict[str, Any] = Field(default_factory=dict)
    query: str | None = None
    key: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    price_lists: PriceListQuery | None = None
    warehouses: WarehouseQuery | None = None

    @model_validator(mode="after")
    def _key_for_joins(self) -> EntityMapping:
        if (self.price_lists or self.warehouses) and not self.key:
            raise ValueError("key (the main query's item key column) is required with price_lists or warehouses")
        return self


class SiteSettings(BaseModel):
    """Per-site choices a preset leaves open, with the preset's defaults.

    ``price_lists`` / ``warehouses``: ``null`` takes every one under its own name; a list keeps only those;
    a mapping keeps those and renames them (ERP name -> Stock2Shop tier or warehouse description).
    Any other setting is a column reference (``s.ucIIS2SActive``; a part that needs quoting as ``[Name]``,
    ``"Name"`` or in backticks, rendered in the source's dialect), a short quoted literal (``'001'``) or
    ``NULL``, which queries use as ``{{name}}``; nothing else can reach the SQL.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    price_lists: list[str] | dict[str, str] | None = Field(
        None,
        description="null: every price list under its own name; a list keeps those; a mapping keeps and renames "
        "them (ERP list -> Stock2Shop tier)",
    )
    default_price_list: str | None = Field(
        None, description="the list that gives the variant's `price` (needed when more than one list is synced)"
    )
    warehouses: list[str] | dict[str, str] | None = Field(
        None,
        description="null: every warehouse; a list keeps those; a mapping keeps and renames them (code -> description)",
    )
    qty_formula: Literal[QTY_FORMULAS] = Field(  # type: ignore[valid-type]
        "on_hand_minus_on_sales_order",
        description="the quantity per warehouse: " + ", ".join(f"`{f}`" for f in QTY_FORMULAS),
    )
    title_rule: Literal[TITLE_RULES] = Field(  # type: ignore[valid-type]
        "agree",
        description="a product's title when its variants carry their own descriptions: `common_prefix` (the words "
        "they share, e.g. 'Classic Tee' of 'Classic Tee Red S' and 'Classic Tee Blue M'; the first variant's when "
        "they share none), `first_variant` (the first variant's, in the query's order), `field` (the `title_field` "
        "column: a group description such as `g.Description` or a UDF naming the product; the first non-blank "
        "of the variants, else `common_prefix`), or `agree` (the variants must agree; a product whose variants "
        "differ is quarantined). A variant whose own description differs from the title keeps it as variant "
        "meta `title`",
    )
    fractional_qty: Literal["floor", "round", "error"] = Field(
        "floor",
        description="a fractional quantity on hand (2.5): `floor` or `round` it to a whole number, with a warning "
        "in the quarantine report, or quarantine the variant (`error`)",
    )
    inactive_items: Literal["delete", "ignore"] = Field(
        "delete",
        description="items the ERP marks inactive or blocked: `delete` (sent as inactive, so channels hide them) "
        "or `ignore` (not sent at all; what Stock2Shop has stays as it is)",
    )
    service_items: Literal["ignore", "sync"] = Field(
        "ignore",
        description="service (non-stock) items such as a courier charge: `ignore` them or `sync` them like stock items",
    )
    missing_price: Literal["omit", "default_list", "zero"] = Field(
        "omit",
        description="a variant with no row in a synced price list: `omit` that tier, give it the default list's "
        "price (`default_list`), or send 0 (`zero`); never a silent 0",
    )
    price_decimals: int = Field(2, ge=0, le=6, description="prices and tiers are rounded to this many decimals")

    @model_validator(mode="before")
    @classmethod
    def _null_columns(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = set(cls.model_fields)
            return {k: ("NULL" if v is None and k not in known else v) for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _column_references(self) -> SiteSettings:
        for key, value in (self.model_extra or {}).items():
            problem = column_setting_problem(value)
            if problem:
                raise ValueError(f"{key} {problem}")
        return self

    @property
    def columns(self) -> dict[str, str]:
        return {k: str(v).strip() for k, v in (self.model_extra or {}).items()}

    @staticmethod
    def renames(choice: list[str] | dict[str, str] | None) -> dict[str, str] | None:
        if choice is None:
            return None
        return dict(choice) if isinstance(choice, dict) else {name: name for name in choice}


class OrderSql(_Strict):
    """SQL an order sink runs in one transaction, with ``:name`` parameters (see the README's order fields).

    ``exists`` returns the ERP document number of an order already raised (first column of the first row) and
    is run before anything is written and again after, to read the number the database assigned.
    Either ``header`` (+ ``lines``, run once per line) or ``procedure`` (run once per line) raise the order.
    ``document_lines`` (optional; every shipped preset has it) returns the item code and quantity of each line of
    the document ``exists`` found (parameters: the order's, and ``:document_number``): a document found under
    the order's reference that holds other lines is then refused as not this order's.
    ``next_id`` (optional) is for tables whose key has no identity or sequence: a query whose single value (e.g.
    ``SELECT COALESCE(MAX(order_id), 0) + 1 FROM orders``) is bound as ``:next_id`` in ``header``, ``lines`` and
    ``procedure``. It runs in the insert's transaction, after ``exists`` found nothing; an insert refused as a
    duplicate key (another writer took the same id in between) is rolled back and tried again with a fresh id.
    """

    exists: str
    header: str | None = None
    lines: str | None = None
    procedure: str | None = None
    document_lines: str | None = None
    next_id: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> OrderSql:
        if bool(self.header) == bool(self.procedure):
            raise ValueError("give either header (with lines) or procedure")
        if self.header and not self.lines:
            raise ValueError("header needs lines (one statement run per order line)")
        return self


class OrderMapping(_Strict):
    """How a preset raises orders: the sink (a connector module exposing ``ORDER_SINK``) and its defaults."""

    sink: str
    document_types: list[str] = Field(min_length=1)
    sql: OrderSql | None = None
    ddl: str | None = None  # documented DDL of the staging tables the ERP imports from (a file in include/)
    #: Sink-specific options (an API's order path and field choices).
    options: dict[str, Any] = Field(default_factory=dict)
    notes: str = ""


class Mapping(_Strict):
    """A mapping preset: which connector reads the source and how each entity maps."""

    name: str
    connector: str
    description: str = ""
    takes_orders: bool = True
    location: Literal["connection", "file", "sheet"] = "connection"
    settings: SiteSettings = Field(default_factory=SiteSettings)
    #: What each of the preset's settings does at a site (the README's settings tables are generated from these
    #: and from SiteSettings' own field descriptions, which a note here overrides).
    setting_notes: dict[str, str] = Field(default_factory=dict)
    products: EntityMapping | None = None
    customers: EntityMapping | None = None
    orders: OrderMapping | None = None

    def entity(self, entity: str) -> EntityMapping:
        found = getattr(self, entity, None)
        if found is None:
            raise KeyError(f"mapping {self.name!r} has no {entity!r} section")
        return found


class DatabaseConnection(_Strict):
    """Where the source's data lives: an Airflow Connection id, plus the ODBC driver name for SQL sources."""

    conn_id: str
    driver: str | None = None
    #: How the driver's narrow (SQL_CHAR) text is encoded, e.g. cp1252 for a legacy Pervasive or SQL Server
    #: database whose driver hands back the code page's bytes; None keeps pyodbc's default (UTF-8).
    encoding: str | None = None
    #: The time zone the database's timestamps are in (an IANA name such as Africa/Johannesburg): an ERP
    #: stores local time, so a query's ``{{since}}`` is the window's start in this zone.
    timezone: str = "UTC"

    _known_encoding = field_validator("encoding")(known_encoding)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name (e.g. 'UTC' or 'Africa/Johannesburg')") from None
        return value


class FileLocation(_Strict):
    """A flat file: any ObjectStoragePath URL (a local path, file://, sftp://, s3://conn_id@bucket/..., https://).

    A relative local path is taken from the project folder. ``format`` defaults to the file's extension.
    ``header`` names the columns of a file that has no header row. ``encoding`` is utf-8 (a BOM is fine) or
    any codec, e.g. cp1252. ``delimiter`` is sniffed from , ; tab | when not given.
    """

    path: str
    format: Literal["csv", "xlsx", "json"] | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    header: list[str] | None = None
    encoding: str = "utf-8"
    worksheet: str | None = None
    conn_id: str | None = None

    _known_encoding = field_validator("encoding")(known_encoding)

    @property
    def file_format(self) -> str:
        if self.format:
            return self.format
        suffix = self.path.rsplit("?", 1)[0].rsplit(".", 1)[-1].lower()
        return {"xlsx": "xlsx", "json": "json"}.get(suffix, "csv")


class SheetLocation(_Strict):
    """A Google Sheet: a spreadsheet key or URL and a worksheet, read with a service account (the key is in
    the Airflow connection ``conn_id``), or the sheet's public CSV link (``csv_url``) as Stock2Shop documents."""

    spreadsheet: str | None = None
    worksheet: str | None = None
    conn_id: str = "google_sheets_default"
    csv_url: str | None = None

    @model_validator(mode="after")
    def _one_way_in(self) -> SheetLocation:
        if bool(self.spreadsheet) == bool(self.csv_url):
            raise ValueError("give either spreadsheet (with a service-account connection) or csv_url")
        return self


class LinkedTo(_Strict):
    """This source only enriches the products of a primary source; ``owns`` lists the fields it provides
    (canonical names, or patterns such as ``meta_*`` and ``image*``). The primary owns every other field."""

    primary: str
    owns: list[str] = Field(min_length=1)

    @field_validator("owns")
    @classmethod
    def _known_fields(cls, owns: list[str]) -> list[str]:
        keys = {"source_product_code", "source_variant_code"}
        for name in owns:
            probes = [name[:-1] + "1", name[:-1] + "x"] if name.endswith("*") else [name]
            if name in keys:
                raise ValueError(f"{name} is the match key, not a field a linked source can own")
            if not any(p in PRODUCT_FIELDS or any(r.match(p) for r in PRODUCT_PATTERNS) for p in probes):
                raise ValueError(f"{name!r} is not a product field or pattern (e.g. title, meta_*, image*)")
        return owns

    def owns_field(self, field: str) -> bool:
        return any(field == name or (name.endswith("*") and field.startswith(name[:-1])) for name in self.owns)


class ApiSettings(_Strict):
    """How to talk to a cloud API source: which variant (Sage Accounting's ``za`` v2.0.0 or ``global`` v3.1)
    and the limits the client keeps to (it stops before a daily cap rather than get the IP blocked)."""

    region: Literal["za", "global"] | None = None
    requests_per_minute: int | None = Field(default=None, gt=0)
    requests_per_day: int | None = Field(default=None, gt=0)
    page_size: int | None = Field(default=None, gt=0)
    overlap_minutes: int = Field(default=5, ge=0)
    #: Seconds one request may take (reads and order creates); a create that times out is looked up, not resent.
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    #: The Airflow pool of this source's reads from the API (Sage Accounting: one per Sage company, whose daily
    #: request cap every source of the company shares); default ``s2s_sage_<conn_id>`` for Sage Accounting,
    #: none for other APIs. ``make pools`` creates it.
    pool: str | None = Field(default=None, min_length=1, max_length=256)


class OrderInbox(_Strict):
    """Where this source's pending orders come from.

    ``api``: Stock2Shop's order endpoints (the contract we assume is in the README). ``files``: a folder
    (any ObjectStoragePath URL: a local path, ``sftp://``, ``s3://``) where Stock2Shop drops one JSON order per
    file; each file is moved to ``processed/`` or ``failed/`` beside a result file. A file is read only once it
    is complete: temporary names (``*.tmp``, ``*.part``, ``*.filepart``, names starting ``.`` or ``~``) are
    ignored, and a file still changing is left for the next run (see :class:`~stock2shop_sync.inbox.FileOrderInbox`).
    """

    kind: Literal["api", "files"] = "api"
    path: str | None = None
    conn_id: str | None = None
    #: Seconds an order file's size and modification time must stay unchanged before it is read, so one still
    #: being uploaded is not taken half-written. A younger file is watched for up to this long within the run and
    #: left for the next run if it changed. 0: read every file at once.
    settle_seconds: int = Field(default=10, ge=0, le=600)
    #: A file that does not parse and was modified less than this long ago stays in the inbox for the next run
    #: (an upload that stalled may yet be finished); an older one goes to ``failed/`` with its reason. 0: at once.
    parse_grace_seconds: int = Field(default=900, ge=0, le=86_400)

    @model_validator(mode="after")
    def _folder_for_files(self) -> OrderInbox:
        if self.kind == "files" and not self.path:
            raise ValueError("an order-file inbox needs path (the folder Stock2Shop drops order files into)")
        if self.kind == "api" and self.path:
            raise ValueError("path is only for kind: files")
        return self


class OrderSettings(_Strict):
    """Whether and how this source takes sales orders, with the per-site settings its order sink uses.

    ``conn_id`` is the connection orders are written through: for SQL sinks a read-write login (the extract
    connection stays read-only), for API sinks it defaults to the source's own connection.
    """

    enabled: bool = False
    inbox: OrderInbox = Field(default_factory=OrderInbox)
    conn_id: str | None = None
    document_type: str | None = None
    default_customer_code: str | None = None
    shipping_code: str | None = None
    #: Where shipping goes: ``line``, a document line on the ERP item ``shipping_code``; ``header``, no line, the
    #: amounts in the header's ``:shipping_excl``/``:shipping_tax``/``:shipping_incl`` (for a document whose
    #: shipping is a header column). The order's totals include shipping either way.
    shipping: Literal["line", "header"] = "line"
    tax_code: str | None = None
    tax_exempt_code: str | None = None
    warehouse_code: str | None = None
    use_channel_order_code: bool = False
    #: Refusals of an order's data (a constraint, an unknown item) before it is given up; transient failures
    #: (network, timeouts, 5xx, a locked table) never count: they are retried on every run.
    max_attempts: int = Field(default=3, ge=1, le=100)
    #: Seconds a run's claim on an order lasts (renewed before each create); a dead run's claim expires after
    #: it and the next run resolves the order by looking it up. Longer than one order's slowest raise.
    claim_seconds: int = Field(default=900, ge=1, le=86_400)
    #: Creates of one order within a run; each after a lookup that shows the ERP does not hold it yet.
    create_attempts: int = Field(default=3, ge=1, le=10)
    #: Seconds to wait before the lookup that follows an unclear answer to a create (doubled each time).
    create_pause_seconds: float = Field(default=1.0, ge=0, le=60)
    #: After a create timed out, the ERP may still be storing it: the order is looked up again only after this.
    settle_seconds: int = Field(default=300, ge=0, le=86_400)
    #: After a transient failure the order waits this long before the next try, doubling up to an hour.
    retry_backoff_seconds: int = Field(default=60, ge=0, le=3_600)
    #: A run alerts (fails its push task) once an order has been failing transiently for this long.
    alert_after_minutes: int = Field(default=60, ge=1, le=10_080)
    #: The Airflow pool the push task runs in (one slot: one push of this source at a time); None: the default
    #: ``s2s_orders_<source_id>``. ``make pools`` creates them. Exactly-once does not depend on it (the ledger's
    #: claims do that); it keeps a backfill or a manual run from pushing beside the scheduled one.
    pool: str | None = Field(default=None, min_length=1, max_length=256)


class TimeoutSettings(_Strict):
    """How long each step may run before Airflow stops it, and how long the source's database may take.

    A hung ERP query must not hold the source's only active run for ever (``max_active_runs=1``): the query is
    cancelled by the driver after ``query_seconds``, the task by Airflow after its step's minutes, the run after
    ``run_minutes``; the next scheduled run then starts.
    """

    extract_minutes: int = Field(default=60, ge=1, le=1_440)
    merge_minutes: int = Field(default=30, ge=1, le=1_440)
    validate_minutes: int = Field(default=30, ge=1, le=1_440)
    upload_minutes: int = Field(default=120, ge=1, le=1_440)
    orders_minutes: int = Field(default=60, ge=1, le=1_440)
    report_minutes: int = Field(default=10, ge=1, le=1_440)
    #: The whole run (``dagrun_timeout``).
    run_minutes: int = Field(default=360, ge=1, le=10_080)
    #: Seconds the ODBC driver may take to log in, and one query to run (0: no limit from the driver).
    odbc_login_seconds: int = Field(default=30, ge=1, le=600)
    odbc_query_seconds: int = Field(default=1_800, ge=0, le=86_400)

    @model_validator(mode="after")
    def _query_within_extract(self) -> TimeoutSettings:
        if self.odbc_query_seconds and self.odbc_query_seconds > self.extract_minutes * 60:
            raise ValueError(
                f"odbc_query_seconds ({self.odbc_query_seconds}) is longer than extract_minutes "
                f"({self.extract_minutes}): the task would be stopped before the query's own timeout names it"
            )
        return self


class EmailAlert(_Strict):
    """E-mail through an SMTP connection (``SmtpNotifier``)."""

    to: list[str] = Field(min_length=1)
    conn_id: str = "smtp_default"
    from_email: str | None = None


class SlackAlert(_Strict):
    """Slack through an incoming-webhook connection (``SlackWebhookNotifier``)."""

    conn_id: str


class WebhookAlert(_Strict):
    """Any webhook (Teams, PagerDuty, an on-call bot) through an HTTP connection (``HttpNotifier``): a JSON POST."""

    conn_id: str
    endpoint: str = ""


class AlertSettings(_Strict):
    """Who hears about this source's failures and data-quality warnings. Secrets stay in the connections."""

    email: EmailAlert | None = None
    slack: SlackAlert | None = None
    webhook: WebhookAlert | None = None
    #: Also alert when a run succeeded but quarantined rows (a data-quality warning).
    quality_warnings: bool = True

    @property
    def any(self) -> bool:
        return any((self.email, self.slack, self.webhook))


class Stock2ShopTarget(_Strict):
    """The Stock2Shop account and source this config feeds."""

    conn_id: str = "stock2shop_default"
    source_id: int = Field(gt=0)
    #: Queue requests in flight at once (they share one token and stay inside the advertised rate limit).
    upload_concurrency: int = Field(default=4, ge=1, le=16)
    #: The Airflow pool of this source's uploads; default ``s2s_api_<conn_id>``, one per Stock2Shop API user, so
    #: sources of one user upload one at a time inside the user's rate limit (``make pools`` creates it).
    pool: str | None = Field(default=None, min_length=1, max_length=256)


class ValidationSettings(_Strict):
    """How much bad data a run tolerates before it refuses to upload."""

    max_invalid_share: float = Field(default=0.1, ge=0.0, le=1.0)
    #: Largest share of the items Stock2Shop holds for the source that one run may delete, whatever causes it
    #: (the source stopped returning them, its status field says Delete, or a linked source's merge does; see
    #: :mod:`stock2shop_sync.deletes`); past it a person approves, or the run fails (``on_delete_cap``). An
    #: emptied table, a broken query or one bad status update must not wipe the catalogue.
    max_delete_share: float = Field(default=0.2, ge=0.0, le=1.0)
    #: Fewer deletes than this never need approval, whatever their share (a small catalogue may drop 3 of its 5).
    delete_cap_min_items: int = Field(default=10, ge=0)
    #: Above the cap: ``approve`` waits for a person in the run's ``approve_deletes_<entity>`` task; ``fail``
    #: fails the run at once.
    on_delete_cap: Literal["approve", "fail"] = "approve"
    #: How long the approval waits; without an answer by then the run fails as if rejected.
    delete_approval_hours: float = Field(default=24.0, gt=0)


class IncrementalSettings(_Strict):
    """How a source that reads only what changed (an API, or SQL whose queries use ``{{since}}``) still
    notices deletions and changes its filter cannot see: every ``full_read_hours`` one run reads everything."""

    #: Hours after the last complete read at which a windowed run reads the whole source instead; 0: every run.
    full_read_hours: float = Field(default=24.0, ge=0)


class SourceConfig(_Strict):
    """One configured source: becomes the DAG ``s2s_<source_id>``."""

    source_id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    type: str
    description: str = ""
    connection: DatabaseConnection | None = None
    file: FileLocation | None = None
    sheet: SheetLocation | None = None
    stock2shop: Stock2ShopTarget | None = None
    link: LinkedTo | None = None
    api: ApiSettings = Field(default_factory=ApiSettings)
    orders: OrderSettings = Field(default_factory=OrderSettings)
    entities: list[Entity] = Field(default_factory=lambda: ["products", "customers"], min_length=1)
    schedule: str | None = "@hourly"
    #: The DAG starts paused when Airflow first sees it (a source being set up, or one whose system is not
    #: reachable yet); unpausing in the UI takes over from there.
    paused: bool = False
    mapping: str | None = None
    mapping_overrides: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    incremental: IncrementalSettings = Field(default_factory=IncrementalSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    timeouts: TimeoutSettings = Field(default_factory=TimeoutSettings)
    owner: str = "stock2shop"
    tags: list[str] = Field(default_factory=list)
    path: str = Field(default="", exclude=True)

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str | None) -> str | None:
        if value is not None:
            from croniter import croniter  # Airflow's own cron parser

            if not croniter.is_valid(value.strip()):
                raise ValueError(f"{value!r} is not a cron expression or preset (e.g. '0 * * * *' or '@hourly')")
        return value

    @property
    def dag_id(self) -> str:
        return f"s2s_{self.source_id}"

    @property
    def order_pool(self) -> str:
        """The Airflow pool of this source's order pushes (``orders.pool``, or ``s2s_orders_<source_id>``)."""
        return self.orders.pool or f"s2s_orders_{self.source_id}"

    @property
    def upload_pool(self) -> str | None:
        """The Airflow pool of this source's uploads: one per Stock2Shop API user (``stock2shop.pool``)."""
        if self.stock2shop is None:
            return None
        return self.stock2shop.pool or f"s2s_api_{self.stock2shop.conn_id}"

    @property
    def read_pool(self) -> str | None:
        """The Airflow pool of this source's extracts: ``api.pool``, or one per Sage Accounting company."""
        if self.api.pool:
            return self.api.pool
        if self.type == "sage_accounting" and self.connection is not None:
            return f"s2s_sage_{self.connection.conn_id}"
        return None

    def pools(self) -> dict[str, str]:
        """Every pool this source's tasks run in, with what it is for (``make pools`` creates them)."""
        wanted = {}
        if self.orders.enabled:
            wanted[self.order_pool] = f"order pushes of source {self.source_id}: one at a time"
        if self.upload_pool:
            wanted[self.upload_pool] = f"uploads of Stock2Shop connection {self.stock2shop.conn_id}: one at a time"
        if self.read_pool:
            wanted[self.read_pool] = f"API reads of connection {self.connection.conn_id if self.connection else '?'}"
        return wanted

    @property
    def mapping_name(self) -> str:
        return self.mapping or self.type

    @property
    def is_linked(self) -> bool:
        return self.link is not None

    @model_validator(mode="after")
    def _consistent(self) -> SourceConfig:
        if len(set(self.entities)) != len(self.entities):
            raise ValueError("entities lists an entity twice")
        if sum(x is not None for x in (self.connection, self.file, self.sheet)) != 1:
            raise ValueError("give exactly one of connection (a database), file or sheet")
        if self.link is None and self.stock2shop is None:
            raise ValueError("stock2shop (the Stock2Shop source this feeds) is required for a primary source")
        if self.link is not None:
            if self.stock2shop is not None:
                raise ValueError("a linked source feeds its primary's Stock2Shop source: remove stock2shop")
            if self.orders.enabled:
                raise ValueError("a linked source never receives orders: orders go to its primary source")
            if self.entities != ["products"] and "entities" in self.model_fields_set:
                raise ValueError("a linked source only adds product information: entities must be [products]")
        return self


def _error_key(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _from_validation_error(exc: ValidationError, file: str, source_id: str | None, prefix: str = "") -> ConfigError:
    problems = []
    for err in exc.errors():
        key = _error_key(tuple(prefix.split(".")) + err["loc"] if prefix else err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append((key, message))
    key, message = problems[0]
    if len(problems) > 1:
        message += "; also " + "; ".join(f"{k}: {m}" for k, m in problems[1:])
    return ConfigError(file, key, message, source_id)


def _read_yaml(path: Path) -> dict[str, Any]:
    data = _parse_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(str(path), "(file)", "expected a mapping of keys to values at the top level")
    return data


def _parse_yaml(path: Path) -> Any:
    """The YAML document in ``path``; a ConfigError naming the line when it is not valid YAML or UTF-8 text."""
    try:
        # libyaml's C parser when PyYAML has it (the wheels do): the pure-Python one was most of a parse.
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise ConfigError(str(path), where, f"invalid YAML: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "(file)", f"not UTF-8 text: {exc}") from None
    return data


_TOP_LEVEL_KEY = re.compile(r"""^["']?(?P<key>[A-Za-z_][\w-]*)["']?[ \t]*:(?P<rest>.*)$""")
_PRIMARY_KEY = re.compile(r"""(?:^|[\s{,])["']?primary["']?[ \t]*:[ \t]*(?P<value>"[^"\n]*"|'[^'\n]*'|[^\s,}\]#]+)""")
_SOURCE_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _scalar(text: str) -> str | None:
    """A plain or quoted scalar that is a valid source id, or None."""
    value = text.strip().strip("\"'")
    return value if _SOURCE_ID.match(value) else None


def _role_from_text(text: str) -> tuple[str | None, str | None, bool]:
    """Recover ``(source_id, link.primary, has a link block)`` from a config that does not parse.

    A line scan, not a parser: a top-level line (no indent) starts a key; ``source_id`` is taken from its own
    top-level line, ``primary`` from inside the top-level ``link`` block (block or flow style, indented with spaces
    or tabs). A value given twice with different values, or not shaped like a source id, is not recovered.
    """
    source_ids: set[str | None] = set()
    link_lines: list[str] = []
    in_link = linked = False
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not line.strip() or line.startswith(("---", "...")):
            continue
        if line[0] in " \t":
            if in_link:
                link_lines.append(line)
            continue
        match = _TOP_LEVEL_KEY.match(line)
        key, rest = (match["key"], match["rest"]) if match else ("", "")
        in_link = key == "link"
        if key == "source_id":
            source_ids.add(_scalar(rest))
        elif in_link:
            linked = True
            link_lines.append(rest)
    primaries = {_scalar(m["value"]) for m in _PRIMARY_KEY.finditer("\n".join(link_lines))}
    source_id = source_ids.pop() if len(source_ids) == 1 else None
    primary = primaries.pop() if len(primaries) == 1 else None
    return source_id, primary, linked


def load_source(path: Path | str) -> SourceConfig:
    """Load and validate one source config, including its resolved mapping."""
    path = Path(path)
    try:
        data = _parse_yaml(path)
    except ConfigError as exc:
        # The file does not parse, but a linked config must still hold its primary back: recover the role from
        # the raw text. A file that may be linked (a link block, or no source_id to say it is a primary) whose
        # primary cannot be told holds back every primary: see ConfigError.holds_back.
        exc.source_id, exc.primary, linked = _role_from_text(path.read_bytes().decode("utf-8", errors="replace"))
        exc.holds_every_primary = exc.primary is None and (linked or exc.source_id is None)
        raise
    if not isinstance(data, dict):
        raise ConfigError(str(path), "(file)", "expected a mapping of keys to values at the top level")
    source_id = data.get("source_id") if isinstance(data.get("source_id"), str) else None
    link = data.get("link")
    primary = link.get("primary") if isinstance(link, dict) and isinstance(link.get("primary"), str) else None
    try:
        try:
            config = SourceConfig.model_validate({**data, "path": str(path)})
        except ValidationError as exc:
            raise _from_validation_error(exc, str(path), source_id) from None
        mapping = resolve_mapping(config)
        if "entities" not in config.model_fields_set:
            # Default: what the mapping can read; a linked source only ever adds product information.
            readable = [e for e in ("products", "customers") if getattr(mapping, e) is not None]
            config = config.model_copy(update={"entities": ["products"] if config.link else readable})
        _check_against_mapping(config, mapping)
    except ConfigError as exc:
        exc.primary = primary
        exc.holds_every_primary = "link" in data and primary is None
        raise
    return config


def _check_against_mapping(config: SourceConfig, mapping: Mapping) -> None:
    def fail(key: str, problem: str) -> None:
        raise ConfigError(config.path, key, problem, config.source_id)

    if getattr(config, mapping.location) is None:
        fail(mapping.location, f"a {config.type} source reads from `{mapping.location}`, which is missing")
    for other in ("connection", "file", "sheet"):
        if other != mapping.location and getattr(config, other) is not None:
            fail(other, f"a {config.type} source reads from `{mapping.location}`, not `{other}`")
    if config.orders.enabled and not mapping.takes_orders:
        fail(
            "orders.enabled",
            f"{config.type} sources never take sales orders (Stock2Shop sends orders only to ERPs and databases)",
        )
    if config.orders.enabled:
        if mapping.orders is None:
            fail("orders.enabled", f"mapping {mapping.name!r} has no orders section (how to raise an order)")
        document_type = config.orders.document_type or mapping.orders.document_types[0]
        if document_type not in mapping.orders.document_types:
            fail(
                "orders.document_type",
                f"{document_type!r} is not a document type of {mapping.name!r}; "
                f"choose one of {mapping.orders.document_types}",
            )
        if mapping.orders.sink == "sql":
            if mapping.orders.sql is None:
                fail("orders", f"mapping {mapping.name!r} has an sql order sink but no orders.sql statements")
            if not config.orders.conn_id:
                fail(
                    "orders.conn_id",
                    "a SQL order sink needs its own read-write connection; the extract connection stays read-only",
                )
    for entity in config.entities:
        if getattr(mapping, entity) is None:
            fail("entities", f"mapping {mapping.name!r} cannot read {entity}")


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` merged into a copy of ``base``, key by key at every level; an override of ``null`` removes the
    key (a preset's field under ``fields`` or ``defaults``: the source does not send it)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):
            below = merged.get(key)
            merged[key] = _deep_merge(below if isinstance(below, dict) else {}, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _unmapped(overrides: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(entity, ``fields`` or ``defaults``, field) for each field a source's ``mapping_overrides`` sets to null."""
    found = []
    for entity in ("products", "customers"):
        section = overrides.get(entity)
        for kind in ("fields", "defaults"):
            names = section.get(kind) if isinstance(section, dict) else None
            if isinstance(names, dict):
                found += [(entity, kind, name) for name, value in names.items() if value is None]
    return found


def _gives(section: EntityMapping, entity: str, name: str, seen: frozenset[str] = frozenset()) -> bool:
    """Whether ``section`` gives field ``name`` a value: mapped, a constant, or from a field or query it falls back
    on (``sku`` gives ``source_variant_code``; a price-list query gives ``price``)."""
    from stock2shop_sync.model.canonical import field_doc

    if name in section.fields or name in section.defaults:
        return True
    if name in ("price_lists", "warehouses"):
        return getattr(section, name) is not None
    doc = field_doc(entity, name)
    fallback = doc.fallback if doc else ()
    return any(_gives(section, entity, other, seen | {name}) for other in fallback if other not in seen)


def _check_unmapped(
    preset: Mapping, mapping: Mapping, config: SourceConfig, unmapped: list[tuple[str, str, str]]
) -> None:
    """Refuse to unmap a field every row needs (or one such a field comes from) that the preset gave and nothing
    gives any more. With ``auto_fields`` a column named as a field maps to it by that name, so no field can be
    unmapped there (a constant can)."""
    from stock2shop_sync.model.canonical import FIELD_DOCS

    for entity, kind, name in unmapped:
        key = f"mapping_overrides.{entity}.{kind}.{name}"
        section, before = getattr(mapping, entity), getattr(preset, entity)
        if section is None or before is None:
            continue
        if problem := _unknown_field(entity, name):
            raise ConfigError(config.path, key, problem, config.source_id)
        if section.auto_fields and kind == "fields":
            raise ConfigError(
                config.path,
                key,
                f"cannot unmap {name}: preset {preset.name!r} maps every column named as a Stock2Shop field to that "
                f"field (auto_fields); rename or remove the source's column {name!r} instead",
                config.source_id,
            )
        if section.auto_fields:
            continue  # a constant removed: which fields every row has is up to the source's own columns
        for doc in FIELD_DOCS[entity]:
            # Only what every row needs (its keys, its status): a field only active rows need may be unmapped, and
            # check-mapping then lists each row the run would quarantine for it (a site with no e-mail addresses).
            needed = doc.required == "every row"
            if needed and _gives(before, entity, doc.name) and not _gives(section, entity, doc.name):
                via = "" if doc.name == name else f" ({doc.name} comes from it)"
                raise ConfigError(
                    config.path,
                    key,
                    f"cannot unmap {name}{via}: every {entity[:-1]} row needs {doc.name} (the run quarantines a row "
                    f"without it) and nothing else gives it; map {doc.name} to another column instead",
                    config.source_id,
                )


def _unknown_field(entity: str, name: str) -> str | None:
    """Why ``name`` is not a field of ``entity``, or None when it is one."""
    if known_field(entity, name):
        return None
    known, patterns = (
        (PRODUCT_FIELDS, PRODUCT_PATTERNS) if entity == "products" else (CUSTOMER_FIELDS, CUSTOMER_PATTERNS)
    )
    return (
        f"unknown {entity[:-1]} field {name!r}; expected one of {sorted(known)} "
        f"or a pattern ({', '.join(p.pattern for p in patterns)})"
    )


def _check_fields(mapping: Mapping, file: str, source_id: str | None, prefix: str) -> None:
    for entity in ("products", "customers"):
        section = getattr(mapping, entity)
        if section is None:
            continue
        for kind in ("fields", "defaults"):
            for name in getattr(section, kind):
                if problem := _unknown_field(entity, name):
                    raise ConfigError(file, f"{prefix}{entity}.{kind}.{name}", problem, source_id)
            for name, column in section.fields.items():
                if not isinstance(column, str) or not column.strip():
                    unmap = "; null unmaps the field, so the source does not send it" if prefix else ""
                    raise ConfigError(
                        file, f"{prefix}{entity}.fields.{name}", f"must name a source column{unmap}", source_id
                    )


def load_mapping(name: str) -> Mapping:
    """Load a mapping preset by name from the mappings folder."""
    path = mappings_dir() / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in mappings_dir().glob("*.yaml"))
        raise ConfigError(str(path), "(file)", f"no mapping preset {name!r}; known presets: {known}")
    # Many sources share a preset: parse each file once per version of it (a long-lived DAG processor sees
    # edits, because the modification time is part of the key). Mappings are frozen, so sharing is safe.
    stat = path.stat()
    return _load_mapping_file(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _load_mapping_file(path_text: str, _mtime_ns: int, _size: int) -> Mapping:
    path = Path(path_text)
    data = _read_yaml(path)
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        raise _from_validation_error(exc, str(path), None) from None
    _check_fields(mapping, str(path), None, "")
    return mapping


def resolve_mapping(config: SourceConfig) -> Mapping:
    """The source's mapping: its preset with the source's ``mapping_overrides`` merged on top.

    An override of ``null`` removes what the preset says: ``products: {fields: {barcode: null}}`` unmaps the field,
    so the source does not send it. A field every row needs (see :data:`~stock2shop_sync.model.canonical.FIELD_DOCS`)
    cannot be unmapped unless something else still gives it.

    Raises:
        ConfigError: naming the source's file and the key of an override that does not fit the preset.
    """
    try:
        preset = load_mapping(config.mapping_name)
    except ConfigError as exc:
        key = "mapping" if config.mapping else "type"
        raise ConfigError(config.path, key, f"{exc.problem} (while reading {exc.file})", config.source_id) from None
    mapping = preset
    if config.mapping_overrides:
        merged = _deep_merge(preset.model_dump(), config.mapping_overrides)
        try:
            mapping = Mapping.model_validate(merged)
        except ValidationError as exc:
            raise _from_validation_error(exc, config.path, config.source_id, "mapping_overrides") from None
        _check_fields(mapping, config.path, config.source_id, "mapping_overrides.")
        _check_unmapped(preset, mapping, config, _unmapped(config.mapping_overrides))
    return _apply_settings(mapping, config)


def _apply_settings(mapping: Mapping, config: SourceConfig) -> Mapping:
    """Merge the source's ``settings`` over the preset's and put column settings into the queries."""
    declared = mapping.settings.model_dump()
    for key in config.settings:
        if key not in declared:
            raise ConfigError(
                config.path,
                f"settings.{key}",
                f"unknown setting for preset {mapping.name!r}; known settings: {sorted(declared)}",
                config.source_id,
            )
    for key, value in config.settings.items():
        problem = None if key in SiteSettings.model_fields or value is None else column_setting_problem(value)
        if problem:
            raise ConfigError(config.path, f"settings.{key}", problem, config.source_id)
    try:
        settings = SiteSettings.model_validate({**declared, **config.settings})
    except ValidationError as exc:
        raise _from_validation_error(exc, config.path, config.source_id, "settings") from None
    dialect = driver_dialect(config.connection.driver if config.connection else None)
    for key, value in settings.columns.items():
        # Databases quote names differently, and on MySQL/MariaDB "Name" is a string: never guess.
        if dialect is None and _REF_PARTS.fullmatch(value) and any(c in value for c in '["`'):
            raise ConfigError(
                config.path,
                f"settings.{key}",
                "a quoted column name needs connection.driver (the ODBC driver's name) so that it is quoted as "
                'the database expects: [Name], `Name` or "Name"',
                config.source_id,
            )
    columns = {name: render_column_setting(value, dialect) for name, value in settings.columns.items()}

    def fill(query: str | None, where: str) -> str | None:
        if query is None:
            return None

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in RUN_PLACEHOLDERS:  # filled in per run by the connector
                return match.group(0)
            if name not in columns:
                raise ConfigError(
                    config.path,
                    where,
                    f"the query uses {{{{{name}}}}} but no setting {name!r} is declared",
                    config.source_id,
                )
            return columns[name]

        return _PLACEHOLDER.sub(replace, query)

    data = mapping.model_dump()
    data["settings"] = settings.model_dump()
    for entity in ("products", "customers"):
        section = data.get(entity)
        if not section:
            continue
        section["query"] = fill(section.get("query"), f"{entity}.query")
        for part in ("price_lists", "warehouses"):
            if section.get(part):
                section[part]["query"] = fill(section[part]["query"], f"{entity}.{part}.query")
    resolved = Mapping.model_validate(data)
    _check_queries(resolved, config)
    return resolved


def _check_queries(mapping: Mapping, config: SourceConfig) -> None:
    """Refuse a resolved mapping's extract query that could do more than read (:mod:`stock2shop_sync.sql_guard`),
    read in the dialect of the source's driver and in every form a run sends it (column settings filled in, with
    and without its ``{{#since}}`` sections). Here rather than on the query's field: only the source knows its
    driver, and only the filled-in text is what the database reads.

    Raises:
        ConfigError: naming the override's key (``mapping_overrides.products.query``), or the preset for a query
            the source took from it, and why the query is refused.
    """
    from stock2shop_sync.sql_guard import UnsafeQuery, check_read_only, run_forms

    dialect = driver_dialect(config.connection.driver if config.connection else None)
    for entity in ("products", "customers"):
        section = getattr(mapping, entity)
        if section is None:
            continue
        parts = [("query", section.query)]
        parts += [
            (f"{part}.query", getattr(section, part).query)
            for part in ("price_lists", "warehouses")
            if getattr(section, part) is not None
        ]
        for where, query in parts:
            if not query:
                continue
            for form, text in run_forms(query).items():
                try:
                    check_read_only(text, dialect)
                except UnsafeQuery as exc:
                    raise _query_error(config, mapping, entity, where, f"{exc} (in {form})") from None


def _query_error(config: SourceConfig, mapping: Mapping, entity: str, where: str, problem: str) -> ConfigError:
    """A refused query's error: keyed by the override that gave it, else by the preset the source took it from."""
    overrides: Any = config.mapping_overrides.get(entity)
    for step in where.split(".")[:-1]:
        overrides = overrides.get(step) if isinstance(overrides, dict) else None
    from stock2shop_sync.sql_guard import READERS

    driver = config.connection.driver if config.connection else None
    read_as = f"driver {driver!r}"
    if driver_dialect(driver) not in READERS:
        read_as += " (or none): read as SQL Server, PostgreSQL, MySQL and SQLite all read it" if driver else ""
        read_as = read_as if driver else "no connection.driver: read as SQL Server, PostgreSQL, MySQL and SQLite"
    if isinstance(overrides, dict) and "query" in overrides:
        key = f"mapping_overrides.{entity}.{where}"
        return ConfigError(config.path, key, f"{problem}; {read_as}", config.source_id)
    key = "mapping" if config.mapping else "type"
    return ConfigError(
        config.path, key, f"preset {mapping.name!r}'s {entity}.{where}: {problem}; {read_as}", config.source_id
    )


def load_all(directory: Path | str | None = None) -> tuple[list[SourceConfig], list[ConfigError]]:
    """Every source config in a folder: the valid ones, and one error per broken file.

    A broken file never hides the others. When two files claim the same ``source_id`` the first (by file name)
    keeps it and the second is reported, naming the first.
    """
    directory = Path(directory) if directory else sources_dir()
    configs: list[SourceConfig] = []
    errors: list[ConfigError] = []
    for path in sorted(directory.glob("*.y*ml")):
        try:
            configs.append(load_source(path))
        except ConfigError as exc:
            errors.append(exc)
    seen: dict[str, SourceConfig] = {}
    unique: list[SourceConfig] = []
    for config in configs:
        if config.source_id in seen:
            errors.append(
                ConfigError(
                    config.path,
                    "source_id",
                    f"{config.source_id!r} is already used by {seen[config.source_id].path}",
                    None,
                    config.link.primary if config.link else None,
                )
            )
            continue
        seen[config.source_id] = config
        unique.append(config)
    linked_errors = _check_links(unique)
    errors.extend(linked_errors)
    bad = {e.source_id for e in linked_errors}
    valid = [c for c in unique if c.source_id not in bad]
    for error in errors:
        _name_held_primaries(error, valid)
    return valid, errors


def _name_held_primaries(error: ConfigError, configs: list[SourceConfig]) -> None:
    """Say in ``error`` which primary sources it holds back, naming their files, so the failing task in the
    primary's DAG and ``check-config`` both point from one file to the other."""
    held = [c for c in configs if c.link is None and error.holds_back(c.source_id)]
    if not held:
        return
    files = ", ".join(f"{c.source_id!r} ({c.path})" for c in held)
    if error.holds_every_primary:
        error.problem += (
            f"; which primary source this file is linked to cannot be told, so every primary source holds its"
            f" products back until it is fixed or removed: {files}"
        )
    else:
        error.problem += (
            f"; this config is linked to primary source {files}, whose products are held back until it is fixed"
        )


def _check_links(configs: list[SourceConfig]) -> list[ConfigError]:
    """A linked source must point at a primary source; no field may have two linked owners."""
    by_id = {c.source_id: c for c in configs}
    errors = []
    owners: dict[str, list[tuple[str, str]]] = {}  # primary -> [(owned name or pattern, linked source)]
    for config in configs:
        if config.link is None:
            continue
        primary = by_id.get(config.link.primary)
        if primary is None:
            errors.append(
                ConfigError(
                    config.path,
                    "link.primary",
                    f"no primary source {config.link.primary!r} is configured",
                    config.source_id,
                )
            )
            continue
        if primary.link is not None:
            errors.append(
                ConfigError(
                    config.path,
                    "link.primary",
                    f"{primary.source_id!r} is itself a linked source; link to a primary source",
                    config.source_id,
                )
            )
            continue
        taken = owners.setdefault(primary.source_id, [])
        for name in config.link.owns:
            clash = next(((theirs, other) for theirs, other in taken if _overlap(name, theirs)), None)
            if clash is None:
                continue
            theirs, other = clash
            errors.append(
                ConfigError(
                    config.path,
                    "link.owns",
                    f"{name!r} overlaps {theirs!r}, already owned by linked source {other!r}: each field has one owner",
                    config.source_id,
                    primary.source_id,
                )
            )
            break
        else:
            taken += [(name, config.source_id) for name in config.link.owns]
    return errors


def _overlap(one: str, other: str) -> bool:
    """Whether two owned names or patterns (``meta_*``) can name the same field."""

    def covers(pattern: str, name: str) -> bool:
        return pattern.endswith("*") and name.startswith(pattern[:-1])

    return one == other or covers(one, other) or covers(other, one)


def linked_sources(configs: list[SourceConfig], primary: SourceConfig) -> list[SourceConfig]:
    """The linked sources of ``primary``, in a stable order."""
    return sorted(
        (c for c in configs if c.link is not None and c.link.primary == primary.source_id), key=lambda c: c.source_id
    )
