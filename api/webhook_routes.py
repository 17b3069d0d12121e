"""The caller's webhook endpoints."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status

from api.auth import caller
from api.errors import ERRORS, ApiError, not_found
from api.models import WebhookEndpoint
from api.present import webhook_out
from api.schemas import WebhookCreated, WebhookIn, WebhookOut
from api.webhooks import WebhookRefused, create_endpoint

router = Router(tags=["webhooks"])


@router.get("/webhooks", response={200: list[WebhookOut], **ERRORS}, url_name="webhooks_list",
            summary="List your webhook endpoints")
def list_webhooks(request: HttpRequest) -> list[WebhookOut]:
    return [webhook_out(e) for e in WebhookEndpoint.objects.filter(owner=caller(request))]


@router.post("/webhooks", response={201: WebhookCreated, **ERRORS},
             url_name="webhooks_create", summary="Add a webhook endpoint",
             description="Deliveries are POSTs of `{id, event, created_at, data: Job}` signed "
                         "in the `Framecraft-Signature` header: `t=<unix time>,v1=<hex "
                         "HMAC-SHA256(secret, t + '.' + body)>`. Failures (network, 5xx) are "
                         "retried with exponential back-off.")
def create_webhook(request: HttpRequest, body: WebhookIn) -> Status[WebhookCreated]:
    try:
        endpoint = create_endpoint(caller(request), body.url, list(body.events))
    except WebhookRefused as refused:
        raise ApiError(422, "invalid_webhook", refused.message,
                       {refused.field: refused.message}) from None
    return Status(201, WebhookCreated(**webhook_out(endpoint).model_dump(),
                                      secret=endpoint.secret))


@router.delete("/webhooks/{webhook_id}", response={204: None, **ERRORS},
               url_name="webhook_delete", summary="Delete a webhook endpoint")
def delete_webhook(request: HttpRequest, webhook_id: int) -> Status[None]:
    deleted, _ = WebhookEndpoint.objects.filter(pk=webhook_id, owner=caller(request)).delete()
    if not deleted:
        raise not_found("webhook")
    return Status(204, None)
