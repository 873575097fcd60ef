"""Roles, permissions, and the table that joins them.

A permission is named ``scope:resource:action``. A role is always held at an org unit and applies to that unit
and everything below it (``RoleAssignment``). Permissions of later contexts (surveillance, identity) are declared
here already, so that roles are complete from the start.
"""

from __future__ import annotations

from django.db import models

SYSTEM_ADMIN = "system_admin"
NATIONAL_EPIDEMIOLOGIST = "national_epidemiologist"
REGIONAL_OFFICER = "regional_officer"
DISTRICT_OFFICER = "district_officer"
VIEWER = "viewer"
PARTNER = "partner"
KNOWLEDGE_MANAGER = "knowledge_manager"
DIGITAL_HEALTH_PLANNER = "digital_health_planner"
EXPERT_REVIEWER = "expert_reviewer"


class Role(models.TextChoices):
    SYSTEM_ADMIN = SYSTEM_ADMIN, "System administrator"
    NATIONAL_EPIDEMIOLOGIST = NATIONAL_EPIDEMIOLOGIST, "National epidemiologist"
    REGIONAL_OFFICER = REGIONAL_OFFICER, "Regional officer"
    DISTRICT_OFFICER = DISTRICT_OFFICER, "District officer (data entry)"
    VIEWER = VIEWER, "Viewer"
    PARTNER = PARTNER, "Partner (aggregates only)"
    KNOWLEDGE_MANAGER = KNOWLEDGE_MANAGER, "Knowledge manager (network of networks)"
    DIGITAL_HEALTH_PLANNER = DIGITAL_HEALTH_PLANNER, "Digital health planner (ministry of health)"
    EXPERT_REVIEWER = EXPERT_REVIEWER, "Expert reviewer of digital health tools"


#: Every permission, with what it allows.
PERMISSIONS: dict[str, str] = {
    "accounts:profile:read": "see one's own account, roles and jurisdiction",
    "accounts:token:read": "list one's own API tokens",
    "accounts:token:write": "create and revoke one's own API tokens",
    "accounts:user:read": "see the accounts and role assignments within the jurisdiction",
    "accounts:user:write": "create accounts and assign roles within the jurisdiction",
    "orgunits:orgunit:read": "see the org units of the jurisdiction",
    "orgunits:orgunit:write": "create, import and change org units of the jurisdiction",
    "audit:record:read": "read the audit trail",
    "surveillance:report:read": "read case reports and line lists",
    "surveillance:report:write": "enter and correct case reports",
    "surveillance:aggregate:read": "read aggregated counts (no individual records)",
    "surveillance:run:write": "start detection runs",
    "surveillance:signal:read": "see signals raised by detection",
    "surveillance:signal:write": "assess, verify and close signals",
    "identity:person:read": "read identifying data of persons (re-identification, with a stated purpose)",
    "identity:match:write": "review probable person matches (link or keep apart)",
    "consent:consent:read": "see the consent records of persons in the jurisdiction",
    "consent:consent:write": "record a person's consent or its withdrawal on their behalf",
    "release:dataset:read": "download released (suppressed or noise-protected) aggregate tables",
    "release:dataset:write": "define released datasets, their suppression and privacy budget",
    "release:linelist:export": "export de-identified (k-anonymous) line lists",
    "diseases:disease:read": "see the disease catalogue and its alert rules",
    "diseases:disease:write": "edit the disease catalogue and alert rules (national administrators)",
    "reporting:config:read": "see the reporting configuration (DHIS2 data element mappings, deadline)",
    "reporting:config:write": "edit the reporting configuration (national administrators)",
    "notifications:webhook:write": "register webhooks that receive signal notifications (system integrators)",
    # The network of networks (issue 5): knowledge repository, stakeholders, communities. Not scoped by org unit:
    # a role holding them anywhere holds them for the whole repository.
    "knowledge:item:write": "draft knowledge items (good practices, lessons, guidelines) and attach documents",
    "knowledge:item:review": "review, publish and archive knowledge items; see every draft",
    "network:organisation:write": "register and edit stakeholder organisations and their contacts",
    "network:contact:read": "see the personal details (e-mail, phone) of stakeholder contacts",
    "network:network:write": "create networks and communities of practice and appoint their coordinators",
    "network:membership:request": "ask to join a network or community of practice",
    # The atlas, needs and feedback (issue 6). Not scoped by org unit (the registry spans countries); approving a
    # country's projects also needs an appointment as that country's administrator (atlas.CountryAdmin) unless
    # the user holds atlas:registry:manage.
    "atlas:product:write": "register and edit software products",
    "atlas:project:write": "register projects and deployments, edit those one created or is on the team of",
    "atlas:project:approve": "approve, publish, return and archive projects of the countries one administers",
    "atlas:registry:manage": "administer the whole registry: appoint country administrators, approve anywhere, import",
    "needs:need:write": "record a country's needs and see their ranked matches",
    "needs:match:decide": "accept, reject or annotate a match between a need and a solution",
    "feedback:rating:write": "rate a deployment one is verified for (team member or invited user)",
    "feedback:rating:moderate": "flag-review, hide and restore ratings (with a reason, audited)",
    "feedback:review:write": "write expert reviews of deployments and products with the scoring rubric",
    # The maturity monitor, roadmap, business case and the strategy's monitoring (issue 7). Country-bound actions
    # also need an appointment as that country's administrator (atlas.CountryAdmin, atlas.services.may_administer).
    "maturity:assessment:write": "open a country's yearly maturity assessment, invite focal points, fill and submit",
    "maturity:assessment:review": "comment on submitted maturity assessments, indicator by indicator",
    "maturity:assessment:approve": "approve, return and publish the maturity assessments of one's countries",
    "maturity:rubric:manage": "import rubric texts (such as the official GDHM wording) from a JSON file",
    "planning:roadmap:write": "set target phases and priority weights, build the roadmap, its milestones and progress",
    "businesscase:case:write": "write business cases (costs, benefits, NPV, ROI) for digital health investments",
    "strategy:value:write": "record a country's values of the strategy's monitoring indicators",
    "strategy:indicator:manage": "define the strategy's monitoring indicators, their baselines and targets",
}

_EVERYONE = {
    "accounts:profile:read",
    "orgunits:orgunit:read",
    "diseases:disease:read",
    "network:membership:request",
    "feedback:rating:write",
}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    SYSTEM_ADMIN: frozenset(PERMISSIONS),
    NATIONAL_EPIDEMIOLOGIST: frozenset(
        _EVERYONE
        | {
            "knowledge:item:write",
            "knowledge:item:review",
            "network:organisation:write",
            "network:contact:read",
            "network:network:write",
            "atlas:product:write",
            "atlas:project:write",
            "accounts:token:read",
            "accounts:token:write",
            "surveillance:report:read",
            "surveillance:report:write",
            "surveillance:aggregate:read",
            "surveillance:run:write",
            "surveillance:signal:read",
            "surveillance:signal:write",
            "identity:person:read",
            "identity:match:write",
            "consent:consent:read",
            "consent:consent:write",
            "release:dataset:read",
            "release:dataset:write",
            "release:linelist:export",
            "diseases:disease:write",
            "reporting:config:read",
            "reporting:config:write",
        }
    ),
    REGIONAL_OFFICER: frozenset(
        _EVERYONE
        | {
            "knowledge:item:write",
            "network:contact:read",
            "accounts:token:read",
            "accounts:token:write",
            "surveillance:report:read",
            "surveillance:report:write",
            "surveillance:aggregate:read",
            "surveillance:signal:read",
            "surveillance:signal:write",
            "reporting:config:read",
            "consent:consent:read",
            "consent:consent:write",
            "release:dataset:read",
            "release:linelist:export",
        }
    ),
    DISTRICT_OFFICER: frozenset(
        _EVERYONE
        | {
            "knowledge:item:write",
            "accounts:token:read",
            "accounts:token:write",
            "surveillance:report:read",
            "surveillance:report:write",
            "surveillance:aggregate:read",
            "surveillance:signal:read",
            "reporting:config:read",
            "consent:consent:read",
            "consent:consent:write",
            "release:dataset:read",
        }
    ),
    VIEWER: frozenset(
        _EVERYONE
        | {
            "surveillance:report:read",
            "surveillance:aggregate:read",
            "surveillance:signal:read",
            "release:dataset:read",
        }
    ),
    PARTNER: frozenset(
        _EVERYONE
        | {
            "accounts:token:read",
            "accounts:token:write",
            "surveillance:aggregate:read",
            "release:dataset:read",
            "knowledge:item:write",
            "atlas:product:write",
            "atlas:project:write",
            "businesscase:case:write",
        }
    ),
    KNOWLEDGE_MANAGER: frozenset(
        _EVERYONE
        | {
            "accounts:token:read",
            "accounts:token:write",
            "knowledge:item:write",
            "knowledge:item:review",
            "network:organisation:write",
            "network:contact:read",
            "network:network:write",
            "atlas:product:write",
            "atlas:project:write",
            "atlas:project:approve",
            "atlas:registry:manage",
            "feedback:rating:moderate",
            "maturity:assessment:review",
            "maturity:rubric:manage",
            "strategy:indicator:manage",
        }
    ),
    DIGITAL_HEALTH_PLANNER: frozenset(
        _EVERYONE
        | {
            "accounts:token:read",
            "accounts:token:write",
            "knowledge:item:write",
            "network:organisation:write",
            "atlas:product:write",
            "atlas:project:write",
            "atlas:project:approve",
            "needs:need:write",
            "needs:match:decide",
            "feedback:rating:moderate",
            "maturity:assessment:write",
            "maturity:assessment:approve",
            "planning:roadmap:write",
            "businesscase:case:write",
            "strategy:value:write",
        }
    ),
    EXPERT_REVIEWER: frozenset(
        _EVERYONE
        | {
            "accounts:token:read",
            "accounts:token:write",
            "feedback:review:write",
            "maturity:assessment:review",
        }
    ),
}

#: Roles that must pass a TOTP second factor before reaching anything.
MFA_ROLES: frozenset[str] = frozenset({SYSTEM_ADMIN, NATIONAL_EPIDEMIOLOGIST})


def permissions_of(role: str) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role, frozenset())
