# mypy: disallow-subclassing-any=False
"""The subscription form of the notifications page (parsing only: the service validates)."""

from __future__ import annotations

from typing import Any

from django import forms

from dhnet.diseases.models import Disease
from dhnet.notifications.models import Channel, Frequency, Severity
from dhnet.orgunits.models import OrgUnit


class SubscriptionForm(forms.Form):
    # Free values shown as selects: the service decides (an area outside the jurisdiction is "not found").
    orgunit = forms.CharField(label="Area (and everything below it)", max_length=64, widget=forms.Select())
    disease = forms.CharField(label="Disease", max_length=64, required=False, widget=forms.Select())
    min_severity = forms.ChoiceField(label="Notify", choices=Severity.choices, initial="any", required=False)
    channel = forms.ChoiceField(label="Channel", choices=Channel.choices, initial="email", required=False)
    frequency = forms.ChoiceField(label="When", choices=Frequency.choices, initial="immediate", required=False)
    webhook_url = forms.CharField(label="Webhook URL", max_length=2000, required=False)
    webhook_secret = forms.CharField(
        label="Webhook secret (empty: generated)", max_length=128, required=False, strip=False
    )
    max_attempts = forms.IntegerField(
        label="Attempts before giving up", min_value=1, max_value=10, initial=6, required=False
    )

    def __init__(
        self, *args: Any, units: list[OrgUnit], diseases: list[Disease], webhooks: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["orgunit"].widget.choices = [(u.code, f"{'· ' * (u.level - 1)}{u.name} ({u.code})") for u in units]
        self.fields["disease"].widget.choices = [("", "Every disease"), *((d.code, d.name) for d in diseases)]
        if not webhooks:  # offered to integrators only (the service refuses others)
            self.fields["channel"].widget.choices = [("email", "E-mail")]
            for name in ("webhook_url", "webhook_secret", "max_attempts"):
                self.fields[name].widget = forms.HiddenInput()
