# mypy: disallow-subclassing-any=False
"""The knowledge repository: items (good practices, lessons learned, guidelines, ...) and their documents.

An :class:`Item` moves through a review workflow::

    draft -> in_review -> published -> archived
       ^---------'  (changes requested)

Its documents are parsed (``dhnet.knowledge.parsing``) into a tree of :class:`Section` rows (heading paths such
as ``"Strategic Objectives > Collaboration and knowledge transfer"``) and :class:`Chunk` rows (the passages that
search indexes and cites, with their token counts, page and offsets into the document text).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class ItemKind(models.TextChoices):
    GOOD_PRACTICE = "good_practice", "Good practice"
    LESSON_LEARNED = "lesson_learned", "Lesson learned"
    GUIDELINE = "guideline", "Guideline"
    BUSINESS_CASE = "business_case", "Business case"
    EVALUATION = "evaluation", "Evaluation"


class ItemStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class Item(models.Model):
    """One entry of the repository, with its metadata and review state."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=32, choices=ItemKind.choices)
    title = models.CharField(max_length=300)
    summary = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=ItemStatus.choices, default=ItemStatus.DRAFT)
    authors = models.ManyToManyField("network.Organisation", blank=True, related_name="knowledge_items")
    countries = models.JSONField(default=list, blank=True, help_text="ISO 3166-1 alpha-2 codes")
    tags = models.ManyToManyField(
        "taxonomy.Concept", blank=True, related_name="knowledge_items", help_text="CDHI, HSC, strategic objective"
    )
    licence = models.CharField(max_length=64, blank=True, default="", help_text='SPDX id or "CC-BY-NC-SA-3.0-IGO"')
    published_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="knowledge_items"
    )
    created_by_name = models.CharField(max_length=150, help_text="username of the creator (also for the CLI)")
    editors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="knowledge_items_edited", help_text="may edit the draft"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-updated_at", "-id")
        indexes = (models.Index(fields=["status", "-published_on"], name="knowledge_item_status"),)

    def __str__(self) -> str:
        return self.title


class ReviewDecision(models.TextChoices):
    COMMENT = "comment", "Comment"
    REQUEST_CHANGES = "request_changes", "Request changes"
    APPROVE = "approve", "Approve"


class ItemReview(models.Model):
    """A reviewer's comment or decision on an item (its review history)."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reviewer_name = models.CharField(max_length=150)
    decision = models.CharField(max_length=16, choices=ReviewDecision.choices)
    comment = models.TextField(blank=True, default="")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("at", "id")


class Document(models.Model):
    """A file attached to an item, parsed; the same file (by SHA-256) is stored once per item."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="documents")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    filename = models.CharField(max_length=255)
    media_type = models.CharField(max_length=127)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    title = models.CharField(max_length=300, blank=True, default="")
    pages = models.PositiveIntegerField(default=1)
    text = models.TextField(blank=True, default="", help_text="the extracted text; sections and chunks index into it")
    parsed_at = models.DateTimeField()

    class Meta:
        ordering = ("id",)
        constraints = (models.UniqueConstraint(fields=["item", "sha256"], name="knowledge_document_once"),)

    def __str__(self) -> str:
        return self.title or self.filename


class Section(models.Model):
    """A heading of a document and the text under it; ``path`` joins the headings above it with " > "."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="sections")
    ordinal = models.PositiveIntegerField()
    level = models.PositiveSmallIntegerField()
    heading = models.CharField(max_length=500, blank=True, default="")
    path = models.TextField(blank=True, default="")
    page = models.PositiveIntegerField(default=1)
    start = models.PositiveIntegerField(default=0)
    end = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("document", "ordinal")
        constraints = (models.UniqueConstraint(fields=["document", "ordinal"], name="knowledge_section_ordinal"),)


class Chunk(models.Model):
    """A passage of a section, the unit that search indexes, ranks and cites."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    tokens = models.PositiveIntegerField()
    page = models.PositiveIntegerField(default=1)
    start = models.PositiveIntegerField(help_text="offset of the first character in the document text")
    end = models.PositiveIntegerField(help_text="offset after the last character in the document text")
    embedding = models.BinaryField(null=True, blank=True, help_text="float32 little-endian, L2-normalised")
    embedding_model = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ("document", "ordinal")
        constraints = (models.UniqueConstraint(fields=["document", "ordinal"], name="knowledge_chunk_ordinal"),)
