import secrets

from django.core.management.base import BaseCommand

from accounts.models import ApprovalStatus, Role, User


class Command(BaseCommand):
    help = "Create a demo admin and engineer when there are no users; print their passwords once."

    def handle(self, *args, **options):
        if User.objects.exists():
            self.stdout.write("Users exist; no demo accounts created.")
            return
        lines = []
        for username, role in (("admin", Role.ADMIN), ("engineer", Role.ENGINEER)):
            password = secrets.token_urlsafe(12)
            user = User.objects.create_user(
                username=username,
                email=f"{username}@proactive.local",
                password=password,
                role=role,
                approval_status=ApprovalStatus.APPROVED,
                first_name=username.capitalize(),
                last_name="Demo",
                is_staff=role == Role.ADMIN,
                is_superuser=role == Role.ADMIN,
            )
            lines.append(f"  {role:<9} username: {user.username:<10} password: {password}")
        banner = "=" * 64
        self.stdout.write(banner)
        self.stdout.write("Demo accounts (shown once; change them with manage.py changepassword):")
        for line in lines:
            self.stdout.write(line)
        self.stdout.write(banner)
