"""Vendors, their contacts, contracts (with their terms and covered CIs) and contract documents.

Only managers write here (``itom.roles.is_manager``; anyone else: ``PermissionDenied``, a 403).
Each function runs in one transaction with the rows it changes locked and re-read. Bad input →
``ValidationError({field: reason})`` (a 400); a delete that would orphan escalations or contracts
→ ``Conflict`` (a 409). Nothing is written when one is raised; every write is audited
(``ChangeLoggedModel``).

A contract's fields (``CONTRACT_FIELDS``): ``covered_cis`` (CIs or ids) replaces the set, and
``terms`` — ``[{"priority", "response_minutes", "resolution_minutes"}]`` — replaces the terms
(one per priority). ``currency`` is an ISO 4217 code, stored upper-case.
"""

import decimal

import pycountry
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cmdb.models import CI
from incidents.choices import Priority
from itom.api.exceptions import Conflict
from itom.locks import lock_row
from itom.roles import is_manager
from itom.validation import pk_of, refuse_unknown_fields
from slas.models import BusinessCalendar
from vendors.models import Contract, ContractDocument, ContractTerm, Vendor, VendorCategory, VendorContact

VENDOR_FIELDS = (
    "name",
    "status",
    "categories",
    "website",
    "support_portal",
    "support_phone",
    "support_email",
    "account_manager",
    "notes",
)
CONTACT_FIELDS = ("name", "role", "email", "phone", "escalation_level")
CONTRACT_FIELDS = (
    "title",
    "type",
    "start_date",
    "end_date",
    "auto_renew",
    "renewal_months",
    "notice_days",
    "cost_amount",
    "currency",
    "billing_period",
    "owner",
    "covered_cis",
    "support_calendar",
    "notes",
    "terms",
)
# Set after the row is saved (many-to-many, child rows), or resolved to a foreign key.
_CONTRACT_RELATED = ("owner", "covered_cis", "support_calendar", "terms")
TERM_KEYS = {"priority", "response_minutes", "resolution_minutes"}
STAYS_WITH_VENDOR = "{what} stays with its vendor."


def _require_manager(user, what):
    if user is None or not is_manager(user):
        raise PermissionDenied(f"Only managers may {what}.")


def _one(model, value, name, label, **filters):
    """An instance of ``model`` from an instance or an id (None stays None); a ValidationError
    naming ``name`` otherwise."""
    if value in (None, ""):
        return None
    pk = pk_of(value)
    found = model._default_manager.filter(pk=pk, **filters).first() if pk is not None else None
    if found is None:
        raise ValidationError({name: f"Unknown {label}: {value}."})
    return found


def _ids(model, values, name, label):
    """Primary keys of ``model`` from instances or ids; unknown ones are refused, naming them."""
    if values is None:
        return []
    if isinstance(values, (str, int)) or hasattr(values, "pk"):
        values = [values]
    try:
        values = list(values)
    except TypeError:
        raise ValidationError({name: f"Give {label} (or their ids)."}) from None
    ids, bad = [], []
    for value in values:
        pk = pk_of(value)
        if pk is None:
            bad.append(str(value))
        elif pk not in ids:
            ids.append(pk)
    found = set(model._default_manager.filter(pk__in=ids).values_list("pk", flat=True))
    bad += [str(pk) for pk in ids if pk not in found]
    if bad:
        raise ValidationError({name: f"Unknown {label}: {', '.join(bad)}."})
    return ids


def _assign_plain(obj, fields):
    """Set plain fields on ``obj``, each converted by its model field; the conversion errors of
    all of them at once, per field."""
    errors = {}
    for name, value in fields.items():
        field = obj._meta.get_field(name)
        if isinstance(value, str):
            value = value.strip()
        if value is None and not field.null and field.empty_strings_allowed:
            value = ""
        try:
            value = field.to_python(value)
        except ValidationError as exc:
            errors[name] = exc.messages
            continue
        setattr(obj, name, value)
    if errors:
        raise ValidationError(errors)


def _full_clean(obj, exclude=()):
    """``full_clean`` with the check constraints left to ``clean()`` (which names the field)."""
    obj.full_clean(exclude=list(exclude), validate_constraints=False)


# --- vendors ------------------------------------------------------------------------------------


def _category_ids(values):
    """Category ids from categories, ids or slugs."""
    if values is None:
        return []
    if isinstance(values, (str, int)) or hasattr(values, "pk"):
        values = [values]
    ids, bad = [], []
    for value in values:
        pk = pk_of(value)
        if pk is None:
            found = VendorCategory.objects.filter(slug=str(value).strip()).values_list("pk", flat=True).first()
        else:
            found = VendorCategory.objects.filter(pk=pk).values_list("pk", flat=True).first()
        if found is None:
            bad.append(str(value))
        elif found not in ids:
            ids.append(found)
    if bad:
        raise ValidationError({"categories": f"Unknown categories: {', '.join(bad)}."})
    return ids


def _name_taken(vendor):
    return ValidationError({"name": f"A vendor named “{vendor.name}” exists already."})


def _save_vendor(vendor, fields):
    categories = fields.pop("categories", None)
    _assign_plain(vendor, fields)
    category_ids = _category_ids(categories) if categories is not None else None
    try:
        _full_clean(vendor)
    except ValidationError as exc:
        if "name" in getattr(exc, "error_dict", {}) and Vendor.objects.filter(name=vendor.name).exclude(pk=vendor.pk):
            errors = dict(exc.error_dict)
            errors["name"] = _name_taken(vendor).error_dict["name"]
            raise ValidationError(errors) from None
        raise
    try:
        with transaction.atomic():
            vendor.save()
    except IntegrityError:  # the same name written by someone else at the same moment
        raise _name_taken(vendor) from None
    if category_ids is not None:
        vendor.categories.set(category_ids)
    return vendor


@transaction.atomic
def create_vendor(*, user, name, **fields):
    """A new vendor (``VENDOR_FIELDS``; ``categories`` as categories, ids or slugs)."""
    _require_manager(user, "add vendors")
    refuse_unknown_fields(fields, VENDOR_FIELDS, "a vendor")
    return _save_vendor(Vendor(), {"name": name, **fields})


@transaction.atomic
def update_vendor(vendor, *, user, **fields):
    """Edit a vendor (``VENDOR_FIELDS``; ``categories`` replaces the set)."""
    _require_manager(user, "edit vendors")
    refuse_unknown_fields(fields, VENDOR_FIELDS, "a vendor")
    vendor = lock_row(Vendor, vendor, "vendor")
    return _save_vendor(vendor, dict(fields))


@transaction.atomic
def delete_vendor(vendor, *, user):
    """Delete a vendor and its contacts; refused (409) while contracts or escalations refer to it."""
    _require_manager(user, "delete vendors")
    vendor = lock_row(Vendor, vendor, "vendor")
    contracts = vendor.contracts.count()
    if contracts:
        raise Conflict(
            f"{vendor.name} has {contracts} contract{'s' if contracts != 1 else ''}: delete them first, "
            "or mark the vendor inactive."
        )
    if vendor.escalations.exists():
        raise Conflict(f"Incidents were escalated to {vendor.name}: mark the vendor inactive instead.")
    vendor.delete()


# --- contacts -----------------------------------------------------------------------------------


def _check_vendor_kept(fields, current_vendor_id, what):
    if "vendor" in fields:
        vendor = fields.pop("vendor")
        if pk_of(vendor) != current_vendor_id:
            raise ValidationError({"vendor": STAYS_WITH_VENDOR.format(what=what)})


@transaction.atomic
def add_contact(vendor, *, user, name, **fields):
    """A contact person at ``vendor`` (``CONTACT_FIELDS``)."""
    _require_manager(user, "add vendor contacts")
    refuse_unknown_fields(fields, CONTACT_FIELDS, "a contact")
    vendor = lock_row(Vendor, vendor, "vendor")
    contact = VendorContact(vendor=vendor)
    _assign_plain(contact, {"name": name, **fields})
    _full_clean(contact)
    contact.save()
    return contact


@transaction.atomic
def update_contact(contact, *, user, **fields):
    """Edit a contact (``CONTACT_FIELDS``); a contact stays with its vendor."""
    _require_manager(user, "edit vendor contacts")
    fields = dict(fields)
    contact = lock_row(VendorContact, contact, "contact")
    _check_vendor_kept(fields, contact.vendor_id, "A contact")
    refuse_unknown_fields(fields, CONTACT_FIELDS, "a contact")
    _assign_plain(contact, fields)
    _full_clean(contact)
    contact.save()
    return contact


@transaction.atomic
def delete_contact(contact, *, user):
    _require_manager(user, "delete vendor contacts")
    contact = lock_row(VendorContact, contact, "contact")
    contact.delete()


# --- contracts ----------------------------------------------------------------------------------


def currency_code(value):
    """``value`` as an upper-case ISO 4217 code, or a ValidationError on ``currency``."""
    code = str(value if value is not None else "").strip().upper()
    if len(code) != 3 or not code.isalpha() or pycountry.currencies.get(alpha_3=code) is None:
        raise ValidationError({"currency": f"Unknown currency “{code}”: an ISO 4217 code such as EUR or USD."})
    return code


def _minutes(term, key, priority):
    value = term.get(key)
    if value in (None, ""):
        return None
    try:
        if isinstance(value, bool) or int(value) != float(value):
            raise ValueError
        minutes = int(value)
    except (TypeError, ValueError):
        raise ValidationError(
            {"terms": f"P{priority}: {key.replace('_', ' ')} must be a whole number of minutes."}
        ) from None
    if minutes < 1:
        raise ValidationError({"terms": f"P{priority}: {key.replace('_', ' ')} must be at least 1 minute."})
    return minutes


def clean_terms(terms):
    """``{priority: (response_minutes, resolution_minutes)}`` from the term rows, or a
    ValidationError on ``terms`` (not a list of rows, unknown keys or priority, a priority
    given twice, minutes not a positive whole number)."""
    if terms is None:
        return {}
    if isinstance(terms, (str, bytes, dict)):
        raise ValidationError({"terms": "Give a list of terms: {priority, response_minutes, resolution_minutes}."})
    cleaned = {}
    for term in terms:
        if not isinstance(term, dict):
            raise ValidationError({"terms": "Each term is {priority, response_minutes, resolution_minutes}."})
        unknown = sorted(set(term) - TERM_KEYS)
        if unknown:
            raise ValidationError({"terms": f"Unknown term keys: {', '.join(map(str, unknown))}."})
        priority = pk_of(term.get("priority"))
        if priority not in Priority.values:
            allowed = ", ".join(map(str, Priority.values))
            raise ValidationError({"terms": f"Unknown priority {term.get('priority')!r}: one of {allowed}."})
        if priority in cleaned:
            raise ValidationError({"terms": f"Priority {priority} is given twice: one term per priority."})
        cleaned[priority] = (
            _minutes(term, "response_minutes", priority),
            _minutes(term, "resolution_minutes", priority),
        )
    return cleaned


def _prepare_contract(contract, fields):
    """Set ``fields`` on ``contract`` (unsaved changes) and check everything; returns what is
    written after the row: ``{"covered_cis": ids | None, "terms": {…} | None}``."""
    fields = dict(fields)
    related = {name: fields.pop(name) for name in _CONTRACT_RELATED if name in fields}
    errors = {}

    def collect(check):
        try:
            return check()
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                known = errors.setdefault(name, [])
                known.extend(message for message in messages if message not in known)
            return None

    if "currency" in fields:
        code = collect(lambda: currency_code(fields["currency"]))
        if code is None:
            fields.pop("currency")
        else:
            fields["currency"] = code
    if "cost_amount" in fields and fields["cost_amount"] not in (None, ""):
        try:
            fields["cost_amount"] = decimal.Decimal(str(fields["cost_amount"]).strip())
        except decimal.InvalidOperation:
            errors["cost_amount"] = ["Give an amount, e.g. 1200.00."]
            fields.pop("cost_amount")
    collect(lambda: _assign_plain(contract, fields))
    if "owner" in related:
        owner = collect(lambda: _one(get_user_model(), related["owner"], "owner", "or inactive user", is_active=True))
        contract.owner = owner
    if "support_calendar" in related:
        contract.support_calendar = collect(
            lambda: _one(BusinessCalendar, related["support_calendar"], "support_calendar", "calendar")
        )
    cis = collect(lambda: _ids(CI, related["covered_cis"], "covered_cis", "CIs")) if "covered_cis" in related else None
    terms = collect(lambda: clean_terms(related["terms"])) if "terms" in related else None
    collect(lambda: _full_clean(contract, exclude=["number", *errors]))
    if errors:
        raise ValidationError(errors)
    return {"covered_cis": cis, "terms": terms}


def _write_terms(contract, terms):
    """Replace the contract's terms by ``terms`` (``{priority: (response, resolution)}``), row by
    row so that each change is audited."""
    existing = {term.priority: term for term in contract.terms.select_for_update()}
    for priority, term in existing.items():
        if priority not in terms:
            term.delete()
    for priority, (response, resolution) in sorted(terms.items()):
        term = existing.get(priority)
        if term is None:
            ContractTerm.objects.create(
                contract=contract, priority=priority, response_minutes=response, resolution_minutes=resolution
            )
        elif (term.response_minutes, term.resolution_minutes) != (response, resolution):
            term.response_minutes, term.resolution_minutes = response, resolution
            term.save(update_fields=["response_minutes", "resolution_minutes", "updated_at"])


def _save_related(contract, related):
    if related["covered_cis"] is not None:
        contract.covered_cis.set(related["covered_cis"])
    if related["terms"] is not None:
        _write_terms(contract, related["terms"])


@transaction.atomic
def create_contract(*, user, vendor, title, start_date, end_date, **fields):
    """A new contract with ``vendor`` (``CONTRACT_FIELDS``; see the module's docstring)."""
    _require_manager(user, "add contracts")
    refuse_unknown_fields(fields, CONTRACT_FIELDS, "a contract")
    vendor = _one(Vendor, vendor, "vendor", "vendor")
    if vendor is None:
        raise ValidationError({"vendor": "Choose the vendor."})
    contract = Contract(vendor=vendor)
    related = _prepare_contract(contract, {"title": title, "start_date": start_date, "end_date": end_date, **fields})
    contract.save()
    _save_related(contract, related)
    return contract


@transaction.atomic
def update_contract(contract, *, user, **fields):
    """Edit a contract (``CONTRACT_FIELDS``); ``covered_cis`` and ``terms``, when given, replace
    the set. A contract stays with its vendor."""
    _require_manager(user, "edit contracts")
    fields = dict(fields)
    contract = lock_row(Contract, contract, "contract")
    _check_vendor_kept(fields, contract.vendor_id, "A contract")
    refuse_unknown_fields(fields, CONTRACT_FIELDS, "a contract")
    related = _prepare_contract(contract, fields)
    contract.save()
    _save_related(contract, related)
    return contract


@transaction.atomic
def delete_contract(contract, *, user):
    """Delete a contract (its terms, documents and reminders go with it); refused (409) while
    vendor escalations refer to it."""
    _require_manager(user, "delete contracts")
    contract = lock_row(Contract, contract, "contract")
    escalations = contract.escalations.count()
    if escalations:
        raise Conflict(
            f"{contract.number} has {escalations} vendor escalation{'s' if escalations != 1 else ''}: "
            "it can't be deleted."
        )
    files = [document.file.name for document in contract.documents.all() if document.file]
    storage = ContractDocument._meta.get_field("file").storage
    contract.delete()
    transaction.on_commit(lambda: [storage.delete(name) for name in files])


@transaction.atomic
def add_document(contract, *, user, uploaded_file):
    """Attach a document to a contract, with the size and type limits of incident attachments
    (``ATTACHMENT_MAX_MB``, ``ATTACHMENT_CONTENT_TYPES``)."""
    from incidents.services.incidents import checked_upload

    _require_manager(user, "attach contract documents")
    name, content_type, size = checked_upload(uploaded_file)
    contract = lock_row(Contract, contract, "contract")
    document = ContractDocument(contract=contract, name=name, content_type=content_type, size=size, uploaded_by=user)
    document.file.save(name, uploaded_file, save=False)
    try:
        document.save()
        Contract.objects.filter(pk=contract.pk).update(updated_at=timezone.now())
    except Exception:
        document.file.delete(save=False)  # no row refers to the stored file
        raise
    return document
