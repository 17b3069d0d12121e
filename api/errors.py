"""One error shape for the whole API: {code, message, fields}, with the right status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from api.schemas import Problem
from generation.lifecycle import JobLimitReached
from generation.specs import SpecError
from webapp.unavailable import SERVICE_DOWN, unavailable

# The error answers every route documents (each with the one Problem body).
# 400: a body that cannot be read at all (not JSON, not UTF-8, multipart without a boundary).
# 413: a body past the ceiling, answered by webapp/body_limit.py before any route runs.
# 503: PostgreSQL or Redis away for a moment (webapp/unavailable.py), with Retry-After.
ERRORS: dict[int, type[Problem]] = {400: Problem, 401: Problem, 404: Problem, 409: Problem,
                                    413: Problem, 422: Problem, 429: Problem, 503: Problem}
UNREADABLE_JSON = ("The body cannot be read: send JSON in UTF-8 with "
                   "`Content-Type: application/json`.")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 fields: Mapping[str, str] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = dict(fields or {})
        self.headers = dict(headers or {})


def not_found(what: str = "thing") -> ApiError:
    # The same answer whether the object does not exist or belongs to someone else.
    return ApiError(404, "not_found", f"No such {what}.")


def form_refused(form: Form, code: str, names: Mapping[str, str] | None = None) -> ApiError:
    """A studio form's errors as the API's 422, its fields renamed as the API's bodies name
    them (`names`): the same checks, the same messages."""
    fields = {(names or {}).get(name, name): " ".join(str(e) for e in errors)
              for name, errors in form.errors.items()}
    return ApiError(422, code, " ".join(fields.values()), fields)


def problem(api: NinjaAPI, request: HttpRequest, status: int, code: str, message: str,
            fields: Mapping[str, str] | None = None) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message,
                                         "fields": dict(fields or {})}, status=status)


def _field_name(loc: Any) -> str:
    # ninja's locations start with where the value came from: ("body", "payload", "prompt").
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "payload",
                                               "form", "file")]
    return ".".join(parts) or "__all__"


def install(api: NinjaAPI) -> None:
    @api.exception_handler(ApiError)
    def _api_error(request: HttpRequest, error: ApiError) -> HttpResponse:
        response = problem(api, request, error.status, error.code, error.message, error.fields)
        for name, value in error.headers.items():
            response[name] = value
        return response

    @api.exception_handler(ValidationError)
    def _invalid(request: HttpRequest, error: ValidationError) -> HttpResponse:
        fields: dict[str, str] = {}
        for item in error.errors:
            fields.setdefault(_field_name(item.get("loc", ())), str(item.get("msg", "")))
        return problem(api, request, 422, "invalid", "The request is not valid: "
                       + "; ".join(f"{k}: {v}" for k, v in fields.items()), fields)

    @api.exception_handler(SpecError)
    def _spec(request: HttpRequest, error: SpecError) -> HttpResponse:
        fields = dict(error.errors)
        if "size" in fields:  # the forms' one size field is width and height here
            message = fields.pop("size")
            fields.update(width=message, height=message)
        return problem(api, request, 422, "invalid_job", str(error), fields)

    @api.exception_handler(JobLimitReached)
    def _limit(request: HttpRequest, error: JobLimitReached) -> HttpResponse:
        return problem(api, request, 429, "job_limit_reached", str(error))

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
        response = problem(api, request, 401, "unauthenticated",
                           "Send a live API key as `Authorization: Bearer <key>`; make one on "
                           "your profile page.")
        response["WWW-Authenticate"] = 'Bearer realm="framecraft"'
        return response

    def _service_down(request: HttpRequest, error: Exception) -> HttpResponse:
        return unavailable(request)

    for kind in SERVICE_DOWN:
        api.add_exception_handler(kind, _service_down)  # type: ignore[arg-type,type-var]

    @api.exception_handler(Http404)
    def _not_found(request: HttpRequest, error: Http404) -> HttpResponse:
        return problem(api, request, 404, "not_found", "Not found.")

    @api.exception_handler(MultiPartParserError)
    def _unreadable_multipart(request: HttpRequest, error: MultiPartParserError
                              ) -> HttpResponse:
        return problem(api, request, 400, "invalid_body",
                       f"The multipart body cannot be read ({error}): send it with its "
                       "boundary, `Content-Type: multipart/form-data; boundary=…`, as HTTP "
                       "clients do.")

    @api.exception_handler(HttpError)
    def _http(request: HttpRequest, error: HttpError) -> HttpResponse:
        # ninja's one HttpError of its own: a JSON body it cannot parse.
        if error.status_code == 400:
            return problem(api, request, 400, "invalid_body", UNREADABLE_JSON)
        return problem(api, request, error.status_code, "http_error", str(error))
