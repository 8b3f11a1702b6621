"""The shape of the reference data files (validated before anything is written)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from domain.config import SUPPORTED_LOCALES
from domain.models.enums import ExerciseMeasurement

UpperCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=50)]
CatalogueCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=80)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A text in every shipped locale."""

    en: str = Field(min_length=1)
    fr: str = Field(min_length=1)
    ru: str = Field(min_length=1)

    def as_dict(self) -> dict[str, str]:
        return {locale: getattr(self, locale) for locale in SUPPORTED_LOCALES}


class Steps(Strict):
    en: list[str] = Field(min_length=1)
    fr: list[str] = Field(min_length=1)
    ru: list[str] = Field(min_length=1)

    def joined(self) -> dict[str, str]:
        """Numbered steps, one per line, per locale."""
        return {
            locale: "\n".join(f"{n}. {step}" for n, step in enumerate(getattr(self, locale), 1))
            for locale in SUPPORTED_LOCALES
        }


class Aliases(Strict):
    en: list[str] = Field(default_factory=list)
    fr: list[str] = Field(default_factory=list)
    ru: list[str] = Field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {locale: list(getattr(self, locale)) for locale in SUPPORTED_LOCALES}


class LookupItem(Strict):
    code: UpperCode
    name: Text
    description: Text | None = None


class TypedLookupItem(LookupItem):
    type: UpperCode


class DifficultyItem(LookupItem):
    rank: int = Field(ge=0)


class TempoTypeItem(LookupItem):
    time_under_tension_seconds: int | None = Field(default=None, ge=0)


class MetricItem(TypedLookupItem):
    symbol: str | None = Field(default=None, max_length=16)
    dimension: str | None = None
    to_base_factor: Decimal | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _units_have_a_dimension(self) -> MetricItem:
        if self.type == "UNIT" and (self.symbol is None or self.dimension is None):
            raise ValueError(f"unit {self.code} needs a symbol and a dimension")
        return self


class LogLevelPair(Strict):
    log_level: UpperCode
    severity: UpperCode


class VisibilityResource(Strict):
    resource_type: UpperCode
    default: UpperCode
    levels: list[UpperCode] = Field(min_length=1)

    @model_validator(mode="after")
    def _default_is_a_level(self) -> VisibilityResource:
        if self.default not in self.levels:
            raise ValueError(f"{self.resource_type}: default {self.default} is not in its levels")
        return self


class Lookups(Strict):
    muscle_zones: list[LookupItem]
    tissue_types: list[LookupItem]
    muscle_levels: list[LookupItem]
    difficulty_levels: list[DifficultyItem]
    media_types: list[LookupItem]
    tempo_types: list[TempoTypeItem]
    statuses: list[TypedLookupItem]
    log_level_statuses: list[LogLevelPair]
    metrics: list[MetricItem]
    categories: list[TypedLookupItem]
    tags: list[TypedLookupItem]
    visibility_levels: list[LookupItem]
    visibility_resource_types: list[VisibilityResource]


class MuscleItem(Strict):
    code: CatalogueCode
    name: Text
    latin: str | None = None
    conventional_name: Text | None = None
    zone: UpperCode
    tissue_type: UpperCode
    level: UpperCode


class EquipmentItem(Strict):
    code: CatalogueCode
    name: Text
    description: Text | None = None
    category: UpperCode


class VariantRef(Strict):
    code: CatalogueCode
    difficulty_delta: int = Field(ge=-5, le=5)


class AlternativeRef(Strict):
    code: CatalogueCode
    note: Text | None = None


class ExerciseItem(Strict):
    code: CatalogueCode
    name: Text
    aliases: Aliases = Field(default_factory=Aliases)
    description: Text
    instructions: Steps
    primary_muscles: list[CatalogueCode] = Field(min_length=1)
    secondary_muscles: list[CatalogueCode] = Field(default_factory=list)
    equipment: list[CatalogueCode] = Field(default_factory=list)
    difficulty: UpperCode
    categories: list[UpperCode] = Field(default_factory=list)
    tags: list[UpperCode] = Field(default_factory=list)
    measurement: ExerciseMeasurement = ExerciseMeasurement.REPS_LOAD
    is_bodyweight: bool = False
    variants: list[VariantRef] = Field(default_factory=list)
    alternatives: list[AlternativeRef] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fits_the_columns(self) -> ExerciseItem:
        if len(self.name.en) > 50:
            raise ValueError(f"{self.code}: English name longer than 50 characters")
        if any(len(text) > 255 for text in self.description.as_dict().values()):
            raise ValueError(f"{self.code}: description longer than 255 characters")
        if set(self.primary_muscles) & set(self.secondary_muscles):
            raise ValueError(f"{self.code}: a muscle is both primary and secondary")
        return self


class RoleItem(Strict):
    code: UpperCode
    type: UpperCode
    name: Text
    description: Text | None = None
    parent: UpperCode | None = None


class PermissionGroupItem(Strict):
    code: UpperCode
    name: Text
    display_order: int = 0


class PermissionItem(Strict):
    actor: UpperCode
    resource: UpperCode
    action: UpperCode
    scope: UpperCode | None = None
    is_global: bool = False
    group: UpperCode | None = None
    description: str | None = None
    roles: list[UpperCode] = Field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.actor}.{self.resource}.{self.action}"


class Permissions(Strict):
    groups: list[PermissionGroupItem]
    permissions: list[PermissionItem]
