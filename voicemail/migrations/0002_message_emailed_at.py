from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("voicemail", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="emailed_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the owner was e-mailed about it: only once.",
                null=True,
            ),
        ),
    ]
