"""Portal pages of prepared exports: ask for one, follow it, download it while its link lasts.

Everything here is for managers of this retailer only. An export's file is never reachable by a
URL of the storage: it is read here, after the sign-in and role checks, from this tenant's own
Export rows (another retailer's export id is simply not found in this schema).
"""

from uuid import UUID

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from customerinfo.core.portal import MANAGERS, PortalRequest, portal_page, role_required

from .. import selectors, services
from ..forms import SubmissionFilterForm
from ..models import Export, ExportStatus

#: Exports listed on the page, newest first; older ones stay as records in the database.
EXPORTS_SHOWN = 50

PENDING = (ExportStatus.QUEUED, ExportStatus.RUNNING)


@role_required(MANAGERS, doing=gettext_lazy("export sign-ups"))
@require_http_methods(["GET", "POST"])
def exports_list(request: PortalRequest) -> HttpResponseBase:
    """The exports asked for; a POST (the sign-up list's "Prepare CSV" button) asks for one."""
    if request.method == "POST":
        scope = selectors.store_scope(request.user)
        filters = SubmissionFilterForm(request.POST, scope=scope).signup_filters()
        export = services.export_request(
            actor=request.user,
            filters=filters,
            portal_origin=f"{request.scheme}://{request.get_host()}",
        )
        messages.success(
            request,
            gettext(
                "The export is being prepared. It appears here when it is ready, and we will "
                "email you a link at %(email)s."
            )
            % {"email": request.user.email},
        )
        return redirect("portal-export", pk=export.pk)
    exports = list(Export.objects.select_related("requested_by")[:EXPORTS_SHOWN])
    return portal_page(
        request,
        "signup/portal/exports_list.html",
        "signups",
        {
            "exports": exports,
            "pending": any(export.status in PENDING for export in exports),
            "now": timezone.now(),
        },
    )


@role_required(MANAGERS, doing=gettext_lazy("export sign-ups"))
@require_GET
def export_detail(request: PortalRequest, pk: UUID) -> HttpResponse:
    """One export: its state while it is prepared, then its download (the emailed link)."""
    export = get_object_or_404(Export.objects.select_related("requested_by"), pk=pk)
    now = timezone.now()
    return portal_page(
        request,
        "signup/portal/export_detail.html",
        "signups",
        {
            "export": export,
            "pending": export.status in PENDING,
            "downloadable": services.export_is_downloadable(export, now=now),
        },
    )


@role_required(MANAGERS, doing=gettext_lazy("export sign-ups"))
@require_GET
def export_download(request: PortalRequest, pk: UUID) -> HttpResponseBase:
    export = get_object_or_404(Export, pk=pk)
    if export.status == ExportStatus.EXPIRED or (
        export.status == ExportStatus.DONE
        and not services.export_is_downloadable(export, now=timezone.now())
    ):
        return portal_page(
            request, "signup/portal/export_gone.html", "signups", {"export": export}, status=410
        )
    if export.status != ExportStatus.DONE:
        raise Http404("This export has no file.")
    file = services.exports_storage().open(export.file_name, "rb")
    response = FileResponse(
        file,
        as_attachment=True,
        filename=f"signups-{export.created_at:%Y%m%d-%H%M}.csv",
        content_type="text/csv; charset=utf-8",
    )
    response["Cache-Control"] = "no-store"
    return response
