"""Accounts of the web app: users, login sessions, one-time invites and roles per project.

The rules (OWASP Authentication, Session Management and Password Storage cheat sheets):

- A user has a unique name and an argon2id password hash (argon2-cffi, RFC 9106's second
  recommended parameter set); no password is ever stored or logged, and none is a default.
- A user belongs to a project with one role: ``"owner"`` (invites, unblinds, sees the audit
  log), ``"reviewer"`` (screens) or ``"viewer"`` (reads the dashboard). Owners and reviewers
  screen under a reviewer name of the project (the store's :class:`Reviewer`), so every vote
  the web app records is a vote of the same screening rules the CLI uses.
- A login creates a new random session id (never reusing one sent by the browser: no session
  fixation); only its SHA-256 is stored, with a CSRF token and an expiry. Logging out or
  deactivating the user ends the session.
- Accounts come from one-time invite links (only the token's SHA-256 is stored; it expires and
  works once). On a store with no users, :meth:`AccountsMixin.bootstrap_invite` makes the link
  that creates the first account, an administrator who may create projects.
- Deactivating a user keeps every vote they cast (their reviewer rows become inactive).

Every change to users, memberships and invites is audited; logins and logouts are not.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from metareview._validation import check_text
from metareview.exceptions import InputError
from metareview.review._core import StoreCore
from metareview.review.models import AuditLog, Base, Project, Reviewer, utc_now

__all__ = [
    "PROJECT_ROLES",
    "AccountsMixin",
    "Invite",
    "InviteInfo",
    "LoginSession",
    "Membership",
    "ProjectRole",
    "SessionInfo",
    "User",
    "UserInfo",
    "hash_password",
    "verify_password",
]

PROJECT_ROLES = ("owner", "reviewer", "viewer")
#: how long a login lasts, and an invite link works
SESSION_LIFETIME = timedelta(days=7)
INVITE_LIFETIME = timedelta(days=7)
MIN_PASSWORD = 10  # characters (NIST SP 800-63B asks for at least 8)
#: argon2-cffi's PasswordHasher arguments; empty: its defaults, argon2id with RFC 9106's
#: low-memory parameter set (t=3, m=64 MiB, p=4), about 0.2 s per hash on a 2-core machine
ARGON2_PARAMETERS: dict[str, int] = {}


class User(Base):
    """A person who logs in to the web app; ``admin`` users may create projects."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class Membership(Base):
    """A user's role in a project and the reviewer name they screen under (None: viewer)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "project_id", name="uq_membership"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("reviewers.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Invite(Base):
    """A one-time link: creates an account (and joins a project), or the first admin."""

    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class LoginSession(Base):
    """A logged-in browser or script: the SHA-256 of its session id, and its CSRF token."""

    __tablename__ = "login_sessions"
    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user as the web app sees it (never the hash)."""

    id: int
    username: str
    admin: bool
    active: bool


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """The user behind a valid session id, with the session's CSRF token."""

    user: UserInfo
    csrf_token: str


@dataclass(frozen=True, slots=True)
class InviteInfo:
    """What an unused, unexpired invite offers (``project`` None: the first administrator)."""

    project: str | None
    role: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ProjectRole:
    """A user's role in one project; ``reviewer`` is the name they screen under."""

    project: str
    role: str
    reviewer: str | None


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _hasher() -> Any:
    try:
        from argon2 import PasswordHasher
    except ImportError as exc:  # pragma: no cover - the web extra is missing
        raise InputError("accounts need argon2-cffi: pip install 'metareview[web]'.") from exc
    return PasswordHasher(**ARGON2_PARAMETERS)


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string) of ``password``; InputError if it is too short."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InputError(f"password must have at least {MIN_PASSWORD} characters.")
    return str(_hasher().hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (constant-time, argon2)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


#: a hash to verify against when the user does not exist, so that the time of a failed login
#: does not tell whether the name exists
_DUMMY_HASH: list[str] = []


def _aware(when: datetime) -> datetime:
    """SQLite returns naive datetimes; the store writes UTC."""
    from datetime import UTC

    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _info(user: User) -> UserInfo:
    return UserInfo(id=user.id, username=user.username, admin=user.admin, active=user.active)


class AccountsMixin(StoreCore):
    """Account methods of :class:`~metareview.review.Store` (see the module docstring)."""

    # -- invites --------------------------------------------------------------------------
    def has_users(self) -> bool:
        """Whether any account exists (if not, the app offers the bootstrap link)."""
        with self.session() as s:
            return s.scalar(select(User.id).limit(1)) is not None

    def bootstrap_invite(self) -> str:
        """A one-time token that creates the first account, an administrator.

        Raises
        ------
        InputError
            If an account exists already (then an administrator creates the others).
        """
        with self.session() as s:
            if s.scalar(select(User.id).limit(1)) is not None:
                raise InputError(
                    "the store has accounts already; ask an administrator for an invite link."
                )
            return self._new_invite(s, None, "admin", None, "bootstrap link")

    def create_invite(self, project: str, role: str, *, by: str) -> str:
        """A one-time token that lets a new or existing user join ``project`` as ``role``.

        ``by`` must be an owner of the project (or an administrator). The token is returned
        once; only its hash is stored.
        """
        if role not in PROJECT_ROLES:
            raise InputError(f"role must be one of {list(PROJECT_ROLES)}; got {role!r}.")
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            inviter = _user_row(s, by)
            if not inviter.admin and _role(s, inviter.id, proj.id) != "owner":
                raise InputError(f"{by!r} is not an owner of {proj.name!r}; only owners invite.")
            return self._new_invite(s, proj.id, role, inviter.id, f"invite as {role}")

    def _new_invite(
        self, s: Session, project_id: int | None, role: str, created_by: int | None, reason: str
    ) -> str:
        token = secrets.token_urlsafe(32)
        invite = Invite(
            token_sha256=_sha256(token),
            project_id=project_id,
            role=role,
            created_by=created_by,
            expires_at=utc_now() + INVITE_LIFETIME,
        )
        s.add(invite)
        s.flush()
        actor = "metareview" if created_by is None else s.get(User, created_by).username
        _audit_entry(
            s,
            actor,
            "invite",
            str(invite.id),
            None,
            {"project_id": project_id, "role": role},
            reason,
            project_id,
        )
        return token

    def invite_info(self, token: str) -> InviteInfo:
        """What the invite ``token`` offers; InputError if it is unknown, used or expired."""
        with self.session() as s:
            invite = _usable_invite(s, token)
            name = None if invite.project_id is None else s.get(Project, invite.project_id).name
            return InviteInfo(project=name, role=invite.role, expires_at=_aware(invite.expires_at))

    def accept_invite(
        self, token: str, username: str, password: str, reviewer_name: str | None = None
    ) -> UserInfo:
        """Use the invite ``token``: create the account ``username`` (or, if it exists and
        ``password`` is its password, use it) and join the invite's project.

        Owners and reviewers screen as ``reviewer_name`` (default: ``username``), added to
        the project's reviewers if new; a reviewer name already taken by another account is
        refused. The invite then stops working.

        Raises
        ------
        InputError
            Unknown, used or expired invite; a short password; an existing account with a
            wrong password; a reviewer name of another account; already a member.
        """
        check_text("username", username, max_length=200)
        if username != username.strip():
            raise InputError("username must not start or end with spaces.")
        with self.session() as s:
            invite = _usable_invite(s, token, lock=True)
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                user = User(
                    username=username,
                    password_hash=hash_password(password),
                    admin=invite.role == "admin",
                    active=True,
                )
                s.add(user)
                s.flush()
                _audit_entry(
                    s,
                    username,
                    "user",
                    str(user.id),
                    None,
                    {"username": username, "admin": user.admin},
                    "account created",
                )
            elif not (user.active and verify_password(user.password_hash, password)):
                raise InputError(
                    f"username {username!r} is taken; give its password to join "
                    "with that account, or choose another name."
                )
            if invite.project_id is not None:
                proj = self._project(s, s.get(Project, invite.project_id).name, lock=True)
                self._join(s, proj, user, invite.role, reviewer_name or username, username)
            invite.used_at = utc_now()
            invite.used_by = user.id
            _audit_entry(
                s,
                username,
                "invite",
                str(invite.id),
                None,
                {"used_by": user.id},
                "invite used",
                invite.project_id,
            )
            return _info(user)

    def add_member(
        self, project: str, username: str, role: str, *, by: str, reviewer_name: str | None = None
    ) -> None:
        """Give the existing user ``username`` ``role`` in ``project`` (``by``: an owner or
        administrator; the creator of a project makes themselves its owner this way)."""
        if role not in PROJECT_ROLES:
            raise InputError(f"role must be one of {list(PROJECT_ROLES)}; got {role!r}.")
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            actor = _user_row(s, by)
            if not actor.admin and _role(s, actor.id, proj.id) != "owner":
                raise InputError(f"{by!r} is not an owner of {proj.name!r}.")
            self._join(s, proj, _user_row(s, username), role, reviewer_name or username, by)

    def remove_member(self, project: str, username: str, *, by: str, reason: str) -> None:
        """Take ``username`` out of ``project`` (``by``: an owner or administrator): they can
        no longer open it or vote; every vote they cast is kept (audited)."""
        check_text("reason", reason, purpose=" for the audit log")
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            actor = _user_row(s, by)
            if not actor.admin and _role(s, actor.id, proj.id) != "owner":
                raise InputError(f"{by!r} is not an owner of {proj.name!r}.")
            user = _user_row(s, username)
            if user.id == actor.id:
                raise InputError("an owner cannot remove themselves from a project.")
            member = s.scalar(
                select(Membership).where(
                    Membership.user_id == user.id,
                    Membership.project_id == proj.id,
                    Membership.active.is_(True),
                )
            )
            if member is None:
                raise InputError(f"{username!r} is not a member of {proj.name!r}.")
            member.active = False
            if member.reviewer_id is not None:
                s.get(Reviewer, member.reviewer_id).active = False
            self._audit(
                s, by, "membership", str(member.id), {"active": True}, {"active": False}, reason
            )

    def _join(
        self, s: Session, proj: Project, user: User, role: str, reviewer_name: str, actor: str
    ) -> None:
        if (
            s.scalar(
                select(Membership).where(
                    Membership.user_id == user.id, Membership.project_id == proj.id
                )
            )
            is not None
        ):
            raise InputError(f"{user.username!r} is already a member of {proj.name!r}.")
        reviewer_id = None
        if role in ("owner", "reviewer"):
            check_text("reviewer name", reviewer_name, max_length=200)
            reviewer = s.scalar(
                select(Reviewer).where(
                    Reviewer.project_id == proj.id, Reviewer.name == reviewer_name
                )
            )
            if reviewer is not None:
                taken = s.scalar(select(Membership.id).where(Membership.reviewer_id == reviewer.id))
                if taken is not None:
                    raise InputError(
                        f"reviewer name {reviewer_name!r} belongs to another "
                        f"account in {proj.name!r}; choose another."
                    )
                reviewer.role = "owner" if role == "owner" else reviewer.role
                reviewer.active = True
            else:
                reviewer = Reviewer(
                    project_id=proj.id,
                    name=reviewer_name,
                    role="owner" if role == "owner" else "reviewer",
                    active=True,
                )
                s.add(reviewer)
                s.flush()
                self._audit(
                    s,
                    actor,
                    "reviewer",
                    str(reviewer.id),
                    None,
                    {"name": reviewer_name, "role": reviewer.role},
                    "reviewer added",
                )
            reviewer_id = reviewer.id
        member = Membership(
            user_id=user.id, project_id=proj.id, role=role, reviewer_id=reviewer_id, active=True
        )
        s.add(member)
        s.flush()
        self._audit(
            s,
            actor,
            "membership",
            str(member.id),
            None,
            {
                "user": user.username,
                "project": proj.name,
                "role": role,
                "reviewer": reviewer_name if reviewer_id else None,
            },
            "joined project",
        )

    # -- login sessions -------------------------------------------------------------------
    def login(self, username: str, password: str) -> tuple[str, str] | None:
        """A new session (``(session id, csrf token)``) if the password is right, else None.

        The session id is new at every login; only its SHA-256 is stored.
        """
        with self.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                if not _DUMMY_HASH:
                    _DUMMY_HASH.append(_hasher().hash(secrets.token_urlsafe(16)))
                verify_password(_DUMMY_HASH[0], password)  # same work as a real check
                return None
            if not (user.active and verify_password(user.password_hash, password)):
                return None
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            s.add(
                LoginSession(
                    id_sha256=_sha256(token),
                    user_id=user.id,
                    csrf_token=csrf,
                    expires_at=utc_now() + SESSION_LIFETIME,
                )
            )
            s.execute(delete(LoginSession).where(LoginSession.expires_at < utc_now()))
            return token, csrf

    def session_user(self, token: str | None) -> SessionInfo | None:
        """The active user of a live session id, or None."""
        return self.session_role(token, None)[0]

    def session_role(
        self, token: str | None, project: str | None
    ) -> tuple[SessionInfo | None, ProjectRole | None]:
        """The session of ``token`` and the user's role in ``project`` (None: no project),
        read together in one query (one per request); ``(None, None)`` without a live
        session."""
        if not token:
            return None, None
        with self.reading() as connection:  # one query, without the SQLite write lock
            row = connection.execute(
                _SESSION_ROLE, {"sha256": _sha256(token), "project": project}
            ).first()
        if row is None or not row.active or _aware(row.expires_at) < utc_now():
            return None, None
        info = SessionInfo(
            user=UserInfo(id=row.id, username=row.username, admin=row.admin, active=True),
            csrf_token=row.csrf_token,
        )
        if row.role is None or project is None:
            return info, None
        return info, ProjectRole(project=project, role=row.role, reviewer=row.reviewer)

    def logout(self, token: str) -> None:
        """End the session ``token`` (nothing happens for an unknown one)."""
        with self.session() as s:
            s.execute(delete(LoginSession).where(LoginSession.id_sha256 == _sha256(token)))

    # -- users and roles ------------------------------------------------------------------
    def users(self) -> list[UserInfo]:
        """Every account, in creation order."""
        with self.session() as s:
            return [_info(u) for u in s.scalars(select(User).order_by(User.id))]

    def deactivate_user(self, username: str, *, by: str, reason: str) -> None:
        """Stop ``username`` from logging in and voting; their votes are kept (audited).

        Only an administrator may; their sessions end and their reviewer rows in every
        project become inactive.
        """
        check_text("reason", reason, purpose=" for the audit log")
        with self.session() as s:
            actor = _user_row(s, by)
            if not actor.admin:
                raise InputError(
                    f"{by!r} is not an administrator; only administrators deactivate accounts."
                )
            user = _user_row(s, username)
            if user.id == actor.id:
                raise InputError("an administrator cannot deactivate their own account.")
            user.active = False
            s.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
            for member in s.scalars(select(Membership).where(Membership.user_id == user.id)):
                member.active = False
                if member.reviewer_id is not None:
                    s.get(Reviewer, member.reviewer_id).active = False
            _audit_entry(s, by, "user", str(user.id), {"active": True}, {"active": False}, reason)

    def user_projects(self, user_id: int) -> list[ProjectRole]:
        """The projects of a user with their role and reviewer name (active memberships)."""
        with self.session() as s:
            rows = s.execute(
                select(Project.name, Membership.role, Reviewer.name)
                .join(Membership, Membership.project_id == Project.id)
                .outerjoin(Reviewer, Reviewer.id == Membership.reviewer_id)
                .where(Membership.user_id == user_id, Membership.active.is_(True))
                .order_by(Project.id)
            ).all()
        return [ProjectRole(project=p, role=r, reviewer=n) for p, r, n in rows]

    def project_role(self, user_id: int, project: str) -> ProjectRole | None:
        """The role of a user in ``project`` (None: not a member, or no such project)."""
        for role in self.user_projects(user_id):
            if role.project == project:
                return role
        return None

    def members(self, project: str) -> list[dict[str, Any]]:
        """Members of ``project``: ``username``, ``role``, ``reviewer``, ``active``."""
        with self.session() as s:
            proj = self._project(s, project)
            rows = s.execute(
                select(
                    User.username, Membership.role, Reviewer.name, Membership.active & User.active
                )
                .join(Membership, Membership.user_id == User.id)
                .outerjoin(Reviewer, Reviewer.id == Membership.reviewer_id)
                .where(Membership.project_id == proj.id)
                .order_by(Membership.id)
            ).all()
        return [{"username": u, "role": r, "reviewer": n, "active": bool(a)} for u, r, n, a in rows]


def _audit_entry(
    s: Session,
    actor: str,
    entity: str,
    entity_id: str,
    old: Any,
    new: Any,
    reason: str,
    project_id: int | None = None,
) -> None:
    """An audit entry of the accounts: of ``project_id``, or of the whole store (None) for a
    change to a user, which belongs to no one project."""
    s.add(
        AuditLog(
            project_id=project_id,
            actor=actor,
            entity=entity,
            entity_id=entity_id,
            old=old,
            new=new,
            reason=reason,
        )
    )


#: session_role's one statement: the session's user and their active membership of the
#: project (NULL role: not a member, or no such project; a NULL project matches none),
#: built once
_SESSION_ROLE = (
    select(
        LoginSession.expires_at,
        LoginSession.csrf_token,
        User.id,
        User.username,
        User.admin,
        User.active,
        Membership.role,
        Reviewer.name.label("reviewer"),
    )
    .join(User, User.id == LoginSession.user_id)
    .outerjoin(Project, Project.name == bindparam("project"))
    .outerjoin(
        Membership,
        and_(
            Membership.project_id == Project.id,
            Membership.user_id == User.id,
            Membership.active.is_(True),
        ),
    )
    .outerjoin(Reviewer, Reviewer.id == Membership.reviewer_id)
    .where(LoginSession.id_sha256 == bindparam("sha256"))
)


def _user_row(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise InputError(f"user {username!r} not found.")
    return user


def _role(s: Session, user_id: int, project_id: int) -> str | None:
    return s.scalar(
        select(Membership.role).where(
            Membership.user_id == user_id,
            Membership.project_id == project_id,
            Membership.active.is_(True),
        )
    )


def _usable_invite(s: Session, token: str, *, lock: bool = False) -> Invite:
    query = select(Invite).where(Invite.token_sha256 == _sha256(str(token)))
    invite = s.scalar(query.with_for_update() if lock else query)
    if invite is None:
        raise InputError("this invite link is not valid; ask the project owner for a new one.")
    if invite.used_at is not None:
        raise InputError("this invite link was used already; each link works once.")
    if _aware(invite.expires_at) < utc_now():
        raise InputError("this invite link has expired; ask the project owner for a new one.")
    if (
        invite.role == "admin"
        and s.scalar(select(User.id).where(User.admin.is_(True)).limit(1)) is not None
    ):
        raise InputError("this bootstrap link is no longer valid: an administrator exists.")
    return invite
