from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.settings import find_config, load_settings, require_shared_clock

ROOT = Path(__file__).resolve().parents[2]
PHONE = '[[phones]]\nid = "01"\nphone = "+447700900001"\n'


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_example_config_loads_with_no_phone_and_documented_defaults() -> None:
    settings = load_settings(ROOT / "config.example.toml")
    assert settings.phones == ()  # examples, commented out: nothing looks ready to send
    assert settings.pacing.jitter_min_s == 30 and settings.pacing.jitter_max_s == 150
    assert settings.quota.new_contacts_per_day == 200
    assert settings.timelinesai.requests_per_minute == 50
    assert settings.timelinesai.monthly_call_budget == 200_000
    assert settings.redis.namespace == "outreach"
    assert settings.clock.speed == 1
    assert settings.texts.enabled and settings.texts.similarity_threshold == 0.8
    assert settings.texts.window == 20 and settings.texts.rewordings == 5


def test_empty_file_means_defaults_and_sqlite_next_to_the_config(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""))
    assert settings.database.url == f"sqlite:///{tmp_path.resolve() / 'outreach.db'}"
    assert settings.timelinesai.base_url == "https://app.timelines.ai/integrations/api"
    assert settings.phones == ()


def test_the_commented_example_phones_load_once_uncommented(tmp_path: Path) -> None:
    lines = (ROOT / "config.example.toml").read_text().splitlines()
    start = lines.index("# [[phones]]")
    block = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        block.append(line.removeprefix("#").removeprefix(" "))
    phones = load_settings(write(tmp_path, "\n".join(block) + "\n")).phones
    assert [(p.id, p.phone) for p in phones] == [("01", "+447700900001"), ("02", "+447700900002")]
    assert phones[0].jid == "447700900001@s.whatsapp.net"
    assert (phones[1].new_contacts_per_day, phones[1].started_on) == (50, date(2026, 1, 5))


def test_every_key_of_the_example_is_documented_by_a_comment() -> None:
    # Each key sits in a group of lines (up to a blank line or a table header) with a comment.
    lines = (ROOT / "config.example.toml").read_text().splitlines()
    for index, line in enumerate(lines):
        if "=" in line and not line.startswith(("#", "[", "id", "phone")):
            above = lines[:index]
            group = []
            while above and above[-1].strip() and not above[-1].startswith("["):
                group.append(above.pop())
            assert any(g.startswith("#") for g in group), f"undocumented key: {line}"


def test_environment_overrides_win_and_secrets_come_only_from_it(tmp_path: Path) -> None:
    path = write(tmp_path, '[redis]\nurl = "redis://file:6379/0"\n')
    env = {
        "OUTREACH_DATABASE_URL": "postgresql+psycopg://u@h/db",
        "OUTREACH_REDIS_URL": "redis://env:6379/1",
        "OUTREACH_TIMELINESAI_BASE_URL": "http://127.0.0.1:8765",
        "TIMELINESAI_TOKEN": "tok",
        "OUTREACH_WEBHOOK_SECRET": "sec",
    }
    settings = load_settings(path, env)
    assert settings.database.url == "postgresql+psycopg://u@h/db"
    assert settings.redis.url == "redis://env:6379/1"
    assert settings.timelinesai.base_url == "http://127.0.0.1:8765"
    assert settings.timelinesai.token == "tok"
    assert settings.webhook.secret == "sec"
    assert "tok" not in repr(settings)


def test_token_in_the_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key 'token'"):
        load_settings(write(tmp_path, '[timelinesai]\ntoken = "x"\n'))


def test_phone_fields_and_overrides(tmp_path: Path) -> None:
    body = PHONE + 'account_id = "447700900001@s.whatsapp.net"\nnew_contacts_per_day = 20\n'
    body += "started_on = 2026-11-01\n"
    settings = load_settings(write(tmp_path, body))
    phone = settings.phone("01")
    assert phone.started_on == date(2026, 11, 1)
    assert settings.quota_for(phone) == 20


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", ((0, 20), (4, 50), (8, 100), (15, 200), (30, 0))),
        ("[quota]\nwarmup = []\n", ()),
        ("[quota]\nwarmup = [[0, 10], [2, 0]]\n", ((0, 10), (2, 0))),
        # The older form, one number per week of age: the same ramp in day steps.
        (
            "[quota]\nwarmup = [20, 50, 100, 150]\n",
            ((0, 20), (7, 50), (14, 100), (21, 150), (28, 0)),
        ),
        ("[quota]\nwarmup = [30]\n", ((0, 30), (7, 0))),
    ],
)
def test_warmup_steps_and_the_older_weekly_form(
    tmp_path: Path, body: str, expected: tuple[tuple[int, int], ...]
) -> None:
    assert load_settings(write(tmp_path, body)).quota.warmup == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[database\nurl = 1", r"malformed TOML: .*line 1"),
        ("[pacing]\njiter_min_s = 3\n", r"pacing\.jiter_min_s: unknown key .*'jitter_min_s'"),
        ("[databse]\n", r"databse: unknown key 'databse'; did you mean 'database'"),
        ('[pacing]\njitter_min_s = "fast"\n', r"pacing\.jitter_min_s: expected a number"),
        ("[quota]\nnew_contacts_per_day = 1.5\n", r"expected an integer"),
        ("[webhook]\nport = true\n", r"webhook\.port: expected an integer"),
        ("[pacing]\njitter_min_s = 200\n", r"jitter_min_s: must not exceed jitter_max_s"),
        ("[quota]\nnew_contacts_per_day = 0\n", r"new_contacts_per_day: must be a positive"),
        ("[quota]\nwarmup = [20, 0]\n", r"quota\.warmup: every week's quota must be positive"),
        ("[quota]\nwarmup = [[0, 20], [4]]\n", r"quota\.warmup: each step is \[age_days, "),
        ("[quota]\nwarmup = [[1, 20], [4, 0]]\n", r"quota\.warmup: step ages must start at 0"),
        ("[quota]\nwarmup = [[0, 20], [0, 0]]\n", r"quota\.warmup: step ages must .*increase"),
        ("[quota]\nwarmup = [[0, -1], [4, 0]]\n", r"quota\.warmup: .*must not be negative"),
        ("[quota]\nwarmup = [[0, 20], [4, 50]]\n", r"quota\.warmup: end the ramp with"),
        ("[quota]\nwarmup = [[0, 20], 7]\n", r"quota\.warmup\[1\]: expected a list"),
        ('[quota]\ntimezone = "Mars/Base"\n', r"quota\.timezone: unknown IANA timezone"),
        ('[[phones]]\nid = "a b"\nphone = "+447700900001"\n', r"phones\[0\]\.id: .*letters, dig"),
        ('[[phones]]\nid = "x_followup"\nphone = "+447700900001"\n', r"phones\[0\]\.id: .*_follo"),
        (PHONE + PHONE, r"phones\[1\]\.id: phone id '01' is used twice; also at phones\[0\]"),
        (PHONE + PHONE.replace("00001", "00002"), r"phones\[1\]\.id: .*used twice"),
        (PHONE + PHONE.replace('"01"', '"02"'), r"phones\[1\]\.phone: .*configured twice"),
        ('[phones]\nfile = "phones.txt"\n', r"phones\.file: 'phones\.txt' must end in \.csv or"),
        ('[phones]\nfile = ""\n', r"phones\.file: must name a CSV or TOML file"),
        ('[phones]\nfil = "p.csv"\n', r"phones\.fil: unknown key 'fil': \[phones\] holds only"),
        ('[[phones]]\nid = "01"\nphone = "0740 123 456"\n', r"phones\[0\]\.phone: .*E\.164"),
        ('[[phones]]\nid = "01"\n', r"phones\[0\]\.phone: is required"),
        ('[[phones]]\nid = "01"\nphone = "+447700900001"\nstarted_on = \'x\'\n', r"a date"),
        ("phones = 3\n", r"phones: expected a list"),
        ("[clock]\nspeed = 0\n", r"clock\.speed: must be positive"),
        ("[health]\nfirst_messages = 0\n", r"health\.first_messages: must be at least 1"),
        ("[health]\nreplies = -1\n", r"health\.replies: must be at least 1"),
        ("[health]\nstuck_after_h = 0\n", r"health\.stuck_after_h: must be positive"),
        ("[breaker]\nmax_invalid = 0\n", r"breaker\.max_invalid: must be at least 1"),
        ("[breaker]\nmin_delivered_rate = 40\n", r"breaker\.min_delivered_rate: must be a share"),
        ("[breaker]\ncooling_min = 0\n", r"breaker\.cooling_min: must be positive"),
        ('[breaker]\ncheck_cron = "often"\n', r"breaker\.check_cron: 'often' is not a 5-field"),
        ("[texts]\nsimilarity_threshold = 1.5\n", r"texts\.similarity_threshold: must be"),
        ("[texts]\nsimilarity_threshold = 0\n", r"texts\.similarity_threshold: must be"),
        ("[texts]\nwindow = 0\n", r"texts\.window: must be at least 1"),
        ("[texts]\nrewordings = -1\n", r"texts\.rewordings: must not be negative"),
        ("[texts]\nretry_after_s = 0\n", r"texts\.retry_after_s: must be positive"),
        ("[clock]\nepoch = 2026-01-01T00:00:00\n", r"clock\.epoch: needs a UTC offset"),
        ('[redis]\nnamespace = "a:b"\n', r"redis\.namespace"),
        ('[redis]\nnamespace = "a b"\n', r"redis\.namespace"),
        ('[database]\nurl = "mysql://u@h/db"\n', r"database\.url: 'mysql://u@h/db' is not a "),
        ('[database]\nurl = "postgres://u@h/db"\n', r"database\.url: .*postgresql\+psycopg://"),
        ('[database]\nurl = "outreach.db"\n', r"database\.url: not a database URL; use sqlite"),
        ('[redis]\nurl = "localhost:6379"\n', r"redis\.url: .*use redis://HOST:PORT/DB"),
        ('[redis]\nurl = "redis://h:port/0"\n', r"redis\.url: 'redis://h:port/0' is not a Redis"),
    ],
)
def test_bad_config_names_file_key_and_problem(tmp_path: Path, body: str, expected: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_settings(path)
    assert str(caught.value).startswith(str(path))
    assert caught.value.exit_code == 2


def test_not_utf8_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xff\xfe[x]")
    with pytest.raises(ConfigError, match="not UTF-8|malformed"):
        load_settings(path)
    with pytest.raises(ConfigError, match="outreach init"):
        load_settings(tmp_path / "missing.toml")


def test_config_discovery_order(tmp_path: Path) -> None:
    assert find_config("a.toml", {"OUTREACH_CONFIG": "b.toml"}) == Path("a.toml")
    assert find_config(None, {"OUTREACH_CONFIG": "b.toml"}) == Path("b.toml")
    assert find_config(None, {}) == Path("config.toml")


@pytest.mark.parametrize(
    ("variable", "url", "expected"),
    [
        ("OUTREACH_DATABASE_URL", "mysql://u:hunter2@h/db", r"'mysql://u:\*\*\*@h/db' is not a"),
        ("OUTREACH_REDIS_URL", "redis://:hunter2@h:x/0", r"'redis://\*\*\*@h:x/0' is not a"),
    ],
)
def test_a_url_from_the_environment_is_checked_and_named_by_its_variable(
    tmp_path: Path, variable: str, url: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected) as caught:
        load_settings(write(tmp_path, ""), {variable: url})
    assert str(caught.value).startswith(f"{variable}: ")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///outreach.db",
        "sqlite:////srv/outreach/outreach.db",
        "postgresql://u@h/db",
        "postgresql+psycopg://u:p@h:5432/db",
    ],
)
def test_the_supported_database_urls_load(tmp_path: Path, url: str) -> None:
    assert load_settings(write(tmp_path, f'[database]\nurl = "{url}"\n')).database.url


@pytest.mark.parametrize(
    "url",
    [
        "redis://h:6379/0", "rediss://h", "unix:///run/redis.sock", "REDIS://h:1/2",
        "redis://:pw@h:6379/0?socket_timeout=2.5",
    ],
)  # fmt: skip
def test_the_redis_url_forms_load(tmp_path: Path, url: str) -> None:
    assert load_settings(write(tmp_path, f'[redis]\nurl = "{url}"\n')).redis.url == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("localhost:6379", "the scheme must be"),
        ("redis:h:6379", "the scheme must be"),
        ("http://h:6379/0", "the scheme must be"),
        ("redis://h:x/0", "Port could not be cast"),
        ("redis://h:70000/0", "Port out of range"),
        ("redis://h:6379/0?socket_timeout=soon", "socket_timeout"),  # redis-py's parser
    ],
)
def test_a_redis_url_that_is_not_one_says_why(tmp_path: Path, url: str, why: str) -> None:
    with pytest.raises(ConfigError, match="is not a Redis URL") as caught:
        load_settings(write(tmp_path, f'[redis]\nurl = "{url}"\n'))
    assert why in str(caught.value)


@pytest.mark.parametrize(
    ("clock", "refused"),
    [
        ("", False),
        ("[clock]\nspeed = 1\n", False),
        ("[clock]\nspeed = 200\nepoch = 2026-01-05T09:00:00Z\n", False),
        ("[clock]\nspeed = 200\n", True),
        ("[clock]\nspeed = 0.5\n", True),
    ],
)
def test_processes_sharing_a_sped_up_clock_need_its_epoch(
    tmp_path: Path, clock: str, refused: bool
) -> None:
    settings = load_settings(write(tmp_path, clock))
    now = datetime(2026, 12, 7, 17, 30, 5, tzinfo=UTC)
    if not refused:
        require_shared_clock(settings, now)
        return
    with pytest.raises(ConfigError, match=r"clock\.epoch: .*epoch = 2026-12-07T17:30:05Z"):
        require_shared_clock(settings, now)
