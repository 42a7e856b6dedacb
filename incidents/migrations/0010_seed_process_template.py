from django.db import migrations

# The operations handbook's process (§2.1): phase, key, title, required — in the order of work.
HANDBOOK_STEPS = [
    ("detection", "identify_incident", "Identify the incident", False),
    ("detection", "initial_assessment", "Initial assessment", False),
    ("detection", "priority_assignment", "Assign the priority", True),
    ("detection", "team_notification", "Notify the team", True),
    ("response", "team_assembly", "Assemble the team", True),
    ("response", "impact_analysis", "Analyse the impact", False),
    ("response", "containment_measures", "Contain the damage", False),
    ("response", "stakeholder_communication", "Inform the stakeholders", False),
    ("resolution", "root_cause_analysis", "Find the root cause", False),
    ("resolution", "solution_implementation", "Implement the solution", False),
    ("resolution", "verification_testing", "Verify and test", False),
    ("resolution", "service_restoration", "Restore the service", True),
    ("follow_up", "incident_documentation", "Document the incident", True),
    ("follow_up", "lessons_learned", "Record the lessons learned", True),
    ("follow_up", "process_improvement", "Improve the process", False),
    ("follow_up", "preventive_measures", "Plan preventive measures", False),
]


def seed(apps, schema_editor):
    ProcessTemplate = apps.get_model("incidents", "ProcessTemplate")
    for position, (phase, key, title, required) in enumerate(HANDBOOK_STEPS):
        ProcessTemplate.objects.get_or_create(
            key=key, defaults={"phase": phase, "title": title, "required": required, "position": position}
        )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0009_incident_process")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
