"""`python -m staff.console.users EMAIL ROLE` (make staff-user): accounts are made only by
this command, with a usable password and role; there is no default account."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from clinic import store
from tests.conftest import ROOT


def users(tmp_path: Path, *args: str, password: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'requests.db'}",
           "STAFF_PASSWORD": password}
    return subprocess.run([sys.executable, "-m", "staff.console.users", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def accounts(tmp_path: Path) -> list:
    url = f"sqlite:///{tmp_path / 'requests.db'}"
    with store.engine(url).connect() as connection:
        rows = connection.execute(sa.text("SELECT email, role, password_hash FROM staff_accounts")).all()
    store.engine(url).dispose()
    return rows


def test_no_default_account_and_unusable_input_is_refused(tmp_path: Path) -> None:
    store.migrate(f"sqlite:///{tmp_path / 'requests.db'}")
    assert accounts(tmp_path) == []
    short = users(tmp_path, "a@clinic.example", "staff", password="short")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    assert users(tmp_path, "a@clinic.example", "root", password="long enough password").returncode == 2
    assert users(tmp_path, "not-an-email", "staff", password="long enough password").returncode == 2
    assert accounts(tmp_path) == []


def test_an_account_is_created_then_updated_with_an_argon2_hash(tmp_path: Path) -> None:
    made = users(tmp_path, "Front.Desk@Clinic.example", "staff", password="first long password")
    assert made.returncode == 0 and made.stdout.strip() == "Created staff account front.desk@clinic.example."
    [(email, role, first_hash)] = accounts(tmp_path)
    assert (email, role) == ("front.desk@clinic.example", "staff")
    assert first_hash.startswith("$argon2id$") and "first long password" not in first_hash
    changed = users(tmp_path, "front.desk@clinic.example", "admin", password="second long password")
    assert changed.stdout.strip() == "Updated admin account front.desk@clinic.example."
    [(_, role, second_hash)] = accounts(tmp_path)
    assert role == "admin" and second_hash != first_hash


def test_the_name_patients_see_on_a_take_over_is_kept_until_a_new_one_is_given(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'requests.db'}"

    def name() -> str:
        with store.engine(url).connect() as connection:
            found = connection.execute(sa.text("SELECT display_name FROM staff_accounts")).scalar_one()
        store.engine(url).dispose()
        return found

    assert users(tmp_path, "anna@clinic.example", "staff", "--name", "  Anna   María ",
                 password="first long password").returncode == 0
    assert name() == "Anna María"
    assert users(tmp_path, "anna@clinic.example", "staff", password="second long password").returncode == 0
    assert name() == "Anna María"
    too_long = users(tmp_path, "anna@clinic.example", "staff", "--name", "A" * 81, password="third long password")
    assert too_long.returncode == 2 and "at most 80 characters" in too_long.stderr
