from django.db import migrations, models

HELP = "Opened with a second-factor code (sessions from before two-step sign-in: no)."


class Migration(migrations.Migration):
    """Sessions opened before two-step sign-in were opened without a code (False): they stop
    for everyone who has or needs a second factor. New sessions say what their sign-in did."""

    dependencies = [
        ("tokens", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="apisession",
            name="second_factor",
            field=models.BooleanField(default=False, help_text=HELP),
        ),
        migrations.AlterField(
            model_name="apisession",
            name="second_factor",
            field=models.BooleanField(default=True, help_text=HELP),
        ),
    ]
