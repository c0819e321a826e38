"""Who may act, checked where the write happens (SPEC §4).

A page knows who signed in and with which role when it was drawn; by the time a button is clicked the
person may have been demoted or disabled. So every write re-reads the account inside its own transaction
(`recheck`) and decides with the role the database holds now. A stale permission is refused with a
sentence the person understands, and nothing is written.
"""
from __future__ import annotations

from .errors import NotPermitted
from .models import Actor, Role
from .workflow import PERMISSIONS

WHAT = {"decide": "decide cases", "claim": "claim cases", "reopen": "reopen cases", "import": "import orders",
        "bulk": "use bulk actions", "rules": "change the rules", "users": "manage accounts",
        "read": "read cases", "views": "save views"}


def recheck(cur, actor: Actor, permission: str) -> Actor:
    """The person as the database knows them now, if they may still do `permission`; else NotPermitted.
    Run inside the write's unit of work (on PostgreSQL the account row is held until commit)."""
    if actor.system:
        fresh = actor
    else:
        row = cur.execute(f"SELECT role, disabled FROM users WHERE username = ?{cur.dialect.for_share}",
                          [actor.username]).fetchone()
        if row is None:
            raise NotPermitted(f"The account '{actor.username}' no longer exists, so nothing was saved. "
                               "Sign in with an account that does.")
        if row[1]:
            raise NotPermitted(f"The account '{actor.username}' has been disabled, so nothing was saved. "
                               "Ask a manager if this is a mistake.")
        fresh = Actor(username=actor.username, role=Role(row[0]))
    if permission not in PERMISSIONS[fresh.role] and permission != "views":
        changed = fresh.role is not actor.role
        why = (f"your role changed to {fresh.role.value} since this page was opened" if changed
               else f"a {fresh.role.value} may not {WHAT.get(permission, permission)}")
        raise NotPermitted(f"Not saved: {why}. Reload the page to see what you can do, or ask a manager.")
    return fresh
