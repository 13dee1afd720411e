"""Create or update a staff console account (`make staff-user EMAIL=... ROLE=staff|admin`).

    python -m staff.console.users EMAIL ROLE

The password comes from STAFF_PASSWORD, or is asked for twice (not echoed) when that is
unset. STAFF_NAME (or --name) is the name a patient is told when this account takes a
conversation over ("Anna from Example Vein Clinic has joined"). An existing account gets the role and the new password, and is signed out
everywhere. The request database is migrated first. Each change is in the audit trail.
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import List, Optional

from sqlalchemy.exc import SQLAlchemyError

from clinic import store
from staff.console.auth import AccountError, save_account
from staff.console.models import ROLES


def read_password() -> str:
    given = os.environ.get("STAFF_PASSWORD")
    if given:
        return given
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise AccountError("the two passwords differ")
    return first


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m staff.console.users",
                                     description="Create or update a staff console account.")
    parser.add_argument("email")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--name", default=os.environ.get("STAFF_NAME"),
                        help="the name patients see on a take-over (default: STAFF_NAME)")
    args = parser.parse_args(argv)
    try:
        password = read_password()
        store.migrate()
        actor = f"command line ({getpass.getuser()})"
        account, created = save_account(args.email, args.role, password, actor=actor, display_name=args.name)
    except AccountError as error:
        print(f"Not saved: {error}.", file=sys.stderr)
        return 2
    except (EOFError, KeyboardInterrupt):
        print("\nNot saved.", file=sys.stderr)
        return 1
    except SQLAlchemyError as error:
        print(f"Not saved: database error ({type(error).__name__}).", file=sys.stderr)
        return 1
    print(f"{'Created' if created else 'Updated'} {account.role} account {account.email}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
