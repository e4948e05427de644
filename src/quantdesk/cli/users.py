"""``quantdesk users`` and ``quantdesk apikey``: who may call the network service.

Whoever runs these on the desk's machine can already open its database, so they act as an
administrator (the audit log names the operating-system user). A generated password or key
is printed once, to stdout alone; a chosen password is read from stdin, never from the
command line (which ``ps`` and shell histories keep).
"""

import getpass
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from quantdesk.cli.errors import reported_failures
from quantdesk.domain.auth import ADMIN_USERNAME, Role
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.time import ns_to_text

_PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="read the password from stdin (default: generate one)"),
]
_STDIN_MAX_CHARS = 1024


def add_user_commands(app: typer.Typer, out: Console, err: Console) -> None:
    users = typer.Typer(no_args_is_help=True, help="Users of the network service.")
    keys = typer.Typer(no_args_is_help=True, help="API keys for machines calling the service.")
    app.add_typer(users, name="users")
    app.add_typer(keys, name="apikey")

    @users.command("add")
    def users_add(
        ctx: typer.Context,
        username: Annotated[str, typer.Argument(help="lowercase letters, digits, _ . -")],
        role: Annotated[Role, typer.Option(help="what the user may do")] = Role.viewer,
        password_stdin: _PasswordStdin = False,
    ) -> None:
        """Add a user; a generated password is printed once."""
        with reported_failures(err):
            chosen = _stdin_password() if password_stdin else None
            user, generated = ctx.obj.platform.service.auth.add_user(
                username, role, actor=_actor(), password=chosen
            )
            err.print(f"added: {user.username} ({user.role.value})")
            if generated is not None:
                _secret(generated, "password", err)

    @users.command("list")
    def users_list(ctx: typer.Context) -> None:
        """Every user, its role and state."""
        with reported_failures(err):
            table = Table(title="Users")
            for column in ("username", "role", "state", "created", "by"):
                table.add_column(column)
            for u in ctx.obj.platform.service.auth.users():
                state = "disabled" if u.disabled else "enabled"
                table.add_row(
                    u.username, u.role.value, state, ns_to_text(u.created_ns), u.created_by
                )
            out.print(table)

    @users.command("disable")
    def users_disable(ctx: typer.Context, username: str) -> None:
        """Lock a user out at once (tokens, sessions and API keys stop working)."""
        with reported_failures(err):
            ctx.obj.platform.service.auth.disable(username, actor=_actor())
            out.print(f"disabled: {username}")

    @users.command("enable")
    def users_enable(ctx: typer.Context, username: str) -> None:
        """Let a disabled user log in again."""
        with reported_failures(err):
            ctx.obj.platform.service.auth.enable(username, actor=_actor())
            out.print(f"enabled: {username}")

    @users.command("set-role")
    def users_set_role(ctx: typer.Context, username: str, role: Role) -> None:
        """Change a user's role (it applies from the user's next request)."""
        with reported_failures(err):
            user = ctx.obj.platform.service.auth.set_role(username, role, actor=_actor())
            out.print(f"{user.username}: {user.role.value}")

    @users.command("reset-password")
    def users_reset_password(
        ctx: typer.Context, username: str, password_stdin: _PasswordStdin = False
    ) -> None:
        """Set a new password (generated and printed once unless read from stdin); the
        user's sessions are revoked."""
        with reported_failures(err):
            chosen = _stdin_password() if password_stdin else None
            generated = ctx.obj.platform.service.auth.reset_password(
                username, actor=_actor(), password=chosen
            )
            err.print(f"password reset: {username}")
            if generated is not None:
                _secret(generated, "password", err)

    @keys.command("create")
    def apikey_create(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="what the key is for, e.g. 'signal feed'")],
        role: Annotated[Role, typer.Option(help="at most the owner's role")] = Role.viewer,
        owner: Annotated[str, typer.Option(help="the user the key acts for")] = ADMIN_USERNAME,
        expires_days: Annotated[
            int | None, typer.Option(help="days until it expires (default: never)")
        ] = None,
    ) -> None:
        """Create an API key; the key is printed once (only its hash is kept)."""
        with reported_failures(err):
            record, key = ctx.obj.platform.service.auth.create_api_key(
                name, role, actor=_actor(), expires_days=expires_days, owner=owner
            )
            err.print(f"created: key {record.key_id} ({record.role.value}) for {owner}")
            _secret(key, "API key", err)

    @keys.command("list")
    def apikey_list(ctx: typer.Context) -> None:
        """Every API key (never its secret): role, owner, expiry, last use."""
        with reported_failures(err):
            auth = ctx.obj.platform.service.auth
            names = {u.user_id: u.username for u in auth.users()}
            table = Table(title="API keys")
            for column in ("key id", "name", "role", "owner", "expires", "last used", "state"):
                table.add_column(column)
            for k in auth.api_keys():
                table.add_row(
                    k.key_id,
                    k.name,
                    k.role.value,
                    names.get(k.user_id, k.user_id),
                    "never" if k.expires_ns is None else ns_to_text(k.expires_ns),
                    "-" if k.last_used_ns is None else ns_to_text(k.last_used_ns),
                    "revoked" if k.revoked_ns is not None else "active",
                )
            out.print(table)

    @keys.command("revoke")
    def apikey_revoke(ctx: typer.Context, key_id: str) -> None:
        """Revoke an API key: it stops working at once."""
        with reported_failures(err):
            ctx.obj.platform.service.auth.revoke_api_key(key_id, actor=_actor())
            out.print(f"revoked: {key_id}")


def _actor() -> str:
    return f"{getpass.getuser()} (cli)"


def _stdin_password() -> str:
    line = sys.stdin.readline(_STDIN_MAX_CHARS + 1).rstrip("\r\n")
    if not line:
        raise InvalidInputError("no password on stdin", code="invalid_password")
    return line


def _secret(value: str, what: str, err: Console) -> None:
    """The secret alone on stdout (pipe it where it goes); the notice beside it on stderr."""
    sys.stdout.write(value + "\n")
    sys.stdout.flush()
    err.print(f"the {what} above is shown this once: keep it now")
