"""Bulk import and export of CIs: CSV or JSON, upserted by class + name or by external id.

The columns (CSV header or JSON keys) are ``CSV_COLUMNS``, plus ``attributes`` (a JSON object: the
CI's whole attribute set) and one ``attr:<name>`` column per attribute (its value as text, coerced
to the attribute's type by ``cmdb.schema.coerce``; in JSON the native value). Rules:

- ``key="name"``: ``class`` (slug or name) and ``name`` find the CI; ``key="external_id"``:
  ``external_id`` finds it, and ``class`` and ``name`` are needed only to create one.
- A column that is absent leaves the field as it is; a column that is present but empty clears
  it (``ip_addresses``, ``tags``, ``owner_team``, dates, text, an ``attr:`` value). Fields that
  can't be empty (``class``, ``name``, ``status``, ``environment``, ``criticality``) are then left
  as they are, or take their default on a new CI.
- ``ip_addresses`` and ``tags`` are separated by commas, semicolons or spaces in CSV; lists in JSON.
- Every row is validated as a whole (``CI.full_clean``: field checks, the class's attribute
  schema, the uniqueness rules) and saved through ``cmdb.services.save_imported_ci``.
- The import is all or nothing: one transaction, a savepoint per row so that every row is still
  checked and reported, and a rollback of everything on a dry run or when any row is bad.
- Per import, not per row: the classes, their attribute schemas (pinned for the import), teams
  and the tags the rows name (one query) are looked up once (``Lookups``).

``export_rows`` writes the same columns, so an export can be edited and imported back.
"""

import contextlib
import csv
import datetime
import io
import json
import re
from dataclasses import dataclass, field

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from cmdb.choices import Criticality, Environment, Status
from cmdb.models import CI, AttributeDefinition, CIClass, Tag, normalise_ip_addresses, validate_identifier
from cmdb.schema import coerce

CSV_COLUMNS = [
    "class",
    "name",
    "external_id",
    "status",
    "environment",
    "criticality",
    "owner_team",
    "location",
    "fqdn",
    "ip_addresses",
    *CI.ASSET_FIELDS,
    "description",
    "tags",
]
ATTRIBUTES_COLUMN = "attributes"
ATTR_PREFIX = "attr:"
COLUMN_ALIASES = {"ci_class": "class", "tag": "tags", "ip_address": "ip_addresses"}
KEYS = ("name", "external_id")
FORMATS = ("csv", "json")
MAX_ROWS = 10_000

TEXT_FIELDS = (
    "name",
    "external_id",
    "location",
    "fqdn",
    "serial_number",
    "asset_tag",
    "manufacturer",
    "model",
    "operating_system",
    "description",
)
DATE_FIELDS = ("install_date", "warranty_end", "end_of_life")
# Model field → column, for the errors ``full_clean`` reports.
COLUMN_OF_FIELD = {"ci_class": "class", NON_FIELD_ERRORS: "non_field_errors"}
FIELD_OF_COLUMN = {"class": "ci_class"}
LIST_SPLIT = re.compile(r"[\s,;]+")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Row(dict):
    """One input row: column → value, and the CSV ``line`` it started on (None for JSON)."""

    line = None


# --- reports ----------------------------------------------------------------------------------


@dataclass
class RowReport:
    row: int  # 1-based number of the data row (or host) in the input
    line: int | None = None  # CSV line the row starts on
    action: str = "error"  # create | update | unchanged | error
    ci: CI | None = None
    name: str = ""
    errors: dict = field(default_factory=dict)  # column → [messages]
    changed: list = field(default_factory=list)  # the fields an update changes

    def add_error(self, column, message):
        messages = self.errors.setdefault(column, [])
        for text in message if isinstance(message, (list, tuple)) else [message]:
            if text not in messages:
                messages.append(text)

    def as_dict(self):
        ci = self.ci
        return {
            "row": self.row,
            "line": self.line,
            "action": self.action,
            "id": ci.pk if ci is not None else None,
            "name": self.name,
            "ci_class": ci.ci_class.slug if ci is not None and ci.ci_class_id is not None else None,
            "changed": list(self.changed),
            "errors": {column: list(messages) for column, messages in self.errors.items()},
        }


@dataclass
class ImportReport:
    dry_run: bool
    key: str
    rows: list = field(default_factory=list)

    def _count(self, action):
        return sum(1 for row in self.rows if row.action == action)

    @property
    def created(self):
        return self._count("create")

    @property
    def updated(self):
        return self._count("update")

    @property
    def unchanged(self):
        return self._count("unchanged")

    @property
    def errors(self):
        return self._count("error")

    @property
    def ok(self):
        return self.errors == 0

    @property
    def committed(self):
        return self.ok and not self.dry_run

    def error_list(self):
        """Every error as ``{"row", "line", "field", "message"}``, in row order."""
        return [
            {"row": row.row, "line": row.line, "field": column, "message": message}
            for row in self.rows
            for column, messages in row.errors.items()
            for message in messages
        ]

    def as_dict(self):
        return {
            "dry_run": self.dry_run,
            "key": self.key,
            "ok": self.ok,
            "committed": self.committed,
            "summary": {
                "rows": len(self.rows),
                "created": self.created,
                "updated": self.updated,
                "unchanged": self.unchanged,
                "errors": self.errors,
            },
            "rows": [row.as_dict() for row in self.rows],
            "errors": self.error_list(),
        }


# --- parsing ----------------------------------------------------------------------------------


def parse(content, format, key=None):
    """The rows of a CSV or JSON import file (``content``: str or bytes, UTF-8, BOM tolerated).

    Raises ``ValidationError({"file": [...]})`` when the file can't be read: not UTF-8, bad JSON,
    an unknown or duplicated column, a row with more or fewer cells than the header, a missing
    required column (``key`` given: that key's columns; otherwise ``name`` or ``external_id``), no
    rows, or more than ``MAX_ROWS`` rows."""
    if format not in FORMATS:
        raise ValidationError({"format": [f"Unknown format “{format}”: use csv or json."]})
    text = _decode(content)
    rows = _parse_csv(text) if format == "csv" else _parse_json(text)
    if not rows:
        raise ValidationError({"file": ["The file has no rows to import."]})
    if len(rows) > MAX_ROWS:
        raise ValidationError(
            {"file": [f"The file has {len(rows):,} rows; at most {MAX_ROWS:,} can be imported at once."]}
        )
    check_columns(rows, key)
    return rows


def check_columns(rows, key=None):
    """A file-level ``ValidationError`` when no row has a column the ``key`` needs."""
    columns = set().union(*(row.keys() for row in rows)) if rows else set()
    if key is None and "external_id" in columns:
        return
    if key in ("name", None):
        needed = ["class", "name"]
    elif key == "external_id":
        needed = ["external_id"]
    else:
        raise ValidationError({"key": [f"Unknown key “{key}”: use name or external_id."]})
    for column in needed:
        if column not in columns:
            how = "class and name identify a CI" if column != "external_id" else "the key is external_id"
            raise ValidationError({"file": [f"Missing column “{column}” ({how})."]})


def _decode(content):
    if isinstance(content, (bytes, bytearray, memoryview)):
        try:
            content = bytes(content).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError(
                {"file": [f"The file is not UTF-8 text (byte {exc.start + 1} can't be read); save it as UTF-8."]}
            ) from None
    if not isinstance(content, str):
        raise ValidationError({"file": ["Expected the file's text."]})
    return content.removeprefix("\ufeff")


def _column_name(raw):
    """The canonical name of a header cell or JSON key, or None when it isn't a known column."""
    name = str(raw).strip()
    if name[: len(ATTR_PREFIX)].lower() == ATTR_PREFIX:
        attribute = name[len(ATTR_PREFIX) :].strip()
        try:
            validate_identifier(attribute)
        except ValidationError:
            return None
        return ATTR_PREFIX + attribute
    name = name.lower()
    name = COLUMN_ALIASES.get(name, name)
    return name if name in CSV_COLUMNS or name == ATTRIBUTES_COLUMN else None


def _known_columns_hint():
    return f"known columns: {', '.join(CSV_COLUMNS)}, {ATTRIBUTES_COLUMN}, attr:<attribute name>"


def _parse_csv(text):
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    # Comma by default; a header with more semicolons or tabs than commas (spreadsheets in some
    # locales save CSV with ";") sets the delimiter instead.
    delimiter = max((",", ";", "\t"), key=lambda d: (first_line.count(d), d == ","))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows, header, previous_line = [], None, 0
    try:
        for cells in reader:
            start, previous_line = previous_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = _csv_header(cells)
                continue
            if len(cells) != len(header):
                raise ValidationError(
                    {
                        "file": [
                            f"Line {start} has {len(cells)} values but the header has {len(header)} columns "
                            "(quote values that contain the delimiter)."
                        ]
                    }
                )
            row = Row()
            row.line = start
            for name, cell in zip(header, cells, strict=True):
                if name is None:
                    if cell.strip():
                        raise ValidationError({"file": [f"Line {start} has a value in a column with no name."]})
                    continue
                row[name] = _unquote_formula(cell.strip())
            rows.append(row)
            if len(rows) > MAX_ROWS:
                break
    except csv.Error as exc:
        raise ValidationError({"file": [f"Line {reader.line_num}: the CSV can't be read ({exc})."]}) from None
    if header is None:
        raise ValidationError({"file": ["The file is empty: expected a header line with the column names."]})
    return rows


def _csv_header(cells):
    header, seen = [], set()
    for position, cell in enumerate(cells, start=1):
        if not cell.strip():
            header.append(None)
            continue
        name = _column_name(cell)
        if name is None:
            raise ValidationError(
                {"file": [f"Unknown column “{cell.strip()}” (column {position}); {_known_columns_hint()}."]}
            )
        if name in seen:
            raise ValidationError({"file": [f"Column “{name}” appears twice in the header."]})
        seen.add(name)
        header.append(name)
    return header


def _unquote_formula(text):
    """Undo the quote that ``export_rows`` puts before a value a spreadsheet would run as a formula."""
    return text[1:] if text[:1] == "'" and text[1:2] in FORMULA_STARTS and text[1:2] else text


def _parse_json(text):
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            {"file": [f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."]}
        ) from None
    if isinstance(data, dict) and "rows" in data:
        data = data["rows"]
    if not isinstance(data, list):
        raise ValidationError({"file": ['Expected a list of objects, or {"rows": [...]}.']})
    rows = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise ValidationError({"file": [f"Row {number} is not an object (got {type(item).__name__})."]})
        row = Row()
        for raw, value in item.items():
            name = _column_name(raw)
            if name is None:
                raise ValidationError({"file": [f"Row {number}: unknown column “{raw}”; {_known_columns_hint()}."]})
            if name in row:
                raise ValidationError({"file": [f"Row {number}: column “{name}” is given twice."]})
            row[name] = value
        rows.append(row)
        if len(rows) > MAX_ROWS:
            break
    return rows


# --- running an import ------------------------------------------------------------------------


def run(entries, handle, *, key, dry_run):
    """Run ``handle(entry, row_report)`` for each ``(row_report, entry)`` in one transaction, each
    in its own savepoint (rolled back when the row has errors). Everything is rolled back on a dry
    run or when any row failed. Shared by the CI import and the host facts import."""
    report = ImportReport(dry_run=dry_run, key=key)
    with transaction.atomic():
        for row_report, entry in entries:
            try:
                with transaction.atomic():
                    handle(entry, row_report)
                    if row_report.errors:
                        row_report.action = "error"
                        transaction.set_rollback(True)
            except ValidationError as exc:  # raised while saving (e.g. by a service's own checks)
                row_report.action = "error"
                for model_field, messages in _error_dict(exc).items():
                    row_report.add_error(COLUMN_OF_FIELD.get(model_field, model_field), messages)
            except IntegrityError:
                # A uniqueness rule was broken between validation and the write (another writer).
                row_report.action = "error"
                row_report.add_error("non_field_errors", "The row conflicts with data written meanwhile; try again.")
            report.rows.append(row_report)
        if dry_run or not report.ok:
            transaction.set_rollback(True)
    if dry_run or not report.ok:
        for row_report in report.rows:
            if row_report.action == "create" and row_report.ci is not None:
                row_report.ci.pk = None  # it was never kept: don't offer a link to it
    return report


def _error_dict(exc):
    return exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}


def snapshot(ci):
    """The CI's stored fields (by field name), to tell an update from an unchanged row."""
    return {
        f.name: getattr(ci, f.attname)
        for f in CI._meta.concrete_fields
        if f.name not in ("id", "created_at", "updated_at")
    }


def finish(ci, row_report, before=None, tags=None, tags_before=None, lookups=None):
    """Validate and save ``ci`` (already carrying the row's values) through
    ``services.save_imported_ci``, unless the row has errors (then only validated, to report every
    problem) or changes nothing (then neither: its values are the stored ones). ``tags`` (names),
    if given, replace its tags.

    The validation runs once per row: with the save and its audit it is most of an import's cost
    (about 15 queries for a new CI with tags)."""
    from cmdb.services import save_imported_ci

    if row_report.errors:
        exclude = [FIELD_OF_COLUMN.get(column, column) for column in row_report.errors]
        try:
            ci.full_clean(exclude=exclude)
        except ValidationError as exc:
            _add_model_errors(row_report, exc)
        row_report.action = "error"
        return
    tags_changed = tags is not None and _folded(tags) != _folded(tags_before or ())
    if before is not None:
        _normalise(ci)
        if not tags_changed and snapshot(ci) == before:
            row_report.action = "unchanged"
            return
    new_tags = tags if tags_changed or (before is None and tags) else None
    try:
        save_imported_ci(ci, tags=new_tags, find_tags=lookups.tags if lookups is not None else None)
    except ValidationError as exc:
        _add_model_errors(row_report, exc)
        row_report.action = "error"
        return
    if before is None:
        row_report.action = "create"
        return
    after = snapshot(ci)
    row_report.changed = [COLUMN_OF_FIELD.get(name, name) for name in after if after[name] != before[name]]
    if tags_changed:
        row_report.changed.append("tags")
    # Values that differed only in form (an FQDN's case) were saved without a change to audit.
    row_report.action = "update" if row_report.changed else "unchanged"


def _add_model_errors(row_report, exc):
    for model_field, messages in _error_dict(exc).items():
        row_report.add_error(COLUMN_OF_FIELD.get(model_field, model_field), messages)


def _folded(names):
    return {name.lower() for name in names}


def _normalise(ci):
    """What ``CI.clean`` does to addresses, cheaply, so that a row equal to the stored CI is seen
    to be unchanged without a full validation."""
    ci.fqdn = (ci.fqdn or "").strip().rstrip(".").lower()
    with contextlib.suppress(ValidationError):  # a bad address is reported by the save's validation
        ci.ip_addresses = normalise_ip_addresses(ci.ip_addresses)


class Lookups:
    """Per-import caches: classes by slug and name (one instance per class, its schema pinned:
    ``CIClass.pin_schema``), teams by name, each class's schema, tags by name.

    Filled inside the import's transaction, and used only by it."""

    def __init__(self):
        self._classes = None
        self._classes_by_id = {}
        self._teams = {}
        self._schemas = {}
        self._tags = {}  # services.tag_key(name) → Tag
        self._expected_tags = set()
        self._new_tags = []  # the names whose tags the current row created

    def _load_classes(self):
        if self._classes is None:
            self._classes = {}
            for ci_class in CIClass.objects.all():
                self._classes.setdefault(ci_class.name.lower(), ci_class)
                self._classes[ci_class.slug.lower()] = ci_class
                self._classes_by_id[ci_class.pk] = ci_class

    def _pinned(self, ci_class):
        if ci_class is not None and "_pinned_schema" not in ci_class.__dict__:
            ci_class.pin_schema()
        return ci_class

    def ci_class(self, value):
        self._load_classes()
        return self._pinned(self._classes.get(str(value).strip().lower()))

    def share_class(self, ci):
        """Give ``ci`` (found in the database, its class loaded with it) this import's instance of
        its class, whose schema is read once, rather than once per row by ``CI.clean``."""
        self._load_classes()
        ci_class = self._classes_by_id.get(ci.ci_class_id)
        if ci_class is not None:
            ci.ci_class = self._pinned(ci_class)

    def team(self, name):
        from accounts.models import Team

        folded = name.strip().lower()
        if folded not in self._teams:
            self._teams[folded] = Team.objects.filter(name__iexact=name.strip()).first()
        return self._teams[folded]

    def expect_tags(self, names):
        """The tag names the import's rows give: the first ``tags`` call looks them all up at once."""
        self._expected_tags.update(names)

    def tags(self, names):
        """The ``Tag`` of each name, created when missing (by ``services.tags_named``, inside the
        row's savepoint: a row rolled back takes its new tags along, see ``row_done``)."""
        from cmdb.services import existing_tags, tag_key, tags_named

        if self._expected_tags:
            self._tags.update(existing_tags(self._expected_tags))
            self._expected_tags = set()
        missing = [name for name in names if tag_key(name) not in self._tags]
        for name, tag in zip(missing, tags_named(missing), strict=True):
            self._tags[tag_key(name)] = tag
            self._new_tags.append(tag_key(name))
        return [self._tags[tag_key(name)] for name in names]

    def row_done(self, failed):
        """After each row: a row rolled back took the tags it created with it; forget them."""
        if failed:
            for name in self._new_tags:
                self._tags.pop(name, None)
        self._new_tags = []

    def schema(self, ci_class):
        if ci_class.pk not in self._schemas:
            self._load_classes()
            shared = self._classes_by_id.get(ci_class.pk, ci_class)
            self._schemas[ci_class.pk] = {d.name: d for d in self._pinned(shared).effective_attributes()}
        return self._schemas[ci_class.pk]


def _blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value):
    """A text cell or JSON value as a stripped string ("" for null), or ValueError."""
    if value is None:
        return ""
    if isinstance(value, (bool, list, dict)):
        raise ValueError(f"expected text, got {json.dumps(value)[:60]}")
    return str(value).strip()


def _choice(value, choices, label):
    folded = str(value).strip().lower()
    for stored, shown in choices:
        if folded in (str(stored).lower(), str(shown).lower()):
            return stored
    raise ValueError(f"“{value}” is not a valid {label}; use one of: {', '.join(str(c[0]) for c in choices)}.")


def _criticality(value):
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    folded = str(value).strip().lower()
    for stored, shown in Criticality.choices:
        if folded in (str(stored), shown.lower(), shown.split("–")[-1].strip().lower()):
            return stored
    raise ValueError(f"“{value}” is not a criticality; use 1 (critical), 2 (high), 3 (medium) or 4 (low).")


def _date(value):
    if isinstance(value, datetime.date):
        return value
    text = _text(value)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(f"enter a date as YYYY-MM-DD (got “{text}”).")
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"“{text}” is not a valid date.") from None


def _list(value, what):
    """A CSV cell (separated by commas, semicolons or spaces) or a JSON list, as a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in LIST_SPLIT.split(value.strip()) if part]
    if isinstance(value, list) and all(
        isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in value
    ):
        return [str(item).strip() for item in value if str(item).strip()]
    raise ValueError(f"expected a list of {what}.")


def _tag_errors(names):
    name_field = Tag._meta.get_field("name")
    errors = []
    for name in names:
        if len(name) > name_field.max_length:
            errors.append(f"“{name[:20]}…” is longer than {name_field.max_length} characters.")
            continue
        try:
            name_field.run_validators(name)
        except ValidationError:
            errors.append(f"“{name}” is not a valid tag name (letters, digits, _ . : - only).")
    return errors


class CIRowImporter:
    """Applies one import row to a new or existing CI (the ``handle`` given to ``run``)."""

    def __init__(self, key):
        self.key = key
        self.lookups = Lookups()
        self.seen = {}  # the row's key → the row number that had it first

    def __call__(self, row, report):
        failed = True
        try:
            self._import(row, report)
            failed = bool(report.errors)
        finally:
            self.lookups.row_done(failed)

    def expect(self, rows):
        """Tell the lookups the tag names of all the rows, to find them in one query."""
        for row in rows:
            if "tags" in row:
                with contextlib.suppress(ValueError):
                    names = _list(row["tags"], "tag names")
                    if not _tag_errors(names):
                        self.lookups.expect_tags(names)

    def _import(self, row, report):
        ci_class = self._class(row, report)
        name = self._text_of(row, "name", report)
        report.name = name or ""
        ci, key_column, key_value = self._locate(row, report, ci_class, name)
        if key_value is None and self.key == "external_id":
            return  # no key: nothing to find or create
        if key_value is not None:
            first = self.seen.setdefault(key_value, report.row)
            if first != report.row:
                report.add_error(key_column, f"Duplicate of row {first}: the same CI can't appear twice in one import.")
                return
        before = None
        tags_before = None
        if ci is None:
            ci = CI(ci_class=ci_class, name=name)
        else:
            before = snapshot(ci)
            tags_before = [tag.name for tag in ci.tags.all()]
            report.name = report.name or ci.name
            if ci_class is not None:
                ci.ci_class = ci_class
            else:
                self.lookups.share_class(ci)
            if name:
                ci.name = name
        report.ci = ci
        self._apply(row, ci, report)
        tags = self._tags(row, report)
        finish(ci, report, before, tags, tags_before, self.lookups)

    # --- locating the CI --------------------------------------------------------------------

    def _class(self, row, report):
        value = row.get("class")
        if _blank(value):
            return None
        if not isinstance(value, str):
            report.add_error("class", "Expected the class's slug or name.")
            return None
        ci_class = self.lookups.ci_class(value)
        if ci_class is None:
            report.add_error("class", f"Unknown class “{value.strip()}” (use a class's slug or name).")
        return ci_class

    def _text_of(self, row, column, report):
        try:
            return _text(row.get(column))
        except ValueError as exc:
            report.add_error(column, f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
            return ""

    def _locate(self, row, report, ci_class, name):
        """``(existing CI or None, key column, key value)``; errors for a missing key."""
        queryset = CI.objects.select_related("ci_class", "owner_team").select_for_update(of=("self",))
        if self.key == "external_id":
            external_id = self._text_of(row, "external_id", report)
            if not external_id:
                report.add_error("external_id", "Required: the import's key is external_id.")
                return None, "external_id", None
            ci = queryset.filter(external_id=external_id).first()
            if ci is None:
                for column, value in (("class", ci_class), ("name", name)):
                    if value in (None, "") and column not in report.errors:
                        report.add_error(column, f"Required to create a CI: no CI has the external id “{external_id}”.")
            return ci, "external_id", ("external_id", external_id)
        for column, value in (("class", ci_class), ("name", name)):
            if value in (None, "") and column not in report.errors:
                report.add_error(column, "Required: the import's key is class + name.")
        if ci_class is None or not name:
            return None, "name", None
        ci = queryset.filter(ci_class=ci_class, name__iexact=name).first()
        return ci, "name", ("name", ci_class.pk, name.lower())

    # --- applying the values ----------------------------------------------------------------

    def _apply(self, row, ci, report):
        for column in TEXT_FIELDS:
            if column in row and column != "name":
                value = self._text_of(row, column, report)
                if column not in report.errors:
                    setattr(ci, column, value)
        for column, choices, label in (
            ("status", Status.choices, "status"),
            ("environment", Environment.choices, "environment"),
        ):
            if not _blank(row.get(column)):
                try:
                    setattr(ci, column, _choice(row[column], choices, label))
                except ValueError as exc:
                    report.add_error(column, str(exc))
        if not _blank(row.get("criticality")):
            try:
                ci.criticality = _criticality(row["criticality"])
            except ValueError as exc:
                report.add_error("criticality", str(exc))
        if "owner_team" in row:
            value = row["owner_team"]
            if _blank(value):
                ci.owner_team = None
            elif not isinstance(value, str):
                report.add_error("owner_team", "Expected a team's name.")
            else:
                team = self.lookups.team(value)
                if team is None:
                    report.add_error("owner_team", f"No team is named “{value.strip()}”.")
                else:
                    ci.owner_team = team
        for column in DATE_FIELDS:
            if column in row:
                try:
                    setattr(ci, column, None if _blank(row[column]) else _date(row[column]))
                except ValueError as exc:
                    report.add_error(column, f"{str(exc)[:1].upper()}{str(exc)[1:]}")
        if "ip_addresses" in row:
            try:
                ci.ip_addresses = _list(row["ip_addresses"], "IP addresses")
            except ValueError as exc:
                report.add_error("ip_addresses", f"Expected a list of IP addresses ({exc}).")
        self._apply_attributes(row, ci, report)

    def _apply_attributes(self, row, ci, report):
        if ATTRIBUTES_COLUMN in row:
            value = row[ATTRIBUTES_COLUMN]
            if isinstance(value, str):
                try:
                    value = json.loads(value) if value.strip() else {}
                except json.JSONDecodeError as exc:
                    report.add_error(ATTRIBUTES_COLUMN, f"Not valid JSON: {exc.msg} (column {exc.colno}).")
                    value = None
            if value is None:
                value = {} if ATTRIBUTES_COLUMN not in report.errors else None
            if value is not None:
                if isinstance(value, dict):
                    ci.attributes = dict(value)
                else:
                    report.add_error(ATTRIBUTES_COLUMN, 'Expected a JSON object, e.g. {"cpu_count": 4}.')
        columns = [column for column in row if column.startswith(ATTR_PREFIX)]
        if not columns:
            return
        schema = self.lookups.schema(ci.ci_class) if ci.ci_class_id is not None else None
        attributes = dict(ci.attributes or {})
        for column in columns:
            name, value = column[len(ATTR_PREFIX) :], row[column]
            if _blank(value):
                attributes.pop(name, None)
                continue
            if schema is None:
                continue  # the class is missing or unknown: reported on "class"
            definition = schema.get(name)
            if definition is None:
                known = ", ".join(sorted(schema)) or "none"
                report.add_error(
                    column, f"“{name}” is not an attribute of class “{ci.ci_class}” (its attributes: {known})."
                )
                continue
            try:
                attributes[name] = coerce(definition, value)
            except ValueError as exc:
                report.add_error(column, f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
        ci.attributes = attributes

    def _tags(self, row, report):
        if "tags" not in row:
            return None
        try:
            names = _list(row["tags"], "tag names")
        except ValueError as exc:
            report.add_error("tags", f"Expected a list of tag names ({exc}).")
            return None
        problems = _tag_errors(names)
        if problems:
            report.add_error("tags", problems)
            return None
        unique = []
        for name in names:
            if name.lower() not in {n.lower() for n in unique}:
                unique.append(name)
        return unique


def import_rows(rows, key="name", dry_run=False):
    """Upsert CIs from parsed rows (see the module docstring); returns an ``ImportReport``."""
    if key not in KEYS:
        raise ValidationError({"key": [f"Unknown key “{key}”: use name or external_id."]})
    rows = list(rows)
    if len(rows) > MAX_ROWS:
        raise ValidationError({"file": [f"{len(rows):,} rows; at most {MAX_ROWS:,} can be imported at once."]})
    normalised = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise ValidationError({"file": [f"Row {number} is not an object."]})
        clean = Row()
        clean.line = getattr(row, "line", None)
        for raw, value in row.items():
            name = _column_name(raw)
            if name is None:
                raise ValidationError({"file": [f"Row {number}: unknown column “{raw}”; {_known_columns_hint()}."]})
            clean[name] = value
        normalised.append(clean)
    check_columns(normalised, key)
    importer = CIRowImporter(key)
    importer.expect(normalised)
    entries = ((RowReport(row=number, line=row.line), row) for number, row in enumerate(normalised, start=1))
    return run(entries, importer, key=key, dry_run=dry_run)


# --- export -----------------------------------------------------------------------------------


def attribute_columns(queryset):
    """The ``attr:<name>`` columns for the classes the queryset's CIs belong to (three queries)."""
    class_ids = set(queryset.order_by().values_list("ci_class_id", flat=True).distinct())
    parents = CIClass.objects.parents_by_id()
    wanted = set()
    for pk in class_ids:
        while pk is not None and pk not in wanted:
            wanted.add(pk)
            pk = parents.get(pk)
    names = AttributeDefinition.objects.filter(ci_class_id__in=wanted).values_list("name", flat=True)
    return [ATTR_PREFIX + name for name in sorted(set(names))]


def export_rows(queryset):
    """The header, then one row per CI of ``queryset`` in the import format (values as text,
    spreadsheet formulas neutralised the way the import undoes). A bounded number of queries:
    the columns, then the CIs and their tags a chunk at a time."""
    attr_columns = attribute_columns(queryset)
    yield CSV_COLUMNS + attr_columns
    queryset = queryset.select_related("ci_class", "owner_team").prefetch_related("tags")
    for ci in queryset.iterator(chunk_size=2000):
        values = {
            "class": ci.ci_class.slug,
            "criticality": ci.criticality,
            "owner_team": ci.owner_team.name if ci.owner_team_id else "",
            "ip_addresses": ", ".join(ci.ip_addresses or []),
            "tags": ", ".join(sorted((tag.name for tag in ci.tags.all()), key=str.lower)),
            "status": ci.status,
            "environment": ci.environment,
        }
        for column in DATE_FIELDS:
            value = getattr(ci, column)
            values[column] = value.isoformat() if value else ""
        for column in TEXT_FIELDS:
            values[column] = getattr(ci, column)
        attributes = ci.attributes or {}
        for column in attr_columns:
            values[column] = _attribute_text(attributes.get(column[len(ATTR_PREFIX) :]))
        yield [_spreadsheet_safe(values[column]) for column in CSV_COLUMNS + attr_columns]


def _attribute_text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _spreadsheet_safe(value):
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in FORMULA_STARTS and text[:1] else text


class _Echo:
    def write(self, value):
        return value


def export_csv_lines(queryset):
    """``export_rows`` as CSV text, a line at a time (for a streaming response)."""
    writer = csv.writer(_Echo())
    for row in export_rows(queryset):
        yield writer.writerow(row)
