"""A realistic demo provider: regions, a site tree (POP → access node →
last-mile site), service types, tags and customers over several time zones."""

import datetime
import random

import phonenumbers
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from customers.models import Customer, ServiceType, Site, Tag
from customers.services import site_tree_bulk_create, tag_ids_for_names

# (location, time zone, phone prefix, national destination codes, digits after the code)
REGIONS = [
    ("Moscow", "Europe/Moscow", "+7", ["900", "903", "905", "916", "926", "977"], 7),
    ("Yekaterinburg", "Asia/Yekaterinburg", "+7", ["902", "912", "922", "950"], 7),
    ("Novosibirsk", "Asia/Novosibirsk", "+7", ["913", "923", "952", "961"], 7),
    ("London", "Europe/London", "+44", ["7911", "7700", "7400", "7500", "7800"], 6),
    ("New York", "America/New_York", "+1", ["212", "646", "917", "718"], 7),
]
SERVICE_TYPES = [
    ("fibre", "Fibre (FTTH)", "Fibre to the home, up to 1 Gbit/s."),
    ("dsl", "DSL", "Copper line broadband."),
    ("wireless", "Fixed wireless", "Point-to-multipoint radio access."),
    ("business", "Business fibre", "Dedicated fibre with an SLA."),
]
TAGS = ["vip", "hospital", "school", "government", "night-shift", "new-connection", "legacy-cpe"]
FIRST = [
    "Anna",
    "Boris",
    "Daria",
    "Egor",
    "Irina",
    "Ivan",
    "Maria",
    "Oleg",
    "Olga",
    "Pavel",
    "Sofia",
    "Timur",
    "Emma",
    "Jack",
    "Lily",
    "Noah",
    "Mia",
    "Liam",
    "Ava",
    "Ethan",
]  # noqa: E501
LAST = [
    "Ivanov",
    "Petrova",
    "Smirnov",
    "Kuznetsova",
    "Popov",
    "Sokolova",
    "Lebedev",
    "Novikova",
    "Morozov",
    "Volkova",
    "Smith",
    "Jones",
    "Brown",
    "Taylor",
    "Wilson",
    "Davies",
    "Miller",
    "Garcia",
    "Clark",
    "Walker",
]  # noqa: E501
WINDOWS = [(8, 22), (9, 21), (8, 20), (10, 18), (22, 6), (7, 23)]


def _phone(rng: random.Random, prefix: str, codes: list[str], digits: int) -> tuple[str, str]:
    """A number the phonenumbers library accepts as valid (a few ranges of
    each code are unallocated, so draw again until it is)."""
    while True:
        code = rng.choice(codes)
        if prefix == "+1":
            exchange = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(1, 9)}"
            rest = f"{exchange}{rng.randint(0, 9999):04d}"
        else:
            rest = f"{rng.randint(0, 10**digits - 1):0{digits}d}"
        number = f"{prefix}{code}{rest}"
        if prefix == "+7" or phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number, code


class Command(BaseCommand):
    help = "Create a demo provider's directory (sites, service types, tags, customers)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=300, help="how many customers")
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when customers already exist"
        )
        parser.add_argument("--seed", type=int, default=42, help="random seed")

    def handle(self, *args, **options) -> None:
        if options["if_empty"] and Customer.objects.exists():
            self.stdout.write("Customers exist; no demo data created.")
            return
        rng = random.Random(options["seed"])
        with transaction.atomic():
            last_mile = self._sites(rng)
            services = self._service_types()
            tag_ids = tag_ids_for_names(names=set(TAGS))
            count = self._customers(rng, options["customers"], last_mile, services, tag_ids)
        self.stdout.write(
            f"Demo directory: {Site.objects.count()} sites, {len(services)} service types, "
            f"{Tag.objects.count()} tags, {count} new customers."
        )

    def _sites(self, rng: random.Random) -> dict[str, list[Site]]:
        """Per location, its last-mile sites; the tree is created once."""
        if not Site.objects.exists():
            sites: list[Site] = []
            for location, *_ in REGIONS:
                short = location[:3].upper()
                for p in range(1, 3):
                    pop = Site(
                        code=f"{short}-POP{p}", name=f"{location} POP {p}", location=location
                    )
                    sites.append(pop)
                    for a in range(1, 6):
                        node = Site(
                            code=f"{pop.code}-AN{a}",
                            name=f"{location} access node {p}.{a}",
                            location=location,
                            parent=pop,
                        )
                        sites.append(node)
                        for m in range(1, 7):
                            sites.append(
                                Site(
                                    code=f"{node.code}-LM{m}",
                                    name=f"{location} last mile {p}.{a}.{m}",
                                    location=location,
                                    parent=node,
                                )
                            )
            site_tree_bulk_create(sites=sites)
        by_location: dict[str, list[Site]] = {}
        leaves = Site.objects.filter(children__isnull=True)
        for site in leaves:
            by_location.setdefault(site.location, []).append(site)
        return by_location

    def _service_types(self) -> list[ServiceType]:
        for code, name, description in SERVICE_TYPES:
            ServiceType.objects.get_or_create(
                code=code, defaults={"name": name, "description": description}
            )
        return list(ServiceType.objects.all())

    def _customers(self, rng, count, last_mile, services, tag_ids) -> int:
        start = Customer.objects.count()
        through = Customer.tags.through
        regions = [r for r in REGIONS if last_mile.get(r[0])] or REGIONS[:0]
        if not regions or count <= 0:
            return 0
        batch: list[Customer] = []
        created = 0
        for n in range(start + 1, start + count + 1):
            location, tz, prefix, codes, digits = rng.choice(regions)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            phone, operator = _phone(rng, prefix, codes, digits)
            window = rng.choice(WINDOWS)
            service = rng.choice(services)
            batch.append(
                Customer(
                    account_number=f"ACC-{n:07d}",
                    name=f"{first} {last}" if service.code != "business" else f"{last} & Co {n}",
                    email=f"{first}.{last}.{n}@example.net".lower(),
                    phone=phone,
                    operator_code=operator,
                    location=location,
                    last_mile_site=rng.choice(last_mile[location]),
                    service_type=service,
                    timezone=tz,
                    contact_window_start=datetime.time(window[0]),
                    contact_window_end=datetime.time(window[1]),
                    email_opt_in=rng.random() > 0.05,
                    sms_opt_in=rng.random() > 0.15,
                    is_active=rng.random() > 0.03,
                )
            )
            if len(batch) == 5000 or n == start + count:
                Customer.objects.bulk_create(batch, batch_size=1000)
                links = [
                    through(customer_id=c.pk, tag_id=tag_ids[rng.choice(TAGS)])
                    for c in batch
                    if rng.random() < 0.1
                ]
                through.objects.bulk_create(links, batch_size=2000, ignore_conflicts=True)
                created += len(batch)
                batch = []
        return created
