"""Portal pages of the stores: list, create, edit (texts, tablet language, closing)."""

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from customerinfo.core.errors import ServiceError
from customerinfo.core.portal import MANAGERS, PortalRequest, portal_page, role_required

from .. import selectors, services
from ..forms import LocationEditForm, LocationForm, service_errors_to_form
from ..models import Location
from ..selectors.stores import brand_form, location_form_warning


@role_required(MANAGERS, doing=gettext_lazy("manage stores"))
@require_GET
def locations_list(request: PortalRequest) -> HttpResponse:
    brand = brand_form()
    rows = [
        (location, location_form_warning(location=location, brand=brand))
        for location in selectors.locations_list()
    ]
    return portal_page(
        request,
        "signup/portal/locations_list.html",
        "stores",
        {"rows": rows, "warned": [(location, why) for location, why in rows if why]},
    )


@role_required(MANAGERS, doing=gettext_lazy("manage stores"))
@require_http_methods(["GET", "POST"])
def location_create(request: PortalRequest) -> HttpResponse:
    store = LocationForm(request.POST or None, initial={"country": "US", "time_zone": "UTC"})
    if request.method == "POST" and store.is_valid():
        data = store.cleaned_data
        try:
            location = services.location_create(
                actor=request.user,
                name=data["name"],
                code=data["code"],
                country=data["country"],
                time_zone=data["time_zone"],
                form=data["form"],
                language=data["language"],
            )
        except ServiceError as error:
            service_errors_to_form(store, error.fields, error.message)
        else:
            messages.success(
                request,
                gettext("Store “%(name)s” created. Pair its tablets next.")
                % {"name": location.name},
            )
            return redirect("portal-locations")
    return portal_page(
        request, "signup/portal/location_form.html", "stores", {"form": store, "location": None}
    )


@role_required(MANAGERS, doing=gettext_lazy("manage stores"))
@require_http_methods(["GET", "POST"])
def location_edit(request: PortalRequest, pk: int) -> HttpResponse:
    location = get_object_or_404(Location, pk=pk)
    store = LocationEditForm(request.POST or None, initial=LocationEditForm.initial_for(location))
    if request.method == "POST" and store.is_valid():
        data = store.cleaned_data
        try:
            # One save: a store whose details are refused keeps its staff as they were too.
            with transaction.atomic():
                services.location_update(
                    actor=request.user,
                    location=location,
                    name=data["name"],
                    country=data["country"],
                    time_zone=data["time_zone"],
                    form=data["form"],
                    overrides=store.overrides(),
                    is_active=data["is_active"],
                    language=data["language"],
                )
                services.location_staff_set(
                    actor=request.user, location=location, staff=data["staff"]
                )
        except ServiceError as error:
            service_errors_to_form(store, error.fields, error.message)
        else:
            messages.success(request, gettext("Store “%(name)s” saved.") % {"name": location.name})
            return redirect("portal-locations")
    warning = location_form_warning(location=location, brand=brand_form())
    return portal_page(
        request,
        "signup/portal/location_form.html",
        "stores",
        {"form": store, "location": location, "form_warning": warning},
    )
