from django.contrib import admin

from api.models import WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "owner", "created_at", "last_delivery_at", "last_status")
    list_filter = ("last_status",)
    search_fields = ("url", "owner__username")
    exclude = ("secret",)
    readonly_fields = ("last_delivery_at", "last_status", "last_error")
