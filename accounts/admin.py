from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import User


@admin.register(User)
class FramecraftUserAdmin(UserAdmin):
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("Studio", {"fields": ("display_name", "bio", "max_active_jobs", "storage_quota_mb")}),
    )
    list_display = ("username", "email", "display_name", "is_staff", "date_joined")
