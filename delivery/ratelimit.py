"""Send-rate ceilings shared by every worker and lane: EMAIL_MAX_PER_SECOND
and SMS_MAX_PER_SECOND.

Each channel has one schedule of send slots (GCRA, a token bucket without a
refill loop): taking a slot moves the channel's "next free moment" on by
1/rate and tells the caller how long to wait for the slot it got. The
schedule lives in Redis when the broker is Redis (one atomic script call
per message) and in the database otherwise (one short row-locked UPDATE), so
the limit holds across processes and machines."""

import time

from django.conf import settings
from django.db import transaction

from delivery.models import Channel, RateLimitSlot

_SETTING = {Channel.EMAIL: "EMAIL_MAX_PER_SECOND", Channel.SMS: "SMS_MAX_PER_SECOND"}

# Slots nobody took in time are lost, except the last BURST of them: a lane
# that was busy when its turn came may catch up at once. So at most BURST
# sends beyond the rate land in any one second, and a fleet whose lanes are
# now and then all busy still reaches the rate.
BURST = 4

# KEYS[1]: the channel's next free moment (µs, Redis clock); ARGV[1]: the
# interval in µs; ARGV[2]: BURST. Returns how long the caller waits for its
# slot, in µs (negative: at once).
_TAKE_SLOT = """
local now_parts = redis.call('TIME')
local now = now_parts[1] * 1000000 + now_parts[2]
local interval = tonumber(ARGV[1])
local oldest = now - interval * tonumber(ARGV[2])
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
if next_free < oldest then next_free = oldest end
local ttl_ms = math.max(math.ceil((next_free + interval - now) / 1000), 0) + 1000
redis.call('SET', KEYS[1], string.format('%d', next_free + interval), 'PX', ttl_ms)
return next_free - now
"""


def rate_for(channel: str) -> float:
    return float(getattr(settings, _SETTING[channel], 0) or 0)


def _redis_url() -> str:
    url = settings.RATE_LIMIT_REDIS_URL or ""
    if url:
        return url
    broker = settings.CELERY_BROKER_URL or ""
    return broker if broker.startswith(("redis://", "rediss://")) else ""


class _RedisSchedule:
    def __init__(self, url: str, channel: str):
        import redis

        self.client = redis.Redis.from_url(url)
        self.key = f"proactive:ratelimit:{channel}"
        self.script = self.client.register_script(_TAKE_SLOT)

    def take(self, interval: float) -> float:
        waited = self.script(keys=[self.key], args=[int(interval * 1_000_000), BURST])
        return int(waited) / 1_000_000

    def close(self) -> None:
        self.client.close()


class _DatabaseSchedule:
    def __init__(self, channel: str):
        self.channel = channel
        RateLimitSlot.objects.get_or_create(channel=channel)

    def take(self, interval: float) -> float:
        now = time.time()
        with transaction.atomic():
            slot = RateLimitSlot.objects.select_for_update().get(channel=self.channel)
            next_free = max(slot.next_free, now - interval * BURST)
            RateLimitSlot.objects.filter(channel=self.channel).update(
                next_free=next_free + interval
            )
        return next_free - now

    def close(self) -> None:
        pass


class RateLimiter:
    """One per lane and channel: `take()` a slot before each send and wait for it."""

    def __init__(self, channel: str):
        self.rate = rate_for(channel)
        self.schedule = None
        if self.rate > 0:
            url = _redis_url()
            self.schedule = _RedisSchedule(url, channel) if url else _DatabaseSchedule(channel)

    def take(self) -> float:
        """Take this sender's next slot; returns the seconds until it comes
        (0: now), for the caller to wait (delivery.fence.CancelFence.pause)."""
        if self.schedule is None:
            return 0.0
        return max(self.schedule.take(1.0 / self.rate), 0.0)

    def close(self) -> None:
        if self.schedule is not None:
            self.schedule.close()
