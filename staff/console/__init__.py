"""The staff console: a small web application for the clinic's staff (README, "Staff console").

It signs staff in (accounts with Argon2 hashes, server-side sessions), lists booking and
call-back requests with their delivery state, emergencies first, shows one in full, retries
dead letters and records all of it in an audit trail. It reads the core (clinic/) and the
staff tools' shared module (staff/shared.py), never addons/ or actions/.

    python -m staff.console                  # the server (ops/stack.py starts it as "console")
    python -m staff.console.users EMAIL ROLE # create or update an account
"""
