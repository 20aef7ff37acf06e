"""Portal pages of a retailer's forms: the list, the template gallery, the builder, duplicates.

Plain server-rendered pages. The builder's tabs, collapsible field cards and moves without a
reload are builder.js's (frontend/static/portal/), which renumbers the inputs so the ordinary
POST saves what the page shows: the server parses and validates it as it does without
JavaScript, and stays the one judge of a definition. The live preview is the tablet's own code
run in the page (form-preview.js), fed the unsaved draft by ``form_preview``.
"""

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import get_language, gettext, gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customerinfo.core.errors import FieldErrors, ServiceError
from customerinfo.core.portal import MANAGERS, PortalRequest, portal_page, role_required

from .. import selectors, services
from ..answers import kiosk_rules
from ..form_templates import FORM_TEMPLATES, TEMPLATES_BY_KEY
from ..forms import (
    FormCreateForm,
    FormSettingsForm,
    builder_apply,
    builder_parse,
    builder_present,
    service_errors_to_form,
)
from ..forms.logos import LogoForm
from ..models import Form


@role_required(MANAGERS, doing=gettext_lazy("manage forms"))
@require_GET
def forms_list(request: PortalRequest) -> HttpResponse:
    forms = list(selectors.forms_list())
    rows = [(form, selectors.draft_is_published(form=form)) for form in forms]
    return portal_page(request, "signup/portal/forms_list.html", "forms", {"rows": rows})


@role_required(MANAGERS, doing=gettext_lazy("create forms"))
@require_http_methods(["GET", "POST"])
def form_create(request: PortalRequest) -> HttpResponse:
    has_default = Form.objects.filter(is_default=True).exists()
    create = FormCreateForm(request.POST or None, initial={"is_default": not has_default})
    if request.method == "POST" and create.is_valid():
        template = TEMPLATES_BY_KEY.get(create.cleaned_data["template"])
        try:
            form = services.form_create(
                actor=request.user,
                name=create.cleaned_data["name"],
                is_default=create.cleaned_data["is_default"],
                definition=template.definition() if template else None,
                template=template.key if template else "",
            )
        except ServiceError as error:
            service_errors_to_form(create, error.fields, error.message)
        else:
            messages.success(
                request,
                gettext("Form “%(name)s” created. Edit its fields, then publish.")
                % {"name": form.name},
            )
            return redirect("portal-form-edit", pk=form.pk)
    return portal_page(
        request,
        "signup/portal/form_create.html",
        "forms",
        {
            "form": create,
            "gallery": [
                (template, template.field_names(get_language() or "en"))
                for template in FORM_TEMPLATES
            ],
            "chosen": create["template"].value() or FORM_TEMPLATES[0].key,
        },
        status=400 if create.errors else 200,
    )


def _builder_page(
    request: PortalRequest,
    form: Form,
    definition: object,
    *,
    errors: FieldErrors | None = None,
    message: str = "",
    status: int = 200,
    opened: int | None = None,
) -> HttpResponse:
    # The phone rules of the store the form is for, when there is only one to choose.
    store = selectors.only_open_location()
    return portal_page(
        request,
        "signup/portal/form_builder.html",
        "forms",
        {
            "form": form,
            "builder": builder_present(definition, errors, opened=opened),
            "error_message": message,
            # What the preview draws, exactly as a tablet would receive it (but unsaved).
            "preview_definition": definition,
            "preview_rules": kiosk_rules(country=store.country if store else ""),
            "preview_language": request.POST.get("preview_language")
            or request.GET.get("preview_language", ""),
            "versions": selectors.form_versions(form=form),
            "published": selectors.draft_is_published(form=form),
            "settings_form": FormSettingsForm(
                initial={"name": form.name, "is_default": form.is_default}
            ),
            "logo_form": LogoForm(),
        },
        status=status,
    )


@role_required(MANAGERS, doing=gettext_lazy("edit forms"))
@require_http_methods(["GET", "POST"])
def form_edit(request: PortalRequest, pk: int) -> HttpResponse:
    """The builder. "Save draft" validates and saves; structural buttons only re-render.

    Adding, removing or moving a field re-renders the posted state unsaved, because a field just
    added has no label yet and would fail validation; nothing is stored until "Save draft".
    builder.js makes moves and removals in the page and asks this view for a new field's card.
    """
    form = get_object_or_404(Form.objects.select_related("current_version"), pk=pk)
    if request.method == "GET":
        return _builder_page(request, form, form.draft)
    definition = builder_parse(request.POST, base=form.draft)
    action = request.POST.get("action", "save")
    if action not in ("save", "publish"):
        touched = builder_apply(
            definition["fields"], action=action, new_type=request.POST.get("new_field_type", "")
        )
        return _builder_page(request, form, definition, opened=touched)
    try:
        with transaction.atomic():
            services.form_draft_update(actor=request.user, form=form, definition=definition)
            version = (
                services.form_publish(actor=request.user, form=form)
                if action == "publish"
                else None
            )
    except ServiceError as error:
        return _builder_page(
            request, form, definition, errors=error.fields, message=error.message, status=400
        )
    if version is not None:
        messages.success(
            request,
            gettext("Published version %(number)s. Tablets pick it up within a minute.")
            % {"number": version.number},
        )
    else:
        messages.success(
            request, gettext("Draft saved. Tablets keep showing the published version.")
        )
    return redirect("portal-form-edit", pk=form.pk)


@role_required(MANAGERS, doing=gettext_lazy("edit forms"))
@require_POST
def form_preview(request: PortalRequest, pk: int) -> HttpResponse:
    """The builder's unsaved inputs as a definition, for the live preview to draw; saves nothing."""
    form = get_object_or_404(Form, pk=pk)
    return JsonResponse({"definition": builder_parse(request.POST, base=form.draft)})


@role_required(MANAGERS, doing=gettext_lazy("edit forms"))
@require_POST
def form_settings(request: PortalRequest, pk: int) -> HttpResponse:
    form = get_object_or_404(Form, pk=pk)
    settings_form = FormSettingsForm(request.POST)
    if settings_form.is_valid():
        services.form_update(
            actor=request.user,
            form=form,
            name=settings_form.cleaned_data["name"],
            is_default=settings_form.cleaned_data["is_default"],
        )
        messages.success(request, gettext("Form settings saved."))
    else:
        messages.error(request, gettext("A form needs a name."))
    return redirect("portal-form-edit", pk=form.pk)


@role_required(MANAGERS, doing=gettext_lazy("duplicate forms"))
@require_POST
def form_duplicate(request: PortalRequest, pk: int) -> HttpResponse:
    """Copies a form's saved draft into a new, unpublished form, and opens its builder."""
    form = get_object_or_404(Form, pk=pk)
    try:
        copy = services.form_duplicate(actor=request.user, form=form)
    except ServiceError as error:
        # A draft saved before today's rules may not pass them; say so rather than copy it.
        messages.error(request, error.message)
        return redirect("portal-form-edit", pk=form.pk)
    messages.success(
        request,
        gettext("“%(name)s” is an unpublished copy: publish it, then choose it for a store.")
        % {"name": copy.name},
    )
    return redirect("portal-form-edit", pk=copy.pk)
