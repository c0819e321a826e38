"""Who may use exq, and how they prove it.

    passwords  the password policy and bcrypt
    accounts   local accounts, their changes (audited), single sign-on invitations, the first manager
    throttle   failed sign-ins limited per account and per address, atomically, before bcrypt
    sessions   signing in (password, single sign-on), sessions that survive a reload, the signed cookie
"""
from .accounts import (FIRST_LOGIN_FILE, FIRST_MANAGER, Account, AccountNotFound, LastManager, account_events,
                       add_user, change_own_password, count_users, ensure_first_manager, get_account, invitations,
                       invite, list_users, normalize_username, session_actor, set_disabled, set_password, set_role)
from .passwords import (MAX_PASSWORD_BYTES, MIN_PASSWORD, NO_PASSWORD, AccountInvalid, AuthError,
                        check_password_policy, generate_password, hash_password, verify_password)
from .sessions import (COOKIE, WRONG_CREDENTIALS, SignInRefused, SignInThrottled, sign_in, sign_in_external)

__all__ = ["COOKIE", "FIRST_LOGIN_FILE", "FIRST_MANAGER", "MAX_PASSWORD_BYTES", "MIN_PASSWORD", "NO_PASSWORD",
           "WRONG_CREDENTIALS", "Account", "AccountInvalid", "AccountNotFound", "AuthError", "LastManager",
           "SignInRefused", "SignInThrottled", "account_events", "add_user", "change_own_password",
           "check_password_policy", "count_users", "ensure_first_manager", "generate_password", "get_account",
           "hash_password", "invitations", "invite", "list_users", "normalize_username", "session_actor",
           "set_disabled", "set_password", "set_role", "sign_in", "sign_in_external", "verify_password"]
