"""Destination policy: classification of recipients, rules, unscannable content, validation."""

from __future__ import annotations

import datetime as dt
import textwrap
import tomllib

import pytest

from dlp.errors import ConfigError
from dlp.destinations import load_policy, parse_policy
from dlp.types import Action, Destination, Finding, Problem

POLICY = """
[internal]
domains = ["acme.example"]
shares = ["/srv/internal"]
country = "DE"

[[partner]]
name = "Nordwind"
domains = ["nordwind.example"]
country = "AT"
covers = { tags = ["joint-dev"] }
expires = 2027-06-30

[[partner]]
name = "Old Partner"
domains = ["old.example"]
country = "FR"
covers = { labels = ["Formula X"] }
expires = 2025-01-01

[[partner]]
name = "Shady Ltd"
domains = ["shady.example"]
country = "KP"
covers = { tags = ["joint-dev"] }

[countries]
embargoed = ["KP", "IR"]

[[rule]]
name = "internal"
to = ["internal"]
action = "allow"

[[rule]]
name = "partner"
to = ["partner"]
action = "allow"

[[rule]]
name = "secret-outside"
classification = ["secret"]
to = ["outside"]
action = "block"

[[rule]]
name = "confidential-embargoed"
classification = ["confidential"]
to = ["embargoed"]
action = "block"

[[rule]]
name = "confidential-outside"
classification = ["confidential"]
to = ["outside"]
action = "quarantine"

[[rule]]
name = "small-terms"
kind = ["terms"]
max_words = 0
action = "warn"
""".replace('max_words = 0\n', '')

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def policy():
    return parse_policy(tomllib.loads(POLICY), source="test.toml", today=lambda: TODAY)


def finding(classification="confidential", kind="document", tags=(), label="Plan", secret="plan", words=200, score=1.0):
    return Finding(secret=secret, version=1, label=label, kind=kind, score=score, matched_words=words, coverage=0.5,
                   locator="x", classification=classification, tags=tuple(tags), detector=kind)


# destination x classification x detector -> action, and the deciding rule
CASES = [
    # to,                         country, classification,  kind,        tags,          action,       rule
    (["bob@acme.example"],         None,   "secret",        "document",  (),            "allow",      "rule:internal"),
    (["bob@sub.acme.example"],     None,   "secret",        "document",  (),            "allow",      "rule:internal"),
    (["eve@nordwind.example"],     None,   "confidential",  "document",  ("joint-dev",), "allow",     "rule:partner"),
    (["eve@nordwind.example"],     None,   "confidential",  "document",  (),            "quarantine", "rule:confidential-outside"),
    (["eve@nordwind.example"],     None,   "secret",        "rewrite",   (),            "block",      "rule:secret-outside"),
    (["joe@old.example"],          None,   "confidential",  "document",  (),            "quarantine", "rule:confidential-outside"),
    (["kim@shady.example"],        None,   "confidential",  "document",  ("joint-dev",), "block",     "rule:confidential-embargoed"),
    (["li@firma.cn"],              None,   "secret",        "terms",     (),            "block",      "rule:secret-outside"),
    (["li@firma.cn"],              None,   "confidential",  "records",   (),            "quarantine", "rule:confidential-outside"),
    (["ali@co.ir"],                None,   "confidential",  "classifier", (),           "block",      "rule:confidential-embargoed"),
    (["x@gmail.com"],              None,   "confidential",  "document",  (),            "quarantine", "rule:confidential-outside"),
    # no rule matches and the file sets no [defaults]: the built-in action of the finding
    (["x@startup.io"],             None,   "internal",      "document",  (),            "block",      "default:document"),
    (["x@startup.io"],             None,   "internal",      "records",   (),            "block",      "default:records"),
    (["x@startup.io"],             None,   "internal",      "rewrite",   (),            "warn",       "default:rewrite"),
    (["x@gmail.com"],              "IR",   "confidential",  "document",  (),            "block",      "rule:confidential-embargoed"),
    ([],                           None,   "secret",        "document",  (),            "block",      "rule:secret-outside"),
    ([],                           "AT",   "confidential",  "terms",     (),            "quarantine", "rule:confidential-outside"),
    (["bob@acme.example", "li@firma.cn"], None, "secret",   "document",  (),            "block",      "rule:secret-outside"),
]


@pytest.mark.parametrize("to, country, classification, kind, tags, action, rule", CASES)
def test_destination_classification_detector_table(policy, to, country, classification, kind, tags, action, rule):
    decision = policy.decide([finding(classification, kind, tags)], [], Destination(tuple(to), country, "mail"))
    assert (decision.action.label, decision.rule) == (action, rule)


def test_expired_agreement_is_not_a_partner(policy):
    [r] = policy.recipients(Destination(("joe@old.example",)), finding(label="Formula X"))
    assert (r.cls, r.country, r.partner) == ("external", "FR", "Old Partner")
    assert "expired 2025-01-01" in r.why
    fresh = parse_policy(tomllib.loads(POLICY), today=lambda: dt.date(2024, 6, 1))
    assert fresh.recipients(Destination(("joe@old.example",)), finding(label="Formula X"))[0].cls == "partner"


def test_partner_in_embargoed_country_is_never_a_partner(policy):
    [r] = policy.recipients(Destination(("kim@shady.example",)), finding(tags=("joint-dev",)))
    assert r.cls == "embargoed" and "not allowed" in r.why


def test_internal_share_and_other_share(policy):
    f = finding("secret")
    assert policy.decide([f], [], Destination(channel="watch", share="/srv/internal/hr")).action == Action.ALLOW
    assert policy.decide([f], [], Destination(channel="watch", share="/srv/outbox/cn", country="CN")).action == Action.BLOCK


def test_clean_content_is_allowed_everywhere(policy):
    assert policy.decide([], [], Destination(("kim@shady.example",), None, "mail")).action == Action.ALLOW


@pytest.mark.parametrize("channel, to, action", [
    ("mail", ["x@firma.cn"], "block"),
    ("watch", ["x@firma.cn"], "quarantine"),
    ("cli", ["x@firma.cn"], "warn"),
    ("mail", ["bob@acme.example"], "allow"),
    # a channel the file does not name is decided as without a file: fail-closed when content goes somewhere
    ("cluster", [], "warn"),
    ("cluster", ["x@firma.cn"], "quarantine"),
])
def test_unscannable_has_its_own_rule_per_channel(channel, to, action):
    text = POLICY + '\n[unscannable]\nmail = "block"\nwatch = "quarantine"\ncli = "warn"\ninternal = "allow"\n'
    policy = parse_policy(tomllib.loads(text), today=lambda: TODAY)
    decision = policy.decide([], [Problem("a.zip", "encrypted", "password")], Destination(tuple(to), None, channel))
    assert decision.action.label == action
    if action != "allow":
        assert decision.rule == f"unscannable:{channel}"


def test_binary_parts_are_not_unscannable(policy):
    assert policy.decide([], [Problem("a.bin", "binary", "strings")], Destination(channel="mail")).action == Action.ALLOW


def test_rule_thresholds_and_filters():
    policy = parse_policy(tomllib.loads("""
        [[rule]]
        name = "big"
        min_words = 50
        min_score = 0.5
        channel = ["mail"]
        tag = ["formula"]
        action = "block"
    """))
    big = finding(words=60, score=0.6, tags=("formula",))
    assert policy.decide([big], [], Destination(("a@b.de",), None, "mail")).action == Action.BLOCK
    for other in (finding(words=40, score=0.6, tags=("formula",)), finding(words=60, score=0.4, tags=("formula",)),
                  finding(words=60, score=0.6)):
        assert policy.decide([other], [], Destination(("a@b.de",), None, "mail")).action == Action.WARN
    assert policy.decide([big], [], Destination(("a@b.de",), None, "watch")).action == Action.WARN


def test_reasons_name_secret_recipient_class_and_rule(policy):
    decision = policy.decide([finding("secret", secret="s1")], [], Destination(("li@firma.cn",), None, "mail"))
    assert decision.reasons == ("s1 v1 to li@firma.cn [external, CN]: rule:secret-outside -> block",)


@pytest.mark.parametrize("text, message", [
    ('[[rule]]\nname = "a"\naction = "deny"', "test.toml: rule[0].action: unknown action 'deny'"),
    ('[[rule]]\nname = "a"', "rule[0].action: is required"),
    ('[[rule]]\naction = "block"\nto = ["abroad"]', "rule[0].to[0]: unknown destination class 'abroad'"),
    ('[[rule]]\naction = "block"\nkind = ["regex"]', "rule[0].kind[0]: unknown detector kind 'regex'"),
    ('[[rule]]\naction = "block"\nchanel = ["mail"]', "rule[0].chanel: unknown key"),
    ('[[rule]]\nname="a"\naction = "block"\n[[rule]]\nname="a"\naction="warn"', "two rules are named 'a'"),
    ('[[partner]]\nname = "P"\ndomains = ["p.example"]\ncountry = "Austria"\ncovers = {tags=["x"]}',
     "partner[0].country: a two-letter ISO 3166 country code"),
    ('[[partner]]\nname = "P"\ndomains = ["p.example"]\ncountry = "AT"\ncovers = {}', "partner[0].covers: names no label"),
    ('[[partner]]\nname = "P"\ndomains = ["p.example"]\ncountry = "AT"\ncovers = {tags=["x"]}\nexpires = "soon"',
     "partner[0].expires: a TOML date"),
    ('[[partner]]\nname = "P"\ncountry = "AT"\ncovers = {tags=["x"]}', "partner[0].domains: is required"),
    ('[internal]\ndomains = ["bob@acme.example"]', "internal.domains[0]: 'bob@acme.example' is not a domain name"),
    ('[countries]\nembargoed = ["XYZ"]', "countries.embargoed[0]"),
    ('[exposure]\nthreshold = 1.5', "exposure.threshold: a share of the secret between 0 and 1"),
    ('[unscannable]\nfax = "block"', "unscannable.fax: unknown key"),
    ('[unscannable]\nmail = "drop"', "unscannable.mail: unknown action 'drop'"),
    ('schema = 2', "schema: this dlp reads policy schema 1"),
    ('[destinations]\nx = 1', "destinations: unknown key"),
])
def test_validation_errors_name_the_key(text, message):
    with pytest.raises(ConfigError) as caught:
        parse_policy(tomllib.loads(textwrap.dedent(text)), source="test.toml")
    assert message in str(caught.value)


def test_load_policy_reports_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text("[internal\n")
    with pytest.raises(ConfigError, match="p.toml: not valid TOML"):
        load_policy(bad)
    with pytest.raises(ConfigError, match="no such policy file"):
        load_policy(tmp_path / "missing.toml")


def test_shipped_example_policy_is_valid():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "policy.toml"
    policy = load_policy(path)
    assert policy.rules and policy.partners and policy.internal_domains


# -- a file only overrides what it names -----------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from dlp.errors import DlpError, InvalidValue  # noqa: E402
from dlp.destinations import KINDS, weaker_than_default  # noqa: E402
from dlp.rules import DefaultPolicy  # noqa: E402

FINDINGS = st.builds(finding, classification=st.sampled_from(["public", "internal", "confidential", "secret"]),
                     kind=st.sampled_from(KINDS), words=st.integers(0, 2000),
                     score=st.floats(0, 1, allow_nan=False))
PROBLEMS = st.lists(st.sampled_from(["encrypted", "corrupt", "timeout", "binary"]), max_size=2).map(
    lambda kinds: [Problem("x", k, "") for k in kinds])
DESTINATIONS = st.builds(Destination, st.lists(st.sampled_from(["a@acme.example", "b@firma.cn", "c@gmail.com"]),
                                               max_size=2).map(tuple),
                         st.sampled_from([None, "DE", "KP"]), st.sampled_from(["cli", "watch", "mail", "cluster"]))
SILENT_FILES = ["", "[incidents]\nexcerpt = true\n", '[internal]\ndomains = ["acme.example"]\n',
                '[countries]\nembargoed = ["KP"]\n', '[exposure]\nwindow_days = 60\n']


@settings(max_examples=200, deadline=None)
@given(text=st.sampled_from(SILENT_FILES), findings=st.lists(FINDINGS, max_size=3), problems=PROBLEMS,
       destination=DESTINATIONS)
def test_a_file_that_names_no_decision_decides_as_the_built_in_policy(text, findings, problems, destination):
    policy = parse_policy(tomllib.loads(text), source="partial.toml")
    assert weaker_than_default(policy) == []
    assert (policy.decide(findings, problems, destination).action
            == DefaultPolicy().decide(findings, problems, destination).action)


def test_an_unknown_action_is_a_user_error_not_an_internal_one():
    with pytest.raises(InvalidValue, match="unknown action 'deny'") as caught:
        Action.parse("deny")
    assert isinstance(caught.value, DlpError) and isinstance(caught.value, ValueError)
    assert Action.parse(" Quarantine ") == Action.QUARANTINE
