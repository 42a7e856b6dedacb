from django.db import migrations, models

# ``incident_detected_id`` also carries the columns of the confidentiality rule (confidential,
# reporter, team): the list pages of users who do not see every incident read the ids from an
# index-only scan as well (bench/NOTES.md, "Lists at a million incidents"). SQLite ignores INCLUDE.


class Migration(migrations.Migration):

    dependencies = [
        ("incidents", "0015_list_page_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="incident", name="incident_detected_id"),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                fields=["detected_at", "id"], include=("confidential", "reporter", "team"), name="incident_detected_id"
            ),
        ),
    ]
