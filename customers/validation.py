"""Customer field validation in plain Python, shared by the API serializer and
the CSV import so that both accept and reject exactly the same values; plain
functions because the import validates 100,000 rows in seconds."""

import datetime
import functools
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from django.core.validators import EmailValidator
from phonenumbers.phonemetadata import PhoneMetadata

# Private, but the pinned version's: classifies a number against one region.
from phonenumbers.phonenumberutil import _number_type_helper as number_type_helper

from customers.models import (
    CONTACT_FIELDS,
    DEFAULT_WINDOW_END,
    DEFAULT_WINDOW_START,
    PREFERENCE_FIELDS,
    ServiceType,
    Site,
)

PHONE_REGION = "RU"
TEXT_LIMITS = {"account_number": 64, "name": 200, "location": 200}
TRUE_STRINGS = {"true", "1", "yes", "y", "on", "t"}
FALSE_STRINGS = {"false", "0", "no", "n", "off", "f"}
BOOLEAN_FIELDS = ("email_opt_in", "sms_opt_in", "is_active")
# Contract name → default on create. A blank value means "the default" for these.
DEFAULTS: dict[str, Any] = {
    "timezone": "UTC",
    "contact_window_start": DEFAULT_WINDOW_START,
    "contact_window_end": DEFAULT_WINDOW_END,
    "email_opt_in": True,
    "sms_opt_in": True,
    "is_active": True,
}
# Every writable field, in the order of the CSV header.
FIELDS = (
    *CONTACT_FIELDS,
    "last_mile_site",
    "service_type",
    "tags",
    *PREFERENCE_FIELDS,
    "is_active",
)
REQUIRED = ("account_number", "name")
TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")
OPERATOR_RE = re.compile(r"^\d{1,10}$")
PHONE_PUNCTUATION = re.compile(r"[\s\-().]")
NON_DIGITS = re.compile(r"\D+")
COUNTRY_REGIONS = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
_email_validator = EmailValidator()


@functools.cache
def timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class FieldError(ValueError):
    """One field's value is wrong; the message says what to fix."""


@dataclass
class CodeLookups:
    """Site and service type codes → ids. `preload()` reads them all at once
    (for imports); otherwise each code costs one query, then is cached."""

    sites: dict[str, int] = field(default_factory=dict)
    service_types: dict[str, int] = field(default_factory=dict)
    complete: bool = False

    def preload(self) -> "CodeLookups":
        self.sites = dict(Site.objects.values_list("code", "id"))
        self.service_types = dict(ServiceType.objects.values_list("code", "id"))
        self.complete = True
        return self

    def site_id(self, code: str) -> int | None:
        if code not in self.sites and not self.complete:
            found = Site.objects.filter(code=code).values_list("id", flat=True).first()
            if found is not None:
                self.sites[code] = found
        return self.sites.get(code)

    def service_type_id(self, code: str) -> int | None:
        if code not in self.service_types and not self.complete:
            found = ServiceType.objects.filter(code=code).values_list("id", flat=True).first()
            if found is not None:
                self.service_types[code] = found
        return self.service_types.get(code)


# ------------------------------------------------------------ single fields


def _text(value: Any, name: str) -> str:
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise FieldError(f"Give {name} as text.")
    return str(value).strip()


def clean_required_text(value: Any, name: str) -> str:
    text = _text(value, name)
    if not text:
        raise FieldError(f"Give a {name.replace('_', ' ')}; it may not be blank.")
    limit = TEXT_LIMITS[name]
    if len(text) > limit:
        raise FieldError(f"Shorten the {name.replace('_', ' ')} to at most {limit} characters.")
    return text


def clean_location(value: Any) -> str:
    text = _text(value, "location")
    if len(text) > TEXT_LIMITS["location"]:
        raise FieldError("Shorten the location to at most 200 characters.")
    return text


def clean_email(value: Any) -> str:
    text = _text(value, "email").lower()
    if not text:
        return ""
    if len(text) > 254:
        raise FieldError("Shorten the email address to at most 254 characters.")
    # Django's EmailValidator, with the domain check remembered per domain
    # (an import sees the same few domains thousands of times).
    user, _, domain = text.rpartition("@")
    if not user or not _email_validator.user_regex.match(user) or not _domain_ok(domain):
        raise FieldError(f"{text!r} is not a valid email address.")
    return text


@functools.lru_cache(maxsize=4096)
def _domain_ok(domain: str) -> bool:
    return domain in _email_validator.domain_allowlist or _email_validator.validate_domain_part(
        domain
    )


def _parse_e164(digits: str) -> phonenumbers.PhoneNumber | None:
    """ "+<digits>" without the general parser (the import's hot path)."""
    for length in (1, 2, 3):
        code = int(digits[1 : 1 + length] or 0)
        if code in COUNTRY_REGIONS:
            rest = digits[1 + length :]
            if not rest.isdigit() or _may_hold_national_prefix(code, rest):
                return None  # the parser would strip a prefix: let it
            return phonenumbers.PhoneNumber(country_code=code, national_number=int(rest))
    return None


@functools.cache
def _national_prefix_pattern(country_code: int) -> re.Pattern | None:
    region = COUNTRY_REGIONS[country_code][0]
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    pattern = metadata.national_prefix_for_parsing if metadata else None
    return re.compile(pattern) if pattern else None


def _may_hold_national_prefix(country_code: int, national: str) -> bool:
    if national.startswith("0"):
        return True
    pattern = _national_prefix_pattern(country_code)
    return bool(pattern and pattern.match(national))


def _is_valid(number: phonenumbers.PhoneNumber) -> bool:
    """phonenumbers.is_valid_number, without classifying the number twice
    when its calling code is shared by several regions (+7: RU, KZ)."""
    regions = COUNTRY_REGIONS.get(number.country_code, ())
    if len(regions) < 2:
        return phonenumbers.is_valid_number(number)
    national = phonenumbers.national_significant_number(number)
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if re.match(metadata.leading_digits, national):
                return phonenumbers.is_valid_number_for_region(number, region)
        elif number_type_helper(national, metadata) != phonenumbers.PhoneNumberType.UNKNOWN:
            return True
    return False


def _operator_code(number: phonenumbers.PhoneNumber, national: str) -> str:
    """The national destination code (e.g. 900), as
    phonenumbers.length_of_national_destination_code but cheaper for the
    countries without a mobile token (all but Argentina)."""
    if phonenumbers.country_mobile_token(number.country_code) or national.startswith("0"):
        return national[: phonenumbers.length_of_national_destination_code(number)]
    return national[: _operator_code_length(number.country_code, len(national), national[:5])]


@functools.lru_cache(maxsize=65536)
def _operator_code_length(country_code: int, length: int, prefix: str) -> int:
    """The code's length depends on the number's formatting rule, which the
    calling code, the length and the leading digits choose: remember it per
    (code, length, first five digits) instead of formatting every number."""
    number = phonenumbers.PhoneNumber(
        country_code=country_code, national_number=int(prefix.ljust(length, "0"))
    )
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    groups = NON_DIGITS.split(formatted)
    return len(groups[2]) if len(groups) > 3 else 0


def clean_phone(value: Any) -> tuple[str, str]:
    """→ (E.164 number, operator code). 79001234567 is read as +7 900 123-45-67."""
    text = _text(value, "phone")
    if not text:
        return "", ""
    digits = PHONE_PUNCTUATION.sub("", text)
    number = _parse_e164(digits) if digits.startswith("+") else None
    if number is None or not _is_valid(number):
        # The seed's format is the country code without "+": try that reading too.
        candidates = [digits, "+" + digits] if digits.isdigit() else [digits]
        for candidate in candidates:
            try:
                number = phonenumbers.parse(candidate, PHONE_REGION)
            except phonenumbers.NumberParseException:
                continue
            if _is_valid(number):
                break
        else:
            raise FieldError(
                f"{text!r} is not a valid phone number; give it with the country code, "
                "e.g. +79001234567."
            )
    national = phonenumbers.national_significant_number(number)
    return f"+{number.country_code}{national}", _operator_code(number, national)


def clean_operator_code(value: Any) -> str:
    text = _text(value, "operator_code")
    if text and not OPERATOR_RE.match(text):
        raise FieldError(f"{text!r} is not an operator code; give 1 to 10 digits, e.g. 900.")
    return text


def clean_timezone(value: Any) -> str:
    text = _text(value, "timezone")
    if text not in timezones():
        raise FieldError(
            f"{text!r} is not a known time zone; give an IANA name such as Europe/Moscow."
        )
    return text


def clean_time(value: Any, name: str) -> datetime.time:
    if isinstance(value, datetime.time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    text = _text(value, name)
    match = TIME_RE.match(text)
    if not match:
        raise FieldError(f"{text!r} is not a time of day; give it as HH:MM, e.g. 08:00.")
    return datetime.time(int(match.group(1)), int(match.group(2)))


def clean_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value, name).lower()
    if text in TRUE_STRINGS:
        return True
    if text in FALSE_STRINGS:
        return False
    raise FieldError(f"{value!r} is not true or false; give true or false for {name}.")


_cached_timezone = functools.lru_cache(maxsize=1024)(clean_timezone)
_cached_bool = functools.lru_cache(maxsize=256)(clean_bool)
_cached_time = functools.lru_cache(maxsize=4096)(clean_time)


def clean_tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(";")
    if not isinstance(value, list | tuple):
        raise FieldError("Give tags as a list of names.")
    names: list[str] = []
    for raw in value:
        if not isinstance(raw, str):
            raise FieldError("Give each tag as text.")
        name = raw.strip()
        if ";" in name or "," in name:
            raise FieldError(f"Tag {name!r} may not contain ';' or ','; give separate tags.")
        if len(name) > 100:
            raise FieldError(f"Shorten the tag {name[:20]!r}… to at most 100 characters.")
        if name and name not in names:
            names.append(name)
    return sorted(names)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# ------------------------------------------------------------ a whole record


def customer_clean(
    raw: dict[str, Any],
    *,
    lookups: CodeLookups,
    creating: bool,
    current: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Validate the given contract fields → (model values, errors by field).

    Model values use model attribute names (`last_mile_site_id`,
    `service_type_id`) and `tags` as sorted names. When creating, missing
    fields get their defaults. `operator_code` is derived from the phone unless
    given. `current` holds the stored window when only one end changes.
    """
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}

    def run(name: str, func, *args) -> Any:
        try:
            return func(*args)
        except FieldError as exc:
            errors[name] = [str(exc)]
            return None

    for name in REQUIRED:
        if name in raw or creating:
            values[name] = run(name, clean_required_text, raw.get(name), name)
    if "email" in raw:
        values["email"] = run("email", clean_email, raw["email"])
    if "location" in raw:
        values["location"] = run("location", clean_location, raw["location"])
    derived_operator = None
    if "phone" in raw:
        phone = run("phone", clean_phone, raw["phone"])
        if phone is not None:
            values["phone"], derived_operator = phone
    if not _blank(raw.get("operator_code")):
        values["operator_code"] = run("operator_code", clean_operator_code, raw["operator_code"])
    elif derived_operator is not None:
        values["operator_code"] = derived_operator
    elif "operator_code" in raw:
        values["operator_code"] = ""
    _clean_codes(raw, values, errors, lookups)
    if "tags" in raw:
        values["tags"] = run("tags", clean_tags, raw["tags"])
    for name, default in DEFAULTS.items():
        if name in raw and not _blank(raw[name]):
            value = raw[name]
            # The same few spellings repeat on every row of an import.
            cached = isinstance(value, str)
            if name == "timezone":
                func = _cached_timezone if cached else clean_timezone
                values[name] = run(name, func, value)
            elif name in BOOLEAN_FIELDS:
                values[name] = run(name, _cached_bool if cached else clean_bool, value, name)
            else:
                values[name] = run(name, _cached_time if cached else clean_time, value, name)
        elif creating or name in raw:
            values[name] = default
    _check_window(values, errors, current or {})
    return {k: v for k, v in values.items() if k not in errors}, errors


def _clean_codes(raw: dict, values: dict, errors: dict, lookups: CodeLookups) -> None:
    for name, lookup, noun in (
        ("last_mile_site", lookups.site_id, "site"),
        ("service_type", lookups.service_type_id, "service type"),
    ):
        if name not in raw:
            continue
        try:
            code = _text(raw[name], name)
        except FieldError as exc:
            errors[name] = [str(exc)]
            continue
        if not code:
            values[f"{name}_id"] = None
            continue
        found = lookup(code)
        if found is None:
            errors[name] = [f"Unknown {noun} code {code!r}; create the {noun} first."]
        else:
            values[f"{name}_id"] = found


def _check_window(values: dict, errors: dict, current: dict) -> None:
    if "contact_window_start" in errors or "contact_window_end" in errors:
        return
    if "contact_window_start" not in values and "contact_window_end" not in values:
        return
    start = values.get("contact_window_start", current.get("contact_window_start"))
    end = values.get("contact_window_end", current.get("contact_window_end"))
    if start is not None and start == end:
        errors["contact_window_end"] = [
            "The contact window may not start and end at the same time; "
            "give a different end (a window may cross midnight, e.g. 22:00–06:00)."
        ]


def unknown_fields(names: Iterable[str]) -> list[str]:
    return sorted(set(names) - set(FIELDS))
