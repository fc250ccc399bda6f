"""The phones file ([phones] file = "phones.csv" or .toml) and planning `phones import`."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.settings import load_settings
from engine.settings.phone_file import read_phones, write_phones
from engine.settings.phone_import import plan_import
from engine.settings.sections import PhoneSettings

CSV = """id,phone,new_contacts_per_day,started_on
london-1,+447700900001,50,2026-01-05
02,+447700900002,,
"""
TOML = """[[phones]]
id = "london-1"
phone = "+447700900001"
new_contacts_per_day = 50
started_on = 2026-01-05

[[phones]]
id = "02"
phone = "+447700900002"
"""
LONDON = PhoneSettings(
    "london-1", "+447700900001", new_contacts_per_day=50, started_on=date(2026, 1, 5)
)
EXPECTED = (LONDON, PhoneSettings("02", "+447700900002"))


def config(tmp_path: Path, phones_file: str, body: str) -> Path:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / phones_file).write_text(body, encoding="utf-8")
    path = tmp_path / "conf" / "config.toml"
    path.write_text(f'[phones]\nfile = "{phones_file}"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "body"), [("phones.csv", CSV), ("phones.toml", TOML)])
def test_the_phones_come_from_the_file_next_to_the_config(
    tmp_path: Path, name: str, body: str
) -> None:
    settings = load_settings(config(tmp_path, name, body))
    assert settings.phones == EXPECTED
    assert settings.phones_file == tmp_path / "conf" / name


def test_a_csv_may_have_a_byte_order_mark_blank_lines_and_spaces(tmp_path: Path) -> None:
    body = "\ufeffid , phone\n\n 01 , +447700900001 \n,\n"
    settings = load_settings(config(tmp_path, "phones.csv", body))
    assert [(p.id, p.phone) for p in settings.phones] == [("01", "+447700900001")]


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        ("phones.csv", "id,phone\n01,+447700900001\n01,+447700900002\n",
         r"phones\.csv: line 3: id: phone id '01' is used twice; also at line 2$"),
        ("phones.csv", "id,phone\nab,+447700900001\nAB,+447700900002\n",
         r"line 3: id: phone id 'AB' is used twice \(as 'ab': case aside\); also at line 2"),
        ("phones.csv", "id,phone\n01,+447700900001\n02,+447700900001\n",
         r"line 3: phone: '\+447700900001' is configured twice; also at line 2"),
        ("phones.csv", "id,phone\n01,+447700900001\nx y,+447700900002\n",
         r"phones\.csv: line 3: id: 'x y' is not a phone id: use letters"),
        ("phones.csv", "id,phone\n01,0740\n", r"line 2: phone: '0740' is not a valid E\.164"),
        ("phones.csv", "id,phone,new_contacts_per_day\n01,+447700900001,lots\n",
         r"line 2: new_contacts_per_day: expected an integer, got 'lots'"),
        ("phones.csv", "id,phone,started_on\n01,+447700900001,soon\n",
         r"line 2: started_on: expected a date \(YYYY-MM-DD\)"),
        ("phones.csv", "id,phone\n01,\n", r"line 2: phone: is required"),
        ("phones.csv", "id,phone\n01,+447700900001,x\n", r"line 2: 3 cells, but the header"),
        ("phones.csv", "id,number\n", r"line 1: unknown column 'number'; the columns are id,phone"),
        ("phones.csv", "id,phon\n", r"line 1: unknown column 'phon'; did you mean 'phone'\?"),
        ("phones.csv", "phone\n", r"line 1: the header needs a 'id' column"),
        ("phones.csv", "", r"phones\.csv: the first line must name the columns"),
        ("phones.toml", TOML + '\n[[phones]]\nid = "02"\nphone = "+447700900003"\n',
         r"phones\.toml: line 11: phones\[2\]\.id: phone id '02' is used twice; also at line 7"),
        ("phones.toml", '[[phones]]\nid = "01"\nphone = "+447700900001"\nquota = 3\n',
         r"phones\.toml: line 1: phones\[0\]\.quota: unknown key 'quota'"),
        ("phones.toml", '[phones]\nid = "01"\n', r"phones\.toml: phones: expected \[\[phones\]\]"),
        ("phones.toml", '[quota]\nx = 1\n', r"phones\.toml: quota: a phones file holds only"),
        ("phones.toml", 'phones = [', r"phones\.toml: malformed TOML"),
    ],
)  # fmt: skip
def test_a_bad_row_names_the_file_the_line_and_the_field(
    tmp_path: Path, name: str, body: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected) as caught:
        load_settings(config(tmp_path, name, body))
    assert caught.value.exit_code == 2


def test_a_missing_phones_file_says_how_to_make_one(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[phones]\nfile = "phones.csv"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"phones\.csv: no such phones file; .*phones import"):
        load_settings(path)


def test_every_bad_row_is_reported_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("id,phone,new_contacts_per_day\na b,+4477,\n01,+447700900001,x\n", "utf-8")
    problems = [p.key for p in read_phones(path).problems]
    assert problems == ["line 2: id", "line 2: phone", "line 3: new_contacts_per_day"]


def test_a_thousand_slug_phones_load(tmp_path: Path) -> None:
    rows = "".join(f"site-{n}_x,+4477009{n:05d}\n" for n in range(1000))
    settings = load_settings(config(tmp_path, "phones.csv", "id,phone\n" + rows))
    assert len(settings.phones) == 1000
    assert settings.phone("site-999_x").phone == "+447700900999"


# -- phones import: planning and writing -----------------------------------------------


def write(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def test_import_adds_updates_and_keeps_the_rest(tmp_path: Path) -> None:
    current = read_phones(write(tmp_path / "phones.csv", CSV))
    incoming = read_phones(
        write(
            tmp_path / "in.csv",
            "id,phone,new_contacts_per_day\n02,+447700900002,\nnew,+447700900003,7\n"
            "london-1,+447700900001,80\n",
        )
    )
    plan = plan_import(current, incoming)
    assert (plan.added, plan.updated, plan.unchanged) == (("new",), ("london-1",), ("02",))
    assert plan.problems == ()
    # The rows keep their order, new ones after them; a column the import lacks (started_on)
    # keeps its value, one it has replaces it.
    assert plan.phones == (
        replace(LONDON, new_contacts_per_day=80),
        PhoneSettings("02", "+447700900002"),
        PhoneSettings("new", "+447700900003", new_contacts_per_day=7),
    )  # fmt: skip


def test_an_empty_cell_of_the_import_clears_the_field(tmp_path: Path) -> None:
    current = read_phones(write(tmp_path / "phones.csv", CSV))
    incoming = read_phones(
        write(tmp_path / "in.csv", "id,phone,new_contacts_per_day\nlondon-1,+447700900001,\n")
    )
    plan = plan_import(current, incoming)
    assert plan.updated == ("london-1",)
    assert plan.phones[0].new_contacts_per_day is None
    assert plan.phones[0].started_on == date(2026, 1, 5)


def test_import_refuses_a_number_another_phone_has_naming_both_files(tmp_path: Path) -> None:
    current = read_phones(write(tmp_path / "phones.csv", CSV))
    incoming = read_phones(write(tmp_path / "in.csv", "id,phone\nnew,+447700900002\n"))
    plan = plan_import(current, incoming)
    assert [str(p) for p in plan.problems] == [
        f"{tmp_path / 'in.csv'}: line 2: phone: '+447700900002' is configured twice; also at"
        f" line 3 of {tmp_path / 'phones.csv'}"
    ]


def test_import_into_no_file_yet_adds_every_phone(tmp_path: Path) -> None:
    plan = plan_import(None, read_phones(write(tmp_path / "in.toml", TOML)))
    assert plan.added == ("london-1", "02")
    assert plan.phones == EXPECTED


@pytest.mark.parametrize("name", ["phones.csv", "phones.toml"])
def test_written_phones_read_back_the_same(tmp_path: Path, name: str) -> None:
    path = tmp_path / "sub" / name
    write_phones(path, EXPECTED)
    assert tuple(entry.phone for entry in read_phones(path).entries) == EXPECTED
    assert [p.name for p in path.parent.iterdir()] == [name]  # no temporary file left


def test_a_csv_keeps_its_columns_and_the_file_its_mode(tmp_path: Path) -> None:
    path = write(tmp_path / "phones.csv", "phone,id\n+447700900002,02\n")
    os.chmod(path, 0o640)
    write_phones(path, [*EXPECTED], columns=("phone", "id"))
    assert path.read_text("utf-8").splitlines()[0] == "phone,id,new_contacts_per_day,started_on"
    assert path.stat().st_mode & 0o777 == 0o640


def test_an_empty_phones_file_is_named_when_sending_needs_a_phone(tmp_path: Path) -> None:
    from engine.settings import require_phones

    settings = load_settings(config(tmp_path, "phones.csv", "id,phone\n"))
    assert settings.phones == ()
    with pytest.raises(ConfigError, match=r"phones\.csv: no phones in the phones file: add a row"):
        require_phones(settings)
