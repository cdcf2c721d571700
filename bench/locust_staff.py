"""Staff browsing the site, for `python -m bench load` (a locustfile).

Each simulated user is one signed-in staff member: the web pages with a
session cookie, the statistics API with a token, as the browser and a
script would. What they open and how often is a morning in a NOC: the
dashboard (and its "sending now" panel, which the page polls), the lists,
a customer, a ticket, the notification being sent and its statistics.

One in five is an admin (the shift lead), who also opens the ticket
statistics. The plan (sessions, tokens, ids to open) comes from the JSON file named by
BENCH_LOAD_PLAN; on quitting, the figures are written to its "result" path.

The users start browsing before the send (a NOC is already at work when an
outage notice goes out): what they see until the plan's "measure_from" file
appears (signing in, every server process's first pages) is kept apart as
"warm-up", and the figures are those from then on, during the send."""

import itertools
import json
import os
import random

from locust import HttpUser, between, events, task

PLAN = json.loads(open(os.environ["BENCH_LOAD_PLAN"]).read())  # noqa: SIM115
THINK = float(os.environ.get("BENCH_LOAD_THINK_SECONDS", "2"))


_next = {"engineers": itertools.count(), "admins": itertools.count()}


class Engineer(HttpUser):
    weight = 4
    people = "engineers"
    wait_time = between(THINK / 2, THINK * 1.5)

    def on_start(self):
        people = PLAN[self.people] or PLAN["engineers"]
        person = people[next(_next[self.people]) % len(people)]
        # The TLS proxy in front says https; the cookie is a Secure one.
        self.page = {"X-Forwarded-Proto": "https", "Cookie": f"sessionid={person['session']}"}
        self.api = {"X-Forwarded-Proto": "https", "Authorization": f"Token {person['token']}"}

    def _get(self, path: str, name: str, headers: dict) -> None:
        with self.client.get(
            path, name=name, headers=headers, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code == 0:
                response.failure(f"no answer for {path}: {response.error!r}")
            elif response.status_code != 200:
                response.failure(f"{response.status_code} for {path}")

    @task(4)
    def dashboard(self):
        self._get("/", "dashboard", self.page)

    @task(4)
    def dashboard_sending(self):
        self._get("/dashboard/sending/", "dashboard: sending now", self.page)

    @task(3)
    def customers(self):
        self._get("/customers/", "customers list", self.page)

    @task(1)
    def customer_search(self):
        self._get("/customers/?location=Busy", "customers at a location", self.page)

    @task(2)
    def customer(self):
        self._get(f"/customers/{random.choice(PLAN['customers'])}/", "customer page", self.page)

    @task(3)
    def notifications(self):
        self._get("/notifications/", "notifications list", self.page)

    @task(3)
    def notification(self):
        pk = random.choice(PLAN["notifications"])
        self._get(f"/notifications/{pk}/", "notification page", self.page)

    @task(3)
    def notification_progress(self):
        pk = random.choice(PLAN["notifications"])
        self._get(f"/notifications/{pk}/progress/", "notification progress", self.page)

    @task(2)
    def notification_stats(self):
        pk = random.choice(PLAN["notifications"])
        self._get(f"/api/notifications/{pk}/stats/", "API notification stats", self.api)

    @task(1)
    def notifications_stats(self):
        self._get("/api/notifications/stats/", "API notifications stats", self.api)

    @task(3)
    def tickets(self):
        self._get("/tickets/", "tickets list", self.page)

    @task(1)
    def ticket(self):
        self._get(f"/tickets/{random.choice(PLAN['tickets'])}/", "ticket page", self.page)

    @task(2)
    def incidents(self):
        self._get("/incidents/", "incidents list", self.page)

    @task(1)
    def incident(self):
        self._get(f"/incidents/{random.choice(PLAN['incidents'])}/", "incident page", self.page)


class Admin(Engineer):
    """The shift lead: what an engineer opens, and the ticket statistics."""

    weight = 1
    people = "admins"

    @task(2)
    def ticket_stats(self):
        self._get("/tickets/stats/", "tickets stats", self.page)


_warm_up: dict = {}


@events.init.add_listener
def _measure_from_the_mark(environment, **_):
    """Once the benchmark marks the send's start, keep the warm-up's figures
    aside and count only what follows."""
    import gevent

    def watch():
        marker = PLAN.get("measure_from")
        if not marker:
            return
        while not os.path.exists(marker):
            gevent.sleep(0.05)
        total = environment.stats.total
        _warm_up.update(
            requests=total.num_requests,
            failures=total.num_failures,
            p95=total.get_response_time_percentile(0.95) if total.num_requests else 0,
        )
        environment.stats.reset_all()

    gevent.spawn(watch)


@events.quitting.add_listener
def _write_result(environment, **_):
    stats = environment.stats
    endpoints = {
        entry.name: {
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "p50": entry.get_response_time_percentile(0.5),
            "p95": entry.get_response_time_percentile(0.95),
            "max": entry.max_response_time,
        }
        for entry in stats.entries.values()
    }
    total = stats.total
    result = {
        "requests": total.num_requests,
        "failures": total.num_failures,
        "p50": total.get_response_time_percentile(0.5),
        "p95": total.get_response_time_percentile(0.95),
        "rps": total.total_rps,
        "endpoints": endpoints,
        "errors": [f"{e.occurrences}× {e.name}: {e.error}" for e in stats.errors.values()][:10],
        "warm_up": _warm_up,
    }
    with open(PLAN["result"], "w") as file:
        json.dump(result, file)
