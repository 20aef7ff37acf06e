"""Portal pages of "Needs attention": what the server kept apart, so that no sign-up is lost.

Two kinds of entry, listed together newest first: sign-ups stored with answers set aside
(``Submission.set_aside``) and sign-ups refused whole (``RejectedSubmission``). Everyone on the
team may read them, as they read the sign-ups; owners and managers fix and release them, or
discard them, through ``signup.services`` (each decision writes an audit row there). Values are
shown as the shopper typed them, invisible characters made visible; templates escape the rest.
"""

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customerinfo.core.audit import audit_record
from customerinfo.core.errors import FieldErrors, ServiceError
from customerinfo.core.models import AuditAction
from customerinfo.core.portal import (
    EVERYONE,
    MANAGERS,
    PAGE_SIZE,
    PortalRequest,
    portal_page,
    role_required,
)

from .. import selectors, services
from ..attention_forms import (
    AnswerReleaseForm,
    RejectionDiscardForm,
    RejectionReleaseForm,
    answer_present,
    as_text,
    field_spec,
    form_prefix,
    payload_sent,
    refusal_words,
    rejection_present,
    releasable,
    sent_answers,
    shown,
    submission_language,
    typed_email,
)
from ..forms import service_errors_to_form
from ..models import RejectedSubmission, Submission
from ..selectors import StoreScope
from .signups import CSV_CHUNK_SIZE, csv_stream


def _rows(entries: list[tuple[str, UUID, Any]], scope: StoreScope) -> list[dict[str, Any]]:
    """One row per entry of the page, in its order; each kind read in one query."""
    wanted = {
        kind: [pk for entry_kind, pk, _ in entries if entry_kind == kind]
        for kind in (selectors.SET_ASIDE, selectors.REJECTED)
    }
    submissions = selectors.set_aside_submissions(scope=scope).in_bulk(wanted[selectors.SET_ASIDE])
    rejections = selectors.rejections_open(scope=scope).in_bulk(wanted[selectors.REJECTED])
    rows = []
    for kind, pk, _ in entries:
        # Released or discarded between the two queries: gone from the list, rightly.
        if kind == selectors.SET_ASIDE and (submission := submissions.get(pk)):
            rows.append(
                {
                    "kind": kind,
                    "object": submission,
                    "answers": [
                        answer_present(submission, key, entry)
                        for key, entry in sorted(submission.set_aside.items())
                    ],
                }
            )
        elif kind == selectors.REJECTED and (rejection := rejections.get(pk)):
            rows.append({"kind": kind, "object": rejection, **rejection_present(rejection)})
    return rows


# --- the list and its export -------------------------------------------------------------------


@role_required(EVERYONE, doing=gettext_lazy("see sign-ups that need attention"))
@require_GET
def attention_list(request: PortalRequest) -> HttpResponse:
    scope = selectors.store_scope(request.user)
    entries = selectors.attention_entries(scope=scope)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    return portal_page(
        request,
        "signup/portal/attention_list.html",
        "attention",
        {
            "page": page,
            "rows": _rows(list(page.object_list), scope),
            "can_manage": request.user.role in MANAGERS,
        },
    )


CSV_HEADER = [
    "kind",
    "id",
    "received_at",
    "captured_at",
    "store_code",
    "store",
    "tablet_id",
    "tablet",
    "email",
    "answer",
    "value_as_typed",
    "code",
    "reason",
    "message",
    "payload",
]


def _csv_rows(scope: StoreScope) -> Iterator[list[str]]:
    """Set-aside answers (one row each), then open rejected sign-ups (one row each, with the
    payload as sent), each newest first."""
    submissions = selectors.set_aside_submissions(scope=scope)
    for submission in submissions.iterator(chunk_size=CSV_CHUNK_SIZE):
        for key, entry in submission.set_aside.items():
            answer = answer_present(submission, key, entry)
            yield [
                "set_aside",
                str(submission.pk),
                submission.received_at.isoformat(),
                submission.captured_at.isoformat(),
                submission.location.code,
                submission.location.name,
                str(submission.device_id or ""),
                submission.device.name if submission.device else "",
                submission.email,
                key,
                as_text(entry.get("value") if isinstance(entry, dict) else entry),
                answer["code"],
                answer["words"],
                answer["message"],
                "",
            ]
    for rejection in selectors.rejections_open(scope=scope).iterator(chunk_size=CSV_CHUNK_SIZE):
        yield [
            "rejected",
            str(rejection.pk),
            rejection.received_at.isoformat(),
            rejection.captured_at.isoformat() if rejection.captured_at else "",
            rejection.location.code if rejection.location else "",
            rejection.location.name if rejection.location else "",
            str(rejection.device_id or ""),
            rejection.device.name if rejection.device else "",
            typed_email(rejection),
            ",".join(rejection.fields) if isinstance(rejection.fields, dict) else "",
            typed_email(rejection),
            rejection.code,
            refusal_words(rejection.code),
            rejection.message,
            # Everything the tablet sent, so the sign-up can be rebuilt outside the portal too.
            rejection.payload,
        ]


@role_required(MANAGERS, doing=gettext_lazy("export sign-ups that need attention"))
@require_GET
def attention_export(request: PortalRequest) -> StreamingHttpResponse:
    audit_record(
        actor=request.user, action=AuditAction.ATTENTION_EXPORT, target=services.retailer_settings()
    )
    scope = selectors.store_scope(request.user)
    return csv_stream(
        tenant=request.tenant,
        header=CSV_HEADER,
        rows=lambda: _csv_rows(scope),
        filename="needs-attention",
    )


# --- a sign-up with answers set aside ----------------------------------------------------------


def _answer_form(submission: Submission, key: str, data: Any = None) -> AnswerReleaseForm:
    entry = submission.set_aside.get(key)
    return AnswerReleaseForm(
        data,
        prefix=form_prefix(key),
        spec=None if key == "consents.sms" else field_spec(submission, key),
        language=submission_language(submission),
        typed=entry.get("value") if isinstance(entry, dict) else entry,
    )


def _set_aside_page(
    request: PortalRequest,
    submission: Submission,
    bound: AnswerReleaseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    can_manage = request.user.role in MANAGERS
    answers = []
    for key, entry in sorted(submission.set_aside.items()):
        answer = answer_present(submission, key, entry)
        if can_manage and answer["releasable"]:
            is_bound = bound is not None and bound.prefix == answer["prefix"]
            answer["form"] = bound if is_bound else _answer_form(submission, key)
        answers.append(answer)
    return portal_page(
        request,
        "signup/portal/attention_signup.html",
        "attention",
        {"submission": submission, "answers": answers, "can_manage": can_manage},
        status=status,
    )


def _submission(request: PortalRequest, pk: UUID) -> Submission:
    """The sign-up, or 404 when it is not one of the stores the member sees."""
    found = selectors.set_aside_submission(pk=pk, scope=selectors.store_scope(request.user))
    if found is None:
        raise Http404("No such sign-up")
    return found


@role_required(EVERYONE, doing=gettext_lazy("see sign-ups that need attention"))
@require_GET
def set_aside_detail(request: PortalRequest, pk: UUID) -> HttpResponse:
    return _set_aside_page(request, _submission(request, pk))


def _on_value(fields: FieldErrors, key: str) -> FieldErrors:
    """The service names the answer by its key; the form calls its one input ``value``."""
    return {("value" if name == key else name): errors for name, errors in fields.items()}


def _after(submission: Submission) -> HttpResponse:
    if submission.set_aside:
        return redirect("portal-attention-signup", pk=submission.pk)
    return redirect("portal-attention")


@role_required(MANAGERS, doing=gettext_lazy("release answers that were set aside"))
@require_POST
def set_aside_release(request: PortalRequest, pk: UUID) -> HttpResponse:
    submission = _submission(request, pk)
    key = request.POST.get("key", "")
    if key not in submission.set_aside:
        messages.info(request, gettext("This answer was already released or discarded."))
        return _after(submission)
    if not releasable(submission, key):
        messages.error(request, gettext("This answer cannot be released; discard it instead."))
        return _after(submission)
    form = _answer_form(submission, key, request.POST)
    status = 400
    if form.is_valid():
        try:
            submission = services.set_aside_release(
                actor=request.user, submission=submission, key=key, value=form.release_value()
            )
        except ServiceError as error:
            service_errors_to_form(form, _on_value(error.fields, key), error.message)
            status = error.status_code
        else:
            label = answer_present(submission, key, {})["label"]
            messages.success(
                request,
                gettext("%(answer)s of %(email)s released: the sign-up is sent to your CRMs again.")
                % {"answer": label, "email": submission.email},
            )
            return _after(submission)
    return _set_aside_page(request, submission, bound=form, status=status)


@role_required(MANAGERS, doing=gettext_lazy("discard answers that were set aside"))
@require_http_methods(["GET", "POST"])
def set_aside_discard(request: PortalRequest, pk: UUID) -> HttpResponse:
    """The GET page asks; its POST discards."""
    submission = _submission(request, pk)
    key = (request.POST if request.method == "POST" else request.GET).get("key", "")
    if key not in submission.set_aside:
        messages.info(request, gettext("This answer was already released or discarded."))
        return _after(submission)
    answer = answer_present(submission, key, submission.set_aside[key])
    if request.method == "GET":
        return portal_page(
            request,
            "signup/portal/attention_discard.html",
            "attention",
            {"submission": submission, "answer": answer},
        )
    try:
        submission = services.set_aside_discard(actor=request.user, submission=submission, key=key)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            gettext("%(answer)s of %(email)s discarded.")
            % {"answer": answer["label"], "email": submission.email},
        )
    return _after(submission)


# --- a rejected sign-up ------------------------------------------------------------------------


def _rejection(request: PortalRequest, pk: UUID) -> RejectedSubmission:
    """The rejected sign-up, or 404 when it is not one of the stores the member sees."""
    found = selectors.rejection(pk=pk, scope=selectors.store_scope(request.user))
    if found is None:
        raise Http404("No such rejected sign-up")
    return found


def _rejection_page(
    request: PortalRequest,
    rejection: RejectedSubmission,
    form: RejectionReleaseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    sent = payload_sent(rejection)
    consents = sent.get("consents")
    return portal_page(
        request,
        "signup/portal/attention_rejected.html",
        "attention",
        {
            "rejection": rejection,
            **rejection_present(rejection),
            "answers": [(key, shown(value)) for key, value in sent_answers(rejection).items()],
            "consents": [(key, shown(value)) for key, value in consents.items()]
            if isinstance(consents, dict)
            else [],
            "locale": shown(sent.get("locale")),
            "payload": shown(rejection.payload),
            "can_manage": request.user.role in MANAGERS,
            "form": form or RejectionReleaseForm(initial={"email": typed_email(rejection)}),
        },
        status=status,
    )


@role_required(EVERYONE, doing=gettext_lazy("see sign-ups that need attention"))
@require_GET
def rejection_detail(request: PortalRequest, pk: UUID) -> HttpResponse:
    return _rejection_page(request, _rejection(request, pk))


@role_required(MANAGERS, doing=gettext_lazy("release rejected sign-ups"))
@require_POST
def rejection_release(request: PortalRequest, pk: UUID) -> HttpResponse:
    rejection = _rejection(request, pk)
    form = RejectionReleaseForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            submission = services.rejection_release(
                actor=request.user,
                rejection=rejection,
                answers={"email": form.cleaned_data["email"]},
            )
        except ServiceError as error:
            # Only the email can be corrected here; other answers the check refuses are set
            # aside on release, not reasons to refuse it, so only the email's errors are shown.
            email_errors = {"email": error.fields["email"]} if "email" in error.fields else {}
            service_errors_to_form(form, email_errors, error.message)
            status = error.status_code
        else:
            messages.success(
                request,
                gettext("The sign-up of %(email)s is stored and sent to your CRMs.")
                % {"email": submission.email},
            )
            return redirect("portal-attention")
    return _rejection_page(request, rejection, form=form, status=status)


@role_required(MANAGERS, doing=gettext_lazy("discard rejected sign-ups"))
@require_http_methods(["GET", "POST"])
def rejection_discard(request: PortalRequest, pk: UUID) -> HttpResponse:
    """The GET page asks (with an optional reason for the audit log); its POST discards."""
    rejection = _rejection(request, pk)
    # Bound on every POST, even an empty one: the reason is optional, the POST is the "yes".
    form = RejectionDiscardForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            services.rejection_discard(
                actor=request.user, rejection=rejection, reason=form.cleaned_data["reason"]
            )
        except ServiceError as error:
            messages.error(request, error.message)
            return redirect("portal-attention-rejected", pk=rejection.pk)
        messages.success(request, gettext("The rejected sign-up is discarded."))
        return redirect("portal-attention")
    return portal_page(
        request,
        "signup/portal/attention_discard.html",
        "attention",
        {"rejection": rejection, "form": form, "email": shown(typed_email(rejection))},
        status=400 if form.errors else 200,
    )
