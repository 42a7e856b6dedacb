"""Release choices: states, deliverable kinds, verification checks, deployments."""

from django.db import models


class ReleaseState(models.TextChoices):
    PLANNING = "planning", "Planning"
    PREPARATION = "preparation", "Preparation"
    IMPLEMENTATION = "implementation", "Implementation"
    VERIFICATION = "verification", "Verification"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    CANCELLED = "cancelled", "Cancelled"


# The phase pipeline shown as a stepper.
PIPELINE = (
    ReleaseState.PLANNING,
    ReleaseState.PREPARATION,
    ReleaseState.IMPLEMENTATION,
    ReleaseState.VERIFICATION,
    ReleaseState.COMPLETED,
)


class DeliverableKind(models.TextChoices):
    RELEASE_PLAN = "release_plan", "Release plan"
    TIMELINE = "timeline", "Timeline"
    RESOURCE_PLAN = "resource_plan", "Resource plan"
    RELEASE_PACKAGE = "release_package", "Release package"
    TEST_PLANS = "test_plans", "Test plans"
    ROLLBACK_PLAN = "rollback_plan", "Rollback plan"
    DEPLOYMENT_REPORT = "deployment_report", "Deployment report"
    TEST_RESULTS = "test_results", "Test results"
    STATUS_UPDATES = "status_updates", "Status updates"


class CheckKind(models.TextChoices):
    FUNCTIONALITY_CHECK = "functionality_check", "Functionality check"
    PERFORMANCE_VALIDATION = "performance_validation", "Performance validation"
    SECURITY_ASSESSMENT = "security_assessment", "Security assessment"
    DOCUMENTATION_REVIEW = "documentation_review", "Documentation review"


class DeploymentStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


# The deliverables each gate (transition) needs (§4).
GATE_DELIVERABLES = {
    "prepare": (DeliverableKind.RELEASE_PLAN, DeliverableKind.TIMELINE, DeliverableKind.RESOURCE_PLAN),
    "implement": (DeliverableKind.RELEASE_PACKAGE, DeliverableKind.TEST_PLANS, DeliverableKind.ROLLBACK_PLAN),
    "verify": (DeliverableKind.DEPLOYMENT_REPORT,),
    "complete": (DeliverableKind.TEST_RESULTS, DeliverableKind.STATUS_UPDATES),
}
