"""Demo data of the network of networks: organisations of every kind, nested networks, a community of practice, a
private steering group and one roundtable with its agenda (and an outcome when a published knowledge item exists).

Every name ends in "(demo)" and every description says it is demo data: the names resemble real-world bodies so that
the pages read naturally, but none of the details are real. Idempotent: a second run changes nothing.
"""

from __future__ import annotations

from typing import Any

from dhnet.accounts.models import User
from dhnet.network import services
from dhnet.network.models import EventOutcome
from dhnet.platform.access import Actor

DEMO_NOTE = "Demo data: a fictitious profile for trying out dhnet, not information about a real organisation."

#: slug, name, kind, countries, focus-area tags, website
ORGANISATIONS: list[tuple[str, str, str, list[str], list[str], str]] = [
    ("demo-moh-kenya", "Ministry of Health, Kenya (demo)", "member_state", ["KE"], ["cdhi-v1:3.0", "hsc:1.2"], ""),
    ("demo-moh-senegal", "Ministère de la Santé, Sénégal (demo)", "member_state", ["SN"], ["cdhi-v1:4.0", "so:2"], ""),
    ("demo-moh-germany", "Federal Health Ministry, Germany (demo)", "member_state", ["DE"], ["so:3", "hsc:1.7"], ""),
    (
        "demo-digital-health-fund",
        "Digital Health Impact Foundation (demo)",
        "development_partner",
        ["KE", "SN", "BD"],
        ["so:1", "so:2"],
        "https://example.org/digital-health-fund",
    ),
    (
        "demo-health-data-alliance",
        "Community Health Data Alliance (demo)",
        "cso_ngo",
        ["KE", "UG", "TZ"],
        ["cdhi-v1:2.0", "hsc:5.1"],
        "",
    ),
    (
        "demo-patients-voice",
        "Patients' Voice in Digital Health (demo)",
        "cso_ngo",
        ["BR", "IN"],
        ["so:4", "cdhi-v1:1.0"],
        "",
    ),
    (
        "demo-nairobi-sph",
        "School of Public Health, Nairobi (demo)",
        "academia",
        ["KE"],
        ["cdhi-v1:4.1", "hsc:1.3"],
        "",
    ),
    (
        "demo-geneva-dhlab",
        "Digital Health Lab, Geneva (demo)",
        "academia",
        ["CH", "SN"],
        ["so:1", "cdhi-v1:3.1"],
        "",
    ),
    (
        "demo-who-cc-surveillance",
        "WHO Collaborating Centre for Digital Surveillance (demo)",
        "who_cc",
        ["DE", "KE", "SN"],
        ["cdhi-v1:4.1", "hsc:1.2"],
        "",
    ),
    (
        "demo-openhealth-systems",
        "OpenHealth Systems Ltd (demo)",
        "private_sector",
        ["IN", "KE"],
        ["system-category-v1:H", "cdhi-v1:3.0"],
        "",
    ),
    (
        "demo-regional-health-observatory",
        "Regional Digital Health Observatory (demo)",
        "other",
        ["SN", "CI", "ML"],
        ["so:1", "hsc:1.5"],
        "",
    ),
    (
        "demo-un-child-health",
        "UN Child Health Programme (demo)",
        "un_agency",
        ["SN", "BD"],
        ["cdhi-v1:1.1", "hsc:7.1"],
        "",
    ),
]

CONTACTS: dict[str, list[dict[str, Any]]] = {
    "demo-moh-kenya": [
        {
            "name": "Amina Otieno (demo)",
            "role_title": "Head of Digital Health",
            "email": "a.otieno@example.org",
            "phone": "+254 700 000 001",
            "visible_to_members": True,
        }
    ],
    "demo-who-cc-surveillance": [
        {
            "name": "Jonas Weber (demo)",
            "role_title": "Centre coordinator",
            "email": "j.weber@example.org",
            "phone": "",
            "visible_to_members": False,
        }
    ],
    "demo-health-data-alliance": [
        {
            "name": "Grace Mwangi (demo)",
            "role_title": "Programme lead",
            "email": "g.mwangi@example.org",
            "phone": "+255 700 000 002",
            "visible_to_members": True,
        }
    ],
}

ROOT = "demo-network-of-networks"
REGIONAL = "demo-africa-digital-health-network"
COP = "demo-cop-surveillance-information-systems"
STEERING = "demo-roundtable-steering-group"
ROUNDTABLE = "demo-roundtable-knowledge-transfer"


def _user(username: str) -> str | None:
    return username if User.objects.filter(username=username, is_active=True).exists() else None


def load_demo(actor: Actor) -> str:
    """Load the demo stakeholders, networks and roundtable; returns a one-line summary. Idempotent."""
    created = 0
    for slug, name, kind, countries, focus, website in ORGANISATIONS:
        _, new = services.create_organisation(
            actor,
            {
                "slug": slug,
                "name": name,
                "kind": kind,
                "countries": countries,
                "focus_areas": focus,
                "website": website,
                "description": DEMO_NOTE,
            },
        )
        created += int(new)
    for slug, contacts in CONTACTS.items():
        for contact in contacts:
            services.add_contact(actor, slug, contact)

    manager = _user("demo-knowledge")
    coordinators = [manager] if manager else []
    networks = [
        (
            ROOT,
            "Digital Health Network of Networks (demo)",
            "network",
            "public",
            "",
            "Member states, foundations and development partners, civil society, academia, WHO collaborating "
            "centres and the private sector, meeting in roundtables. " + DEMO_NOTE,
            [o[0] for o in ORGANISATIONS],
        ),
        (
            REGIONAL,
            "Africa Digital Health Network (demo)",
            "network",
            "public",
            ROOT,
            "Countries and partners of the African region working on national digital health strategies. " + DEMO_NOTE,
            ["demo-moh-kenya", "demo-moh-senegal", "demo-health-data-alliance", "demo-nairobi-sph"],
        ),
        (
            COP,
            "Community of practice: information systems for disease surveillance (demo)",
            "community_of_practice",
            "public",
            REGIONAL,
            "Practitioners sharing good practices on surveillance information systems, pseudonymisation and "
            "data exchange. " + DEMO_NOTE,
            ["demo-moh-kenya", "demo-who-cc-surveillance", "demo-health-data-alliance"],
        ),
        (
            STEERING,
            "Roundtable steering group (demo)",
            "network",
            "private",
            ROOT,
            "Prepares the roundtables of the network of networks; members only. " + DEMO_NOTE,
            ["demo-who-cc-surveillance", "demo-digital-health-fund"],
        ),
    ]
    for slug, name, kind, visibility, parent, description, orgs in networks:
        _, new = services.create_network(
            actor,
            {
                "slug": slug,
                "name": name,
                "kind": kind,
                "visibility": visibility,
                "parent": parent,
                "description": description,
                "organisations": orgs,
                "coordinators": coordinators,
            },
        )
        created += int(new)
    members = [(COP, "demo-district", "member", "demo-moh-kenya"), (STEERING, "demo-partner", "member", "")]
    for network, username, role, org in members:
        if _user(username):
            services.set_member(actor, network, username, role, org)

    event, new = services.create_event(
        actor,
        ROOT,
        {
            "slug": ROUNDTABLE,
            "title": "Roundtable: sharing knowledge on digital health across networks (demo)",
            "kind": "roundtable",
            "starts_at": "2026-12-10T14:00",
            "ends_at": "2026-12-10T16:30",
            "timezone": "Europe/Zurich",
            "location": "Online",
            "link": "https://example.org/roundtable",
            "description": "How the networks find and reuse good practices and lessons learned. " + DEMO_NOTE,
            "agenda": [
                {"time": "14:00", "title": "Welcome and aims of the roundtable", "speaker": "Chair (demo)"},
                {
                    "time": "14:15",
                    "title": "A knowledge repository people can search",
                    "speaker": "Digital Health Lab (demo)",
                },
                {"time": "15:00", "title": "Pseudonymisation in cross-border surveillance", "speaker": "WHO CC (demo)"},
                {"time": "15:45", "title": "Communities of practice: what works", "speaker": "Open discussion"},
                {"time": "16:20", "title": "Outcomes and next steps", "speaker": "Chair (demo)"},
            ],
            "organisations": ["demo-who-cc-surveillance", "demo-geneva-dhlab", "demo-moh-kenya"],
        },
    )
    created += int(new)
    outcome = ""
    if not EventOutcome.objects.filter(event=event).exists():
        from dhnet.knowledge.models import Item

        item = Item.objects.filter(status="published").order_by("created_at", "id").first()
        if item is not None:
            services.add_outcome(actor, ROUNDTABLE, item.public_id, "Discussed at the roundtable (demo)")
            outcome = f", outcome linked to {item.title!r}"
    total = len(ORGANISATIONS) + len(networks) + 1
    return f"network demo: {created} of {total} organisations, networks and events new{outcome}"
