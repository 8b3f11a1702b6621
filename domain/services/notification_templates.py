"""Rendering of notification templates (NOTIFICATION_TEMPLATE) into Telegram HTML.

Templates use ``{name}`` placeholders (``str.format`` syntax restricted to plain identifiers):
they are listed with ``string.Formatter().parse`` and filled by concatenation, never by
``str.format``, so a template cannot reach attributes or items of a value, and no code is
evaluated. Values are HTML-escaped for the body and subject (Telegram's HTML parse mode), kept
as they are for the button text (Telegram shows button labels verbatim) and URL-quoted in the
action URL.

A missing variable raises ``MissingTemplateVariable``: the caller records the error and sends
nothing rather than a message with a hole in it. A locale without a template falls back to
English.
"""

from __future__ import annotations

import html
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput, NotFound
from domain.models.notification import NotificationChannel, NotificationTemplate, NotificationType

FALLBACK_LOCALE = "en"

_FORMATTER = string.Formatter()


class InvalidTemplate(InvalidInput):
    """A template's text is not valid placeholder syntax (reference data or an admin edit)."""

    code = "invalid_template"


class MissingTemplateVariable(InvalidInput):
    """A placeholder of the template has no value; nothing should be sent."""

    code = "missing_template_variable"

    def __init__(self, variable: str, template: str) -> None:
        super().__init__(
            f"notification template {template} needs the variable {variable!r}, "
            "which was not given",
            variable=variable,
            template=template,
        )
        self.variable = variable
        self.template = template


@dataclass(frozen=True)
class TemplateText:
    """The texts of one template: one notification type, channel and locale."""

    type_code: str
    locale: str
    body: str
    subject: str | None = None
    action_button_text: str | None = None
    action_url: str | None = None

    @property
    def label(self) -> str:
        """How errors name this template, e.g. ``WORKOUT_REMINDER[fr]``."""
        return f"{self.type_code}[{self.locale}]"


@dataclass(frozen=True)
class RenderedNotification:
    type_code: str
    # The template's locale: FALLBACK_LOCALE when the asked locale had none.
    locale: str
    subject: str | None
    body: str
    action_button_text: str | None
    action_url: str | None

    @property
    def html(self) -> str:
        """The Telegram message (HTML parse mode): the subject in bold, then the body."""
        if self.subject:
            return f"<b>{self.subject}</b>\n{self.body}"
        return self.body


def placeholders(template: str) -> list[str]:
    """The placeholder names of a template text, in order of first use.

    Raises InvalidTemplate for anything but ``{identifier}``: unbalanced braces, positional
    ``{}``/``{0}``, attribute or item access, conversions and format specs.
    """
    names: list[str] = []
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as error:
        raise InvalidTemplate(f"invalid template text {template!r}: {error}") from error
    for _literal, field, format_spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or format_spec or conversion:
            shown = "{" + field + (f"!{conversion}" if conversion else "")
            shown += (f":{format_spec}" if format_spec else "") + "}"
            raise InvalidTemplate(
                f"template placeholder {shown} is not allowed: use {{name}} with a plain name"
            )
        if field not in names:
            names.append(field)
    return names


def _fill(
    text: str, variables: Mapping[str, object], escape: Callable[[str], str], label: str
) -> str:
    parts: list[str] = []
    placeholders(text)  # validates the syntax before anything is filled
    for literal, field, _spec, _conversion in _FORMATTER.parse(text):
        parts.append(literal)
        if field is None:
            continue
        value = variables.get(field)
        # None is as missing as an absent key: "None" in a message is a broken message.
        if value is None:
            raise MissingTemplateVariable(field, label)
        parts.append(escape(str(value)))
    return "".join(parts)


def _escape_html(value: str) -> str:
    # Telegram's HTML mode needs only <, > and & escaped; quotes stay readable in the text.
    return html.escape(value, quote=False)


def _keep(value: str) -> str:
    return value


def _quote_url(value: str) -> str:
    return quote(value, safe="")


def render_template(
    template: TemplateText, variables: Mapping[str, object]
) -> RenderedNotification:
    """Fill one template; extra variables are ignored (they may be resource ids)."""
    label = template.label

    def fill(text: str | None, escape: Callable[[str], str]) -> str | None:
        return None if text is None else _fill(text, variables, escape, label)

    return RenderedNotification(
        type_code=template.type_code,
        locale=template.locale,
        subject=fill(template.subject, _escape_html),
        body=_fill(template.body, variables, _escape_html, label),
        action_button_text=fill(template.action_button_text, _keep),
        action_url=fill(template.action_url, _quote_url),
    )


def choose_template(
    templates: Mapping[str, TemplateText], type_code: str, locale: str
) -> TemplateText:
    """The template for ``locale``, else the English one."""
    template = templates.get(locale) or templates.get(FALLBACK_LOCALE)
    if template is None:
        raise NotFound(
            f"notification type {type_code} has no template in {locale!r} "
            f"nor in {FALLBACK_LOCALE!r}",
            type_code=type_code,
            locale=locale,
        )
    return template


async def load_templates(
    session: AsyncSession,
    type_code: str,
    channel: NotificationChannel = NotificationChannel.TELEGRAM,
) -> dict[str, TemplateText]:
    """The active templates of a type for a channel, by locale (load once, render many)."""
    query = (
        select(NotificationTemplate)
        .join(NotificationType, NotificationType.id == NotificationTemplate.notification_type_id)
        .where(
            NotificationType.code == type_code,
            NotificationTemplate.channel == channel,
            NotificationTemplate.is_active,
        )
    )
    rows = (await session.execute(query)).scalars().all()
    return {
        row.locale: TemplateText(
            type_code=type_code,
            locale=row.locale,
            body=row.body_template,
            subject=row.subject_template,
            action_button_text=row.action_button_text,
            action_url=row.action_url_template,
        )
        for row in rows
    }


async def render(
    session_or_templates: AsyncSession | Mapping[str, TemplateText],
    type_code: str,
    locale: str,
    variables: Mapping[str, object],
    *,
    channel: NotificationChannel = NotificationChannel.TELEGRAM,
) -> RenderedNotification:
    """Render a notification of ``type_code`` in ``locale`` (English when it has no template).

    Pass a session to read the templates, or the templates already loaded with
    ``load_templates`` when rendering many messages of one type (no query per message).
    """
    if isinstance(session_or_templates, AsyncSession):
        templates = await load_templates(session_or_templates, type_code, channel)
    else:
        templates = dict(session_or_templates)
    return render_template(choose_template(templates, type_code, locale), variables)
