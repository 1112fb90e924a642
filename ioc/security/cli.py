"""`ioc users add|list|disable|enable|unlock|set-role|set-password` and `ioc tokens ...`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ioc.commands import AddCommand, UsageError, cli_actor, database, settings_of
from ioc.config import Settings


def _security_conn(settings: Settings):
    return database(settings, "ioc-cli", "users live in the database")


def _read_password(args: argparse.Namespace, settings: Settings, username: str) -> tuple[str, bool]:
    """(password, generated) from --password-stdin, --generate, or a prompt asked twice."""
    from ioc.security.passwords import generate_password, password_problem

    if args.generate:
        return generate_password(), True
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"password for {username}: ")
        if getpass.getpass("again: ") != password:
            raise UsageError("the two passwords differ")
    else:
        raise UsageError("no terminal to ask for the password: use --password-stdin or --generate")
    problem = password_problem(
        password, min_length=settings.security.password_min_length, username=username
    )
    if problem:
        raise UsageError(f"password {problem}")
    return password, False


def cmd_users_add(args: argparse.Namespace) -> int:
    from ioc.security import users

    settings = settings_of(args)
    try:
        name = users.check_username(args.username)
    except users.UserError as err:
        raise UsageError(str(err)) from None
    password, generated = _read_password(args, settings, name)
    with _security_conn(settings) as conn:
        try:
            user = users.add_user(
                conn, name, password, args.role, actor=cli_actor(),
                settings=settings.security, display_name=args.display_name or "",
            )
        except users.UserError as err:
            raise UsageError(str(err)) from None
        conn.commit()
    print(f"user {user.username} added with role {user.role}")
    if generated:
        print(f"password (shown once): {password}")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from ioc.security import users

    with _security_conn(settings_of(args)) as conn:
        rows = users.list_users(conn)
    print(f"{'username':<24} {'role':<11} {'status':<9} {'last log-in':<17} name")
    for u in rows:
        last = u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "-"
        status = "disabled" if u.disabled else "active"
        print(f"{u.username:<24} {u.role:<11} {status:<9} {last:<17} {u.display_name}")
    return 0


def _user_change(args: argparse.Namespace, change: Callable) -> int:
    from ioc.security import users

    settings = settings_of(args)
    with _security_conn(settings) as conn:
        try:
            user = change(conn, settings)
        except users.UserError as err:
            raise UsageError(str(err)) from None
        conn.commit()
    status = "disabled" if user.disabled else "active"
    print(f"user {user.username}: role {user.role}, {status}")
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    from ioc.security import users

    return _user_change(
        args, lambda conn, _s: users.set_disabled(conn, args.username, True, actor=cli_actor())
    )


def cmd_users_enable(args: argparse.Namespace) -> int:
    from ioc.security import users

    return _user_change(
        args, lambda conn, _s: users.set_disabled(conn, args.username, False, actor=cli_actor())
    )


def cmd_users_unlock(args: argparse.Namespace) -> int:
    from ioc.security import users

    def change(conn, _s):
        user, cleared = users.unlock(conn, args.username, actor=cli_actor())
        print(f"user {user.username}: {cleared} failed log-in attempts forgotten")
        return user

    return _user_change(args, change)


def cmd_users_set_role(args: argparse.Namespace) -> int:
    from ioc.security import users

    return _user_change(
        args, lambda conn, _s: users.set_role(conn, args.username, args.role, actor=cli_actor())
    )


def cmd_users_set_password(args: argparse.Namespace) -> int:
    from ioc.security import users

    settings = settings_of(args)
    password, generated = _read_password(args, settings, args.username.lower())
    code = _user_change(
        args,
        lambda conn, s: users.set_password(
            conn, args.username, password, actor=cli_actor(), settings=s.security
        ),
    )
    if generated:
        print(f"password (shown once): {password}")
    return code


def cmd_tokens_create(args: argparse.Namespace) -> int:
    from ioc.security import tokens

    settings = settings_of(args)
    with _security_conn(settings) as conn:
        try:
            raw, info = tokens.create_token(
                conn, args.name, args.scope, days=args.days, actor=cli_actor(),
                max_days=settings.security.token_max_days,
            )
        except tokens.TokenError as err:
            raise UsageError(str(err)) from None
        conn.commit()
    scopes = ", ".join(sorted(info.scopes))
    print(f"token {info.id} ({info.prefix}) for {info.name}, scopes {scopes}, "
          f"expires {info.expires_at:%Y-%m-%d}")
    print("the token (shown once; send it as 'Authorization: Bearer <token>'):")
    print(raw)
    return 0


def cmd_tokens_list(args: argparse.Namespace) -> int:
    from ioc.security import tokens

    with _security_conn(settings_of(args)) as conn:
        rows = tokens.list_tokens(conn, include_revoked=args.all)
    print(f"{'id':>4} {'prefix':<9} {'expires':<11} {'state':<8} {'name':<24} scopes")
    for k in rows:
        state = "revoked" if k.revoked_at else "active"
        print(f"{k.id:>4} {k.prefix:<9} {k.expires_at:%Y-%m-%d}  {state:<8} {k.name:<24} "
              f"{','.join(sorted(k.scopes))}")
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    from ioc.security import tokens

    with _security_conn(settings_of(args)) as conn:
        try:
            info = tokens.revoke_token(conn, args.token, actor=cli_actor())
        except tokens.TokenError as err:
            raise UsageError(str(err)) from None
        conn.commit()
    print(f"token {info.id} ({info.prefix}, {info.name}) revoked")
    return 0




def register(add: AddCommand) -> None:
    """`ioc users ...` and `ioc tokens ...`."""
    from ioc.security.roles import ROLES
    from ioc.security.tokens import SCOPES

    def password_options(p: argparse.ArgumentParser) -> None:
        g = p.add_mutually_exclusive_group()
        g.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of standard input")
        g.add_argument("--generate", action="store_true",
                       help="generate a random password and print it once")

    p = add("users", None, "People who may log in: add, list, disable, enable, unlock, set-role.")
    u_sub = p.add_subparsers(dest="users_command", metavar="TASK", required=True)
    ua = u_sub.add_parser(
        "add", help="Add a user (the password is prompted for, unless --password-stdin).",
        description="Add a user. The first admin of an installation is made this way.",
    )
    ua.add_argument("username", metavar="NAME")
    ua.add_argument("--role", required=True, choices=ROLES, help="what the user may do")
    ua.add_argument("--display-name", default="", help="full name shown in the app")
    password_options(ua)
    ua.set_defaults(func=cmd_users_add)
    u_sub.add_parser("list", help="List users.").set_defaults(func=cmd_users_list)
    ud = u_sub.add_parser("disable", help="Disable a user and end their sessions.")
    ud.add_argument("username", metavar="NAME")
    ud.set_defaults(func=cmd_users_disable)
    ue = u_sub.add_parser("enable", help="Enable a disabled user.")
    ue.add_argument("username", metavar="NAME")
    ue.set_defaults(func=cmd_users_enable)
    uu = u_sub.add_parser("unlock", help="Let a locked-out user log in again: enable them and "
                          "forget their failed log-in attempts.")
    uu.add_argument("username", metavar="NAME")
    uu.set_defaults(func=cmd_users_unlock)
    ur = u_sub.add_parser("set-role", help="Change a user's role (ends their sessions).")
    ur.add_argument("username", metavar="NAME")
    ur.add_argument("role", choices=ROLES)
    ur.set_defaults(func=cmd_users_set_role)
    up = u_sub.add_parser("set-password", help="Set a new password (ends their sessions).")
    up.add_argument("username", metavar="NAME")
    password_options(up)
    up.set_defaults(func=cmd_users_set_password)

    p = add("tokens", None, "API tokens for other systems: create, list, revoke.")
    t_sub = p.add_subparsers(dest="tokens_command", metavar="TASK", required=True)
    tc = t_sub.add_parser("create", help="Create a token (printed once).")
    tc.add_argument("name", metavar="NAME", help="which system uses it")
    tc.add_argument("--scope", action="append", required=True, choices=sorted(SCOPES),
                    help="what it may do (repeat for several)")
    tc.add_argument("--days", type=int, default=90, help="lifetime in days (default 90)")
    tc.set_defaults(func=cmd_tokens_create)
    tl = t_sub.add_parser("list", help="List tokens (active only, unless --all).")
    tl.add_argument("--all", action="store_true", help="include revoked tokens")
    tl.set_defaults(func=cmd_tokens_list)
    tr = t_sub.add_parser("revoke", help="Revoke a token by id or prefix.")
    tr.add_argument("token", metavar="ID_OR_PREFIX")
    tr.set_defaults(func=cmd_tokens_revoke)
