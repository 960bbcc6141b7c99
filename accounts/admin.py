from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import Membership, Team, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = [*BaseUserAdmin.fieldsets, ("Preferences", {"fields": ["time_zone"]})]
    list_display = ["username", "first_name", "last_name", "email", "is_active", "is_staff"]
    list_filter = ["is_active", "is_staff", "groups"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    raw_id_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "manager"]
    search_fields = ["name"]
    list_select_related = ["manager"]
    inlines = [MembershipInline]
