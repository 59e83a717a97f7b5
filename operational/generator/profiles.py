"""Who the generated tenants are: presets, regions, a long tail of sizes, and the word lists.

Everything here is data or a pure function of the seed: no database, no clock.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np

from operational.generator.columns import rng_for


@dataclass(frozen=True)
class TenantProfile:
    name: str
    slug: str
    type: str
    plan: str
    base_currency: str
    timezones: tuple[str, ...]
    bookings: int
    side_currencies: tuple[str, ...] = ("USD", "EUR", "GBP")


PRESET_TENANTS: tuple[TenantProfile, ...] = (
    TenantProfile("Northwind Records", "northwind-records", "RECORD_LABEL", "LABEL_ENTERPRISE", "USD",
                  ("America/New_York", "America/Los_Angeles", "Pacific/Honolulu", "Pacific/Pago_Pago"), 2400,
                  ("EUR", "GBP", "CAD", "MXN")),
    TenantProfile("Studio Aurora", "studio-aurora", "PRODUCTION_STUDIO", "STUDIO_PRO", "EUR",
                  ("Europe/Berlin", "Europe/Paris", "Europe/London"), 1500, ("USD", "GBP", "CHF", "SEK")),
    TenantProfile("Kanto Talent Agency", "kanto-talent", "ENTERTAINMENT_AGENCY", "CUSTOM", "JPY",
                  ("Asia/Tokyo", "Pacific/Auckland", "Pacific/Kiritimati"), 900, ("USD", "KRW", "AUD")),
)
EMPTY_TENANT_INDEX = 3  # the 4th tenant never has bookings (nor artists, nor projects)

# Currencies the FX seed covers (dbt_project/seeds/fx_rates.csv, business days 2022-01-03..2028-12-29).
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CAD", "AUD", "BRL", "MXN", "INR", "KRW", "SEK", "ZAR", "NGN", "CHF")
USD_PER_UNIT_APPROX = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0068, "CAD": 0.73, "AUD": 0.66, "BRL": 0.19,
                       "MXN": 0.055, "INR": 0.012, "KRW": 0.00074, "SEK": 0.095, "ZAR": 0.054, "NGN": 0.00068,
                       "CHF": 1.12}
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW"})  # prices in whole units
FX_FIRST_SERVICE_DAY = dt.date(2022, 1, 10)  # a week after the first rate, whatever the zone
FX_LAST_SERVICE_DAY = dt.date(2028, 12, 20)  # bookings (at most a day long) end before the last rate

# Regions of the long-tail tenants: (weight, base currency, time zones, side currencies, phone prefix).
REGIONS: tuple[tuple[int, str, tuple[str, ...], tuple[str, ...], str], ...] = (
    (28, "USD", ("America/New_York", "America/Chicago", "America/Los_Angeles", "America/Denver"), ("EUR", "GBP", "CAD", "MXN"), "+1"),
    (3, "USD", ("Pacific/Honolulu", "Pacific/Pago_Pago"), ("AUD", "JPY"), "+1"),
    (16, "EUR", ("Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Europe/Rome"), ("USD", "GBP", "CHF", "SEK"), "+49"),
    (9, "GBP", ("Europe/London",), ("USD", "EUR"), "+44"),
    (5, "JPY", ("Asia/Tokyo",), ("USD", "KRW"), "+81"),
    (5, "CAD", ("America/Toronto", "America/Vancouver"), ("USD",), "+1"),
    (4, "AUD", ("Australia/Sydney", "Australia/Perth", "Pacific/Auckland"), ("USD", "JPY"), "+61"),
    (1, "AUD", ("Pacific/Kiritimati", "Pacific/Auckland"), ("USD",), "+686"),
    (5, "BRL", ("America/Sao_Paulo",), ("USD", "EUR"), "+55"),
    (4, "MXN", ("America/Mexico_City",), ("USD",), "+52"),
    (5, "INR", ("Asia/Kolkata",), ("USD", "GBP"), "+91"),
    (4, "KRW", ("Asia/Seoul",), ("USD", "JPY"), "+82"),
    (3, "SEK", ("Europe/Stockholm",), ("EUR", "USD"), "+46"),
    (3, "ZAR", ("Africa/Johannesburg",), ("USD", "GBP"), "+27"),
    (3, "NGN", ("Africa/Lagos",), ("USD", "GBP"), "+234"),
    (2, "CHF", ("Europe/Zurich",), ("EUR", "USD"), "+41"),
)
PHONE_PREFIX = {"USD": "+1", "EUR": "+49", "JPY": "+81"}

EXTRA_TYPES = ("RECORD_LABEL", "PRODUCTION_STUDIO", "ENTERTAINMENT_AGENCY", "CONTENT_COMPANY", "PODCAST_NETWORK",
               "EDUCATIONAL_INSTITUTION", "CORPORATE_MEDIA", "STREAMING_PLATFORM", "INDIVIDUAL")
EXTRA_TYPE_WEIGHTS = (22, 20, 14, 10, 10, 6, 6, 4, 8)
EXTRA_PLANS = ("FREE", "STUDIO_PRO", "LABEL_ENTERPRISE", "WHITE_LABEL", "CUSTOM")
EXTRA_PLAN_WEIGHTS = (30, 35, 20, 8, 7)

NAME_WORDS_A = ("Northern", "Golden", "Blue", "Velvet", "Neon", "Paper", "Tidal", "Echo", "Lunar", "Copper", "Crimson",
                "Åurora", "Señal", "Kōhai", "Sonic", "Wild", "Quiet", "Urban", "Solar", "Hidden", "Électrique", "Jade")
NAME_WORDS_B = ("Records", "Sound", "Studios", "Collective", "Music Group", "Audio", "Talent", "Media", "Podcasts",
                "Academy", "Sessions", "Works", "Frequencies", "Label", "Agency", "Tonstudio")
HOSTILE_TENANT_NAMES = {  # long-tail tenants with names that must be escaped wherever they are shown
    5: "Zoë's 🎛️ Späti Sound <img src=x onerror=alert(1)>",
    6: '=HYPERLINK("http://x.example","Label") Records',
    7: "李小龍 Beats 有限公司 ✨",
}

FIRST = ("Ava", "Leo", "Maya", "Kai", "Nora", "Omar", "Lena", "Jun", "Iris", "Theo", "Zara", "Malik", "Sofia", "Ren",
         "Elio", "Yara", "Niko", "Amara", "Felix", "Hana", "Ines", "Dario", "Chloé", "José", "Søren", "Aoife",
         "Łukasz", "Zoë", "Björk", "Chidi", "Thandiwe", "Priya", "Min-jun", "Yuki", "Mateus", "Ximena", "François")
LAST = ("Reyes", "Okafor", "Lindqvist", "Tanaka", "Moreau", "Haddad", "Kowalski", "Silva", "Nguyen", "Adeyemi",
        "Fischer", "Rossi", "Park", "Duarte", "Mensah", "Novak", "Sato", "Ortiz", "Müller", "Ó Briain", "Øvrebø",
        "Dlamini", "Iyer", "Kim", "Ferreira", "Núñez", "Johansson", "Schäfer", "Wójcik", "D'Angelo")
HARD_NAMES = ("Zoë 🎧 Ångström", "<img src=x onerror=alert(1)>", '=HYPERLINK("http://x.example","y")',
              "李小龍 Beats", "Ólafur Ævarsson")
MORE_HARD_NAMES = ("MC 🔥🔥🔥", "Ñandú & the 'Quotes\"", "+SUM(1,2)", "@cmd|' /C calc'!A0", "Ṩṗêçîåł Çhårś",
                   "محمد الفنان", "Оркестр «Север»", "   Spaced   Out   ", "Tab\tSeparated", "-1+1")
STAGE_SUFFIXES = ("Nova", "Wave", "MC", "Blue", "Echo", "✨", "Beats", "Sound", "🎹")
GENRES = ("pop", "hip-hop", "r&b", "rock", "jazz", "classical", "electronic", "afrobeats", "latin", "k-pop",
          "country", "folk", "ambient", "soul", "reggaeton", "amapiano", "j-pop", "bollywood", "metal", "gospel")
SKILLS = ("vocals", "production", "mixing", "mastering", "songwriting", "guitar", "keys", "drums", "bass",
          "sound design", "voice-over", "arrangement", "dj", "teaching")
BOOKING_TYPES = ("RECORDING_SESSION", "MIXING", "MASTERING", "PRODUCTION", "CONSULTATION", "PERFORMANCE",
                 "WORKSHOP", "OTHER")
# type: weight, typical hours, hourly rate in USD, usual local start hour, spread of the start hour,
#       skills that make an artist likely for it, extra cancellation factor
BOOKING_TYPE_TRAITS = {
    "RECORDING_SESSION": (30, 4, 120, 13, 3.5, ("vocals", "guitar", "keys", "drums", "bass", "voice-over"), 1.0),
    "MIXING": (15, 6, 90, 12, 2.5, ("mixing",), 0.6),
    "MASTERING": (8, 2, 150, 11, 2.0, ("mastering",), 0.5),
    "PRODUCTION": (12, 8, 110, 11, 2.5, ("production", "arrangement", "sound design", "songwriting"), 0.8),
    "CONSULTATION": (8, 1, 80, 14, 2.5, (), 1.3),
    "PERFORMANCE": (15, 3, 600, 20, 1.5, ("vocals", "dj", "guitar", "keys", "drums"), 1.8),
    "WORKSHOP": (6, 3, 200, 10, 2.0, ("teaching", "production", "songwriting"), 1.2),
    "OTHER": (6, 2, 70, 12, 4.0, (), 1.0),
}
TYPE_MIX = {  # organization type → multipliers on the booking type weights
    "RECORD_LABEL": (1.3, 1.2, 1.2, 1.0, 0.8, 1.0, 0.5, 0.8),
    "PRODUCTION_STUDIO": (1.5, 1.5, 1.4, 1.4, 0.6, 0.3, 0.6, 0.8),
    "ENTERTAINMENT_AGENCY": (0.6, 0.3, 0.2, 0.4, 1.2, 3.0, 0.8, 1.0),
    "PODCAST_NETWORK": (2.0, 1.0, 0.8, 1.5, 1.0, 0.1, 0.3, 1.0),
    "EDUCATIONAL_INSTITUTION": (0.6, 0.3, 0.3, 0.5, 1.5, 0.5, 5.0, 1.0),
}
LOCATIONS = ("Studio A", "Studio B", "Main Hall", "Booth 3", "Salle Pleyel", "東京スタジオ", "Café Müller — Room 2")
NOTES = ("Late load-in 🎤", "<img src=x onerror=alert(1)>", '=HYPERLINK("http://x.example","notes")',
         "Bring the Neumann U87; côté jardin", "Client wants stems by Friday\nsecond line", "☕️ + 🎹 = ✔")
PROJECT_WORDS_A = ("Midnight", "Golden", "Echoes", "Neon", "Tidal", "Paper", "Señorita", "Kaleidoscope", "Ωmega")
PROJECT_WORDS_B = ("Hours", "Skies", "Season", "Sessions", "Stories", "Tapes", "Remixes", "Live 🎶")
PROJECT_TYPES = ("ALBUM", "SINGLE", "EP", "PODCAST_SERIES", "COMMERCIAL", "FILM_SCORE", "GAME_AUDIO", "OTHER")
MILESTONE_TITLES = ("Pre-production", "Tracking", "Overdubs", "Mixing", "Mastering", "Artwork & metadata",
                    "Distribution", "Launch")


def tenant_profiles(count: int, seed: int = 42, *, scale: float = 1.0,
                    target_bookings: int | None = None) -> list[TenantProfile]:
    """The presets first, then a long tail of tenants (Pareto sizes), the 4th one empty.

    ``scale`` multiplies every size; ``target_bookings`` then rescales the long-tail tenants so
    that all tenants together hold about that many bookings (the presets keep their size unless
    there are no long-tail tenants to absorb the difference, or it is negative).
    """
    if count < 1:
        raise ValueError("tenants must be at least 1")
    if target_bookings is not None and target_bookings < 0:
        raise ValueError("target_bookings must not be negative")
    extra = max(0, count - len(PRESET_TENANTS))
    # each long-tail tenant from its own stream: tenant N is the same whatever the tenant count
    region_p = np.array([r[0] for r in REGIONS], dtype=float)
    type_p, plan_p = np.array(EXTRA_TYPE_WEIGHTS, dtype=float), np.array(EXTRA_PLAN_WEIGHTS, dtype=float)
    regions, types, plans, raw, words = [], [], [], np.zeros(extra), []
    for offset in range(extra):
        rng = rng_for(seed, "profile", len(PRESET_TENANTS) + offset)
        regions.append(int(rng.choice(len(REGIONS), p=region_p / region_p.sum())))
        types.append(int(rng.choice(len(EXTRA_TYPES), p=type_p / type_p.sum())))
        plans.append(int(rng.choice(len(EXTRA_PLANS), p=plan_p / plan_p.sum())))
        raw[offset] = min((rng.pareto(1.16) + 1.0) * 60.0, 40_000.0)  # long tail: median ≈ 110
        words.append(rng.integers(0, 1 << 30, size=2))
    profiles = [replace(p, bookings=int(round(p.bookings * scale))) for p in PRESET_TENANTS[:count]]
    sizes = raw * scale
    for offset in range(extra):
        index = len(PRESET_TENANTS) + offset
        if index == EMPTY_TENANT_INDEX:
            sizes[offset] = 0.0
    if target_bookings is not None:
        fixed = sum(p.bookings for p in profiles)
        if sizes.sum() > 0 and target_bookings >= fixed:
            sizes = sizes * ((target_bookings - fixed) / sizes.sum())
        else:
            everyone = np.concatenate([[p.bookings for p in profiles], sizes]).astype(float)
            everyone = _round_preserving_sum(everyone * (target_bookings / everyone.sum() if everyone.sum() else 0.0))
            profiles = [replace(p, bookings=int(n)) for p, n in zip(profiles, everyone)]
            sizes = everyone[len(profiles):].astype(float)
    counts = _round_preserving_sum(sizes)
    for offset in range(extra):
        index = len(PRESET_TENANTS) + offset
        _, currency, zones, side, _ = REGIONS[regions[offset]]
        kind = EXTRA_TYPES[types[offset]]
        name = HOSTILE_TENANT_NAMES.get(index) or (
            f"{NAME_WORDS_A[words[offset][0] % len(NAME_WORDS_A)]} {NAME_WORDS_B[words[offset][1] % len(NAME_WORDS_B)]}"
            f" {index + 1:04d}")
        profiles.append(TenantProfile(
            name=name, slug=f"tenant-{index + 1:04d}", type=kind, plan=EXTRA_PLANS[plans[offset]],
            base_currency=currency, timezones=zones, bookings=int(counts[offset]), side_currencies=side,
        ))
    return profiles


def _round_preserving_sum(values: np.ndarray) -> np.ndarray:
    """Integers whose sum is the rounded sum of ``values`` (largest remainders get the extra units)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    floors = np.floor(values).astype(np.int64)
    missing = int(round(float(values.sum()))) - int(floors.sum())
    if missing > 0:
        order = np.argsort(-(values - floors), kind="stable")[:missing]
        floors[order] += 1
    return floors


def region_of(profile: TenantProfile) -> str:
    """Phone prefix for the tenant's people, from its first time zone's region."""
    for _, currency, zones, _, prefix in REGIONS:
        if profile.timezones[0] in zones and currency == profile.base_currency:
            return prefix
    return PHONE_PREFIX.get(profile.base_currency, "+1")
