"""Seed the database that `manage.py migrate` created with the benchmark's
client and tokens."""

import json
import os
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from oauthlib.common import generate_token

from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    set_token_value,
)
from oauth2_provider.settings import oauth2_settings


class Command(BaseCommand):
    help = (
        "Create a confidential client_credentials application, an access token "
        "with scope 'api' and one with scope 'introspection', and print them "
        "as one JSON line. Run `manage.py migrate` first."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--client-id",
            default=os.environ.get("BENCH_DOT_CLIENT_ID"),
            help="client_id of the application (default: $BENCH_DOT_CLIENT_ID)",
        )
        parser.add_argument(
            "--client-secret",
            default=os.environ.get("BENCH_DOT_CLIENT_SECRET"),
            help="plain client secret, stored hashed (default: $BENCH_DOT_CLIENT_SECRET)",
        )

    def handle(self, *args, **options):
        client_id = options["client_id"]
        client_secret = options["client_secret"]
        if not client_id or not client_secret:
            raise CommandError(
                "missing client id or secret: pass --client-id and --client-secret "
                "or set BENCH_DOT_CLIENT_ID and BENCH_DOT_CLIENT_SECRET"
            )

        application_model = get_application_model()
        with transaction.atomic():
            # Saving the plain secret makes django-oauth-toolkit hash it, as it
            # does for applications registered through its views.
            application, _ = application_model.objects.update_or_create(
                client_id=client_id,
                defaults={
                    "name": "bench",
                    "client_type": application_model.CLIENT_CONFIDENTIAL,
                    "authorization_grant_type": application_model.GRANT_CLIENT_CREDENTIALS,
                    "client_secret": client_secret,
                    "hash_client_secret": True,
                    "redirect_uris": "",
                },
            )
            access_token = _create_token(application, "api")
            introspection_bearer = _create_token(application, "introspection")

        self.stdout.write(
            json.dumps(
                {
                    "client_id": client_id,
                    "access_token": access_token,
                    "introspection_bearer": introspection_bearer,
                }
            )
        )


def _create_token(application, scope):
    """Store an access token of `application` and return its value."""
    value = generate_token()
    token = get_access_token_model()(
        application=application,
        user=None,
        scope=scope,
        expires=timezone.now() + timedelta(seconds=oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS),
    )
    set_token_value(token, value)
    token.save()
    return value
