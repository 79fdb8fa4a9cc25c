"""Destination policy: decide by where content goes.

One TOML file says who is inside the company, which partners may receive which
secrets (and until when), which countries are embargoed, and which rules map a
finding to an action for each kind of destination. It is validated once, when it
is loaded; every error names the file and the key. The CLI, the watch daemon and
the milter all decide through `DestinationPolicy.decide`.

A recipient is classified *per finding*, because a partner is only a partner for
the secrets its agreement covers:

- ``internal``   an internal domain or share: no border is crossed;
- ``partner``    a partner whose agreement covers this secret, not expired, in an allowed country;
- ``external``   anyone else outside with a known country (from a partner entry or the ccTLD);
- ``embargoed``  a recipient in an embargoed country;
- ``unknown``    outside, country unknown (``.com`` mail, or no destination given at all).

``outside`` in a rule stands for external, embargoed and unknown. Rules are tried in
order; the first that matches a (finding, recipient) pair decides that pair, and the
item's action is the most severe over all pairs. Unscannable parts have their own
action per channel.

**A file only overrides what it names.** A finding no rule matches gets ``[defaults]
finding`` if the file sets it, else the built-in action (verbatim excerpts and
record matches block, other findings warn); a channel ``[unscannable]`` does not
name is decided as the built-in policy decides it. So a file holding only
``[incidents] excerpt = true`` blocks exactly what no file blocks.
`weaker_than_default` lists every setting that lets through what the built-in
policy would stop (`dlp policy check` warns about each).

A minimal file::

    [internal]
    domains = ["acme.example"]

    [[partner]]
    name = "Nordwind GmbH"
    domains = ["nordwind.example"]
    country = "AT"
    covers = { tags = ["joint-dev"] }
    expires = 2027-06-30

    [countries]
    embargoed = ["KP", "IR", "SY", "CU"]

    [[rule]]
    name = "secret leaves"
    classification = ["secret"]
    to = ["outside", "partner"]
    action = "block"
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import ConfigError
from .types import Action, Decision, Destination, Finding, Problem
from .rules import (INFORMATIONAL_PROBLEMS, ExposureSettings, default_finding_action, default_kind_action,
                      default_unscannable_action)

POLICY_SCHEMA = 1
CLASSES = ("internal", "partner", "external", "embargoed", "unknown")
ALIASES = {"outside": ("external", "embargoed", "unknown"), "any": CLASSES}
CHANNELS = ("cli", "watch", "mail", "cluster")
KINDS = ("document", "terms", "records", "rewrite", "classifier")
# Two-letter TLDs sold as generic names: their country says nothing about the recipient.
GENERIC_CCTLDS = frozenset({"io", "co", "tv", "me", "ai", "fm", "ws", "cc", "gg", "ly", "to", "eu", "su", "ac"})
TLD_COUNTRY = {"uk": "GB"}  # ccTLDs whose ISO 3166 code differs


# -- the parsed file -----------------------------------------------------------------


@dataclass(frozen=True)
class Partner:
    name: str
    domains: tuple[str, ...]
    country: str
    labels: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    classifications: tuple[str, ...] = ()
    expires: dt.date | None = None

    def covers(self, finding: Finding) -> bool:
        return (finding.secret in self.secrets or finding.label in self.labels
                or finding.classification in self.classifications or bool(set(finding.tags) & set(self.tags)))


@dataclass(frozen=True)
class Rule:
    name: str
    action: Action
    to: frozenset[str] = frozenset(CLASSES)
    classifications: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    detectors: frozenset[str] = frozenset()
    labels: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    secrets: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    min_score: float = 0.0
    min_words: int = 0

    def matches(self, finding: Finding, recipient: "Recipient", channel: str) -> bool:
        return (
            recipient.cls in self.to
            and _within(self.classifications, finding.classification)
            and _within(self.kinds, finding.kind)
            and _within(self.detectors, finding.detector)
            and _within(self.labels, finding.label)
            and (not self.tags or bool(self.tags & set(finding.tags)))
            and _within(self.secrets, finding.secret)
            and _within(self.countries, recipient.country or "")
            and _within(self.channels, channel)
            and finding.score >= self.min_score
            and finding.matched_words >= self.min_words
        )


@dataclass(frozen=True)
class Recipient:
    """One recipient as the policy sees it, for one finding."""

    address: str           # the address, the share, or "" when no destination was given
    domain: str
    country: str | None
    cls: str
    partner: str | None = None
    why: str = ""

    @property
    def exposure_key(self) -> str:
        return f"domain:{self.domain}" if self.domain else f"country:{self.country or 'unknown'}"


@dataclass(frozen=True)
class Verdict:
    """The decision for one (finding, recipient) pair: kept so incidents and `explain` can show it."""

    secret: str
    version: int
    recipient: Recipient
    rule: str
    action: Action


@dataclass(frozen=True)
class DestinationPolicy:
    source: str
    internal_domains: tuple[str, ...] = ()
    internal_shares: tuple[str, ...] = ()
    home_country: str | None = None
    partners: tuple[Partner, ...] = ()
    embargoed: frozenset[str] = frozenset()
    allowed: frozenset[str] = frozenset()  # empty: every country that is not embargoed
    tld_countries: Mapping[str, str | None] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    finding_default: Action | None = None  # None: the built-in action of each finding
    unscannable: Mapping[str, Action] = field(default_factory=dict)  # only the channels the file names
    unscannable_internal: Action | None = None
    exposure: ExposureSettings = ExposureSettings()
    excerpt: bool = False
    ocr: bool = True  # [ocr] enabled = false: images are not read (each one is a not_read problem)
    today: Callable[[], dt.date] = dt.date.today

    # -- the Policy protocol ------------------------------------------------------------

    def decide(self, findings: Sequence[Finding], problems: Sequence[Problem], destination: Destination) -> Decision:
        action, rule, reasons = Action.ALLOW, "policy:clean", []
        for verdict in self.verdicts(findings, destination):
            r = verdict.recipient
            where = r.address or "no destination"
            reasons.append(f"{verdict.secret} v{verdict.version} to {where} [{r.cls}"
                           f"{', ' + r.country if r.country else ''}{', ' + r.partner if r.partner else ''}]: "
                           f"{verdict.rule} -> {verdict.action.label}")
            if verdict.action > action or rule == "policy:clean":
                action, rule = verdict.action, verdict.rule
        unreadable = [p for p in problems if p.kind not in INFORMATIONAL_PROBLEMS]
        if unreadable:
            fallback = self.unscannable_action(destination)
            reasons.append(f"{len(unreadable)} part(s) could not be read ("
                           + ", ".join(sorted({p.kind for p in unreadable}))
                           + f"): unscannable on {destination.channel} -> {fallback.label}")
            if fallback > action:
                action, rule = fallback, f"unscannable:{destination.channel}"
        return Decision(action, rule, tuple(reasons))

    # -- pieces, public for incidents, exposure and `dlp policy explain` ----------------

    def verdicts(self, findings: Iterable[Finding], destination: Destination) -> list[Verdict]:
        out = []
        for finding in findings:
            for recipient in self.recipients(destination, finding):
                rule, action = self.rule_for(finding, recipient, destination.channel)
                out.append(Verdict(finding.secret, finding.version, recipient, rule, action))
        return out

    def rule_for(self, finding: Finding, recipient: Recipient, channel: str) -> tuple[str, Action]:
        for rule in self.rules:
            if rule.matches(finding, recipient, channel):
                return f"rule:{rule.name}", rule.action
        if self.finding_default is None:
            return f"default:{finding.kind}", default_finding_action(finding)[0]
        return "defaults:finding", self.finding_default

    def recipients(self, destination: Destination, finding: Finding | None = None) -> list[Recipient]:
        """Every recipient of the destination, classified for this finding (None: as if no partner covered it)."""
        out = [self.classify_address(a, finding, destination.country) for a in destination.addresses]
        if destination.share:
            out.append(self.classify_share(destination.share, destination.country))
        if not out:
            out.append(self._by_country("", "", destination.country, "" if destination.country else "no destination given"))
        return out

    def classify_address(self, address: str, finding: Finding | None = None, country: str | None = None) -> Recipient:
        """`country`, when given, stands for outside recipients whose domain says no country."""
        domain = address.rsplit("@", 1)[-1].strip().strip(">").lower().rstrip(".")
        if _domain_in(domain, self.internal_domains):
            return Recipient(address, domain, self.home_country, "internal", why="internal domain")
        for partner in self.partners:
            if not _domain_in(domain, partner.domains):
                continue
            if finding is None or not partner.covers(finding):
                why = f"partner {partner.name} does not cover this secret"
            elif partner.expires is not None and partner.expires < self.today():
                why = f"agreement with {partner.name} expired {partner.expires.isoformat()}"
            elif not self._country_allowed(partner.country):
                why = f"partner {partner.name} is in a country not allowed ({partner.country})"
            else:
                return Recipient(address, domain, partner.country, "partner", partner.name,
                                 f"covered by the agreement with {partner.name}")
            return self._by_country(address, domain, partner.country, why, partner.name)
        return self._by_country(address, domain, self._tld_country(domain) or country, "")

    def classify_share(self, share: str, country: str | None) -> Recipient:
        resolved = os.path.normpath(share)
        for internal in self.internal_shares:
            if resolved == internal or resolved.startswith(internal.rstrip("/") + "/") or fnmatch.fnmatch(resolved, internal):
                return Recipient(share, "", self.home_country, "internal", why="internal share")
        return self._by_country(share, "", country, "share is not internal")

    def unscannable_action(self, destination: Destination) -> Action:
        classes = {r.cls for r in self.recipients(destination)}
        if classes == {"internal"} and self.unscannable_internal is not None:
            return self.unscannable_internal
        named = self.unscannable.get(destination.channel)
        return named if named is not None else default_unscannable_action(destination)

    # -- internals ------------------------------------------------------------------------

    def _by_country(self, address: str, domain: str, country: str | None, why: str,
                    partner: str | None = None) -> Recipient:
        if country is None:
            return Recipient(address, domain, None, "unknown", partner, why or "country unknown")
        if country in self.embargoed:
            return Recipient(address, domain, country, "embargoed", partner, why or f"{country} is embargoed")
        return Recipient(address, domain, country, "external", partner, why or f"outside recipient in {country}")

    def _tld_country(self, domain: str) -> str | None:
        tld = domain.rsplit(".", 1)[-1]
        if tld in self.tld_countries:
            return self.tld_countries[tld]
        if len(tld) != 2 or not tld.isalpha() or tld in GENERIC_CCTLDS:
            return None
        return TLD_COUNTRY.get(tld, tld.upper())

    def _country_allowed(self, country: str) -> bool:
        return country not in self.embargoed and (not self.allowed or country in self.allowed)


def _within(allowed: frozenset[str], value: str) -> bool:
    return not allowed or value in allowed


def _domain_in(domain: str, domains: Iterable[str]) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in domains)


# -- settings weaker than the built-in policy ------------------------------------------


@dataclass(frozen=True)
class Weakening:
    """A setting that lets through what the built-in policy would stop."""

    key: str      # as the file names it: defaults.finding, rule[2], unscannable.cli ...
    message: str


def weaker_than_default(policy: DestinationPolicy) -> list[Weakening]:
    """Every setting of the file weaker than what the built-in policy (or an unnamed setting) does."""
    out = []
    if policy.finding_default is not None and policy.finding_default < Action.BLOCK:
        out.append(Weakening("defaults.finding", f"{policy.finding_default.label} for every finding no rule matches, "
                             "where the built-in policy blocks verbatim excerpts and record matches"
                             + (" and warns on the rest" if policy.finding_default < Action.WARN else "")))
    for i, rule in enumerate(policy.rules):
        weaker = _weaker_rule(rule)
        if weaker:
            out.append(Weakening(f"rule[{i}] ({rule.name})", weaker))
    for channel in CHANNELS:
        action = policy.unscannable.get(channel)
        if action is None:
            continue
        if action < Action.QUARANTINE:
            where = "to a named recipient or country" if channel == "cli" else f"on {channel}"
            out.append(Weakening(f"unscannable.{channel}", f"{action.label} for content that could not be read "
                                 f"{where}, where the built-in policy quarantines it (fail-closed)"))
    if policy.unscannable_internal is not None and policy.unscannable_internal < Action.QUARANTINE:
        out.append(Weakening("unscannable.internal", f"{policy.unscannable_internal.label} for content that could "
                             "not be read when every recipient is internal, where the built-in policy quarantines "
                             "it on mail and watch (fail-closed)"))
    out.extend(_weaker_exposure(policy.exposure))
    return out


def _weaker_rule(rule: Rule) -> str:
    if rule.min_score > 1.0:
        return ""  # matches no finding: scores are at most 1.0
    weaker = [k for k in KINDS if (not rule.kinds or k in rule.kinds) and rule.action < default_kind_action(k)]
    if not weaker:
        return ""
    names = {"document": "verbatim excerpts", "records": "record matches"}
    blocked = [names[k] for k in weaker if default_kind_action(k) == Action.BLOCK]
    warned = [k for k in weaker if default_kind_action(k) == Action.WARN]
    does = ([f"blocks {' and '.join(blocked)}"] if blocked else []) + (
        [f"warns on {_words(warned)} findings"] if warned else [])
    to = ", ".join(c for c in CLASSES if c in rule.to)
    return f"{rule.action.label} to {to}, where the built-in policy {' and '.join(does)}"


def _words(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _weaker_exposure(exposure: ExposureSettings) -> list[Weakening]:
    default = ExposureSettings()
    if not exposure.enabled:
        return [Weakening("exposure.enabled", "false: slow leaks (a secret sent in slices) are not tracked")]
    out = []
    if exposure.threshold > default.threshold:
        out.append(Weakening("exposure.threshold", f"{exposure.threshold:g}: more of a secret may leave in slices "
                             f"than the default {default.threshold:g}"))
    if exposure.window_days < default.window_days:
        out.append(Weakening("exposure.window_days", f"{exposure.window_days:g}: slices are forgotten sooner than "
                             f"the default {default.window_days:g} days"))
    if exposure.action < default.action:
        out.append(Weakening("exposure.action", f"{exposure.action.label} for a slow leak, where the default is "
                             f"{default.action.label}"))
    return out


# -- loading and validation -----------------------------------------------------------


def load_policy(path: Path, *, today: Callable[[], dt.date] = dt.date.today) -> DestinationPolicy:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such policy file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the policy: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_policy(data, source=str(path), today=today)


def parse_policy(data: Mapping[str, Any], *, source: str = "<policy>",
                 today: Callable[[], dt.date] = dt.date.today) -> DestinationPolicy:
    r = _Reader(source)
    r.keys("", data, {"schema", "internal", "partner", "countries", "rule", "defaults", "unscannable",
                      "exposure", "incidents", "ocr"})
    schema = data.get("schema", POLICY_SCHEMA)
    if schema != POLICY_SCHEMA:
        r.fail("schema", f"this dlp reads policy schema {POLICY_SCHEMA}, the file says {schema!r}")
    internal = r.table("internal", data.get("internal", {}), {"domains", "shares", "country"})
    countries = r.table("countries", data.get("countries", {}), {"embargoed", "allowed", "tld"})
    tld = r.table("countries.tld", countries.get("tld", {}), None)
    tld_countries = {}
    for key, value in tld.items():
        tld_countries[key.lower().lstrip(".")] = None if value == "unknown" else r.country(f"countries.tld.{key}", value)
    partners = tuple(_partner(r, i, p) for i, p in enumerate(r.array("partner", data.get("partner", []))))
    rules = tuple(_rule(r, i, x) for i, x in enumerate(r.array("rule", data.get("rule", []))))
    names = [x.name for x in rules]
    for name in names:
        if names.count(name) > 1:
            r.fail("rule", f"two rules are named {name!r}: names identify the deciding rule in incidents")
    defaults = r.table("defaults", data.get("defaults", {}), {"finding"})
    unscannable = r.table("unscannable", data.get("unscannable", {}), {*CHANNELS, "internal"})
    exposure = r.table("exposure", data.get("exposure", {}), {"window_days", "threshold", "action", "by", "enabled"})
    incidents = r.table("incidents", data.get("incidents", {}), {"excerpt"})
    ocr = r.table("ocr", data.get("ocr", {}), {"enabled"})
    by = exposure.get("by", "domain")
    if by not in ("domain", "country"):
        r.fail("exposure.by", f"must be \"domain\" or \"country\", not {by!r}")
    threshold = r.number("exposure.threshold", exposure.get("threshold", 0.5))
    if not 0 < threshold <= 1:
        r.fail("exposure.threshold", f"a share of the secret between 0 and 1, not {threshold}")
    window = r.number("exposure.window_days", exposure.get("window_days", 30))
    if window <= 0:
        r.fail("exposure.window_days", "must be positive")
    return DestinationPolicy(
        source=source,
        internal_domains=r.domains("internal.domains", internal.get("domains", [])),
        internal_shares=tuple(os.path.normpath(s) for s in r.strings("internal.shares", internal.get("shares", []))),
        home_country=r.country("internal.country", internal["country"]) if "country" in internal else None,
        partners=partners,
        embargoed=frozenset(r.country(f"countries.embargoed[{i}]", c)
                            for i, c in enumerate(r.strings("countries.embargoed", countries.get("embargoed", []))) ),
        allowed=frozenset(r.country(f"countries.allowed[{i}]", c)
                          for i, c in enumerate(r.strings("countries.allowed", countries.get("allowed", [])))),
        tld_countries=tld_countries,
        rules=rules,
        finding_default=r.action("defaults.finding", defaults["finding"]) if "finding" in defaults else None,
        unscannable={k: r.action(f"unscannable.{k}", v) for k, v in unscannable.items() if k != "internal"},
        unscannable_internal=r.action("unscannable.internal", unscannable["internal"]) if "internal" in unscannable else None,
        exposure=ExposureSettings(window_days=float(window), threshold=float(threshold),
                                  action=r.action("exposure.action", exposure.get("action", "block")), by=by,
                                  enabled=r.boolean("exposure.enabled", exposure.get("enabled", True))),
        excerpt=r.boolean("incidents.excerpt", incidents.get("excerpt", False)),
        ocr=r.boolean("ocr.enabled", ocr.get("enabled", True)),
        today=today,
    )


def _partner(r: "_Reader", i: int, p: Mapping[str, Any]) -> Partner:
    where = f"partner[{i}]"
    r.keys(where, p, {"name", "domains", "country", "covers", "expires"})
    for key in ("name", "domains", "country", "covers"):
        if key not in p:
            r.fail(f"{where}.{key}", "is required")
    covers = r.table(f"{where}.covers", p["covers"], {"labels", "tags", "secrets", "classifications"})
    if not any(covers.values()):
        r.fail(f"{where}.covers", "names no label, tag, secret or classification: a partner covers something specific")
    expires = p.get("expires")
    if expires is not None and (not isinstance(expires, dt.date) or isinstance(expires, dt.datetime)):
        r.fail(f"{where}.expires", f"a TOML date such as 2027-06-30, not {expires!r}")
    return Partner(
        name=r.string(f"{where}.name", p["name"]),
        domains=r.domains(f"{where}.domains", p["domains"]),
        country=r.country(f"{where}.country", p["country"]),
        labels=tuple(r.strings(f"{where}.covers.labels", covers.get("labels", []))),
        tags=tuple(r.strings(f"{where}.covers.tags", covers.get("tags", []))),
        secrets=tuple(r.strings(f"{where}.covers.secrets", covers.get("secrets", []))),
        classifications=tuple(r.strings(f"{where}.covers.classifications", covers.get("classifications", []))),
        expires=expires,
    )


def _rule(r: "_Reader", i: int, x: Mapping[str, Any]) -> Rule:
    where = f"rule[{i}]"
    r.keys(where, x, {"name", "action", "to", "classification", "kind", "detector", "label", "tag", "secret",
                      "country", "channel", "min_score", "min_words"})
    if "action" not in x:
        r.fail(f"{where}.action", "is required (allow, warn, quarantine, block)")
    to: set[str] = set()
    for j, cls in enumerate(r.strings(f"{where}.to", x.get("to", ["any"]))):
        if cls in ALIASES:
            to.update(ALIASES[cls])
        elif cls in CLASSES:
            to.add(cls)
        else:
            r.fail(f"{where}.to[{j}]", f"unknown destination class {cls!r} ({', '.join((*CLASSES, *ALIASES))})")
    kinds = r.strings(f"{where}.kind", x.get("kind", []))
    for j, kind in enumerate(kinds):
        if kind not in KINDS:
            r.fail(f"{where}.kind[{j}]", f"unknown detector kind {kind!r} ({', '.join(KINDS)})")
    channels = r.strings(f"{where}.channel", x.get("channel", []))
    for j, channel in enumerate(channels):
        if channel not in CHANNELS:
            r.fail(f"{where}.channel[{j}]", f"unknown channel {channel!r} ({', '.join(CHANNELS)})")
    min_score = r.number(f"{where}.min_score", x.get("min_score", 0.0))
    min_words = x.get("min_words", 0)
    if not isinstance(min_words, int) or isinstance(min_words, bool) or min_words < 0:
        r.fail(f"{where}.min_words", f"a whole number of words, not {min_words!r}")
    return Rule(
        name=r.string(f"{where}.name", x.get("name", f"rule {i + 1}")),
        action=r.action(f"{where}.action", x["action"]),
        to=frozenset(to),
        classifications=frozenset(r.strings(f"{where}.classification", x.get("classification", []))),
        kinds=frozenset(kinds),
        detectors=frozenset(r.strings(f"{where}.detector", x.get("detector", []))),
        labels=frozenset(r.strings(f"{where}.label", x.get("label", []))),
        tags=frozenset(r.strings(f"{where}.tag", x.get("tag", []))),
        secrets=frozenset(r.strings(f"{where}.secret", x.get("secret", []))),
        countries=frozenset(r.country(f"{where}.country[{j}]", c)
                            for j, c in enumerate(r.strings(f"{where}.country", x.get("country", [])))),
        channels=frozenset(channels),
        min_score=float(min_score),
        min_words=min_words,
    )


class _Reader:
    """Type checks that name the file and the key in every error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, message: str):
        raise ConfigError(f"{self.source}: {key}: {message}")

    def keys(self, where: str, table: Mapping[str, Any], allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                self.fail(f"{where}.{key}" if where else key,
                          f"unknown key (expected one of: {', '.join(sorted(allowed))})")

    def table(self, key: str, value: Any, allowed: set[str] | None) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            self.fail(key, f"must be a table, not {type(value).__name__}")
        if allowed is not None:
            self.keys(key, value, allowed)
        return value

    def array(self, key: str, value: Any) -> list[Mapping[str, Any]]:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(key, f"must be an array of tables ([[{key}]])")
        return value

    def string(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"must be a non-empty string, not {value!r}")
        return value.strip()

    def strings(self, key: str, value: Any) -> list[str]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.fail(key, f"must be a list of strings, not {type(value).__name__}")
        return [self.string(f"{key}[{i}]", v) for i, v in enumerate(value)]

    def domains(self, key: str, value: Any) -> tuple[str, ...]:
        out = []
        for i, d in enumerate(self.strings(key, value)):
            d = d.lower().lstrip("@").rstrip(".")
            if "@" in d or " " in d or "." not in d:
                self.fail(f"{key}[{i}]", f"{d!r} is not a domain name")
            out.append(d)
        return tuple(out)

    def country(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or len(value) != 2 or not value.isalpha():
            self.fail(key, f"a two-letter ISO 3166 country code such as \"DE\", not {value!r}")
        return value.upper()

    def action(self, key: str, value: Any) -> Action:
        if not isinstance(value, str):
            self.fail(key, f"an action (allow, warn, quarantine, block), not {value!r}")
        try:
            return Action.parse(value)
        except ValueError as exc:
            self.fail(key, str(exc))
            raise

    def number(self, key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(key, f"must be a number, not {value!r}")
        return float(value)

    def boolean(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, not {value!r}")
        return value


def recipients_of(policy: object, destination: Destination, finding: Finding | None = None) -> list[Recipient]:
    """The recipients of a destination as `policy` classifies them; the built-in policy knows no
    domains, so everyone it names is `unknown`."""
    if isinstance(policy, DestinationPolicy):
        return policy.recipients(destination, finding)
    out = [Recipient(a, a.rsplit("@", 1)[-1].lower(), destination.country, "unknown") for a in destination.addresses]
    if destination.share:
        out.append(Recipient(destination.share, "", destination.country, "unknown"))
    return out or [Recipient("", "", destination.country, "unknown")]
