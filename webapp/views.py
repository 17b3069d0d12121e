"""The site's own pages, outside any app: the landing page and the favicon."""

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.templatetags.static import static

from generation import gallery
from generation.models import Video

# One row of examples at desktop width, two on a phone: enough to show what it makes.
LANDING_EXAMPLES = 8


def home(request: HttpRequest) -> HttpResponse:
    """Signed in, the studio; signed out, what the studio does, shown with public videos."""
    if request.user.is_authenticated:
        return redirect("studio")
    examples, _ = gallery.page(Video.objects.public().select_related("owner"), None,
                               LANDING_EXAMPLES)
    return render(request, "landing.html", {"videos": examples})


def favicon(request: HttpRequest) -> HttpResponse:
    # Browsers and feed readers ask for /favicon.ico whatever the page's <link rel=icon> says.
    return HttpResponsePermanentRedirect(static("favicon.svg"))
