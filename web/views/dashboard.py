"""The staff dashboard."""

from django.shortcuts import redirect, render

from web.permissions import staff_required


def home_view(request):
    if request.user.is_authenticated and request.user.is_customer:
        return redirect("/portal/tickets/")
    return _dashboard(request)


@staff_required
def _dashboard(request):
    return render(request, "web/dashboard.html", {})
