"""Reply classification: whole words, any case, no accents; classes, intents, priorities."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.replies import IntentRule, RepliesSettings, ReplyRules, words
from engine.settings import Settings, load_settings
from sequences import check_templates

ROOT = Path(__file__).resolve().parents[2]
RULES = ReplyRules(RepliesSettings())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Preț?", "pret"),
        ("DEZABONARE!!", "dezabonare"),
        ("Șterge-mă", "sterge ma"),
        ("  stop\n", "stop"),
        ("Straße", "strasse"),
        ("a_b-c", "a b c"),
        ("", ""),
    ],
)
def test_words_drop_case_accents_and_punctuation(text: str, expected: str) -> None:
    assert words(text) == expected


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("STOP", "opt_out"),
        ("Dezabonare vă rog", "opt_out"),
        ("Please unsubscribe me.", "opt_out"),
        ("Opt-out please", "opt_out"),
        ("nonstop service?", "other"),  # whole words only
        ("stopper", "other"),
        ("Care e prețul? Vreau un discount", "human_review"),
        ("Preț?", "human_review"),  # pret is a review word and a pricing word: review wins
        ("What does it cost?", "pricing"),
        ("Can you call me tomorrow", "schedule_call"),
        ("STOP, my avocat will call", "opt_out"),
        ("Thanks, sounds good", "other"),
    ],
)
def test_each_reply_gets_one_class(text: str, label: str) -> None:
    assert RULES.classify(text).label == label


def test_a_reply_keeps_every_matched_rule_and_the_highest_priority() -> None:
    result = RULES.classify("Am o reclamatie, sunati-ma urgent, ce pret aveti?")
    assert result.intents == ("pricing", "complaint", "schedule_call")
    assert result.matched["human_review"] == ("urgent", "pret", "reclamatie")
    assert result.review_priority == 3  # complaint outranks the review words' 2
    assert not result.opt_out


def test_only_opt_out_matches_are_opt_outs() -> None:
    assert RULES.is_opt_out("stop")
    assert not RULES.is_opt_out("price")


def test_notification_urls_follow_the_matched_rules() -> None:
    rules = ReplyRules(
        RepliesSettings(
            opt_out_notify_url="https://hooks.example/opt-out",
            intents={"pricing": IntentRule(("price",), notify_url="https://hooks.example/p")},
        )
    )
    result = rules.classify("stop, what price?")
    assert rules.notify_urls(result) == {
        "opt_out": "https://hooks.example/opt-out",
        "pricing": "https://hooks.example/p",
    }
    assert result.intents == ("pricing",)


def test_the_example_config_documents_the_defaults() -> None:
    example = load_settings(ROOT / "config.example.toml")
    defaults = Settings()
    assert example.replies == defaults.replies
    assert example.webhook.retention_days == 30
    assert example.webhook.manual_takeover == "stop"
    assert (example.scheduler.phone_sync_cron, example.scheduler.prune_cron) == (
        "*/10 * * * *", "17 3 * * *",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[replies]\nopt_out = ["!!"]', "replies.opt_out[0]: '!!' has no letters"),
        ("[replies]\nhuman_review_priority = 5", "must be from 1 to 3"),
        ('[replies]\nopt_out_notify_url = "ftp://x"', "must be an http(s) URL"),
        ('[replies.intents.Bad]\nkeywords = ["x"]', "an intent name is"),
        ('[replies.intents.opt_out]\nkeywords = ["x"]', "an intent name is"),
        ("[replies.intents.empty]\nkeywords = []", "list at least one keyword"),
        ('[replies.intents.x]\nkeywords = ["a"]\nreview_priority = 4', "0 (no review) to 3"),
        ('[webhook]\nmanual_takeover = "maybe"', 'must be "stop" or "ignore"'),
        ("[webhook]\nretention_days = 0", "must be at least 1"),
        ("[replies]\nreview_sla_h = 0", "replies.review_sla_h: must be a positive number"),
        ('[replies]\nopt_out_auto_reply = "{Bye|"', "opt_out_auto_reply: the template does"),
        ('[replies.intents.x]\nkeywords = ["a"]\nauto_reply = "Hi {{Name}}"', ".x.auto_reply:"),
        ('[scheduler]\nprune_cron = "61 * * * *"', "scheduler.prune_cron: '61 * * * *'"),
        ('[scheduler]\nphone_sync_cron = "hourly"', "not a 5-field cron expression"),
        ("[scheduler]\ndelivery_sync_max_chats = 0", "must be at least 1"),
    ],
)
def test_bad_reply_webhook_and_job_settings_name_the_key(
    tmp_path: Path, toml: str, message: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml + "\n")
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_templates(load_settings(path))  # as the CLI loads a config


def test_a_retired_key_in_an_old_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[webhook]\nlease_wait_s = 3.0\n")
    assert load_settings(path).webhook.lease_wait_s is None  # accepted, never used
