"""A form's logo: the manager's upload, and the file as tablets and the portal fetch it.

The file is served from the retailer's own host, so pages need no other image origin in their
Content-Security-Policy, and an offline tablet's browser may keep it: the address names one
upload, which never changes.
"""

from uuid import UUID

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from customerinfo.core.errors import ServiceError
from customerinfo.core.portal import MANAGERS, PortalRequest, role_required

from ..forms.logos import LogoForm
from ..models import Form
from ..selectors.branding import logo_for
from ..services.logos import logo_upload, logos_storage

#: A year: the address changes with every upload, so a cached copy is never stale.
IMMUTABLE = "public, max-age=31536000, immutable"


@role_required(MANAGERS, doing=gettext_lazy("edit forms"))
@require_POST
def form_logo_upload(request: PortalRequest, pk: int) -> HttpResponse:
    form = get_object_or_404(Form, pk=pk)
    upload = LogoForm(request.POST, request.FILES)
    back = reverse("portal-form-edit", args=[form.pk]) + "#look"
    if not upload.is_valid():
        messages.error(request, gettext("Choose an image file to upload as the logo."))
        return redirect(back)
    file = upload.cleaned_data["logo"]
    try:
        logo_upload(actor=request.user, form=form, upload=file, size=file.size or 0)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, gettext("Logo uploaded. Publish the form for tablets to show it.")
        )
    return redirect(back)


@require_safe
def logo_file(request: HttpRequest, pk: UUID, extension: str) -> FileResponse:
    logo = logo_for(pk=pk, extension=extension)
    if logo is None:
        raise Http404("No such logo.")
    try:
        file = logos_storage().open(logo.file_name, "rb")
    except FileNotFoundError as missing:
        raise Http404("No such logo.") from missing
    response = FileResponse(file, content_type=logo.content_type)
    response["Cache-Control"] = IMMUTABLE
    # Never guessed into anything else (a script, a page) by a browser.
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
