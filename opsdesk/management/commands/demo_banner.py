"""``manage.py demo_banner --port N``: where OpsDesk is starting, and the demo logins."""

from django.core.management.base import BaseCommand

from opsdesk import demo


class Command(BaseCommand):
    help = "Print the address OpsDesk is starting on and the demo logins from var/demo-credentials.txt."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, port: int, **options):
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"OpsDesk is starting on http://127.0.0.1:{port}/"))
        logins = demo.read_credentials()
        if logins:
            self.stdout.write(f"Demo logins (from {demo.CREDENTIALS_FILE}):")
            self.stdout.write(demo.format_logins(logins))
        else:
            self.stdout.write(
                f"No demo logins in {demo.CREDENTIALS_FILE}; create a user with "
                "`.venv/bin/python manage.py createsuperuser`."
            )
        self.stdout.write("Stop with Ctrl-C.")
        self.stdout.write("")
