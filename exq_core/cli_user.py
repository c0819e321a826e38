"""`python -m exq_core user …`: local accounts from the command line, over the same use cases as the
Users page. The operator at the command line owns the database file, so commands act as the system
manager. Passwords come from a prompt (never echoed) or from stdin, never from an argument."""
from __future__ import annotations

import argparse
import getpass
import json
import sys

from . import auth
from .models import Role, cli_actor
from .store import open_store


def _read_password(args, prompt: str = "Password") -> str | None:
    if getattr(args, "no_password", False):
        return None
    if args.password_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        raise auth.AccountInvalid("No terminal to ask for a password: pipe it in with --password-stdin.")
    first = getpass.getpass(f"{prompt} for {args.name}: ")
    auth.check_password_policy(first)
    if getpass.getpass("Repeat it: ") != first:
        raise auth.AccountInvalid("The two passwords differ; nothing was changed.")
    return first


def _show(account: auth.Account) -> str:
    state = "disabled" if account.disabled else "active"
    login = "password" if account.has_password else "OIDC only"
    return f"{account.username:<24} {account.role.value:<9} {state:<9} {login:<10} updated {account.updated_at:%Y-%m-%d %H:%M}"


def cmd_user_add(args) -> int:
    password = _read_password(args)
    with open_store(args.db) as store:
        account = auth.add_user(store, args.name, password, args.role, cli_actor())
    print(f"added {_show(account)}")
    return 0


def cmd_user_list(args) -> int:
    with open_store(args.db) as store:
        accounts = auth.list_users(store, cli_actor())
    if args.json:
        print(json.dumps([a.model_dump(mode="json") for a in accounts]))
    elif not accounts:
        print("no accounts yet; add one with: python -m exq_core user add NAME --role manager")
    else:
        print(f"{'username':<24} {'role':<9} {'state':<9} {'sign-in':<10}")
        for account in accounts:
            print(_show(account))
    return 0


def cmd_user_set_role(args) -> int:
    with open_store(args.db) as store:
        account = auth.set_role(store, args.name, args.role, cli_actor())
    print(f"changed {_show(account)}")
    return 0


def cmd_user_passwd(args) -> int:
    password = _read_password(args, "New password")
    with open_store(args.db) as store:
        account = auth.set_password(store, args.name, password, cli_actor())
    print(f"password set for {account.username}")
    return 0


def cmd_user_disable(args) -> int:
    with open_store(args.db) as store:
        account = auth.set_disabled(store, args.name, args.command_name == "disable", cli_actor())
    print(f"changed {_show(account)}")
    return 0


def cmd_user_invite(args) -> int:
    """Let a verified e-mail address sign in once through single sign-on, as a new account with a role."""
    with open_store(args.db) as store:
        auth.invite(store, args.email, args.role, cli_actor())
    email = args.email.strip().lower()
    print(f"invited {email} as {args.role}: their first single sign-on with this verified address creates the "
          "account, bound to the identity provider's subject id from then on")
    return 0


def cmd_user_first_run(args) -> int:
    """For `make run`: on a database without accounts, create the first manager; never prompts."""
    with open_store(args.db) as store:
        created = auth.ensure_first_manager(store, store.home)
        count = auth.count_users(store)
        home, label = store.home, store.label
    if created:
        username, password, path = created
        print(f"\n  First sign-in: username '{username}', password '{password}'\n"
              f"  (also in {path}, readable only by you; change the password after signing in, then delete "
              "that file)\n")
    else:
        hint = home / auth.FIRST_LOGIN_FILE
        extra = f" First sign-in details: {hint}." if hint.exists() else ""
        print(f"{count} account(s) in {label}; sign in with yours.{extra} "
              "Accounts: python -m exq_core user list")
    return 0


def add_user_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("user", help="accounts: add, list, set-role, passwd, disable, enable, invite")
    users = p.add_subparsers(dest="user_command", required=True)

    def password_source(q, allow_none: bool = False):
        group = q.add_mutually_exclusive_group()
        group.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
        if allow_none:
            group.add_argument("--no-password", action="store_true",
                               help="no local password: signs in only through the OIDC provider")

    q = users.add_parser("add", parents=[common], help="add an account (password from a prompt or stdin)")
    q.add_argument("name", help="username (or the e-mail the OIDC provider reports)")
    q.add_argument("--role", required=True, choices=[r.value for r in Role])
    password_source(q, allow_none=True)
    q.set_defaults(func=cmd_user_add)

    q = users.add_parser("list", parents=[common], help="list accounts (never their passwords)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_user_list)

    q = users.add_parser("set-role", parents=[common], help="change an account's role")
    q.add_argument("name")
    q.add_argument("role", choices=[r.value for r in Role])
    q.set_defaults(func=cmd_user_set_role)

    q = users.add_parser("passwd", parents=[common], help="set a new password for an account")
    q.add_argument("name")
    password_source(q, allow_none=True)
    q.set_defaults(func=cmd_user_passwd)

    for name, text in (("disable", "disable an account (signed out on its next rerun)"),
                       ("enable", "enable a disabled account")):
        q = users.add_parser(name, parents=[common], help=text)
        q.add_argument("name")
        q.set_defaults(func=cmd_user_disable, command_name=name)

    q = users.add_parser("invite", parents=[common],
                         help="let an e-mail address sign in through single sign-on once, with a role")
    q.add_argument("email", help="the address the identity provider reports (and says is verified)")
    q.add_argument("--role", required=True, choices=[r.value for r in Role])
    q.set_defaults(func=cmd_user_invite)

    q = users.add_parser("first-run", parents=[common],
                         help="create the first manager if there is no account (used by make run)")
    q.set_defaults(func=cmd_user_first_run)
