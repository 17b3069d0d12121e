from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import ApiKey, User


@admin.register(User)
class FramecraftUserAdmin(UserAdmin):
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("Studio", {"fields": ("display_name", "bio", "max_active_jobs", "storage_quota_mb")}),
    )
    list_display = ("username", "email", "display_name", "is_staff", "date_joined")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "owner__username")
    # Keys are made by their owners (the secret is shown to them once); an admin only revokes.
    fields = ("owner", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("owner", "prefix", "created_at", "last_used_at")

    def has_add_permission(self, request: object) -> bool:
        return False
